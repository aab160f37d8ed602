package bfm

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/stn3d/stn3d/bfm/mat5"
)

// BFM 2009 coordinates are in micrometres; readers convert to millimetres so
// that every model in the product shares one unit (SFM and BFM 2017 are mm).
const umPerMM = 1000.0

// ReadBFM2009 reads the Basel Face Model 2009 (01_MorphableModel.mat, MAT
// level 5, compressed or not): shapeMU (3N x 1), shapePC (3N x K, orthonormal
// columns), shapeEV (K x 1, STANDARD DEVIATIONS) and tl (M x 3, 1-based).
// The result is in millimetres (the file's micrometres / 1000, Units "mm"),
// Basis[d] = shapePC[:, d] * shapeEV[d] / 1000 so that weights are N(0, I)
// (Eq. 1 of Bas et al. 2017), triangles are 0-based. texMU, when present and
// of the right size, becomes Albedo (texMU / 255). Other variables (texPC,
// segbin, ...) are ignored.
func ReadBFM2009(path string) (*Model, error) {
	f, err := mat5.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2009 model: %w", err)
	}
	return bfm2009FromMAT(f, path)
}

func bfm2009FromMAT(f *mat5.File, path string) (*Model, error) {
	mu, err := f.Get("shapeMU")
	if err != nil {
		return nil, fmt.Errorf("bfm: BFM 2009 model: %w", err)
	}
	pc, err := f.Get("shapePC")
	if err != nil {
		return nil, fmt.Errorf("bfm: BFM 2009 model: %w", err)
	}
	ev, err := f.Get("shapeEV")
	if err != nil {
		return nil, fmt.Errorf("bfm: BFM 2009 model: %w", err)
	}
	tl, err := f.Get("tl")
	if err != nil {
		return nil, fmt.Errorf("bfm: BFM 2009 model: %w", err)
	}
	n3 := mu.Len()
	if len(mu.Dims) != 2 || mu.Dims[1] != 1 || n3 == 0 || n3%3 != 0 {
		return nil, formatErr(path, -1, "shapeMU", "a 3N x 1 array", "%v", mu.Dims)
	}
	if len(pc.Dims) != 2 || pc.Dims[0] != n3 {
		return nil, formatErr(path, -1, "shapePC", fmt.Sprintf("%d x K (rows as shapeMU)", n3), "%v", pc.Dims)
	}
	k := pc.Dims[1]
	if ev.Len() != k {
		return nil, formatErr(path, -1, "shapeEV", fmt.Sprintf("%d standard deviations (one per shapePC column)", k), "%v", ev.Dims)
	}
	nv := n3 / 3
	tris, err := trianglesFromMAT(tl, nv, path)
	if err != nil {
		return nil, err
	}
	m := &Model{
		Name:      trimExt(filepath.Base(path)),
		Format:    "bfm2009",
		Source:    path,
		Units:     "mm",
		Mean:      mu.Data,
		Triangles: tris,
		Basis:     make([][]float64, k),
	}
	for i := range m.Mean {
		m.Mean[i] /= umPerMM
	}
	for d := 0; d < k; d++ {
		s := ev.Data[d]
		if s < 0 || math.IsNaN(s) {
			return nil, formatErr(path, -1, fmt.Sprintf("shapeEV(%d)", d+1), "a non-negative standard deviation", "%v", s)
		}
		col := pc.Data[d*n3 : (d+1)*n3] // column-major: column d is contiguous
		s /= umPerMM
		for i := range col {
			col[i] *= s
		}
		m.Basis[d] = col
		m.Components = append(m.Components, Component{Name: fmt.Sprintf("shape_pc%02d", d+1), Kind: Identity})
	}
	if tex, err := f.Get("texMU"); err == nil && tex.Len() == n3 {
		m.Albedo = make([][3]float64, nv)
		for v := range m.Albedo {
			m.Albedo[v] = [3]float64{tex.Data[3*v] / 255, tex.Data[3*v+1] / 255, tex.Data[3*v+2] / 255}
		}
	}
	return m, nil
}

// trianglesFromMAT converts an M x 3 array of 1-based vertex indices.
func trianglesFromMAT(tl *mat5.Var, nv int, path string) ([][3]int32, error) {
	if len(tl.Dims) != 2 || tl.Dims[1] != 3 {
		return nil, formatErr(path, -1, tl.Name, "an M x 3 array of 1-based vertex indices", "%v", tl.Dims)
	}
	m := tl.Dims[0]
	out := make([][3]int32, m)
	for i := range out {
		for c := 0; c < 3; c++ {
			v := tl.Data[i+c*m]
			if v != math.Trunc(v) || v < 1 || v > float64(nv) {
				return nil, formatErr(path, -1, fmt.Sprintf("%s(%d,%d)", tl.Name, i+1, c+1), fmt.Sprintf("a 1-based vertex index in [1, %d]", nv), "%v", v)
			}
			out[i][c] = int32(v) - 1
		}
	}
	return out, nil
}

// ReadUVMAT reads a per-vertex UV map stored as an N x 2 variable "UV" (the
// reference's BFM_UV.mat: u grows with model x, v = 1 at the top, which is
// already this package's convention).
func ReadUVMAT(path string) ([][2]float64, error) {
	f, err := mat5.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading UV map: %w", err)
	}
	uv, err := f.Get("UV")
	if err != nil {
		return nil, fmt.Errorf("bfm: UV map: %w", err)
	}
	if len(uv.Dims) != 2 || uv.Dims[1] != 2 {
		return nil, formatErr(path, -1, "UV", "an N x 2 array", "%v", uv.Dims)
	}
	n := uv.Dims[0]
	out := make([][2]float64, n)
	for i := range out {
		out[i] = [2]float64{uv.Data[i], uv.Data[i+n]}
	}
	return out, nil
}
