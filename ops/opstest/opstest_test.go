package opstest_test

import (
	"fmt"
	"hash"
	"math"
	"strings"
	"testing"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

// squareOp computes x^2 elementwise and claims the gradient factor*x*G, so
// that factor = 2 is correct and anything else is wrong.
type squareOp struct{ factor float64 }

func (op squareOp) Arity() int    { return 1 }
func (op squareOp) Type() hm.Type { a := hm.TypeVariable('a'); return hm.NewFnType(a, a) }
func (op squareOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return in[0].(tensor.Shape).Clone(), nil
}
func (op squareOp) ReturnsPtr() bool      { return false }
func (op squareOp) CallsExtern() bool     { return false }
func (op squareOp) OverwritesInput() int  { return -1 }
func (op squareOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op squareOp) Hashcode() uint32      { return 0 }
func (op squareOp) String() string        { return fmt.Sprintf("square%g", op.factor) }
func (op squareOp) DiffWRT(int) []bool    { return []bool{true} }
func (op squareOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	x := in[0].(*tensor.Dense)
	v := x.Data().([]float64)
	out := make([]float64, len(v))
	for i, a := range v {
		out[i] = a * a
	}
	return tensor.New(tensor.WithShape(x.Shape().Clone()...), tensor.WithBacking(out)), nil
}
func (op squareOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	k := gorgonia.NewConstant(op.factor)
	kx, err := gorgonia.Mul(in[0], k)
	if err != nil {
		return nil, err
	}
	g, err := gorgonia.HadamardProd(kx, grad)
	return gorgonia.Nodes{g}, err
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Logf(string, ...any)       {}
func (r *recorder) Errorf(f string, a ...any) { r.errs = append(r.errs, fmt.Sprintf(f, a...)) }
func (r *recorder) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }

func square(factor float64) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.ApplyOp(squareOp{factor}, in[0])
	}
}

func input() []*tensor.Dense {
	return []*tensor.Dense{tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float64{0.5, -1.2, 2, 0.1, 3, -0.7}))}
}

func TestCheckGradAcceptsCorrectGradient(t *testing.T) {
	r := &recorder{}
	res := opstest.CheckGrad(r, square(2), input())
	if len(r.errs) != 0 {
		t.Fatalf("correct gradient reported: %v", r.errs)
	}
	if len(res) != 1 || res[0].MaxErr > 1e-8 {
		t.Fatalf("results %v", res)
	}
}

func TestCheckGradRejectsWrongGradient(t *testing.T) {
	r := &recorder{}
	res := opstest.CheckGrad(r, square(2.001), input())
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "exceeds tolerance 1e-06") {
		t.Fatalf("wrong gradient not reported: %v", r.errs)
	}
	// Where |gradient| > 1 the relative error is 1 - 2/2.001 = 4.9975e-4.
	if math.Abs(res[0].MaxErr-4.9975e-4) > 1e-6 {
		t.Fatalf("result %v", res[0])
	}
}

func TestCheckGradOptions(t *testing.T) {
	r := &recorder{}
	// A loose tolerance accepts the slightly wrong gradient.
	opstest.CheckGrad(r, square(2.001), input(), opstest.Tolerance(1e-3))
	if len(r.errs) != 0 {
		t.Fatalf("reported with tolerance 1e-3: %v", r.errs)
	}
	// Only skips inputs; float32 inputs are promoted.
	two := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.HadamardProd(in[0], in[1])
	}
	a := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float32{1, 2, 3}))
	b := tensor.New(tensor.WithShape(3), tensor.WithBacking([]float64{-1, 0.5, 2}))
	res := opstest.CheckGrad(t, two, []*tensor.Dense{a, b}, opstest.Only(1), opstest.Seed(9), opstest.Step(1e-5))
	if len(res) != 1 || res[0].Input != 1 {
		t.Fatalf("results %v, want only input 1", res)
	}
}
