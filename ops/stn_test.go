package ops

import (
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

// buildSTN composes the whole grid generator and sampler of Bas et al. 2017
// (Fig. 1): Morphable -> rotation -> projection with log-scale -> translation
// -> transpose -> bilinear sampling, masked by the backface mask.
// Inputs: r (B,3), t (B,2), logs (B), alpha (B,D), basis (D,3N), mean (3N),
// img (B,C,H,W).
func buildSTN(rows, cols int) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		r, t, logs, alpha, basis, mean, img := in[0], in[1], in[2], in[3], in[4], in[5], in[6]
		x, err := Morphable(alpha, basis, mean)
		if err != nil {
			return nil, err
		}
		R, err := AxisAngleToRotation(r)
		if err != nil {
			return nil, err
		}
		xr, err := RotatePoints(R, x)
		if err != nil {
			return nil, err
		}
		s, err := LogScale(logs, math.E)
		if err != nil {
			return nil, err
		}
		y, err := OrthoProject(xr, s)
		if err != nil {
			return nil, err
		}
		y, err = KronTranslate(y, t)
		if err != nil {
			return nil, err
		}
		p, err := TransposePoints(y)
		if err != nil {
			return nil, err
		}
		v, err := BilinearSample(img, p)
		if err != nil {
			return nil, err
		}
		m, err := BackfaceMask(xr, rows, cols)
		if err != nil {
			return nil, err
		}
		b := m.Shape()[0]
		m3, err := gorgonia.Reshape(m, tensor.Shape{b, 1, rows * cols})
		if err != nil {
			return nil, err
		}
		return gorgonia.BroadcastHadamardProd(v, m3, nil, []byte{1})
	}
}

// stnInputs returns a small but complete STN problem: a 4x5 grid face
// (frontal bump) seen with a mild rotation, scale ~3 and translation to the
// centre of a smooth 3x16x16 image.
func stnInputs() []*tensor.Dense {
	const rows, cols, d, b = 4, 5, 3, 2
	n := rows * cols
	mean := make([]float64, 3*n)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			k := r*cols + c
			x, y := float64(c)-2, 1.5-float64(r)
			mean[k], mean[n+k], mean[2*n+k] = x, y, 2-0.2*(x*x+y*y)
		}
	}
	img := make([]float64, b*3*16*16)
	for i := range img {
		p := i % 256
		img[i] = math.Sin(0.7*float64(p%16)+0.3*float64(i/256)) * math.Cos(0.45*float64(p/16))
	}
	return []*tensor.Dense{
		dense([]float64{0.1, 0.25, -0.05, -0.2, 0.1, 0.15}, b, 3),
		dense([]float64{7.6, 7.3, 8.2, 6.9}, b, 2),
		dense([]float64{1.05, 0.95}, b),
		randDense(31, -1, 1, b, d),
		randDense(32, -0.1, 0.1, d, 3*n),
		dense(mean, 3*n),
		dense(img, b, 3, 16, 16),
	}
}

func TestSTNChainGrad(t *testing.T) {
	ins := stnInputs()
	out, _ := forward(t, buildSTN(4, 5), ins...)
	var nonzero int
	for _, v := range out {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero < len(out)/2 {
		t.Fatalf("only %d of %d sampled values are non-zero: the test face misses the image", nonzero, len(out))
	}
	opstest.CheckGrad(t, buildSTN(4, 5), ins)
}

func TestSTNChainFloat32(t *testing.T) {
	checkF32(t, buildSTN(4, 5), 1e-5, stnInputs()...)
}

// The STN slices r, t, log s and alpha out of one theta (B, 6+D) matrix;
// gorgonia.Slice hands the ops non-contiguous views, which they must read
// correctly (values and gradients).
func TestSTNFromSlicedTheta(t *testing.T) {
	ins := stnInputs()
	b, d := 2, 3
	theta := make([]float64, 0, b*(6+d))
	r, tr, ls, al := ins[0].Data().([]float64), ins[1].Data().([]float64), ins[2].Data().([]float64), ins[3].Data().([]float64)
	for i := 0; i < b; i++ {
		theta = append(theta, r[3*i:3*i+3]...)
		theta = append(theta, tr[2*i:2*i+2]...)
		theta = append(theta, ls[i])
		theta = append(theta, al[d*i:d*i+d]...)
	}
	sliced := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		th := in[0]
		parts := make([]*gorgonia.Node, 4)
		for k, s := range []tensor.Slice{gorgonia.S(0, 3), gorgonia.S(3, 5), gorgonia.S(5), gorgonia.S(6, 6+d)} {
			p, err := gorgonia.Slice(th, nil, s)
			if err != nil {
				return nil, err
			}
			parts[k] = p
		}
		return buildSTN(4, 5)(g, append(parts, in[1:]...))
	}
	thetaT := dense(theta, b, 6+d)
	want, _ := forward(t, buildSTN(4, 5), ins...)
	got, _ := forward(t, sliced, append([]*tensor.Dense{thetaT}, ins[4:]...)...)
	assertClose(t, "sliced theta", got, want, 0)
	opstest.CheckGrad(t, sliced, append([]*tensor.Dense{thetaT}, ins[4:]...), opstest.Only(0))
}
