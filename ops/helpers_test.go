package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randDense returns a float64 tensor with entries U(lo, hi), seeded.
func randDense(seed uint64, lo, hi float64, shape ...int) *tensor.Dense {
	r := rand.New(rand.NewPCG(seed, 7))
	n := tensor.Shape(shape).TotalSize()
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// dense wraps v as a float64 tensor of the given shape.
func dense(v []float64, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), v...)))
}

// to32 converts a float64 tensor to float32.
func to32(d *tensor.Dense) *tensor.Dense {
	src := d.Data().([]float64)
	v := make([]float32, len(src))
	for i, x := range src {
		v[i] = float32(x)
	}
	return tensor.New(tensor.WithShape(d.Shape().Clone()...), tensor.WithBacking(v))
}

// node makes an input node holding a copy of d.
func node(g *gorgonia.ExprGraph, name string, d *tensor.Dense) *gorgonia.Node {
	return gorgonia.NewTensor(g, d.Dtype(), len(d.Shape()), gorgonia.WithShape(d.Shape().Clone()...),
		gorgonia.WithName(name), gorgonia.WithValue(d.Clone()))
}

// forward builds f on fresh input nodes holding ins, runs it and returns the
// output as float64 values with its shape.
func forward(t testing.TB, f func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error), ins ...*tensor.Dense) ([]float64, tensor.Shape) {
	t.Helper()
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(ins))
	for i, d := range ins {
		nodes[i] = node(g, string(rune('a'+i)), d)
	}
	out, err := f(g, nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	switch v := out.Value().(type) {
	case *gorgonia.F64:
		return []float64{float64(*v)}, tensor.ScalarShape()
	case *gorgonia.F32:
		return []float64{float64(*v)}, tensor.ScalarShape()
	}
	v := out.Value().(tensor.Tensor)
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d...), v.Shape().Clone()
	case []float32:
		r := make([]float64, len(d))
		for i, x := range d {
			r[i] = float64(x)
		}
		return r, v.Shape().Clone()
	}
	t.Fatalf("unexpected output %T", v.Data())
	return nil, nil
}

// assertClose fails when got and want differ by more than tol (absolute
// or relative, whichever is larger).
func assertClose(t testing.TB, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := math.Abs(got[i] - want[i])
		if d > tol*math.Max(1, math.Abs(want[i])) || math.IsNaN(got[i]) {
			t.Fatalf("%s[%d] = %.12g, want %.12g (tol %g)", what, i, got[i], want[i], tol)
		}
	}
}

// checkF32 runs f in float64 and float32 on the same inputs and asserts the
// outputs agree to rel tol.
func checkF32(t *testing.T, f func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error), tol float64, ins ...*tensor.Dense) {
	t.Helper()
	want, ws := forward(t, f, ins...)
	ins32 := make([]*tensor.Dense, len(ins))
	for i, d := range ins {
		ins32[i] = to32(d)
	}
	got, gs := forward(t, f, ins32...)
	if !ws.Eq(gs) {
		t.Fatalf("float32 shape %v, float64 shape %v", gs, ws)
	}
	assertClose(t, "float32 output", got, want, tol)
}
