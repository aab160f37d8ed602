package bfm

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/stn3d/stn3d/bfm/mat5"
)

// ReadTDDFAExpression reads the 3DDFA expression model (Model_Expression.mat:
// mu_exp 3T x 1, w_exp 3T x K, sigma_exp K x 1 over T = 53,215 vertices) and
// the index map map_tddfa_to_basel (1 x T, 0-based BFM vertex of each 3DDFA
// vertex), and returns an expression model on the numVertices-vertex BFM
// mesh (53,490 for BFM 2009): Mean is the mean expression displacement
// mu_exp, Basis[d] = w_exp[:, d] * sigma_exp[d], scattered through the map
// and zero on BFM vertices 3DDFA lacks. Like shapeEV, sigma_exp is taken as
// the standard deviation of each weight, so weights are N(0, I). Values are
// in the BFM's micrometres in the file and converted to millimetres.
// The result has no triangles: it is meant for Compose with a BFM identity
// model.
func ReadTDDFAExpression(path, mapPath string, numVertices int) (*Model, error) {
	f, err := mat5.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading 3DDFA expression model: %w", err)
	}
	mf, err := mat5.ReadFile(mapPath)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading 3DDFA-to-BFM map: %w", err)
	}
	mapping, err := tddfaMap(mf, mapPath, numVertices)
	if err != nil {
		return nil, err
	}
	return tddfaFromMAT(f, path, mapping, numVertices)
}

func tddfaMap(f *mat5.File, path string, numVertices int) ([]int, error) {
	v, err := f.Get("map_tddfa_to_basel")
	if err != nil {
		return nil, fmt.Errorf("bfm: 3DDFA map: %w", err)
	}
	out := make([]int, v.Len())
	seen := make([]bool, numVertices)
	for i, x := range v.Data {
		if x != math.Trunc(x) || x < 0 || x >= float64(numVertices) {
			return nil, formatErr(path, -1, fmt.Sprintf("map_tddfa_to_basel(%d)", i+1), fmt.Sprintf("a 0-based BFM vertex index in [0, %d)", numVertices), "%v", x)
		}
		if seen[int(x)] {
			return nil, formatErr(path, -1, fmt.Sprintf("map_tddfa_to_basel(%d)", i+1), "each BFM vertex at most once", "%v again", x)
		}
		seen[int(x)] = true
		out[i] = int(x)
	}
	return out, nil
}

func tddfaFromMAT(f *mat5.File, path string, mapping []int, numVertices int) (*Model, error) {
	mu, err := f.Get("mu_exp")
	if err != nil {
		return nil, fmt.Errorf("bfm: 3DDFA expression model: %w", err)
	}
	w, err := f.Get("w_exp")
	if err != nil {
		return nil, fmt.Errorf("bfm: 3DDFA expression model: %w", err)
	}
	sigma, err := f.Get("sigma_exp")
	if err != nil {
		return nil, fmt.Errorf("bfm: 3DDFA expression model: %w", err)
	}
	t3 := 3 * len(mapping)
	if mu.Len() != t3 {
		return nil, formatErr(path, -1, "mu_exp", fmt.Sprintf("%d values (3 x %d mapped vertices)", t3, len(mapping)), "%v", mu.Dims)
	}
	if len(w.Dims) != 2 || w.Dims[0] != t3 {
		return nil, formatErr(path, -1, "w_exp", fmt.Sprintf("%d x K", t3), "%v", w.Dims)
	}
	k := w.Dims[1]
	if sigma.Len() != k {
		return nil, formatErr(path, -1, "sigma_exp", fmt.Sprintf("%d values (one per w_exp column)", k), "%v", sigma.Dims)
	}
	m := &Model{
		Name:   trimExt(filepath.Base(path)),
		Format: "tddfa",
		Source: path,
		Units:  "mm",
		Mean:   make([]float64, 3*numVertices),
		Basis:  make([][]float64, k),
	}
	scatter := func(dst, src []float64, s float64) {
		for t, b := range mapping {
			dst[3*b] = src[3*t] * s / umPerMM
			dst[3*b+1] = src[3*t+1] * s / umPerMM
			dst[3*b+2] = src[3*t+2] * s / umPerMM
		}
	}
	scatter(m.Mean, mu.Data, 1)
	for d := 0; d < k; d++ {
		s := sigma.Data[d]
		if s < 0 || math.IsNaN(s) {
			return nil, formatErr(path, -1, fmt.Sprintf("sigma_exp(%d)", d+1), "a non-negative standard deviation", "%v", s)
		}
		m.Basis[d] = make([]float64, 3*numVertices)
		scatter(m.Basis[d], w.Data[d*t3:(d+1)*t3], s)
		m.Components = append(m.Components, Component{Name: fmt.Sprintf("expression_pc%02d", d+1), Kind: Expression})
	}
	return m, nil
}
