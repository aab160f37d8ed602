//go:build cudaemu

// Command emu runs the CUDA kernels of ops/kernels serially on the host (C++
// through cgo, kernels.cpp) and compares them with the CPU ops of package
// ops, forward and backward: a check of the kernels' maths that needs no GPU.
// It does not exercise the launch code (ops/*_cuda.go), atomics or the
// parallel reductions; scripts/cuda/check does, on a GPU.
//
//	go run -a -tags cudaemu ./scripts/cuda/emu
//
// (-a because the go command does not notice edits of the included .cu
// files; without it a cached build may be reused.)
package main

/*
#cgo CXXFLAGS: -std=c++17 -O2
#cgo LDFLAGS: -lm

#define P(T, S)                                                                                         \
	void bilinear_fwd_##S(T*, const T*, const T*, long long, long long, long long, long long, long long);      \
	void bilinear_img_grad_##S(T*, const T*, const T*, long long, long long, long long, long long, long long); \
	void bilinear_pts_grad_##S(T*, const T*, const T*, const T*, long long, long long, long long, long long,   \
	                           long long);                                                                  \
	void backface_##S(T*, const T*, long long, long long, long long);                                      \
	void kron_fwd_##S(T*, const T*, const T*, long long, long long);                                       \
	void row_sums_##S(T*, const T*, long long, long long);                                                 \
	void rotation_fwd_##S(T*, const T*, long long);                                                        \
	void rotation_grad_##S(T*, const T*, const T*, long long);                                             \
	void rotate_fwd_##S(T*, const T*, const T*, long long, long long, long long);                          \
	void rotate_grad_r_##S(T*, const T*, const T*, long long, long long);                                  \
	void project_fwd_##S(T*, const T*, const T*, long long, long long);                                    \
	void project_grad_x_##S(T*, const T*, const T*, long long, long long);                                 \
	void project_grad_s_##S(T*, const T*, const T*, long long, long long);                                 \
	void zero_##S(T*, long long);                                                                          \
	void flip_##S(T*, const T*, long long, long long);                                                     \
	void swap_##S(T*, const T*, long long, long long);                                                     \
	void gather_##S(T*, const T*, const long long*, long long, long long, long long);                      \
	void scatter_##S(T*, const T*, const long long*, long long, long long, long long);
P(double, f64)
P(float, f32)
*/
import "C"

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func main() {
	seed := flag.Uint64("seed", 1, "seed of the random inputs")
	tol32 := flag.Float64("tol32", 1e-5, "largest relative error allowed in float32")
	tol64 := flag.Float64("tol64", 1e-12, "largest relative error allowed in float64")
	flag.Parse()
	total, failed := 0, 0
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		tol := *tol32
		if dt == tensor.Float64 {
			tol = *tol64
		}
		for ci, c := range cases() {
			rng := rand.New(rand.NewPCG(*seed, uint64(ci)))
			res, err := runCase(c, dt, rng)
			if err != nil {
				fmt.Printf("FAIL %-20s %-7v error: %v\n", c.name, dt, err)
				total++
				failed++
				continue
			}
			for _, r := range res {
				total++
				status := "ok  "
				if !(r.rel <= tol) {
					status = "FAIL"
					failed++
				}
				fmt.Printf("%s %-20s %-7v %-40s rel %.3g\n", status, c.name, dt, r.node, r.rel)
			}
		}
	}
	fmt.Printf("%d passed, %d failed\n", total-failed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

type opCase struct {
	name   string
	shapes []tensor.Shape
	fill   []func(rng *rand.Rand, i int) float64
	apply  func(in gorgonia.Nodes) (*gorgonia.Node, error)
}

func normal(rng *rand.Rand, _ int) float64 { return rng.NormFloat64() }

func cases() []opCase {
	const b, c, h, w, n = 4, 3, 20, 24, 300
	const rows, cols = 9, 11
	const nv = rows * cols
	idx := []int{3, 0, 3, nv - 1, 17, 42}
	type fn = func(*rand.Rand, int) float64
	f := func(fs ...fn) []fn { return fs }
	pix := func(rng *rand.Rand, i int) float64 {
		switch {
		case i%7 == 0:
			return -1
		case i%11 == 0:
			return float64(rng.IntN(w)) // integer coordinates
		case i%2 == 0:
			return -1.5 + rng.Float64()*float64(w+2)
		}
		return -1.5 + rng.Float64()*float64(h+2)
	}
	angles := func(rng *rand.Rand, i int) float64 {
		if (i/3)%2 == 0 {
			return 0.02 * rng.NormFloat64()
		}
		return 1.5 * rng.NormFloat64()
	}
	// face fills a noisy frontal (or, every other item, mirrored) grid of
	// rows x cols vertices: the noise of 0.7 grid steps folds many
	// triangles, so that the mask has both values and every term matters.
	face := func(rows, cols int) fn {
		nv := rows * cols
		return func(rng *rand.Rand, i int) float64 {
			v := i % nv
			k := (i / nv) % 3
			flip := 1.0
			if (i/(3*nv))%2 == 1 {
				flip = -1
			}
			switch k {
			case 0:
				return flip*float64(v%cols) + 0.7*rng.NormFloat64()
			case 1:
				return float64(v/cols) + 0.7*rng.NormFloat64()
			}
			return rng.NormFloat64()
		}
	}
	// An even width has a middle quad column cut into a fan (bfm.GridQuadSplit).
	const evenRows, evenCols = 30, 10
	pos := func(rng *rand.Rand, _ int) float64 { return 0.5 + rng.Float64() }
	return []opCase{
		{"BilinearSample", []tensor.Shape{{b, c, h, w}, {b, n, 2}}, f(normal, pix),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.BilinearSample(in[0], in[1]) }},
		{"BackfaceMask", []tensor.Shape{{b, 3, nv}}, f(face(rows, cols)),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.BackfaceMask(in[0], rows, cols) }},
		{"BackfaceMask", []tensor.Shape{{b, 3, evenRows * evenCols}}, f(face(evenRows, evenCols)),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.BackfaceMask(in[0], evenRows, evenCols) }},
		{"KronTranslate", []tensor.Shape{{b, 2, nv}, {b, 2}}, f(normal, normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.KronTranslate(in[0], in[1]) }},
		{"AxisAngleToRotation", []tensor.Shape{{b, 3}}, f(angles),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.AxisAngleToRotation(in[0]) }},
		{"RotatePoints", []tensor.Shape{{b, 3, 3}, {b, 3, nv}}, f(normal, normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.RotatePoints(in[0], in[1]) }},
		{"OrthoProject", []tensor.Shape{{b, 3, nv}, {b}}, f(normal, pos),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.OrthoProject(in[0], in[1]) }},
		{"FlipCols", []tensor.Shape{{b, c, h, w}}, f(normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.FlipCols(in[0], w) }},
		{"SwapPairs", []tensor.Shape{{b, 3, nv}}, f(normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.SwapPairs(in[0]) }},
		{"Gather", []tensor.Shape{{b, 3, nv}}, f(normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.Gather(in[0], idx) }},
	}
}

type result struct {
	node string
	rel  float64
}

// runCase builds the op and its gradients and compares, node by node, the
// CPU op (Do) with the emulated kernel on the same inputs.
func runCase(c opCase, dt tensor.Dtype, rng *rand.Rand) ([]result, error) {
	g := gorgonia.NewGraph()
	host := map[*gorgonia.Node]*tensor.Dense{}
	var in gorgonia.Nodes
	for k, s := range c.shapes {
		v := tensor.New(tensor.Of(dt), tensor.WithShape(s.Clone()...))
		fill(v, func(i int) float64 { return c.fill[k](rng, i) })
		node := gorgonia.NewTensor(g, dt, len(s), gorgonia.WithShape(s.Clone()...), gorgonia.WithName(fmt.Sprintf("in%d", k)), gorgonia.WithValue(v.Clone()))
		host[node] = v
		in = append(in, node)
	}
	out, err := c.apply(in)
	if err != nil {
		return nil, err
	}
	check := gorgonia.Nodes{out}
	if sd, ok := out.Op().(gorgonia.SDOp); ok {
		gv := tensor.New(tensor.Of(dt), tensor.WithShape(out.Shape()...))
		fill(gv, func(int) float64 { return rng.NormFloat64() })
		gn := gorgonia.NewTensor(g, dt, out.Dims(), gorgonia.WithShape(out.Shape()...), gorgonia.WithName("upstream"), gorgonia.WithValue(gv.Clone()))
		host[gn] = gv
		grads, err := sd.SymDiff(in, out, gn)
		if err != nil {
			return nil, err
		}
		for _, gr := range grads {
			if gr != nil && gr.Op() != nil && host[gr] == nil {
				check = append(check, gr)
			}
		}
	}
	var res []result
	for _, n := range check {
		args, err := childValues(g, n, host)
		if err != nil {
			return nil, err
		}
		wantV, err := n.Op().Do(cloneAll(args)...)
		if err != nil {
			return nil, fmt.Errorf("CPU %v: %w", n.Op(), err)
		}
		want := wantV.(*tensor.Dense)
		got := tensor.New(tensor.Of(dt), tensor.WithShape(want.Shape()...))
		fill(got, func(int) float64 { return math.NaN() }) // kernels must write every element
		if err := emulate(fmt.Sprint(n.Op()), got, args); err != nil {
			return nil, err
		}
		host[n] = want
		res = append(res, result{node: fmt.Sprint(n.Op()), rel: relErr(got, want)})
	}
	return res, nil
}

// childValues returns the (already computed) values of n's children.
func childValues(g *gorgonia.ExprGraph, n *gorgonia.Node, host map[*gorgonia.Node]*tensor.Dense) ([]*tensor.Dense, error) {
	var vals []*tensor.Dense
	it := g.From(n.ID())
	for it.Next() {
		ch := it.Node().(*gorgonia.Node)
		v, ok := host[ch]
		if !ok {
			return nil, fmt.Errorf("child %v of %v has no value", ch, n)
		}
		vals = append(vals, v)
	}
	return vals, nil
}

func cloneAll(vs []*tensor.Dense) []gorgonia.Value {
	out := make([]gorgonia.Value, len(vs))
	for i, v := range vs {
		out[i] = v.Clone().(*tensor.Dense)
	}
	return out
}

// emulate runs the kernels that the op's CUDADo launches (ops/*_cuda.go)
// with the same arguments.
func emulate(op string, out *tensor.Dense, in []*tensor.Dense) error {
	f64 := out.Dtype() == tensor.Float64
	s := func(i int) tensor.Shape { return in[i].Shape() }
	L := func(x int) C.longlong { return C.longlong(x) }
	name := op
	if i := strings.IndexByte(op, '{'); i >= 0 {
		name = op[:i]
	}
	p := func(t *tensor.Dense) (*C.float, *C.double) {
		if f64 {
			return nil, (*C.double)(&t.Data().([]float64)[0])
		}
		return (*C.float)(&t.Data().([]float32)[0]), nil
	}
	o32, o64 := p(out)
	a32, a64 := p(in[0])
	var b32, c32 *C.float
	var b64, c64 *C.double
	if len(in) > 1 {
		b32, b64 = p(in[1])
	}
	if len(in) > 2 {
		c32, c64 = p(in[2])
	}
	switch name {
	case "BilinearSample":
		is, n := s(0), s(1)[1]
		if f64 {
			C.bilinear_fwd_f64(o64, a64, b64, L(is[0]), L(is[1]), L(is[2]), L(is[3]), L(n))
		} else {
			C.bilinear_fwd_f32(o32, a32, b32, L(is[0]), L(is[1]), L(is[2]), L(is[3]), L(n))
		}
	case "BilinearSampleImgGrad":
		gs, os := s(1), out.Shape()
		if f64 {
			C.zero_f64(o64, L(os.TotalSize()))
			C.bilinear_img_grad_f64(o64, a64, b64, L(gs[0]), L(gs[1]), L(os[2]), L(os[3]), L(gs[2]))
		} else {
			C.zero_f32(o32, L(os.TotalSize()))
			C.bilinear_img_grad_f32(o32, a32, b32, L(gs[0]), L(gs[1]), L(os[2]), L(os[3]), L(gs[2]))
		}
	case "BilinearSamplePtsGrad":
		is, n := s(0), s(1)[1]
		if f64 {
			C.bilinear_pts_grad_f64(o64, a64, b64, c64, L(is[0]), L(is[1]), L(is[2]), L(is[3]), L(n))
		} else {
			C.bilinear_pts_grad_f32(o32, a32, b32, c32, L(is[0]), L(is[1]), L(is[2]), L(is[3]), L(n))
		}
	case "BackfaceMask":
		var rows, cols int
		if _, err := fmt.Sscanf(op, "BackfaceMask{rows=%d,cols=%d}", &rows, &cols); err != nil {
			return err
		}
		if f64 {
			C.backface_f64(o64, a64, L(s(0)[0]), L(rows), L(cols))
		} else {
			C.backface_f32(o32, a32, L(s(0)[0]), L(rows), L(cols))
		}
	case "KronTranslate":
		rows, n := s(0)[0]*s(0)[1], s(0)[2]
		if f64 {
			C.kron_fwd_f64(o64, a64, b64, L(rows), L(n))
		} else {
			C.kron_fwd_f32(o32, a32, b32, L(rows), L(n))
		}
	case "KronTranslateGradT":
		rows, n := s(0)[0]*s(0)[1], s(0)[2]
		if f64 {
			C.row_sums_f64(o64, a64, L(rows), L(n))
		} else {
			C.row_sums_f32(o32, a32, L(rows), L(n))
		}
	case "AxisAngleToRotation":
		if f64 {
			C.rotation_fwd_f64(o64, a64, L(s(0)[0]))
		} else {
			C.rotation_fwd_f32(o32, a32, L(s(0)[0]))
		}
	case "AxisAngleToRotationGrad":
		if f64 {
			C.rotation_grad_f64(o64, a64, b64, L(s(0)[0]))
		} else {
			C.rotation_grad_f32(o32, a32, b32, L(s(0)[0]))
		}
	case "RotatePoints", "RotatePointsGradX":
		t := 0
		if name == "RotatePointsGradX" {
			t = 1
		}
		bb, n := s(1)[0], s(1)[2]
		if f64 {
			C.rotate_fwd_f64(o64, a64, b64, L(bb), L(n), L(t))
		} else {
			C.rotate_fwd_f32(o32, a32, b32, L(bb), L(n), L(t))
		}
	case "RotatePointsGradR":
		bb, n := s(0)[0], s(0)[2]
		if f64 {
			C.rotate_grad_r_f64(o64, a64, b64, L(bb), L(n))
		} else {
			C.rotate_grad_r_f32(o32, a32, b32, L(bb), L(n))
		}
	case "OrthoProject":
		bb, n := s(0)[0], s(0)[2]
		if f64 {
			C.project_fwd_f64(o64, a64, b64, L(bb), L(n))
		} else {
			C.project_fwd_f32(o32, a32, b32, L(bb), L(n))
		}
	case "OrthoProjectGradX":
		bb, n := s(1)[0], s(1)[2]
		if f64 {
			C.project_grad_x_f64(o64, a64, b64, L(bb), L(n))
		} else {
			C.project_grad_x_f32(o32, a32, b32, L(bb), L(n))
		}
	case "OrthoProjectGradS":
		bb, n := s(0)[0], s(0)[2]
		if f64 {
			C.project_grad_s_f64(o64, a64, b64, L(bb), L(n))
		} else {
			C.project_grad_s_f32(o32, a32, b32, L(bb), L(n))
		}
	case "FlipCols":
		total, cols := s(0).TotalSize(), s(0)[len(s(0))-1]
		if f64 {
			C.flip_f64(o64, a64, L(total), L(cols))
		} else {
			C.flip_f32(o32, a32, L(total), L(cols))
		}
	case "SwapPairs":
		total := s(0).TotalSize()
		if f64 {
			C.swap_f64(o64, a64, L(total), L(total/s(0)[0]))
		} else {
			C.swap_f32(o32, a32, L(total), L(total/s(0)[0]))
		}
	case "Gather", "GatherGrad":
		var n int
		var list string
		if _, err := fmt.Sscanf(op[strings.IndexByte(op, '{'):], "{n=%d,idx=%s", &n, &list); err != nil {
			return fmt.Errorf("parsing %q: %w", op, err)
		}
		var idx []C.longlong
		for _, f := range strings.Split(strings.Trim(list, "[]}"), ",") {
			var v int
			fmt.Sscan(f, &v)
			idx = append(idx, C.longlong(v))
		}
		rows, l := s(0)[0]*s(0)[1], len(idx)
		if name == "Gather" {
			if f64 {
				C.gather_f64(o64, a64, &idx[0], L(rows), L(n), L(l))
			} else {
				C.gather_f32(o32, a32, &idx[0], L(rows), L(n), L(l))
			}
		} else {
			if f64 {
				C.zero_f64(o64, L(rows*n))
				C.scatter_f64(o64, a64, &idx[0], L(rows), L(n), L(l))
			} else {
				C.zero_f32(o32, L(rows*n))
				C.scatter_f32(o32, a32, &idx[0], L(rows), L(n), L(l))
			}
		}
	default:
		return fmt.Errorf("no kernel for %s", op)
	}
	return nil
}

func fill(v *tensor.Dense, f func(i int) float64) {
	switch d := v.Data().(type) {
	case []float32:
		for i := range d {
			d[i] = float32(f(i))
		}
	case []float64:
		for i := range d {
			d[i] = f(i)
		}
	}
}

// relErr is max|got-want| / max|want|; NaN (an element never written) is +Inf.
func relErr(got, want *tensor.Dense) float64 {
	a, b := floats(got), floats(want)
	var diff, scale float64
	for i := range a {
		if math.IsNaN(a[i]) != math.IsNaN(b[i]) {
			return math.Inf(1)
		}
		diff = math.Max(diff, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	if scale == 0 {
		return diff
	}
	return diff / scale
}

func floats(v *tensor.Dense) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return d
	}
	return nil
}
