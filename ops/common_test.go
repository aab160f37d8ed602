package ops

import (
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// kernelCase is one op (forward or backward) with float64 inputs.
type kernelCase struct {
	name string
	k    kernel
	ins  []*tensor.Dense
}

func allKernels() []kernelCase {
	const b, n = 2, 12
	pts := randDense(1, -1.5, 5.5, b, n, 2)
	return []kernelCase{
		{"bilinear", bilinearOp{}, []*tensor.Dense{randDense(2, -1, 1, b, 3, 4, 5), pts}},
		{"bilinearImgGrad", bilinearImgGradOp{h: 4, w: 5}, []*tensor.Dense{pts, randDense(3, -1, 1, b, 3, n)}},
		{"bilinearPtsGrad", bilinearPtsGradOp{}, []*tensor.Dense{randDense(2, -1, 1, b, 3, 4, 5), pts, randDense(3, -1, 1, b, 3, n)}},
		{"backface", backfaceOp{rows: 3, cols: 4}, []*tensor.Dense{randDense(4, -1, 1, b, 3, n)}},
		{"kron", kronOp{}, []*tensor.Dense{randDense(5, -1, 1, b, 2, n), randDense(6, -1, 1, b, 2)}},
		{"kronGradT", kronGradTOp{}, []*tensor.Dense{randDense(5, -1, 1, b, 2, n)}},
		{"rotation", rotationOp{}, []*tensor.Dense{randDense(7, -1, 1, b, 3)}},
		{"rotationGrad", rotationGradOp{}, []*tensor.Dense{randDense(7, -1, 1, b, 3), randDense(8, -1, 1, b, 3, 3)}},
		{"rotate", rotateOp{}, []*tensor.Dense{randDense(9, -1, 1, b, 3, 3), randDense(10, -1, 1, b, 3, n)}},
		{"rotateGradR", rotateGradROp{}, []*tensor.Dense{randDense(10, -1, 1, b, 3, n), randDense(11, -1, 1, b, 3, n)}},
		{"rotateGradX", rotateGradXOp{}, []*tensor.Dense{randDense(9, -1, 1, b, 3, 3), randDense(11, -1, 1, b, 3, n)}},
		{"project", projectOp{}, []*tensor.Dense{randDense(12, -1, 1, b, 3, n), randDense(13, 0.5, 2, b)}},
		{"projectGradX", projectGradXOp{}, []*tensor.Dense{randDense(13, 0.5, 2, b), randDense(14, -1, 1, b, 2, n)}},
		{"projectGradS", projectGradSOp{}, []*tensor.Dense{randDense(12, -1, 1, b, 3, n), randDense(14, -1, 1, b, 2, n)}},
		{"logscale", logScaleOp{base: 0.99}, []*tensor.Dense{randDense(15, -3, 3, b, 3)}},
		{"logscaleGrad", logScaleGradOp{lnBase: math.Log(0.99)}, []*tensor.Dense{randDense(15, -3, 3, b, 3), randDense(16, -1, 1, b, 3)}},
		{"morphable", morphableOp{}, []*tensor.Dense{randDense(17, -1, 1, b, 4), randDense(18, -1, 1, 4, 3*n), randDense(19, -1, 1, 3*n)}},
		{"morphGradAlpha", morphGradAlphaOp{}, []*tensor.Dense{randDense(18, -1, 1, 4, 3*n), randDense(20, -1, 1, b, 3, n)}},
		{"morphGradBasis", morphGradBasisOp{}, []*tensor.Dense{randDense(17, -1, 1, b, 4), randDense(20, -1, 1, b, 3, n)}},
		{"morphGradMean", morphGradMeanOp{}, []*tensor.Dense{randDense(20, -1, 1, b, 3, n)}},
		{"transpose", transposeOp{}, []*tensor.Dense{randDense(21, -1, 1, b, 3, n)}},
		{"flip", flipOp{cols: 4}, []*tensor.Dense{randDense(22, -1, 1, b, 3, 3, 4)}},
		{"swap", swapOp{}, []*tensor.Dense{randDense(23, -1, 1, b, 3, 4)}},
		{"gather", gatherOp{idx: []int{3, 0, 3, 11}, n: n}, []*tensor.Dense{randDense(24, -1, 1, b, 2, n)}},
		{"scatter", scatterOp{idx: []int{3, 0, 3, 11}, n: n}, []*tensor.Dense{randDense(25, -1, 1, b, 2, 4)}},
	}
}

func values(ins []*tensor.Dense) []gorgonia.Value {
	vals := make([]gorgonia.Value, len(ins))
	for i, d := range ins {
		vals[i] = d
	}
	return vals
}

// UsePreallocDo writes into a stale (NaN-filled) buffer of the right shape
// with the same result as Do, and ignores a buffer of the wrong shape.
func TestUsePreallocDo(t *testing.T) {
	for _, c := range allKernels() {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.k.Do(values(c.ins)...)
			if err != nil {
				t.Fatal(err)
			}
			wv := want.Data().([]float64)
			stale := make([]float64, len(wv))
			for i := range stale {
				stale[i] = math.NaN()
			}
			buf := tensor.New(tensor.WithShape(want.Shape().Clone()...), tensor.WithBacking(stale))
			got, err := c.k.(gorgonia.UsePreallocDoer).UsePreallocDo(buf, values(c.ins)...)
			if err != nil {
				t.Fatal(err)
			}
			if got != gorgonia.Value(buf) {
				t.Fatal("UsePreallocDo did not write into the preallocated value")
			}
			assertClose(t, "prealloc", stale, wv, 0)
			wrong := tensor.New(tensor.WithShape(want.Shape().TotalSize()+1), tensor.Of(tensor.Float64))
			got, err = c.k.(gorgonia.UsePreallocDoer).UsePreallocDo(wrong, values(c.ins)...)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Shape().Eq(want.Shape()) {
				t.Fatalf("wrong-shape prealloc: got shape %v, want %v", got.Shape(), want.Shape())
			}
			assertClose(t, "fresh", got.Data().([]float64), wv, 0)
		})
	}
}

// Every kernel gives the same answer in float32 as in float64 (to float32
// rounding), called directly on values.
func TestKernelsFloat32(t *testing.T) {
	for _, c := range allKernels() {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.k.Do(values(c.ins)...)
			if err != nil {
				t.Fatal(err)
			}
			ins32 := make([]*tensor.Dense, len(c.ins))
			for i, d := range c.ins {
				ins32[i] = to32(d)
			}
			got, err := c.k.Do(values(ins32)...)
			if err != nil {
				t.Fatal(err)
			}
			if got.Dtype() != tensor.Float32 {
				t.Fatalf("dtype %v, want float32", got.Dtype())
			}
			g32 := got.Data().([]float32)
			g := make([]float64, len(g32))
			for i, v := range g32 {
				g[i] = float64(v)
			}
			assertClose(t, "float32", g, want.Data().([]float64), 1e-5)
		})
	}
}

// Mixed dtypes and wrong arity are errors at run time too.
func TestKernelRuntimeErrors(t *testing.T) {
	_, err := kronOp{}.Do(randDense(1, 0, 1, 1, 2, 3), to32(randDense(1, 0, 1, 1, 2)))
	if want := "KronTranslate: input 1 has dtype float32, input 0 has float64"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	_, err = kronOp{}.Do(randDense(1, 0, 1, 1, 2, 3))
	if want := "KronTranslate: got 1 inputs, want 2"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	_, err = kronOp{}.Do(randDense(1, 0, 1, 1, 2, 3), randDense(1, 0, 1, 2, 2))
	if want := "KronTranslate: want y (B,2,N) and t (B,2); input shapes (1, 2, 3), (2, 2)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

// Ops whose parameters differ must hash differently (Gorgonia merges nodes
// with equal hashes and children), and equal parameters must hash equally.
func TestHashesEncodeParameters(t *testing.T) {
	pairs := [][2]gorgonia.Op{
		{flipOp{cols: 4}, flipOp{cols: 5}},
		{backfaceOp{rows: 3, cols: 4}, backfaceOp{rows: 4, cols: 3}},
		{bilinearImgGradOp{h: 4, w: 5}, bilinearImgGradOp{h: 5, w: 4}},
		{logScaleOp{base: 0.99}, logScaleOp{base: 0.990000001}},
		{logScaleGradOp{lnBase: -0.01}, logScaleGradOp{lnBase: -0.0100001}},
		{gatherOp{idx: []int{1, 2}, n: 5}, gatherOp{idx: []int{1, 3}, n: 5}},
		{gatherOp{idx: []int{1, 2}, n: 5}, gatherOp{idx: []int{1, 2}, n: 6}},
		{gatherOp{idx: []int{12}, n: 50}, gatherOp{idx: []int{1, 2}, n: 50}},
		{scatterOp{idx: []int{1, 2}, n: 5}, scatterOp{idx: []int{1, 2}, n: 6}},
		{gatherOp{idx: []int{1, 2}, n: 5}, scatterOp{idx: []int{1, 2}, n: 5}},
		{rotateGradROp{}, rotateGradXOp{}},
	}
	for _, p := range pairs {
		if p[0].Hashcode() == p[1].Hashcode() {
			t.Errorf("%v and %v hash equally", p[0], p[1])
		}
	}
	if (flipOp{cols: 4}).Hashcode() != (flipOp{cols: 4}).Hashcode() {
		t.Error("equal ops hash differently")
	}
}

// Both parallel layouts of the image gradient agree (and clear stale output).
func TestBilinearImgGradLayouts(t *testing.T) {
	const b, c, h, w, n = 3, 2, 5, 6, 40
	pts := randDense(1, -1.5, 6.5, b, n, 2).Data().([]float64)
	g := randDense(2, -1, 1, b, c, n).Data().([]float64)
	a := make([]float64, b*c*h*w)
	d := make([]float64, b*c*h*w)
	for i := range a {
		a[i], d[i] = 7, math.NaN()
	}
	bilinearImgGradItems(a, pts, g, b, c, h, w, n)
	bilinearImgGradPlanes(d, pts, g, b, c, h, w, n)
	assertClose(t, "items vs planes", a, d, 1e-15)
}

// Non-contiguous views (as tensor slicing produces) are read element by
// element, not through their backing array.
func TestKernelsReadViews(t *testing.T) {
	x := randDense(5, -1, 1, 2, 4, 3)
	v, err := x.Slice(nil, gorgonia.S(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	view := v.(*tensor.Dense)
	if !view.IsView() {
		t.Fatal("test setup: slice is not a view")
	}
	mat := view.Materialize().(*tensor.Dense)
	want, err := transposeOp{}.Do(mat)
	if err != nil {
		t.Fatal(err)
	}
	got, err := transposeOp{}.Do(view)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "view", got.Data().([]float64), want.Data().([]float64), 0)
	// Spot-check against the source: out[b,n,k] = x[b,k+1,n].
	xv := x.Data().([]float64)
	gv := got.Data().([]float64)
	if gv[(1*3+2)*2+1] != xv[(1*4+2)*3+2] {
		t.Fatalf("out[1,2,1] = %g, want x[1,2,2] = %g", gv[(1*3+2)*2+1], xv[(1*4+2)*3+2])
	}
}
