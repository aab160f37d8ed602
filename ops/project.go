package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// OrthoProject is the orthographic projection with scale of Bas et al.
// 2017, Eqs. 3-4, including the flip from model-up to image-down:
// x (B,3,N), s (B) -> (B,2,N) with out[b,0,n] = s[b] X[b,n] and
// out[b,1,n] = -s[b] Y[b,n] (Z is dropped). After KronTranslate the image
// position is (t_x + s X, t_y - s Y) in pixels. Gradients:
// dL/dX = s G0, dL/dY = -s G1, dL/dZ = 0, dL/ds = sum_n (G0 X - G1 Y).
func OrthoProject(x, s *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.OrthoProject"
	ax, as := arg{"x", x}, arg{"s", s}
	if _, err := checkArgs(name, ax, as); err != nil {
		return nil, err
	}
	if err := checkDims(name, ax, 3, "(B,3,N)"); err != nil {
		return nil, err
	}
	if err := checkDims(name, as, 1, "(B)"); err != nil {
		return nil, err
	}
	xs, ss := x.Shape(), s.Shape()
	if xs[1] != 3 || xs[0] != ss[0] {
		return nil, fmt.Errorf("%s: want x (B,3,N) and s (B), got x %s, s %s", name, shapeString(xs), shapeString(ss))
	}
	n, err := gorgonia.ApplyOp(projectOp{}, x, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func projectKernel[T float](out, x, s []T, b, n int) {
	workpool.Chunks(b, 2*n, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			sv := s[bi]
			xb := x[bi*3*n : (bi+1)*3*n]
			ob := out[bi*2*n : (bi+1)*2*n]
			for i, v := range xb[:n] {
				ob[i] = sv * v
			}
			oy := ob[n:]
			for i, v := range xb[n : 2*n] {
				oy[i] = -sv * v
			}
		}
	})
}

func projectGradXKernel[T float](out, s, g []T, b, n int) {
	workpool.Chunks(b, 3*n, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			sv := s[bi]
			gb := g[bi*2*n : (bi+1)*2*n]
			ob := out[bi*3*n : (bi+1)*3*n]
			for i, v := range gb[:n] {
				ob[i] = sv * v
			}
			oy := ob[n : 2*n]
			for i, v := range gb[n:] {
				oy[i] = -sv * v
			}
			clear(ob[2*n:])
		}
	})
}

func projectGradSKernel[T float](out, x, g []T, b, n int) {
	workpool.Chunks(b, 2*n, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			xb := x[bi*3*n : (bi+1)*3*n]
			gb := g[bi*2*n : (bi+1)*2*n]
			var acc T
			for i, v := range gb[:n] {
				acc += v * xb[i]
			}
			gy, xy := gb[n:], xb[n:2*n]
			for i, v := range gy {
				acc -= v * xy[i]
			}
			out[bi] = acc
		}
	})
}

// projectOp: (x (B,3,N), s (B)) -> (B,2,N).
type projectOp struct{ plain }

func (op projectOp) Arity() int            { return 2 }
func (op projectOp) Type() hm.Type         { return fnType(3, 3, 1) }
func (op projectOp) String() string        { return "OrthoProject" }
func (op projectOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op projectOp) Hashcode() uint32      { return hashOf(op) }
func (op projectOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op projectOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op projectOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op projectOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	xs, ss := in[0], in[1]
	if len(xs) != 3 || xs[1] != 3 || len(ss) != 1 || ss[0] != xs[0] {
		return nil, shapeErr(op, "want x (B,3,N) and s (B)", in)
	}
	return tensor.Shape{xs[0], 2, xs[2]}, nil
}

func (op projectOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { projectKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[2]) },
		func() { projectKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[2]) })
}

func (op projectOp) DiffWRT(inputs int) []bool { return []bool{true, true} }

func (op projectOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	gx, err := gorgonia.ApplyOp(projectGradXOp{}, inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt x: %w", op, err)
	}
	gs, err := gorgonia.ApplyOp(projectGradSOp{}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt s: %w", op, err)
	}
	return gorgonia.Nodes{gx, gs}, nil
}

// projectGradXOp: (s (B), G (B,2,N)) -> dL/dx (B,3,N).
type projectGradXOp struct{ plain }

func (op projectGradXOp) Arity() int            { return 2 }
func (op projectGradXOp) Type() hm.Type         { return fnType(3, 1, 3) }
func (op projectGradXOp) String() string        { return "OrthoProjectGradX" }
func (op projectGradXOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op projectGradXOp) Hashcode() uint32      { return hashOf(op) }
func (op projectGradXOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op projectGradXOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op projectGradXOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op projectGradXOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	ss, gs := in[0], in[1]
	if len(ss) != 1 || len(gs) != 3 || gs[1] != 2 || gs[0] != ss[0] {
		return nil, shapeErr(op, "want s (B) and grad (B,2,N)", in)
	}
	return tensor.Shape{gs[0], 3, gs[2]}, nil
}

func (op projectGradXOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[1].Shape()
	return dispatch(out,
		func() { projectGradXKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[2]) },
		func() { projectGradXKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[2]) })
}

// projectGradSOp: (x (B,3,N), G (B,2,N)) -> dL/ds (B).
type projectGradSOp struct{ plain }

func (op projectGradSOp) Arity() int            { return 2 }
func (op projectGradSOp) Type() hm.Type         { return fnType(1, 3, 3) }
func (op projectGradSOp) String() string        { return "OrthoProjectGradS" }
func (op projectGradSOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op projectGradSOp) Hashcode() uint32      { return hashOf(op) }
func (op projectGradSOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op projectGradSOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op projectGradSOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op projectGradSOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	xs, gs := in[0], in[1]
	if len(xs) != 3 || xs[1] != 3 || !gs.Eq(tensor.Shape{xs[0], 2, xs[2]}) {
		return nil, shapeErr(op, "want x (B,3,N) and grad (B,2,N)", in)
	}
	return tensor.Shape{xs[0]}, nil
}

func (op projectGradSOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { projectGradSKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[2]) },
		func() { projectGradSKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[2]) })
}
