package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildGather(idx []int) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return Gather(in[0], idx)
	}
}

func TestGatherKnown(t *testing.T) {
	x := dense([]float64{10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 42, 43}, 2, 2, 4)
	got, shape := forward(t, buildGather([]int{3, 0, 3}), x)
	if !shape.Eq(tensor.Shape{2, 2, 3}) {
		t.Fatalf("shape %v", shape)
	}
	assertClose(t, "gather", got, []float64{13, 10, 13, 23, 20, 23, 33, 30, 33, 43, 40, 43}, 0)
}

// Repeated indices accumulate in the gradient.
func TestGatherScatterRepeated(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, -1, 1, 1, 2, 4))
	out, err := Gather(x, []int{2, 0, 2, 2})
	if err != nil {
		t.Fatal(err)
	}
	w := node(g, "w", dense([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 1, 2, 4))
	p, err := gorgonia.HadamardProd(out, w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Sum(p)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(cost, x)
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	want := []float64{2, 0, 1 + 3 + 4, 0, 6, 0, 5 + 7 + 8, 0}
	assertClose(t, "scatter", grads[0].Value().Data().([]float64), want, 0)
}

func TestGatherGrad(t *testing.T) {
	opstest.CheckGrad(t, buildGather([]int{4, 1, 1, 0, 4}), []*tensor.Dense{randDense(2, -1, 1, 2, 3, 5)})
}

func TestGatherErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 1, 2, 4))
	cases := []struct {
		idx  []int
		want string
	}{
		{[]int{0, 4}, "ops.Gather: idx[1] = 4 out of range [0, 4) for x of shape (1, 2, 4)"},
		{[]int{-1}, "ops.Gather: idx[0] = -1 out of range [0, 4) for x of shape (1, 2, 4)"},
		{nil, "ops.Gather: idx is empty; want at least one index"},
	}
	for _, c := range cases {
		_, err := Gather(x, c.idx)
		if err == nil || err.Error() != c.want {
			t.Errorf("idx %v: error %v, want %q", c.idx, err, c.want)
		}
	}
}

// Gather nodes with different indices must not be merged by the graph.
func TestGatherHashDistinguishesIdx(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 1, 2, 4))
	a, err := Gather(x, []int{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Gather(x, []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("Gather nodes with different idx were merged")
	}
}
