package graph

import (
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
func (m *Network) Fit(images []float32) ([]Fit, error) {
	if m.fitVM == nil {
		roots := []*gorgonia.Node{m.Localiser.Theta, m.STN.Rotation, m.STN.Scale, m.STN.Points2D, m.STN.Points3D, m.STN.Texture, m.STN.Mask}
		if m.predictLandmarks != nil {
			roots = append(roots, m.predictLandmarks)
		}
		vm, err := newMachine(m.Graph, roots, m.arena)
		if err != nil {
			return nil, err
		}
		m.fitVM = vm
	}
	N := m.STN.Rows * m.STN.Cols
	var out []Fit
	err := m.runChunks(m.fitVM, "fit", images, func(k int) error {
		preds := m.predictions(k)
		sc := toFloat64s(m.STN.Scale.Value().Data())
		p2 := toFloat64s(m.STN.Points2D.Value().Data())
		p3 := toFloat64s(m.STN.Points3D.Value().Data())
		tex := toFloat64s(m.STN.Texture.Value().Data())
		mask := toFloat64s(m.STN.Mask.Value().Data())
		C := len(tex) / (m.BatchSize * N)
		for b, p := range preds {
			f := Fit{Prediction: p, Points2D: make([][2]float64, N), Depth: make([]float64, N),
				Texture: make([]float32, C*N), Mask: make([]float32, N)}
			for v := 0; v < N; v++ {
				f.Points2D[v] = [2]float64{p2[b*2*N+v], p2[b*2*N+N+v]}
				f.Depth[v] = sc[b] * p3[b*3*N+2*N+v]
				f.Mask[v] = float32(mask[b*N+v])
			}
			for i := range f.Texture {
				f.Texture[i] = float32(tex[b*C*N+i])
			}
			out = append(out, f)
		}
		return nil
	})
	return out, err
}
