package ops

import (
	"fmt"
	"runtime"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

type denseCase struct {
	xShape []int
	out    int
	relu   bool
	bias2  bool
}

func (c denseCase) in() int { return tensor.Shape(c.xShape[1:]).TotalSize() }

func (c denseCase) inputs(seed uint64) []*tensor.Dense {
	bs := []int{c.out}
	if c.bias2 {
		bs = []int{1, c.out}
	}
	return []*tensor.Dense{
		randDense(seed, -1, 1, c.xShape...),
		randDense(seed+1, -1, 1, c.in(), c.out),
		randDense(seed+2, -0.5, 0.5, bs...),
	}
}

func (c denseCase) build() opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return Dense(in[0], in[1], in[2], c.relu)
	}
}

// builtin: Reshape + Mul + BroadcastAdd (+ Rectify), bias (1, Out).
func (c denseCase) builtin() opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		x := in[0]
		var err error
		if len(c.xShape) > 2 {
			if x, err = gorgonia.Reshape(x, tensor.Shape{c.xShape[0], c.in()}); err != nil {
				return nil, err
			}
		}
		y, err := gorgonia.Mul(x, in[1])
		if err != nil {
			return nil, err
		}
		if y, err = gorgonia.BroadcastAdd(y, in[2], nil, []byte{0}); err != nil {
			return nil, err
		}
		if c.relu {
			return gorgonia.Rectify(y)
		}
		return y, nil
	}
}

var denseCases = []denseCase{
	{xShape: []int{3, 5}, out: 4, relu: true},
	{xShape: []int{3, 5}, out: 4, relu: false, bias2: true},
	{xShape: []int{2, 2, 3, 2}, out: 3, relu: true},
	{xShape: []int{1, 7}, out: 1, relu: false},
}

func TestDenseKnown(t *testing.T) {
	// x = [[1, 2], [3, 4]], w = [[1, -1], [2, 0.5]], b = [0.5, -4]:
	// x w = [[5, 0], [11, -1]] -> + b = [[5.5, -4], [11.5, -5]].
	x := dense([]float64{1, 2, 3, 4}, 2, 2)
	w := dense([]float64{1, -1, 2, 0.5}, 2, 2)
	b := dense([]float64{0.5, -4}, 2)
	for _, relu := range []bool{false, true} {
		got, shape := forward(t, denseCase{xShape: []int{2, 2}, out: 2, relu: relu}.build(), x, w, b)
		want := []float64{5.5, -4, 11.5, -5}
		if relu {
			want = []float64{5.5, 0, 11.5, 0}
		}
		if !shape.Eq(tensor.Shape{2, 2}) {
			t.Fatalf("shape %v", shape)
		}
		assertClose(t, fmt.Sprintf("dense relu=%t", relu), got, want, 1e-15)
	}
}

func TestDenseGrad(t *testing.T) {
	for i, c := range denseCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			opstest.CheckGrad(t, c.build(), c.inputs(uint64(800+10*i)))
		})
	}
}

func TestDenseMatchesBuiltin(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	names := []string{"output", "dL/dx", "dL/dw", "dL/db"}
	cases := append([]denseCase{
		{xShape: []int{16, 32, 7, 7}, out: 70, relu: true, bias2: true}, // splits columns
		{xShape: []int{5, 4000}, out: 7, relu: false, bias2: true},      // tall dL/dw splits rows
		{xShape: []int{9, 3, 4, 4}, out: 130, relu: true, bias2: true},  // uneven blocks
	}, denseCases...)
	for i, c := range cases {
		c.bias2 = true
		for _, f32 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v_f32%t", c, f32), func(t *testing.T) {
				in := c.inputs(uint64(900 + 10*i))
				tol := 1e-12
				if f32 {
					for j := range in {
						in[j] = to32(in[j])
					}
					tol = 5e-5
				}
				want := runGrads(t, c.builtin(), in)
				got := runGrads(t, c.build(), in)
				for j := range want {
					assertClose(t, names[j], got[j], want[j], tol)
				}
			})
		}
	}
}

func TestDenseErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 2, 3, 2))
	w := node(g, "w", randDense(1, 0, 1, 6, 4))
	b := node(g, "b", randDense(1, 0, 1, 4))
	cases := []struct {
		x, w, b *gorgonia.Node
		want    string
	}{
		{x, nil, b, "ops.Dense: w is nil"},
		{node(g, "x1", randDense(1, 0, 1, 6)), w, b, "ops.Dense: x must be (B, In) or (B, ...), got shape (6)"},
		{x, node(g, "w3", randDense(1, 0, 1, 6, 4, 1)), b, "ops.Dense: w must be a 2-D tensor (In, Out), got shape (6, 4, 1)"},
		{x, node(g, "w5", randDense(1, 0, 1, 5, 4)), b, "ops.Dense: w has 5 input rows (shape (5, 4)) but x has 6 values per item (shape (2, 3, 2))"},
		{x, w, node(g, "b3", randDense(1, 0, 1, 3)), "ops.Dense: b must have shape (4) or (1, 4), got (3)"},
	}
	for _, c := range cases {
		_, err := Dense(c.x, c.w, c.b, true)
		if err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
