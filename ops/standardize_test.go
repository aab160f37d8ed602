package ops

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildStandardize(mean []float64, scale float64) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return Standardize(in[0], mean, scale)
	}
}

func TestStandardizeKnown(t *testing.T) {
	// (B=2, C=3, 1, 2): channel c of image b holds 10 b + c + {0, 0.5}.
	x := dense([]float64{0, 0.5, 1, 1.5, 2, 2.5, 10, 10.5, 11, 11.5, 12, 12.5}, 2, 3, 1, 2)
	got, shape := forward(t, buildStandardize([]float64{0.5, 1, -2}, 4), x)
	want := []float64{-2, 0, 0, 2, 16, 18, 38, 40, 40, 42, 56, 58}
	assertClose(t, "standardize", got, want, 0)
	if !shape.Eq(tensor.Shape{2, 3, 1, 2}) {
		t.Errorf("shape %v", shape)
	}
}

// TestStandardizeMatchesBroadcast: the op gives the bits of Gorgonia's
// BroadcastSub then Mul (which it replaced in the localiser) in float32.
func TestStandardizeMatchesBroadcast(t *testing.T) {
	x := randDense(3, 0, 1, 2, 3, 5, 7)
	x32 := tensor.New(tensor.WithShape(x.Shape()...), tensor.WithBacking(toF32(x.Data().([]float64))))
	mean := []float64{0.485, 0.456, 0.406}
	const scale = 1 / 0.229
	got, _ := forward(t, buildStandardize(mean, scale), x32)
	want, _ := forward(t, func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		m := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 1, 1), gorgonia.WithName("m"),
			gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3, 1, 1), tensor.WithBacking(toF32(mean)))))
		d, err := gorgonia.BroadcastSub(in[0], m, nil, []byte{0, 2, 3})
		if err != nil {
			return nil, err
		}
		return gorgonia.Mul(d, gorgonia.NewConstant(float32(scale)))
	}, x32)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d: %v, BroadcastSub + Mul give %v", i, got[i], want[i])
		}
	}
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestStandardizeGrad(t *testing.T) {
	opstest.CheckGrad(t, buildStandardize([]float64{0.5, -1}, 3), []*tensor.Dense{randDense(4, -2, 2, 2, 2, 3, 2)})
	opstest.CheckGrad(t, buildStandardize([]float64{0.25}, 0.5), []*tensor.Dense{randDense(5, -2, 2, 3, 1)})
}

func TestStandardizeFloat32(t *testing.T) {
	checkF32(t, buildStandardize([]float64{0.5, 0.5, 0.5}, 4), 1e-6, randDense(6, 0, 1, 2, 3, 4, 4))
}

func TestStandardizeErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 1, 3, 2, 2))
	for _, c := range []struct {
		mean  []float64
		scale float64
		want  string
	}{
		{[]float64{0.5, 0.5}, 1, "x must be (B, C, ...) with C = 2 means, got shape (1, 3, 2, 2)"},
		{[]float64{0.5, math.NaN(), 0}, 1, "mean[1] = NaN, want a finite number"},
		{[]float64{0, 0, 0}, 0, "scale = 0, want a finite number > 0"},
		{[]float64{0, 0, 0}, math.Inf(1), "scale = +Inf, want a finite number > 0"},
	} {
		_, err := Standardize(x, c.mean, c.scale)
		if err == nil || !strings.Contains(err.Error(), "ops.Standardize: "+c.want) {
			t.Errorf("mean %v scale %v: error %v, want %q", c.mean, c.scale, err, c.want)
		}
	}
}
