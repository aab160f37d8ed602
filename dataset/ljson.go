package dataset

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/stn3d/stn3d/bfm"
)

// ljsonLandmarks is the "landmarks" object of a menpo LJSON file.
type ljsonLandmarks struct {
	Points []json.RawMessage `json:"points"`
}

// ljsonFile covers LJSON version 1/2 (a top-level "landmarks") and
// version 3 ("groups" of named landmark sets).
type ljsonFile struct {
	Version   *int                  `json:"version"`
	Landmarks *ljsonLandmarks       `json:"landmarks"`
	Groups    map[string]ljsonGroup `json:"groups"`
}

type ljsonGroup struct {
	Landmarks ljsonLandmarks `json:"landmarks"`
}

// ReadLJSON reads one landmark group of a menpo LJSON file. menpo stores
// points as [y, x] in 0-based pixel coordinates (centre of the top-left pixel
// at (0, 0)), so the returned point is (x, y) = (p[1], p[0]); a null point is
// missing ((0, 0), Visible false). group selects a version-3 group by name;
// with group == "" the file must have exactly one group whose point count is
// the size of a known scheme (lenna.ljson: "LJSON" with 68 points, "pupils"
// with 2), or, for versions 1 and 2, its top-level landmarks. The scheme
// returned is the one whose size matches the point count ("" if none does).
func ReadLJSON(path, group string) (lm Landmarks, scheme string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Landmarks{}, "", fmt.Errorf("dataset: read ljson: %w", err)
	}
	return ParseLJSON(data, path, group)
}

// ParseLJSON is ReadLJSON on the file's bytes; path names it in errors.
func ParseLJSON(data []byte, path, group string) (lm Landmarks, scheme string, err error) {
	var f ljsonFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Landmarks{}, "", fmt.Errorf("dataset: read ljson %s: %w", path, err)
	}
	var pts []json.RawMessage
	field := "landmarks.points"
	switch {
	case group != "":
		g, ok := f.Groups[group]
		if !ok {
			return Landmarks{}, "", fmt.Errorf("dataset: read ljson %s: no group %q (have %v)", path, group, ljsonGroupNames(f.Groups))
		}
		pts, field = g.Landmarks.Points, "groups."+group+".landmarks.points"
	case len(f.Groups) > 0:
		var found []string
		for _, name := range ljsonGroupNames(f.Groups) {
			if schemeForCount(len(f.Groups[name].Landmarks.Points)) != "" {
				found = append(found, name)
			}
		}
		if len(found) != 1 {
			return Landmarks{}, "", fmt.Errorf("dataset: read ljson %s: %d groups with 21 or 68 points (%v), want exactly one; name the group", path, len(found), found)
		}
		pts, field = f.Groups[found[0]].Landmarks.Points, "groups."+found[0]+".landmarks.points"
	case f.Landmarks != nil:
		pts = f.Landmarks.Points
	default:
		return Landmarks{}, "", fmt.Errorf("dataset: read ljson %s: neither \"groups\" nor \"landmarks\"", path)
	}
	lm = Landmarks{Points: make([][2]float64, len(pts)), Visible: make([]bool, len(pts))}
	for i, raw := range pts {
		var p []*float64
		if err := json.Unmarshal(raw, &p); err != nil {
			return Landmarks{}, "", fmt.Errorf("dataset: read ljson %s: %s[%d]: %w", path, field, i, err)
		}
		if p == nil {
			continue // null point: missing
		}
		if len(p) != 2 {
			return Landmarks{}, "", fmt.Errorf("dataset: read ljson %s: %s[%d]: %d numbers, want [y, x]", path, field, i, len(p))
		}
		if p[0] == nil || p[1] == nil {
			continue // [null, null]: missing
		}
		y, x := *p[0], *p[1]
		if math.IsNaN(x) || math.IsNaN(y) {
			continue // menpo writes NaN for missing points as null; be lenient
		}
		lm.Points[i] = [2]float64{x, y}
		lm.Visible[i] = true
	}
	return lm, schemeForCount(len(pts)), nil
}

func ljsonGroupNames(g map[string]ljsonGroup) []string {
	names := make([]string, 0, len(g))
	for k := range g {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// schemeForCount returns the landmark scheme with n points, or "".
func schemeForCount(n int) string {
	for _, s := range bfm.Schemes() {
		if bfm.SchemeSize(s) == n {
			return s
		}
	}
	return ""
}
