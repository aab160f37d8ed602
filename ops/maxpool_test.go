package ops

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

// distinctDense returns a float64 tensor whose entries are a seeded
// permutation of 0.01*(k - n/2), k = 0..n-1: no ties, and every pair is at
// least 0.01 apart, far more than a finite-difference step.
func distinctDense(seed uint64, shape ...int) *tensor.Dense {
	n := tensor.Shape(shape).TotalSize()
	perm := rand.New(rand.NewPCG(seed, 11)).Perm(n)
	v := make([]float64, n)
	for i, p := range perm {
		v[i] = 0.01 * float64(p-n/2)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func buildPool(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return MaxPool2x2(in[0])
}

func builtinPool(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return gorgonia.MaxPool2D(in[0], tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
}

func TestMaxPool2x2Known(t *testing.T) {
	x := dense([]float64{
		1, 5, 2, 0,
		3, 4, 9, 8,
		-1, -2, 7, 7.5,
		-4, -3, 6, 8,
	}, 1, 1, 4, 4)
	got, shape := forward(t, buildPool, x)
	if !shape.Eq(tensor.Shape{1, 1, 2, 2}) {
		t.Fatalf("shape %v, want (1, 1, 2, 2)", shape)
	}
	assertClose(t, "pool", got, []float64{5, 9, -1, 8}, 0)
	// Gradient of sum(W .* y) routes W to the argmax of each window.
	res := runGrads(t, buildPool, []*tensor.Dense{x})
	w := asF64(randDense(77, -1, 1, 1, 1, 2, 2)) // the W of runGrads
	want := []float64{
		0, w[0], 0, 0,
		0, 0, w[1], 0,
		w[2], 0, 0, 0,
		0, 0, 0, w[3],
	}
	assertClose(t, "pool grad", res[1], want, 0)
}

func TestMaxPool2x2TiesGoToFirst(t *testing.T) {
	x := dense([]float64{2, 2, 2, 2}, 1, 1, 2, 2)
	res := runGrads(t, buildPool, []*tensor.Dense{x})
	w := asF64(randDense(77, -1, 1, 1, 1, 1, 1))
	assertClose(t, "tie grad", res[1], []float64{w[0], 0, 0, 0}, 0)
}

func TestMaxPool2x2Grad(t *testing.T) {
	opstest.CheckGrad(t, buildPool, []*tensor.Dense{distinctDense(1, 3, 2, 6, 4)})
	opstest.CheckGrad(t, buildPool, []*tensor.Dense{distinctDense(2, 1, 1, 2, 8)})
}

func TestMaxPool2x2MatchesBuiltin(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for _, shape := range [][]int{{3, 2, 6, 4}, {4, 16, 20, 18}} {
		for _, f32 := range []bool{false, true} {
			x := distinctDense(3, shape...)
			if f32 {
				x = to32(x)
			}
			want := runGrads(t, builtinPool, []*tensor.Dense{x})
			got := runGrads(t, buildPool, []*tensor.Dense{x})
			assertClose(t, "output", got[0], want[0], 0)
			assertClose(t, "dL/dx", got[1], want[1], 0)
		}
	}
}

func TestMaxPool2x2Float32(t *testing.T) {
	checkF32(t, buildPool, 1e-7, distinctDense(4, 2, 3, 8, 6))
}

// TestMaxPool2x2StaleOutput checks that a preallocated output and gradient
// holding garbage are fully overwritten.
func TestMaxPool2x2StaleOutput(t *testing.T) {
	x := distinctDense(5, 2, 3, 6, 4)
	fresh, err := maxPoolOp{}.Do(x)
	if err != nil {
		t.Fatal(err)
	}
	stale := randDense(9, 100, 200, 2, 3, 3, 2)
	got, err := maxPoolOp{}.UsePreallocDo(stale, x)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "prealloc", asF64(got), asF64(fresh), 0)
	gy := randDense(10, -1, 1, 2, 3, 3, 2)
	gFresh, err := maxPoolGradOp{}.Do(x, gy)
	if err != nil {
		t.Fatal(err)
	}
	gStale := randDense(11, 100, 200, 2, 3, 6, 4)
	gGot, err := maxPoolGradOp{}.UsePreallocDo(gStale, x, gy)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "grad prealloc", asF64(gGot), asF64(gFresh), 0)
	// Each window has exactly one non-zero entry, equal to G.
	gv, g := asF64(gFresh), asF64(gy)
	nonzero := 0
	for _, v := range gv {
		if v != 0 {
			nonzero++
		}
	}
	if nonzero != len(g) {
		t.Fatalf("%d non-zero gradient entries, want one per window (%d)", nonzero, len(g))
	}
}

func TestMaxPool2x2Errors(t *testing.T) {
	g := gorgonia.NewGraph()
	cases := []struct {
		x    *gorgonia.Node
		want string
	}{
		{nil, "ops.MaxPool2x2: x is nil"},
		{node(g, "a", randDense(1, 0, 1, 2, 4, 4)), "ops.MaxPool2x2: x must be a 4-D tensor (B, C, H, W), got shape (2, 4, 4)"},
		{node(g, "b", randDense(1, 0, 1, 1, 2, 5, 4)), "ops.MaxPool2x2: x must have even, non-zero H and W, got shape (1, 2, 5, 4)"},
		{node(g, "c", randDense(1, 0, 1, 1, 2, 4, 3)), "ops.MaxPool2x2: x must have even, non-zero H and W, got shape (1, 2, 4, 3)"},
	}
	for _, c := range cases {
		_, err := MaxPool2x2(c.x)
		if err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	_, err := maxPoolGradOp{}.Do(randDense(1, 0, 1, 1, 2, 4, 4), randDense(1, 0, 1, 1, 2, 3, 2))
	if err == nil || !strings.Contains(err.Error(), "G (B, C, H/2, W/2)") {
		t.Errorf("run-time shape error %v", err)
	}
}

// TestMaxPool2x2SignedZeros: after a ReLU whole windows are zero; -0 and +0
// count as equal, so the gradient goes to the first element of the window
// in both the float32 and float64 kernels.
func TestMaxPool2x2SignedZeros(t *testing.T) {
	nz := math.Copysign(0, -1)
	x := dense([]float64{nz, 0, 0, nz, 0, 0, nz, 0}, 1, 2, 2, 2)
	for _, f32 := range []bool{false, true} {
		in := x
		if f32 {
			in = to32(x)
		}
		res := runGrads(t, buildPool, []*tensor.Dense{in})
		w := asF64(randDense(77, -1, 1, 1, 2, 1, 1))
		if f32 {
			w = asF64(to32(randDense(77, -1, 1, 1, 2, 1, 1)))
		}
		assertClose(t, "signed zero grad", res[1], []float64{w[0], 0, 0, 0, w[1], 0, 0, 0}, 0)
		assertClose(t, "signed zero max", res[0], []float64{0, 0}, 0)
	}
}
