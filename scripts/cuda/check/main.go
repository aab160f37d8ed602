//go:build cuda

// Command check compares every custom op of package ops, forward and
// backward, on the GPU with its CPU kernel.
//
// For each op it builds a small graph: random inputs, the op, and the op's
// symbolic gradients (SymDiff) for a random upstream gradient. A Gorgonia tape
// machine runs the graph; in a cuda build every op of package ops has a
// CUDADo, so each node runs the CUDA kernel of ops/kernels. The reference of
// each node is its Op's Do (the CPU kernel) applied to the reference values
// of its children. The error of a node is
//
//	max_i |gpu_i - cpu_i| / max_i |cpu_i|
//
// and must not exceed -tol32 (float32) or -tol64 (float64). It prints one
// line per node and exits with status 1 when any node fails.
//
//	go run -tags cuda -modfile=build/cuda/go.mod ./scripts/cuda/check
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func main() {
	seed := flag.Uint64("seed", 1, "seed of the random inputs")
	tol32 := flag.Float64("tol32", 1e-4, "largest relative error allowed in float32")
	tol64 := flag.Float64("tol64", 1e-9, "largest relative error allowed in float64")
	flag.Parse()
	failed := 0
	total := 0
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		tol := *tol32
		if dt == tensor.Float64 {
			tol = *tol64
		}
		for _, c := range cases() {
			rng := rand.New(rand.NewPCG(*seed, uint64(total)))
			res, err := runCase(c, dt, rng)
			if err != nil {
				fmt.Printf("FAIL %-22s %-7v error: %v\n", c.name, dt, err)
				failed++
				total++
				continue
			}
			for _, r := range res {
				total++
				status := "ok  "
				if !(r.rel <= tol) {
					status = "FAIL"
					failed++
				}
				fmt.Printf("%s %-22s %-7v %-28s shape %-16v rel %.3g (max|cpu| %.3g)\n", status, c.name, dt, r.node, r.shape, r.rel, r.scale)
			}
		}
	}
	fmt.Printf("%d passed, %d failed\n", total-failed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// opCase is one op under test: the shapes of its inputs, how to fill them,
// and how to apply the op.
type opCase struct {
	name   string
	shapes []tensor.Shape
	fill   []func(rng *rand.Rand, i int, s tensor.Shape) float64
	apply  func(in gorgonia.Nodes) (*gorgonia.Node, error)
}

// normal fills with N(0, 1).
func normal(rng *rand.Rand, _ int, _ tensor.Shape) float64 { return rng.NormFloat64() }

// pixels fills sample points (B,N,2) over [-1.5, W+0.5) x [-1.5, H+0.5) so
// that the borders, the outside and the one-sided x = -1 case all occur.
func pixels(h, w int) func(rng *rand.Rand, i int, s tensor.Shape) float64 {
	return func(rng *rand.Rand, i int, _ tensor.Shape) float64 {
		if i%7 == 0 {
			return -1 // exactly on the left/top border
		}
		if i%2 == 0 {
			return -1.5 + rng.Float64()*float64(w+2)
		}
		return -1.5 + rng.Float64()*float64(h+2)
	}
}

// axisAngles fills (B,3) with small rotations (the Taylor branch) for even
// items and large ones for odd items.
func axisAngles(rng *rand.Rand, i int, _ tensor.Shape) float64 {
	if (i/3)%2 == 0 {
		return 0.02 * rng.NormFloat64()
	}
	return 1.5 * rng.NormFloat64()
}

// positive fills with values in [0.5, 1.5) (projection scales).
func positive(rng *rand.Rand, _ int, _ tensor.Shape) float64 { return 0.5 + rng.Float64() }

// gridFace fills (B,3,rows*cols) with a bumpy grid facing the camera or,
// for odd items, facing away, so both mask values occur.
func gridFace(rows, cols int) func(rng *rand.Rand, i int, s tensor.Shape) float64 {
	return func(rng *rand.Rand, i int, s tensor.Shape) float64 {
		n := rows * cols
		b, k, v := i/(3*n), (i/n)%3, i%n
		r, c := float64(v/cols), float64(v%cols)
		flip := 1.0
		if b%2 == 1 {
			flip = -1
		}
		switch k {
		case 0:
			return flip*c + 0.3*rng.NormFloat64()
		case 1:
			return r + 0.3*rng.NormFloat64()
		}
		return rng.NormFloat64()
	}
}

func cases() []opCase {
	const b, c, h, w, n = 4, 3, 20, 24, 300
	const rows, cols = 9, 11
	const nv = rows * cols
	idx := []int{3, 0, 3, nv - 1, 17, 42}
	f := func(fs ...func(*rand.Rand, int, tensor.Shape) float64) []func(*rand.Rand, int, tensor.Shape) float64 {
		return fs
	}
	return []opCase{
		{"BilinearSample", []tensor.Shape{{b, c, h, w}, {b, n, 2}}, f(normal, pixels(h, w)),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.BilinearSample(in[0], in[1]) }},
		{"BackfaceMask", []tensor.Shape{{b, 3, nv}}, f(gridFace(rows, cols)),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.BackfaceMask(in[0], rows, cols) }},
		{"KronTranslate", []tensor.Shape{{b, 2, nv}, {b, 2}}, f(normal, normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.KronTranslate(in[0], in[1]) }},
		{"AxisAngleToRotation", []tensor.Shape{{b, 3}}, f(axisAngles),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.AxisAngleToRotation(in[0]) }},
		{"RotatePoints", []tensor.Shape{{b, 3, 3}, {b, 3, nv}}, f(normal, normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.RotatePoints(in[0], in[1]) }},
		{"OrthoProject", []tensor.Shape{{b, 3, nv}, {b}}, f(normal, positive),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.OrthoProject(in[0], in[1]) }},
		{"FlipCols", []tensor.Shape{{b, c, h, w}}, f(normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.FlipCols(in[0], w) }},
		{"SwapPairs", []tensor.Shape{{b, 3, nv}}, f(normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.SwapPairs(in[0]) }},
		{"Gather", []tensor.Shape{{b, 3, nv}}, f(normal),
			func(in gorgonia.Nodes) (*gorgonia.Node, error) { return ops.Gather(in[0], idx) }},
	}
}

// result is the comparison of one node.
type result struct {
	node  string
	shape tensor.Shape
	rel   float64
	scale float64
}

// runCase builds the op and its gradients, runs them on the GPU and
// compares every computed node with its CPU reference.
func runCase(c opCase, dt tensor.Dtype, rng *rand.Rand) ([]result, error) {
	g := gorgonia.NewGraph()
	host := map[*gorgonia.Node]*tensor.Dense{}
	var in gorgonia.Nodes
	for k, s := range c.shapes {
		v := tensor.New(tensor.Of(dt), tensor.WithShape(s.Clone()...))
		fill(v, func(i int) float64 { return c.fill[k](rng, i, s) })
		node := gorgonia.NewTensor(g, dt, len(s), gorgonia.WithShape(s.Clone()...),
			gorgonia.WithName(fmt.Sprintf("in%d", k)), gorgonia.WithValue(v.Clone()))
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
		gn := gorgonia.NewTensor(g, dt, out.Dims(), gorgonia.WithShape(out.Shape()...),
			gorgonia.WithName("upstream"), gorgonia.WithValue(gv.Clone()))
		host[gn] = gv
		grads, err := sd.SymDiff(in, out, gn)
		if err != nil {
			return nil, fmt.Errorf("SymDiff: %w", err)
		}
		for _, gr := range grads {
			if gr != nil && gr.Op() != nil && host[gr] == nil {
				check = append(check, gr)
			}
		}
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		return nil, fmt.Errorf("running on the GPU: %w", err)
	}
	var res []result
	for _, n := range check {
		want, err := reference(g, n, host)
		if err != nil {
			return nil, fmt.Errorf("CPU reference of %v: %w", n.Op(), err)
		}
		gotV, _, err := n.ValueOnDevice(gorgonia.CPU, m)
		if err != nil {
			return nil, fmt.Errorf("copying %v to the host: %w", n.Op(), err)
		}
		got, ok := gotV.(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("%v: GPU value is a %T, want *tensor.Dense", n.Op(), gotV)
		}
		rel, scale, err := relErr(got, want)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", n.Op(), err)
		}
		res = append(res, result{node: fmt.Sprint(n.Op()), shape: want.Shape(), rel: rel, scale: scale})
	}
	return res, nil
}

// reference computes n on the CPU: the op's Do on its children's references.
func reference(g *gorgonia.ExprGraph, n *gorgonia.Node, host map[*gorgonia.Node]*tensor.Dense) (*tensor.Dense, error) {
	if v, ok := host[n]; ok {
		return v, nil
	}
	if n.Op() == nil {
		return nil, fmt.Errorf("node %v has no op and no host value", n)
	}
	var args []gorgonia.Value
	it := g.From(n.ID())
	for it.Next() {
		child, ok := it.Node().(*gorgonia.Node)
		if !ok {
			return nil, fmt.Errorf("child of %v is a %T", n, it.Node())
		}
		v, err := reference(g, child, host)
		if err != nil {
			return nil, err
		}
		args = append(args, v.Clone().(*tensor.Dense))
	}
	v, err := n.Op().Do(args...)
	if err != nil {
		return nil, err
	}
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%v returned a %T", n.Op(), v)
	}
	host[n] = d
	return d, nil
}

// fill sets v[i] = f(i) in v's dtype.
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

// relErr is max|got-want| / max|want| (0 when both are all zero).
func relErr(got, want *tensor.Dense) (rel, scale float64, err error) {
	if !got.Shape().Eq(want.Shape()) {
		return 0, 0, fmt.Errorf("GPU shape %v, CPU shape %v", got.Shape(), want.Shape())
	}
	a, b := floats(got), floats(want)
	if a == nil || b == nil || len(a) != len(b) {
		return 0, 0, errors.New("values are not float32/float64 of equal length")
	}
	var diff float64
	for i := range a {
		if math.IsNaN(a[i]) != math.IsNaN(b[i]) {
			return math.Inf(1), 0, nil
		}
		diff = math.Max(diff, math.Abs(a[i]-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	if scale == 0 {
		return diff, 0, nil
	}
	return diff / scale, scale, nil
}

// floats copies a float32 or float64 tensor to float64s.
func floats(v *tensor.Dense) []float64 {
	switch d := v.Data().(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, x := range d {
			out[i] = float64(x)
		}
		return out
	case []float64:
		return append([]float64(nil), d...)
	}
	return nil
}
