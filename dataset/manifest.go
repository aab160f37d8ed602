package dataset

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stn3d/stn3d/bfm"
)

// Item is one annotated face whose image is loaded on demand. Missing
// landmarks are stored as (0, 0) with Visible false, never NaN, so that a
// zero loss weight times a coordinate stays zero.
type Item struct {
	Name      string
	ImagePath string
	Landmarks map[string]Landmarks
	Box       *Box
	Pose      *Pose
}

// ItemSource is a Source over annotated items: the readers in this package
// parse all annotations when opened and load each image only when its
// sample is requested. Items that could not be read (missing image file, bad
// landmarks) are left out and their errors, each naming the file and the
// line or field, are kept in Skipped.
type ItemSource struct {
	Items   []Item
	Skipped []error
	// MaxPixels limits image size (DefaultMaxPixels if <= 0).
	MaxPixels int64
}

// Len returns the number of readable items.
func (s *ItemSource) Len() int { return len(s.Items) }

// Name returns the name of item i.
func (s *ItemSource) Name(i int) string { return s.Items[i].Name }

// Problems returns the per-item errors joined (errors.Join), nil if none.
func (s *ItemSource) Problems() error { return errors.Join(s.Skipped...) }

// Sample loads item i's image; the annotations are deep copies.
func (s *ItemSource) Sample(i int) (Sample, error) {
	if i < 0 || i >= len(s.Items) {
		return Sample{}, fmt.Errorf("dataset: sample %d out of range [0, %d)", i, len(s.Items))
	}
	it := &s.Items[i]
	img, err := LoadImageMax(it.ImagePath, s.MaxPixels)
	if err != nil {
		return Sample{}, fmt.Errorf("dataset: sample %d (%s): %w", i, it.Name, err)
	}
	out := Sample{Name: it.Name, Image: img}
	if it.Landmarks != nil {
		out.Landmarks = make(map[string]Landmarks, len(it.Landmarks))
		for k, lm := range it.Landmarks {
			out.Landmarks[k] = Landmarks{
				Points:  append([][2]float64(nil), lm.Points...),
				Visible: append([]bool(nil), lm.Visible...),
			}
		}
	}
	if it.Box != nil {
		b := *it.Box
		out.Box = &b
	}
	if it.Pose != nil {
		p := *it.Pose
		out.Pose = &p
	}
	return out, nil
}

// manifestLine is one JSON line of a manifest.
type manifestLine struct {
	Name      string        `json:"name"`
	Image     string        `json:"image"`
	Scheme    string        `json:"scheme"`
	Landmarks [][]float64   `json:"landmarks"`
	Box       []float64     `json:"box"`
	Pose      *manifestPose `json:"pose"`
}

type manifestPose struct {
	Yaw   *float64 `json:"yaw"`
	Pitch *float64 `json:"pitch"`
	Roll  *float64 `json:"roll"`
}

// OpenManifest reads a manifest of annotated images: JSON lines (any
// extension but .csv) or CSV (.csv). Image paths are relative to the
// manifest's folder unless absolute; coordinates are 0-based pixels (see the
// package doc); pose angles are degrees (Pose). An image file that does not
// exist, a malformed line or field skips that item with an error in Skipped;
// only an unreadable manifest is returned as an error.
//
// JSON lines: one object per line,
//
//	{"image": "face0.png", "scheme": "aflw21", "landmarks": [[x, y] or null, ...],
//	 "box": [x0, y0, x1, y1], "pose": {"yaw": 0, "pitch": 0, "roll": 0}, "name": "face0"}
//
// with box, pose and name optional (name defaults to image), landmarks
// exactly bfm.SchemeSize(scheme) entries, null for a missing point. Unknown
// keys are errors (they are usually typos). Blank lines and lines starting
// with '#' are skipped.
//
// CSV: a header row naming the columns, in any order: image (required),
// name, scheme, x0,y0, x1,y1, ... (point k's columns are "x<k>","y<k>",
// 0-based k), box_x0, box_y0, box_x1, box_y1, yaw, pitch, roll. Empty point
// cells mark a missing point; empty box or pose cells mean none. Without a
// scheme column the scheme is the one whose size equals the number of point
// columns.
func OpenManifest(path string) (*ItemSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: open manifest: %w", err)
	}
	dir := filepath.Dir(path)
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return parseManifestCSV(data, path, dir)
	}
	return parseManifestJSONL(data, path, dir)
}

func parseManifestJSONL(data []byte, path, dir string) (*ItemSource, error) {
	src := &ItemSource{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	names := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		s := bytes.TrimSpace(sc.Bytes())
		if len(s) == 0 || s[0] == '#' {
			continue
		}
		it, err := parseManifestJSONLine(s, dir)
		if err == nil {
			err = checkItem(&it, names, line)
		}
		if err != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s:%d: %w", path, line, err))
			continue
		}
		src.Items = append(src.Items, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset: read manifest %s:%d: %w", path, line, err)
	}
	return src, nil
}

func parseManifestJSONLine(s []byte, dir string) (Item, error) {
	var m manifestLine
	dec := json.NewDecoder(bytes.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		if strings.HasPrefix(err.Error(), "json: ") {
			return Item{}, err // encoding/json names itself already
		}
		return Item{}, fmt.Errorf("json: %w", err)
	}
	if dec.More() {
		return Item{}, errors.New("json: more than one value on the line")
	}
	if m.Image == "" {
		return Item{}, errors.New(`field "image": missing or empty`)
	}
	it := Item{Name: m.Name, ImagePath: resolvePath(dir, m.Image)}
	if it.Name == "" {
		it.Name = m.Image
	}
	if m.Scheme != "" || m.Landmarks != nil {
		n := bfm.SchemeSize(m.Scheme)
		if n == 0 {
			return Item{}, fmt.Errorf("field \"scheme\": %q, want one of %v", m.Scheme, bfm.Schemes())
		}
		if len(m.Landmarks) != n {
			return Item{}, fmt.Errorf("field \"landmarks\": %d points, scheme %s has %d", len(m.Landmarks), m.Scheme, n)
		}
		lm := Landmarks{Points: make([][2]float64, n), Visible: make([]bool, n)}
		for k, p := range m.Landmarks {
			if p == nil {
				continue
			}
			if len(p) != 2 {
				return Item{}, fmt.Errorf("field \"landmarks\"[%d]: %d numbers, want [x, y] or null", k, len(p))
			}
			lm.Points[k] = [2]float64{p[0], p[1]}
			lm.Visible[k] = true
		}
		it.Landmarks = map[string]Landmarks{m.Scheme: lm}
	}
	if m.Box != nil {
		if len(m.Box) != 4 {
			return Item{}, fmt.Errorf("field \"box\": %d numbers, want [x0, y0, x1, y1]", len(m.Box))
		}
		it.Box = &Box{X0: m.Box[0], Y0: m.Box[1], X1: m.Box[2], Y1: m.Box[3]}
	}
	if m.Pose != nil {
		if m.Pose.Yaw == nil || m.Pose.Pitch == nil || m.Pose.Roll == nil {
			return Item{}, errors.New(`field "pose": want all of "yaw", "pitch", "roll" (degrees)`)
		}
		it.Pose = &Pose{Yaw: *m.Pose.Yaw, Pitch: *m.Pose.Pitch, Roll: *m.Pose.Roll}
	}
	return it, nil
}

// resolvePath joins a manifest-relative path to dir (absolute paths stay).
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, filepath.FromSlash(p))
}

// checkItem validates values shared by every manifest form: finite
// coordinates, an ordered box, plausible pose, an existing image file and a
// unique name (a repeated name gets "#<line>" appended).
func checkItem(it *Item, names map[string]int, line int) error {
	for scheme, lm := range it.Landmarks {
		for k, p := range lm.Points {
			if !isFinite(p[0]) || !isFinite(p[1]) {
				return fmt.Errorf("landmark %s[%d] = %v: want finite coordinates", scheme, k, p)
			}
		}
	}
	if b := it.Box; b != nil {
		if !isFinite(b.X0) || !isFinite(b.Y0) || !isFinite(b.X1) || !isFinite(b.Y1) || b.X1 <= b.X0 || b.Y1 <= b.Y0 {
			return fmt.Errorf("box [%g %g %g %g]: want finite x0 < x1, y0 < y1", b.X0, b.Y0, b.X1, b.Y1)
		}
	}
	if p := it.Pose; p != nil {
		for _, a := range []struct {
			name string
			v    float64
		}{{"yaw", p.Yaw}, {"pitch", p.Pitch}, {"roll", p.Roll}} {
			if !isFinite(a.v) || math.Abs(a.v) > 360 {
				return fmt.Errorf("pose %s = %g: want degrees in [-360, 360]", a.name, a.v)
			}
		}
	}
	if st, err := os.Stat(it.ImagePath); err != nil {
		return fmt.Errorf("image: %w", err)
	} else if st.IsDir() {
		return fmt.Errorf("image %s is a directory", it.ImagePath)
	}
	if _, dup := names[it.Name]; dup {
		it.Name = fmt.Sprintf("%s#%d", it.Name, line)
	}
	names[it.Name] = line
	return nil
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func parseManifestCSV(data []byte, path, dir string) (*ItemSource, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.Comment = '#'
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("dataset: read manifest %s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup {
			return nil, fmt.Errorf("dataset: read manifest %s: header: column %q twice", path, h)
		}
		col[h] = i
	}
	if _, ok := col["image"]; !ok {
		return nil, fmt.Errorf("dataset: read manifest %s: header %v has no \"image\" column", path, header)
	}
	nPts := 0
	for nPts < 100000 {
		_, okx := col["x"+strconv.Itoa(nPts)]
		_, oky := col["y"+strconv.Itoa(nPts)]
		if !okx && !oky {
			break
		}
		if okx != oky {
			return nil, fmt.Errorf("dataset: read manifest %s: header has only one of x%d, y%d", path, nPts, nPts)
		}
		nPts++
	}
	defaultScheme := ""
	if _, ok := col["scheme"]; !ok && nPts > 0 {
		for _, s := range bfm.Schemes() {
			if bfm.SchemeSize(s) == nPts {
				defaultScheme = s
			}
		}
		if defaultScheme == "" {
			return nil, fmt.Errorf("dataset: read manifest %s: header has %d point columns and no scheme column; no scheme has %d points", path, nPts, nPts)
		}
	}
	src := &ItemSource{}
	names := map[string]int{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && pe.Err == csv.ErrFieldCount {
				src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s:%d: %d fields, header has %d", path, pe.Line, len(rec), len(header)))
				continue
			}
			return nil, fmt.Errorf("dataset: read manifest %s: %w", path, err)
		}
		line, _ := r.FieldPos(0) // after a parse error it would panic
		it, err := parseManifestCSVRecord(rec, col, nPts, defaultScheme, dir)
		if err == nil {
			err = checkItem(&it, names, line)
		}
		if err != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s:%d: %w", path, line, err))
			continue
		}
		src.Items = append(src.Items, it)
	}
	return src, nil
}

// csvRecord is one data row of a CSV manifest with its header's columns.
type csvRecord struct {
	rec []string
	col map[string]int
}

// get returns the trimmed field of column name, and whether the header has
// the column.
func (r csvRecord) get(name string) (string, bool) {
	i, ok := r.col[name]
	if !ok {
		return "", false
	}
	return strings.TrimSpace(r.rec[i]), true
}

// num parses the field of column name; an absent column or empty field is
// not set (ok false).
func (r csvRecord) num(name string) (v float64, ok bool, err error) {
	s, ok := r.get(name)
	if !ok || s == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false, fmt.Errorf("column %q: %q is not a number", name, s)
	}
	return v, true, nil
}

// group parses the numeric columns names, which must be set all or none
// (what names them in the error); ok reports all.
func (r csvRecord) group(what string, names ...string) (vals []float64, ok bool, err error) {
	vals = make([]float64, len(names))
	n := 0
	for k, c := range names {
		v, set, err := r.num(c)
		if err != nil {
			return nil, false, err
		}
		if set {
			vals[k] = v
			n++
		}
	}
	switch n {
	case 0:
		return nil, false, nil
	case len(names):
		return vals, true, nil
	}
	return nil, false, fmt.Errorf("columns %s: %d of %d set, want all or none", what, n, len(names))
}

// landmarks parses the nPts point columns x0, y0, ... of scheme; a point
// with both fields empty is invisible.
func (r csvRecord) landmarks(scheme string, nPts int) (Landmarks, error) {
	n := bfm.SchemeSize(scheme)
	if n == 0 {
		return Landmarks{}, fmt.Errorf("column \"scheme\": %q, want one of %v", scheme, bfm.Schemes())
	}
	if n != nPts {
		return Landmarks{}, fmt.Errorf("column \"scheme\": %s has %d points, header has %d", scheme, n, nPts)
	}
	lm := Landmarks{Points: make([][2]float64, n), Visible: make([]bool, n)}
	for k := 0; k < n; k++ {
		kx, ky := "x"+strconv.Itoa(k), "y"+strconv.Itoa(k)
		x, okx, err := r.num(kx)
		if err != nil {
			return Landmarks{}, err
		}
		y, oky, err := r.num(ky)
		if err != nil {
			return Landmarks{}, err
		}
		if okx != oky {
			return Landmarks{}, fmt.Errorf("columns %q, %q: one is empty, want both or neither", kx, ky)
		}
		if okx {
			lm.Points[k] = [2]float64{x, y}
			lm.Visible[k] = true
		}
	}
	return lm, nil
}

func parseManifestCSVRecord(rec []string, col map[string]int, nPts int, scheme, dir string) (Item, error) {
	r := csvRecord{rec: rec, col: col}
	img, _ := r.get("image")
	if img == "" {
		return Item{}, errors.New(`column "image": empty`)
	}
	it := Item{ImagePath: resolvePath(dir, img), Name: img}
	if n, _ := r.get("name"); n != "" {
		it.Name = n
	}
	if s, ok := r.get("scheme"); ok {
		scheme = s
	}
	if nPts > 0 {
		lm, err := r.landmarks(scheme, nPts)
		if err != nil {
			return Item{}, err
		}
		it.Landmarks = map[string]Landmarks{scheme: lm}
	}
	box, ok, err := r.group("box_x0..box_y1", "box_x0", "box_y0", "box_x1", "box_y1")
	if err != nil {
		return Item{}, err
	}
	if ok {
		it.Box = &Box{X0: box[0], Y0: box[1], X1: box[2], Y1: box[3]}
	}
	pose, ok, err := r.group("yaw, pitch, roll", "yaw", "pitch", "roll")
	if err != nil {
		return Item{}, err
	}
	if ok {
		it.Pose = &Pose{Yaw: pose[0], Pitch: pose[1], Roll: pose[2]}
	}
	return it, nil
}
