package bfm

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadOBJ reads a Wavefront OBJ mesh as a mean-only model (no components):
// "v x y z [r g b]" vertices (colours, if every vertex has them, become
// Albedo), "vt u v" texture coordinates, and "f" faces whose corners are
// "v", "v/vt", "v//vn" or "v/vt/vn" with 1-based or negative (relative)
// indices. Polygons with more than three corners are split into a fan
// (v0, vi, vi+1), so a quad becomes two triangles. OBJ's v = 0 at the bottom
// matches this package's UV convention; per-vertex UVs are kept only when
// every vertex gets a vt from some face corner and all its corners agree
// (otherwise UV is nil). The unit is unknown ("unit"). Other statements
// (vn, o, g, s, usemtl, mtllib) are ignored.
//
// Coordinates, colours and texture coordinates must be finite numbers
// (NaN or Inf is an error naming the file and line).
func ReadOBJ(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading OBJ: %w", err)
	}
	return parseOBJ(b, path)
}

// parseOBJ is ReadOBJ on the file's bytes; path names it in errors.
func parseOBJ(b []byte, path string) (*Model, error) {
	var (
		pos     []float64
		cols    [][3]float64
		vts     [][2]float64
		corners [][2]int // (vertex, vt or -1) per face corner
		faces   []int    // corner count per face
		line    int
	)
	allColour := true
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		fs := strings.Fields(s)
		if len(fs) == 0 {
			continue
		}
		field := fmt.Sprintf("line %d", line)
		switch fs[0] {
		case "v":
			if len(fs) != 4 && len(fs) != 7 {
				return nil, formatErr(path, -1, field, "v x y z [r g b]", "%q", s)
			}
			var xs [6]float64
			for i := 1; i < len(fs); i++ {
				x, err := strconv.ParseFloat(fs[i], 64)
				if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, formatErr(path, -1, field, "a finite number", "%q", fs[i])
				}
				xs[i-1] = x
			}
			pos = append(pos, xs[0], xs[1], xs[2])
			if len(fs) == 7 {
				cols = append(cols, [3]float64{xs[3], xs[4], xs[5]})
			} else {
				allColour = false
			}
		case "vt":
			if len(fs) < 3 {
				return nil, formatErr(path, -1, field, "vt u v", "%q", s)
			}
			u, err1 := strconv.ParseFloat(fs[1], 64)
			v, err2 := strconv.ParseFloat(fs[2], 64)
			if err1 != nil || err2 != nil || !finite(u) || !finite(v) {
				return nil, formatErr(path, -1, field, "vt u v with finite numbers", "%q", s)
			}
			vts = append(vts, [2]float64{u, v})
		case "f":
			if len(fs) < 4 {
				return nil, formatErr(path, -1, field, "a face with at least 3 corners", "%q", s)
			}
			for _, c := range fs[1:] {
				parts := strings.Split(c, "/")
				vi, err := objIndex(parts[0], len(pos)/3)
				if err != nil {
					return nil, formatErr(path, -1, field, fmt.Sprintf("a vertex index in [1, %d] or [-%d, -1]", len(pos)/3, len(pos)/3), "%q", c)
				}
				ti := -1
				if len(parts) > 1 && parts[1] != "" {
					ti, err = objIndex(parts[1], len(vts))
					if err != nil {
						return nil, formatErr(path, -1, field, fmt.Sprintf("a texture index in [1, %d] or [-%d, -1]", len(vts), len(vts)), "%q", c)
					}
				}
				corners = append(corners, [2]int{vi, ti})
			}
			faces = append(faces, len(fs)-1)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bfm: reading %s: %w", path, err)
	}
	nv := len(pos) / 3
	if nv == 0 {
		return nil, formatErr(path, -1, "", "at least one \"v\" line", "none")
	}
	m := &Model{Name: trimExt(filepath.Base(path)), Format: "obj", Source: path, Units: "unit", Mean: pos}
	if allColour && len(cols) == nv {
		m.Albedo = cols
	}
	uv := make([][2]float64, nv)
	uvSet := make([]int, nv) // vt index + 1, 0 = unset
	uvOK := len(vts) > 0
	k := 0
	for _, n := range faces {
		c := corners[k : k+n]
		k += n
		for i := 1; i+1 < n; i++ {
			m.Triangles = append(m.Triangles, [3]int32{int32(c[0][0]), int32(c[i][0]), int32(c[i+1][0])})
		}
		for _, cc := range c {
			if cc[1] < 0 {
				continue
			}
			switch uvSet[cc[0]] {
			case 0:
				uvSet[cc[0]] = cc[1] + 1
				uv[cc[0]] = vts[cc[1]]
			case cc[1] + 1:
			default:
				if vts[uvSet[cc[0]]-1] != vts[cc[1]] {
					uvOK = false // a seam: one vertex, two UVs
				}
			}
		}
	}
	if uvOK {
		for _, s := range uvSet {
			if s == 0 {
				uvOK = false
				break
			}
		}
	}
	if uvOK {
		m.UV = uv
	}
	return m, nil
}

// objIndex resolves a 1-based or negative OBJ index against n elements.
func objIndex(s string, n int) (int, error) {
	i, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	switch {
	case i > 0 && i <= n:
		return i - 1, nil
	case i < 0 && -i <= n:
		return n + i, nil
	}
	return 0, fmt.Errorf("index %d out of range", i)
}

// finite reports whether x is neither NaN nor infinite.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
