package graph

import (
	"fmt"
	"math"

	"gorgonia.org/gorgonia"
)

// Fit is the full STN output for one image: the prediction plus the fitted
// geometry, the sampled texture and the visibility mask.
type Fit struct {
	Prediction
	// Points2D holds the N grid vertices in image pixels (x, y).
	Points2D [][2]float64
	// Depth holds s * Z' of each vertex (pixels, larger = nearer the viewer).
	Depth []float64
	// Texture is C x N (channel-major), Mask is N (1 visible, 0 hidden).
	Texture []float32
	Mask    []float32
}

// Fit runs the forward STN on images (n x 3 x S x S values) and returns, for
// each image, the prediction with its geometry, texture and mask. It uses a
// forward-only machine created on first use.
func (m *Model) Fit(images []float32) ([]Fit, error) {
	if m.fitVM == nil {
		roots := []*gorgonia.Node{m.Loc.Theta, m.STN.Rotation, m.STN.Scale, m.STN.Points2D, m.STN.Points3D, m.STN.Texture, m.STN.Mask}
		if m.predictLandmarks != nil {
			roots = append(roots, m.predictLandmarks)
		}
		m.fitVM = gorgonia.NewTapeMachine(m.Graph.SubgraphRoots(roots...))
	}
	per := 3 * m.Size * m.Size
	if len(images) == 0 || len(images)%per != 0 {
		return nil, fmt.Errorf("graph: fit: %d image values, want a positive multiple of 3 x %d x %d", len(images), m.Size, m.Size)
	}
	n := len(images) / per
	N := m.STN.Rows * m.STN.Cols
	out := make([]Fit, 0, n)
	chunk := make([]float32, m.B*per)
	for start := 0; start < n; start += m.B {
		k := min(m.B, n-start)
		copy(chunk, images[start*per:(start+k)*per])
		clear(chunk[k*per:])
		fill(m.imgT, chunk)
		if err := gorgonia.Let(m.Images, m.imgT); err != nil {
			return nil, fmt.Errorf("graph: fit: %w", err)
		}
		if err := m.fitVM.RunAll(); err != nil {
			m.fitVM.Reset()
			return nil, fmt.Errorf("graph: fit: %w", err)
		}
		th := toFloat64s(m.Loc.Theta.Value().Data())
		rot := toFloat64s(m.STN.Rotation.Value().Data())
		sc := toFloat64s(m.STN.Scale.Value().Data())
		p2 := toFloat64s(m.STN.Points2D.Value().Data())
		p3 := toFloat64s(m.STN.Points3D.Value().Data())
		tex := toFloat64s(m.STN.Texture.Value().Data())
		mask := toFloat64s(m.STN.Mask.Value().Data())
		var lm []float64
		lp := len(m.lmIdx)
		if m.predictLandmarks != nil {
			lm = toFloat64s(m.predictLandmarks.Value().Data())
		}
		nt := len(th) / m.B
		C := len(tex) / (m.B * N)
		for b := 0; b < k; b++ {
			f := Fit{Prediction: Prediction{Theta: th[b*nt : (b+1)*nt], Scale: sc[b], Landmarks: make([][2]float64, m.L)}}
			copy(f.Rotation[:], rot[9*b:9*b+9])
			for i := range f.Landmarks {
				f.Landmarks[i] = [2]float64{math.NaN(), math.NaN()}
			}
			for j, li := range m.lmIdx {
				f.Landmarks[li] = [2]float64{lm[b*2*lp+j], lm[b*2*lp+lp+j]}
			}
			f.Points2D = make([][2]float64, N)
			f.Depth = make([]float64, N)
			for v := 0; v < N; v++ {
				f.Points2D[v] = [2]float64{p2[b*2*N+v], p2[b*2*N+N+v]}
				f.Depth[v] = sc[b] * p3[b*3*N+2*N+v]
			}
			f.Texture = make([]float32, C*N)
			for i := range f.Texture {
				f.Texture[i] = float32(tex[b*C*N+i])
			}
			f.Mask = make([]float32, N)
			for i := range f.Mask {
				f.Mask[i] = float32(mask[b*N+i])
			}
			out = append(out, f)
		}
		m.fitVM.Reset()
	}
	return out, nil
}

// GridTriangles returns the triangles of a rows x cols grid mesh (two per
// quad), wound counter-clockwise seen from +z with row 0 at the top.
func GridTriangles(rows, cols int) [][3]int32 {
	tris := make([][3]int32, 0, 2*(rows-1)*(cols-1))
	for r := 0; r+1 < rows; r++ {
		for c := 0; c+1 < cols; c++ {
			a := int32(r*cols + c)
			b := a + 1
			d := int32((r+1)*cols + c)
			e := d + 1
			// Row r is above row r+1 (y up), col grows with x: a (top-left),
			// d (bottom-left), e (bottom-right) is counter-clockwise.
			tris = append(tris, [3]int32{a, d, e}, [3]int32{a, e, b})
		}
	}
	return tris
}
