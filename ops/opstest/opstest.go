// Package opstest checks the analytic gradients of Gorgonia graphs against
// central finite differences. It is used by the tests of package ops and can
// be used for any op built on Gorgonia.
package opstest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BuildFunc builds the graph under test in g from the input nodes (one per
// input tensor, float64, same shapes) and returns its output node.
type BuildFunc func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error)

type config struct {
	tol   float64
	step  float64
	floor float64
	seed  uint64
	only  map[int]bool
}

// Option configures CheckGrad.
type Option func(*config)

// Tolerance sets the largest accepted relative error (default 1e-6).
func Tolerance(tol float64) Option { return func(c *config) { c.tol = tol } }

// Step sets the central-difference step h (default 1e-6).
func Step(h float64) Option { return func(c *config) { c.step = h } }

// Floor sets the smallest denominator of the relative error (default 1):
// err = |analytic - numeric| / max(|analytic|, |numeric|, floor), so that
// gradients much smaller than floor are compared absolutely.
func Floor(f float64) Option { return func(c *config) { c.floor = f } }

// Seed sets the seed of the random weights W (default 1).
func Seed(s uint64) Option { return func(c *config) { c.seed = s } }

// Only restricts the check to the listed input indices (default: all).
// Use it for inputs the graph is not differentiable with respect to.
func Only(idx ...int) Option {
	return func(c *config) {
		c.only = map[int]bool{}
		for _, i := range idx {
			c.only[i] = true
		}
	}
}

// Result is the outcome of the check for one input.
type Result struct {
	Input    int     // index into inputs
	MaxErr   float64 // worst relative error over the input's elements
	At       int     // flat index of the worst element
	Analytic float64 // analytic gradient there
	Numeric  float64 // finite-difference gradient there
}

func (r Result) String() string {
	return fmt.Sprintf("input %d: max rel err %.3g at element %d (analytic %.10g, numeric %.10g)",
		r.Input, r.MaxErr, r.At, r.Analytic, r.Numeric)
}

// CheckGrad builds the graph in float64, forms the scalar
// L = sum(W .* out) with fixed random W ~ U(-1, 1), computes dL/din with
// gorgonia.Grad and a TapeMachine, and compares every element with the
// central difference (L(x+h) - L(x-h)) / 2h. It reports the worst relative
// error per input with t.Logf and fails t (t.Errorf) for any input whose
// error exceeds the tolerance. float32 inputs are converted to float64.
// The returned results are in input order (skipped inputs omitted).
func CheckGrad(t testing.TB, build BuildFunc, inputs []*tensor.Dense, opts ...Option) []Result {
	t.Helper()
	cfg := config{tol: 1e-6, step: 1e-6, floor: 1, seed: 1}
	for _, o := range opts {
		o(&cfg)
	}
	ins := make([]*tensor.Dense, len(inputs))
	for i, in := range inputs {
		d, err := toFloat64(in)
		if err != nil {
			t.Fatalf("opstest.CheckGrad: input %d: %v", i, err)
		}
		ins[i] = d
	}

	// Analytic gradients.
	g := gorgonia.NewGraph()
	nodes := makeInputs(g, ins)
	out, err := build(g, nodes)
	if err != nil {
		t.Fatalf("opstest.CheckGrad: build: %v", err)
	}
	w := randomLike(out.Shape(), cfg.seed)
	cost, err := weightedSum(g, out, w)
	if err != nil {
		t.Fatalf("opstest.CheckGrad: cost: %v", err)
	}
	var wrt []*gorgonia.Node
	var wrtIdx []int
	for i, n := range nodes {
		if cfg.only == nil || cfg.only[i] {
			wrt = append(wrt, n)
			wrtIdx = append(wrtIdx, i)
		}
	}
	grads, err := gorgonia.Grad(cost, wrt...)
	if err != nil {
		t.Fatalf("opstest.CheckGrad: Grad: %v", err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer closeVM(t, m)
	if err := m.RunAll(); err != nil {
		t.Fatalf("opstest.CheckGrad: run: %v", err)
	}
	analytic := make([][]float64, len(grads))
	for k, gn := range grads {
		v, ok := gn.Value().(tensor.Tensor)
		if !ok {
			t.Fatalf("opstest.CheckGrad: gradient of input %d is %T, want a tensor", wrtIdx[k], gn.Value())
		}
		analytic[k] = append([]float64(nil), v.Data().([]float64)...)
	}

	// Numeric gradients on a forward-only graph.
	fg := gorgonia.NewGraph()
	fnodes := makeInputs(fg, ins)
	fout, err := build(fg, fnodes)
	if err != nil {
		t.Fatalf("opstest.CheckGrad: build (forward): %v", err)
	}
	fcost, err := weightedSum(fg, fout, w)
	if err != nil {
		t.Fatalf("opstest.CheckGrad: cost (forward): %v", err)
	}
	fm := gorgonia.NewTapeMachine(fg)
	defer closeVM(t, fm)
	eval := func() float64 {
		fm.Reset()
		if err := fm.RunAll(); err != nil {
			t.Fatalf("opstest.CheckGrad: forward run: %v", err)
		}
		return scalar(t, fcost.Value())
	}

	var results []Result
	for k, i := range wrtIdx {
		work := ins[i].Clone().(*tensor.Dense)
		if err := gorgonia.Let(fnodes[i], work); err != nil {
			t.Fatalf("opstest.CheckGrad: let input %d: %v", i, err)
		}
		xs := work.Data().([]float64)
		res := Result{Input: i, At: -1}
		for j := range xs {
			x0 := xs[j]
			xs[j] = x0 + cfg.step
			lp := eval()
			xs[j] = x0 - cfg.step
			lm := eval()
			xs[j] = x0
			num := (lp - lm) / (2 * cfg.step)
			an := analytic[k][j]
			den := math.Max(math.Max(math.Abs(an), math.Abs(num)), cfg.floor)
			e := math.Abs(an-num) / den
			if math.IsNaN(e) {
				e = math.Inf(1)
			}
			if res.At < 0 || e > res.MaxErr {
				res.MaxErr, res.At, res.Analytic, res.Numeric = e, j, an, num
			}
		}
		if err := gorgonia.Let(fnodes[i], ins[i]); err != nil {
			t.Fatalf("opstest.CheckGrad: let input %d: %v", i, err)
		}
		t.Logf("opstest.CheckGrad: %v", res)
		if res.MaxErr > cfg.tol {
			t.Errorf("opstest.CheckGrad: %v exceeds tolerance %g", res, cfg.tol)
		}
		results = append(results, res)
	}
	return results
}

func toFloat64(in *tensor.Dense) (*tensor.Dense, error) {
	if in == nil {
		return nil, fmt.Errorf("nil tensor")
	}
	if len(in.Shape()) == 0 {
		return nil, fmt.Errorf("scalar inputs are not supported; use shape (1)")
	}
	switch v := in.Data().(type) {
	case []float64:
		return tensor.New(tensor.WithShape(in.Shape().Clone()...), tensor.WithBacking(append([]float64(nil), v...))), nil
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return tensor.New(tensor.WithShape(in.Shape().Clone()...), tensor.WithBacking(out)), nil
	default:
		return nil, fmt.Errorf("dtype %v, want float32 or float64", in.Dtype())
	}
}

func makeInputs(g *gorgonia.ExprGraph, ins []*tensor.Dense) []*gorgonia.Node {
	nodes := make([]*gorgonia.Node, len(ins))
	for i, in := range ins {
		nodes[i] = gorgonia.NewTensor(g, tensor.Float64, len(in.Shape()),
			gorgonia.WithShape(in.Shape().Clone()...), gorgonia.WithName(fmt.Sprintf("in%d", i)),
			gorgonia.WithValue(in.Clone()))
	}
	return nodes
}

func randomLike(shape tensor.Shape, seed uint64) *tensor.Dense {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	n := shape.TotalSize()
	v := make([]float64, n)
	for i := range v {
		v[i] = 2*r.Float64() - 1
	}
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(v))
}

func weightedSum(g *gorgonia.ExprGraph, out *gorgonia.Node, w *tensor.Dense) (*gorgonia.Node, error) {
	if out.Dtype() != tensor.Float64 {
		return nil, fmt.Errorf("output dtype %v, want float64", out.Dtype())
	}
	wn := gorgonia.NewTensor(g, tensor.Float64, len(w.Shape()), gorgonia.WithShape(w.Shape()...),
		gorgonia.WithName("opstest.W"), gorgonia.WithValue(w))
	prod, err := gorgonia.HadamardProd(out, wn)
	if err != nil {
		return nil, err
	}
	return gorgonia.Sum(prod)
}

func scalar(t testing.TB, v gorgonia.Value) float64 {
	t.Helper()
	switch x := v.(type) {
	case *gorgonia.F64:
		return float64(*x)
	case tensor.Tensor:
		if f, ok := x.Data().(float64); ok {
			return f
		}
		if f, ok := x.Data().([]float64); ok && len(f) == 1 {
			return f[0]
		}
	}
	t.Fatalf("opstest.CheckGrad: cost value %T is not a float64 scalar", v)
	return 0
}

// closeVM closes vm, failing the test on an error.
func closeVM(t testing.TB, vm gorgonia.VM) {
	if err := vm.Close(); err != nil {
		t.Errorf("opstest: closing the machine: %v", err)
	}
}
