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
func (m *Network) Fit(images []float32) ([]Fit, error) { return m.FitInto(nil, images) }

// FitInto is Fit writing into dst: the Points2D, Depth, Texture and Mask
// slices of dst's elements are reused where they have the right length
// (a caller fitting batch after batch allocates them once), and the
// result is dst extended or cut to one Fit per image.
func (m *Network) FitInto(dst []Fit, images []float32) ([]Fit, error) {
	if m.fitVM == nil {
		roots := append([]*gorgonia.Node{m.Localiser.Theta, m.STN.Rotation, m.STN.Scale, m.STN.Points2D, m.STN.Points3D, m.STN.Texture, m.STN.Mask},
			m.landmarkNodes()...)
		vm, err := newMachine(m.Graph, roots, m.arena, true)
		if err != nil {
			return nil, err
		}
		m.fitVM = vm
	}
	N := m.STN.Rows * m.STN.Cols
	n := len(images) / max(1, 3*m.InputSize*m.InputSize)
	if cap(dst) < n {
		dst = append(dst[:cap(dst)], make([]Fit, n-cap(dst))...)
	}
	dst = dst[:n]
	i := 0
	err := m.runChunks(m.fitVM, "fit", images, func(k int) error {
		preds := m.predictions(k)
		sc := m.STN.Scale.Value().Data()
		p2, p3 := m.STN.Points2D.Value().Data(), m.STN.Points3D.Value().Data()
		tex, mask := m.STN.Texture.Value().Data(), m.STN.Mask.Value().Data()
		C := dataLen(tex) / (m.BatchSize * N)
		for b, p := range preds {
			f := &dst[i]
			f.Prediction = p
			f.Points2D = reuse(f.Points2D, N)
			f.Depth = reuse(f.Depth, N)
			f.Texture = reuse(f.Texture, C*N)
			f.Mask = reuse(f.Mask, N)
			fillFit(f, b, N, sc, p2, p3, tex, mask)
			i++
		}
		return nil
	})
	return dst[:i], err
}

// reuse returns s if it holds n values, else a new slice of n.
func reuse[T any](s []T, n int) []T {
	if len(s) == n {
		return s
	}
	return make([]T, n)
}

// fillFit copies item b's geometry, texture and mask from the machine's
// values (float32 or float64 data) into f.
func fillFit(f *Fit, b, N int, sc, p2, p3, tex, mask any) {
	switch s := sc.(type) {
	case []float32:
		fillFitT(f, b, N, s, p2.([]float32), p3.([]float32), tex.([]float32), mask.([]float32))
	case []float64:
		fillFitT(f, b, N, s, p2.([]float64), p3.([]float64), tex.([]float64), mask.([]float64))
	}
}

func fillFitT[T float32 | float64](f *Fit, b, N int, sc, p2, p3, tex, mask []T) {
	x, y := p2[b*2*N:b*2*N+N], p2[b*2*N+N:b*2*N+2*N]
	z := p3[b*3*N+2*N : b*3*N+3*N]
	s := float64(sc[b])
	for v := range f.Points2D {
		f.Points2D[v] = [2]float64{float64(x[v]), float64(y[v])}
		f.Depth[v] = s * float64(z[v])
		f.Mask[v] = float32(mask[b*N+v])
	}
	C := len(f.Texture) / N
	for i, t := range tex[b*C*N : (b+1)*C*N] {
		f.Texture[i] = float32(t)
	}
}
