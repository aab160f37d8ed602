package ops

import (
	"fmt"
	"github.com/stn3d/stn3d/internal/kern"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

// convCase is one convolution configuration under test.
type convCase struct {
	b, cin, h, w, cout, k, pad, stride int
	relu                               bool
	bias4                              bool // bias shaped (1,Cout,1,1) instead of (Cout)
}

func (c convCase) String() string {
	return fmt.Sprintf("B%d_C%d_%dx%d_O%d_k%d_p%d_s%d_relu%t_b4%t", c.b, c.cin, c.h, c.w, c.cout, c.k, c.pad, c.stride, c.relu, c.bias4)
}

func (c convCase) biasShape() []int {
	if c.bias4 {
		return []int{1, c.cout, 1, 1}
	}
	return []int{c.cout}
}

// inputs returns seeded x, w, b for the case.
func (c convCase) inputs(seed uint64) []*tensor.Dense {
	return []*tensor.Dense{
		randDense(seed, -1, 1, c.b, c.cin, c.h, c.w),
		randDense(seed+1, -1, 1, c.cout, c.cin, c.k, c.k),
		randDense(seed+2, -0.5, 0.5, c.biasShape()...),
	}
}

func (c convCase) build() opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return Conv2D(in[0], in[1], in[2], c.pad, c.stride, c.relu)
	}
}

// builtin builds the same layer from gorgonia's Conv2d, BroadcastAdd and
// Rectify (bias must be (1,Cout,1,1)).
func (c convCase) builtin() opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		y, err := gorgonia.Conv2d(in[0], in[1], tensor.Shape{c.k, c.k}, []int{c.pad, c.pad}, []int{c.stride, c.stride}, []int{1, 1})
		if err != nil {
			return nil, err
		}
		if y, err = gorgonia.BroadcastAdd(y, in[2], nil, []byte{0, 2, 3}); err != nil {
			return nil, err
		}
		if c.relu {
			return gorgonia.Rectify(y)
		}
		return y, nil
	}
}

// naiveConv is the definition of Conv2D as six nested loops.
func naiveConv(c convCase, x, w, b []float64) []float64 {
	ho := (c.h+2*c.pad-c.k)/c.stride + 1
	wo := (c.w+2*c.pad-c.k)/c.stride + 1
	out := make([]float64, c.b*c.cout*ho*wo)
	for bi := 0; bi < c.b; bi++ {
		for o := 0; o < c.cout; o++ {
			for i := 0; i < ho; i++ {
				for j := 0; j < wo; j++ {
					s := b[o]
					for ci := 0; ci < c.cin; ci++ {
						for u := 0; u < c.k; u++ {
							for v := 0; v < c.k; v++ {
								r, q := i*c.stride-c.pad+u, j*c.stride-c.pad+v
								if r < 0 || r >= c.h || q < 0 || q >= c.w {
									continue
								}
								s += w[((o*c.cin+ci)*c.k+u)*c.k+v] * x[((bi*c.cin+ci)*c.h+r)*c.w+q]
							}
						}
					}
					if c.relu && s < 0 {
						s = 0
					}
					out[((bi*c.cout+o)*ho+i)*wo+j] = s
				}
			}
		}
	}
	return out
}

var convCases = []convCase{
	{b: 3, cin: 2, h: 5, w: 7, cout: 3, k: 3, pad: 1, stride: 1, relu: true},
	{b: 3, cin: 2, h: 5, w: 7, cout: 3, k: 3, pad: 1, stride: 1, relu: false},
	{b: 3, cin: 2, h: 5, w: 7, cout: 3, k: 3, pad: 0, stride: 1, relu: true},
	{b: 3, cin: 2, h: 7, w: 5, cout: 2, k: 3, pad: 0, stride: 2, relu: false},
	{b: 3, cin: 3, h: 7, w: 6, cout: 2, k: 3, pad: 1, stride: 2, relu: true, bias4: true},
	{b: 3, cin: 1, h: 6, w: 5, cout: 4, k: 2, pad: 1, stride: 2, relu: false, bias4: true},
	{b: 1, cin: 2, h: 3, w: 3, cout: 2, k: 1, pad: 0, stride: 1, relu: true},
	{b: 2, cin: 2, h: 4, w: 4, cout: 3, k: 5, pad: 2, stride: 3, relu: false},
}

func TestConv2DKnown(t *testing.T) {
	// x = 1..9 on a 3x3 grid, w = [[1, 0], [0, -1]]: every 2x2 window gives
	// x[i,j] - x[i+1,j+1] = -4; bias 0.5 -> -3.5, and ReLU -> 0.
	x := dense([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	w := dense([]float64{1, 0, 0, -1}, 1, 1, 2, 2)
	b := dense([]float64{0.5}, 1)
	plainConv := func(relu bool, pad int) func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return Conv2D(in[0], in[1], in[2], pad, 1, relu)
		}
	}
	got, shape := forward(t, plainConv(false, 0), x, w, b)
	if !shape.Eq(tensor.Shape{1, 1, 2, 2}) {
		t.Fatalf("shape %v, want (1, 1, 2, 2)", shape)
	}
	assertClose(t, "conv", got, []float64{-3.5, -3.5, -3.5, -3.5}, 0)
	got, _ = forward(t, plainConv(true, 0), x, w, b)
	assertClose(t, "conv relu", got, []float64{0, 0, 0, 0}, 0)
	// pad 1: 4x4 output; corner (0,0) sees only -x[0,0] = -1 (+0.5);
	// corner (3,3) sees only x[2,2] = 9 (+0.5).
	got, shape = forward(t, plainConv(false, 1), x, w, b)
	if !shape.Eq(tensor.Shape{1, 1, 4, 4}) {
		t.Fatalf("pad 1 shape %v, want (1, 1, 4, 4)", shape)
	}
	want := []float64{
		-0.5, -1.5, -2.5, 0.5,
		-3.5, -3.5, -3.5, 3.5,
		-6.5, -3.5, -3.5, 6.5,
		0.5, 7.5, 8.5, 9.5,
	}
	assertClose(t, "conv pad 1", got, want, 1e-15)
}

func TestConv2DMatchesNaive(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			in := c.inputs(uint64(10 * i))
			got, _ := forward(t, c.build(), in...)
			want := naiveConv(c, in[0].Data().([]float64), in[1].Data().([]float64), in[2].Data().([]float64))
			assertClose(t, "conv", got, want, 1e-12)
		})
	}
}

func TestConv2DGrad(t *testing.T) {
	for i, c := range convCases {
		t.Run(c.String(), func(t *testing.T) {
			opstest.CheckGrad(t, c.build(), c.inputs(uint64(100+10*i)))
		})
	}
}

func TestConv2DFloat32(t *testing.T) {
	for i, c := range convCases[:5] {
		t.Run(c.String(), func(t *testing.T) {
			checkF32(t, c.build(), 1e-5, c.inputs(uint64(200+10*i))...)
		})
	}
}

// runGrads builds f on nodes holding ins, forms L = sum(W .* out) with a
// seeded W, and returns out and dL/din for every input, as float64.
func runGrads(t *testing.T, f opstest.BuildFunc, ins []*tensor.Dense) [][]float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	nodes := make([]*gorgonia.Node, len(ins))
	for i, d := range ins {
		nodes[i] = node(g, fmt.Sprintf("in%d", i), d)
	}
	out, err := f(g, nodes)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	wt := randDense(77, -1, 1, out.Shape()...)
	if out.Dtype() == tensor.Float32 {
		wt = to32(wt)
	}
	wn := node(g, "W", wt)
	prod, err := gorgonia.HadamardProd(out, wn)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(cost, nodes...)
	if err != nil {
		t.Fatalf("grad: %v", err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatalf("run: %v", err)
	}
	res := [][]float64{asF64(out.Value())}
	for _, gn := range grads {
		res = append(res, asF64(gn.Value()))
	}
	return res
}

func asF64(v gorgonia.Value) []float64 {
	switch d := v.Data().(type) {
	case []float64:
		return append([]float64(nil), d...)
	case []float32:
		r := make([]float64, len(d))
		for i, x := range d {
			r[i] = float64(x)
		}
		return r
	}
	panic(fmt.Sprintf("unexpected %T", v.Data()))
}

func TestConv2DMatchesBuiltin(t *testing.T) {
	names := []string{"output", "dL/dx", "dL/dw", "dL/db"}
	for i, c := range convCases {
		c.bias4 = true // the built-in graph needs a (1,Cout,1,1) bias
		for _, f32 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v_f32%t", c, f32), func(t *testing.T) {
				in := c.inputs(uint64(300 + 10*i))
				tol := 1e-12
				if f32 {
					for j := range in {
						in[j] = to32(in[j])
					}
					tol = 2e-5
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

func TestConv2DNoInputGrad(t *testing.T) {
	c := convCases[0]
	in := c.inputs(400)
	noX := func(g *gorgonia.ExprGraph, n []*gorgonia.Node) (*gorgonia.Node, error) {
		return Conv2DNoInputGrad(n[0], n[1], n[2], c.pad, c.stride, c.relu)
	}
	// Gradients with respect to w and b equal Conv2D's.
	opstest.CheckGrad(t, noX, in, opstest.Only(1, 2))
	want := runGrads(t, c.build(), in)
	g := gorgonia.NewGraph()
	x, w, b := node(g, "x", in[0]), node(g, "w", in[1]), node(g, "b", in[2])
	y, err := noX(g, []*gorgonia.Node{x, w, b})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := forward(t, noX, in...)
	assertClose(t, "forward", got, want[0], 1e-15)
	cost, err := gorgonia.Sum(y)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(cost, x); err == nil {
		t.Fatal("Grad with respect to x through Conv2DNoInputGrad: no error")
	}
}

func TestConv2DErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 2, 3, 8, 8))
	w := node(g, "w", randDense(1, 0, 1, 4, 3, 3, 3))
	b := node(g, "b", randDense(1, 0, 1, 4))
	wRect := node(g, "wr", randDense(1, 0, 1, 4, 3, 3, 2))
	w2 := node(g, "w2", randDense(1, 0, 1, 4, 2, 3, 3))
	b5 := node(g, "b5", randDense(1, 0, 1, 5))
	x3 := node(g, "x3", randDense(1, 0, 1, 3, 8, 8))
	x32 := node(g, "x32", to32(randDense(1, 0, 1, 2, 3, 8, 8)))
	wBig := node(g, "wbig", randDense(1, 0, 1, 4, 3, 11, 11))
	cases := []struct {
		x, w, b     *gorgonia.Node
		pad, stride int
		want        string
	}{
		{nil, w, b, 1, 1, "ops.Conv2D: x is nil"},
		{x3, w, b, 1, 1, "ops.Conv2D: x must be a 4-D tensor (B, Cin, H, W), got shape (3, 8, 8)"},
		{x32, w, b, 1, 1, "ops.Conv2D: w has dtype float64 but x has float32; all inputs must share one dtype"},
		{x, wRect, b, 1, 1, "ops.Conv2D: w must be (Cout, Cin, k, k) with a square kernel, got shape (4, 3, 3, 2)"},
		{x, w2, b, 1, 1, "ops.Conv2D: w has 2 input channels (shape (4, 2, 3, 3)) but x has 3 (shape (2, 3, 8, 8))"},
		{x, w, b5, 1, 1, "ops.Conv2D: b must have shape (4) or (1, 4, 1, 1), got (5)"},
		{x, w, b, -1, 1, "ops.Conv2D: pad = -1, want >= 0"},
		{x, w, b, 1, 0, "ops.Conv2D: stride = 0, want >= 1"},
		{x, wBig, b, 1, 1, "ops.Conv2D: x is 8x8, padded by 1 it is smaller than the 11x11 kernel"},
	}
	for _, c := range cases {
		_, err := Conv2D(c.x, c.w, c.b, c.pad, c.stride, true)
		if err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
	// A value of the wrong shape at run time is an error, not a panic.
	op := convOp{geom: convGeom{pad: 1, stride: 1, k: 3, h: 8, w: 8, biasDims: 1}, ws: &scratch{}}
	_, err := op.Do(randDense(1, 0, 1, 2, 3, 7, 8), randDense(1, 0, 1, 4, 3, 3, 3), randDense(1, 0, 1, 4))
	if err == nil || !strings.Contains(err.Error(), "want x (B, C, 8, 8)") {
		t.Errorf("run-time shape error %v", err)
	}
}

// TestConv2DWorkspaceReuse checks that after the first call the forward and
// backward kernels take their workspaces from the op's free list instead of
// allocating, and that results do not depend on stale workspace contents.
//
// With one worker the buffers are exactly the same ones every call; with
// several, the free list grows to at most three buffers per worker.
func TestConv2DWorkspaceReuse(t *testing.T) {
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	c := convCase{b: 4, cin: 3, h: 9, w: 8, cout: 5, k: 3, pad: 1, stride: 1, relu: true}
	in := c.inputs(500)
	op, err := newConvFromShapes(c)
	if err != nil {
		t.Fatal(err)
	}
	first, err := op.Do(in[0], in[1], in[2])
	if err != nil {
		t.Fatal(err)
	}
	gy := randDense(501, -1, 1, first.Shape()...)
	gw := convGradWOp{geom: op.geom, ws: op.ws}
	dw1, err := gw.Do(in[0], gy)
	if err != nil {
		t.Fatal(err)
	}
	op.ws.mu.Lock()
	pooled := len(op.ws.f64)
	ptrs := map[*float64]bool{}
	for _, b := range op.ws.f64 {
		ptrs[&b[:1][0]] = true
	}
	op.ws.mu.Unlock()
	if pooled == 0 {
		t.Fatal("no workspace returned to the free list")
	}
	// Poison the free buffers: results must not change.
	for _, b := range op.ws.f64 {
		for i := range b[:cap(b)] {
			b[:cap(b)][i] = 1e300
		}
	}
	for rep := 0; rep < 3; rep++ {
		again, err := op.Do(in[0], in[1], in[2])
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "forward again", asF64(again), asF64(first), 0)
		dw2, err := gw.Do(in[0], gy)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "dw again", asF64(dw2), asF64(dw1), 1e-14)
	}
	op.ws.mu.Lock()
	defer op.ws.mu.Unlock()
	if len(op.ws.f64) != pooled {
		t.Fatalf("free list has %d buffers after reuse, had %d", len(op.ws.f64), pooled)
	}
	for _, b := range op.ws.f64 {
		if !ptrs[&b[:1][0]] {
			t.Fatal("a workspace was reallocated instead of reused")
		}
	}
	op.ws.mu.Unlock()
	const workers = 4
	runtime.GOMAXPROCS(workers)
	if c.b*op.geom.dims(c.b, c.cin, c.cout).work() < workpool.MinWork {
		t.Fatal("case too small to run in parallel")
	}
	for rep := 0; rep < 10; rep++ {
		if _, err := op.Do(in[0], in[1], in[2]); err != nil {
			t.Fatal(err)
		}
		dw2, err := gw.Do(in[0], gy)
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, "dw parallel", asF64(dw2), asF64(dw1), 1e-14)
	}
	op.ws.mu.Lock()
	if n := len(op.ws.f64); n > 3*workers {
		t.Errorf("free list has %d buffers with %d workers, want at most %d", n, workers, 3*workers)
	}
}

func newConvFromShapes(c convCase) (convOp, error) {
	g := gorgonia.NewGraph()
	in := c.inputs(0)
	return newConv("test", node(g, "x", in[0]), node(g, "w", in[1]), node(g, "b", in[2]), c.pad, c.stride, c.relu)
}

// TestConv2DConcurrent runs one op value from several goroutines at once
// (as several machines sharing a graph would) and checks every result.
func TestConv2DConcurrent(t *testing.T) {
	c := convCase{b: 3, cin: 2, h: 10, w: 9, cout: 4, k: 3, pad: 1, stride: 1, relu: true}
	op, err := newConvFromShapes(c)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]string, 8)
	for gi := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := c.inputs(uint64(600 + 10*gi))
			want := naiveConv(c, in[0].Data().([]float64), in[1].Data().([]float64), in[2].Data().([]float64))
			for rep := 0; rep < 5; rep++ {
				got, err := op.Do(in[0], in[1], in[2])
				if err != nil {
					errs[gi] = err.Error()
					return
				}
				for i, v := range asF64(got) {
					if d := v - want[i]; d > 1e-12 || d < -1e-12 {
						errs[gi] = fmt.Sprintf("goroutine %d rep %d: element %d = %g, want %g", gi, rep, i, v, want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
}

func TestConv2DHashDistinguishesParams(t *testing.T) {
	g := convGeom{pad: 1, stride: 1, k: 3, h: 8, w: 8, biasDims: 1}
	base := convOp{geom: g}
	variants := []convOp{
		{geom: convGeom{pad: 0, stride: 1, k: 3, h: 8, w: 8, biasDims: 1}},
		{geom: convGeom{pad: 1, stride: 2, k: 3, h: 8, w: 8, biasDims: 1}},
		{geom: convGeom{pad: 1, stride: 1, k: 3, h: 8, w: 8, biasDims: 4}},
		{geom: g, relu: true},
		{geom: g, noInputGrad: true},
	}
	for _, v := range variants {
		if v.Hashcode() == base.Hashcode() {
			t.Errorf("%v and %v share a hash", v, base)
		}
	}
}

func TestValidCols(t *testing.T) {
	// Brute force: j is valid when 0 <= j*s - p + kj < w.
	for w := 1; w <= 9; w++ {
		for p := 0; p <= 3; p++ {
			for s := 1; s <= 3; s++ {
				for kj := 0; kj <= 4; kj++ {
					wo := (w+2*p-kj-1)/s + 1
					if w+2*p-kj-1 < 0 {
						continue
					}
					j0, j1 := validCols(wo, w, p, s, kj)
					for j := 0; j < wo; j++ {
						q := j*s - p + kj
						in := q >= 0 && q < w
						if in != (j >= j0 && j < j1) {
							t.Fatalf("w=%d p=%d s=%d kj=%d: j=%d valid=%t but range [%d,%d)", w, p, s, kj, j, in, j0, j1)
						}
					}
				}
			}
		}
	}
}

// TestConv2DParallelMatchesBuiltin uses sizes large enough for the batch to
// be split across workers (forced to 4, with an uneven split of B = 5), so
// the per-worker workspaces and the dL/dw reduction are exercised.
func TestConv2DParallelMatchesBuiltin(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	c := convCase{b: 5, cin: 6, h: 14, w: 12, cout: 10, k: 3, pad: 1, stride: 1, relu: true, bias4: true}
	if c.cout*c.cin*9*c.h*c.w < workpool.MinWork {
		t.Fatal("case too small to run in parallel")
	}
	names := []string{"output", "dL/dx", "dL/dw", "dL/db"}
	in := c.inputs(700)
	want := runGrads(t, c.builtin(), in)
	got := runGrads(t, c.build(), in)
	for j := range want {
		assertClose(t, names[j], got[j], want[j], 1e-12)
	}
	naive := naiveConv(c, in[0].Data().([]float64), in[1].Data().([]float64), in[2].Data().([]float64))
	assertClose(t, "output vs naive", got[0], naive, 1e-12)
}

// TestReluMaskBranchFree checks the bit-trick mask against y > 0 on the
// awkward values: zeros of both signs, negatives, denormals, infinities.
func TestReluMaskBranchFree(t *testing.T) {
	ys := []float64{0, math.Copysign(0, -1), 1, -1, 5e-324, -5e-324, math.Inf(1), math.Inf(-1), 1e-40, 3.5, -2e300}
	g := make([]float64, len(ys))
	for i := range g {
		g[i] = float64(i + 1)
	}
	dst := make([]float64, len(ys))
	reluMask(dst, g, ys)
	ys32 := make([]float32, len(ys))
	g32 := make([]float32, len(ys))
	dst32 := make([]float32, len(ys))
	for i := range ys {
		ys32[i], g32[i] = float32(ys[i]), float32(g[i])
	}
	ys32[4], ys32[5] = math.Float32frombits(1), -math.Float32frombits(1) // float32 denormals
	reluMask(dst32, g32, ys32)
	for i := range ys {
		w, w32 := 0.0, 0.0
		if ys[i] > 0 {
			w = g[i]
		}
		if ys32[i] > 0 {
			w32 = g[i]
		}
		if dst[i] != w || float64(dst32[i]) != w32 {
			t.Errorf("y=%g: float64 mask %g, want %g; y32=%g: float32 mask %g, want %g", ys[i], dst[i], w, ys32[i], dst32[i], w32)
		}
	}
}

// TestSmallLocaliserMatchesBuiltin builds the whole small localiser (batch
// 2, float32) from Conv2D / MaxPool2x2 / Dense and from gorgonia's
// built-ins with the same weights, and compares theta and the gradient of
// sum(theta) with respect to every parameter.
func TestSmallLocaliserMatchesBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two 112x112 networks")
	}
	testSmallLocaliser(t, 2, 1e-4)
}

// TestSmallLocaliserLevels runs the comparison with the built-ins with the
// float32 kernels of every internal/kern level the CPU has (the others are
// skipped, named).
func TestSmallLocaliserLevels(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 112x112 networks")
	}
	for _, l := range kern.Levels {
		t.Run(l.String(), func(t *testing.T) {
			if !kern.Supported(l) {
				t.Skipf("CPU lacks %v (best %v): its kernels cannot run here", l, kern.Best())
			}
			prev := simd
			simd = l
			defer func() { simd = prev }()
			testSmallLocaliser(t, 2, 1e-4)
		})
	}
}

func testSmallLocaliser(t *testing.T, batch int, gradTol float64) {
	run := func(ours bool) ([]float64, [][]float64) {
		g, theta, grads, err := buildSmallLocaliser(batch, ours, ours, 4)
		if err != nil {
			t.Fatal(err)
		}
		m := gorgonia.NewTapeMachine(g)
		defer m.Close()
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		var gs [][]float64
		for _, gn := range grads {
			gs = append(gs, asF64(gn.Value()))
		}
		return asF64(theta.Value()), gs
	}
	wantTheta, wantGrads := run(false)
	gotTheta, gotGrads := run(true)
	assertClose(t, "theta", gotTheta, wantTheta, 1e-4)
	if len(gotGrads) != len(wantGrads) {
		t.Fatalf("%d gradients, want %d", len(gotGrads), len(wantGrads))
	}
	for i := range wantGrads {
		// float32 sums over up to 12544 terms in different orders.
		scale := 0.0
		for _, v := range wantGrads[i] {
			scale = math.Max(scale, math.Abs(v))
		}
		if scale == 0 {
			t.Fatalf("gradient %d is identically zero; the comparison would be vacuous", i)
		}
		for j, v := range gotGrads[i] {
			if d := math.Abs(v - wantGrads[i][j]); d > gradTol*scale {
				t.Fatalf("gradient %d element %d = %g, built-in %g (scale %g)", i, j, v, wantGrads[i][j], scale)
			}
		}
	}
}

// TestConv2DGradWBitReproducible runs the weight gradient of a batch-16
// convolution five times on two workers: the fixed-slice reduction must give
// the same bits every time (a first-come reduction does not).
func TestConv2DGradWBitReproducible(t *testing.T) {
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	var first []float32
	for run := 0; run < 5; run++ {
		g := gorgonia.NewGraph()
		x := param32(g, "x", heNormal32(1, 16*8*12*12, 1), 16, 8, 12, 12)
		w := param32(g, "w", heNormal32(2, 16*8*9, 72), 16, 8, 3, 3)
		b := param32(g, "b", make([]float32, 16), 1, 16, 1, 1)
		y, err := Conv2D(x, w, b, 1, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		sq, err := gorgonia.Square(y)
		if err != nil {
			t.Fatal(err)
		}
		cost, err := gorgonia.Sum(sq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gorgonia.Grad(cost, w); err != nil {
			t.Fatal(err)
		}
		vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(w))
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		gw, err := w.Grad()
		if err != nil {
			t.Fatal(err)
		}
		got := append([]float32(nil), gw.Data().([]float32)...)
		vm.Close()
		if run == 0 {
			first = got
			continue
		}
		for i := range got {
			if got[i] != first[i] {
				t.Fatalf("run %d: dL/dw[%d] = %v, first run %v", run, i, got[i], first[i])
			}
		}
	}
}

// TestConv2DInferenceForm: the inference form of a float32 layer (Winograd
// with AVX-512, given enough tiles) computes the same convolution as the
// op: within 1e-4 of the output's rms, bias and ReLU included.
func TestConv2DInferenceForm(t *testing.T) {
	for _, c := range [][5]int{{1, 32, 64, 56, 56}, {4, 16, 8, 14, 14}, {2, 64, 32, 28, 28}, {3, 3, 8, 16, 16}} {
		b, cin, cout, h, w := c[0], c[1], c[2], c[3], c[4]
		g := gorgonia.NewGraph()
		x := param32(g, "x", heNormal32(5, b*cin*h*w, 1), b, cin, h, w)
		wt := param32(g, "w", heNormal32(6, cout*cin*9, cin*9), cout, cin, 3, 3)
		bias := param32(g, "b", heNormal32(7, cout, 4), cout)
		y, err := Conv2D(x, wt, bias, 1, 1, true)
		if err != nil {
			t.Fatal(err)
		}
		op := y.Op().(convOp)
		want, err := op.Do(x.Value(), wt.Value(), bias.Value())
		if err != nil {
			t.Fatal(err)
		}
		inf := op.ForInference()
		got, err := inf.Do(x.Value(), wt.Value(), bias.Value())
		if err != nil {
			t.Fatal(err)
		}
		again, err := inf.Do(x.Value(), wt.Value(), bias.Value())
		if err != nil {
			t.Fatal(err)
		}
		wv, gv, av := asF64(want), asF64(got), asF64(again)
		var rms float64
		for _, v := range wv {
			rms += v * v
		}
		rms = math.Sqrt(rms / float64(len(wv)))
		for i := range wv {
			if math.Abs(gv[i]-wv[i]) > 1e-4*rms || gv[i] != av[i] {
				t.Fatalf("%v: inference form [%d] = %v (again %v), op %v (rms %v)", c, i, gv[i], av[i], wv[i], rms)
			}
		}
	}
}
