package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// RotatePoints applies a per-item rotation to a point set: R (B,3,3)
// row-major, x (B,3,N) -> (B,3,N) with out[b] = R[b] X[b] (Bas et al. 2017,
// Eq. 3). Gradients: dL/dR[b] = G[b] X[b]^T, dL/dX[b] = R[b]^T G[b].
// R need not be orthonormal.
func RotatePoints(r, x *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.RotatePoints"
	ar, ax := arg{"R", r}, arg{"x", x}
	if _, err := checkArgs(name, ar, ax); err != nil {
		return nil, err
	}
	if err := checkDims(name, ar, 3, "(B,3,3)"); err != nil {
		return nil, err
	}
	if err := checkDims(name, ax, 3, "(B,3,N)"); err != nil {
		return nil, err
	}
	rs, xs := r.Shape(), x.Shape()
	if rs[1] != 3 || rs[2] != 3 || xs[1] != 3 || rs[0] != xs[0] {
		return nil, fmt.Errorf("%s: want R (B,3,3) and x (B,3,N), got R %s, x %s", name, shapeString(rs), shapeString(xs))
	}
	n, err := gorgonia.ApplyOp(rotateOp{}, r, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// mat3Apply writes out[b] = M X[b] for every item, with M = R[b] when
// transpose is false and R[b]^T otherwise. Work is split over B*N points.
func mat3Apply[T float](out, r, x []T, b, n int, transpose bool) {
	workpool.Chunks(b*n, 24, func(lo, hi int) {
		for lo < hi {
			bi := lo / n
			n0 := lo - bi*n
			n1 := min(n, n0+hi-lo)
			m := r[9*bi : 9*bi+9]
			m00, m01, m02, m10, m11, m12, m20, m21, m22 := m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8]
			if transpose {
				m01, m10 = m10, m01
				m02, m20 = m20, m02
				m12, m21 = m21, m12
			}
			xb := x[bi*3*n : (bi+1)*3*n]
			ob := out[bi*3*n : (bi+1)*3*n]
			x0, x1, x2 := xb[n0:n1], xb[n+n0:n+n1], xb[2*n+n0:2*n+n1]
			o0, o1, o2 := ob[n0:n1], ob[n+n0:n+n1], ob[2*n+n0:2*n+n1]
			for i := range x0 {
				a, c, d := x0[i], x1[i], x2[i]
				o0[i] = m00*a + m01*c + m02*d
				o1[i] = m10*a + m11*c + m12*d
				o2[i] = m20*a + m21*c + m22*d
			}
			lo += n1 - n0
		}
	})
}

// rotateGradRKernel writes out[b] = G[b] X[b]^T (3x3, row-major).
func rotateGradRKernel[T float](out, x, g []T, b, n int) {
	workpool.Chunks(b, 18*n, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			xb := x[bi*3*n : (bi+1)*3*n]
			gb := g[bi*3*n : (bi+1)*3*n]
			for j := 0; j < 3; j++ {
				gj := gb[j*n : (j+1)*n]
				for k := 0; k < 3; k++ {
					xk := xb[k*n : (k+1)*n]
					var acc T
					for i, v := range gj {
						acc += v * xk[i]
					}
					out[9*bi+3*j+k] = acc
				}
			}
		}
	})
}

// rotateOp: (R (B,3,3), x (B,3,N)) -> (B,3,N).
type rotateOp struct{ plain }

func (op rotateOp) Arity() int            { return 2 }
func (op rotateOp) Type() hm.Type         { return fnType(3, 3, 3) }
func (op rotateOp) String() string        { return "RotatePoints" }
func (op rotateOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op rotateOp) Hashcode() uint32      { return hashOf(op) }
func (op rotateOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op rotateOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op rotateOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op rotateOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	rs, xs := in[0], in[1]
	if len(rs) != 3 || rs[1] != 3 || rs[2] != 3 || len(xs) != 3 || xs[1] != 3 || xs[0] != rs[0] {
		return nil, shapeErr(op, "want R (B,3,3) and x (B,3,N)", in)
	}
	return xs.Clone(), nil
}

func (op rotateOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[1].Shape()
	return dispatch(out,
		func() { mat3Apply(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[2], false) },
		func() { mat3Apply(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[2], false) })
}

func (op rotateOp) DiffWRT(inputs int) []bool { return []bool{true, true} }

func (op rotateOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	gr, err := gorgonia.ApplyOp(rotateGradROp{}, inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt R: %w", op, err)
	}
	gx, err := gorgonia.ApplyOp(rotateGradXOp{}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt x: %w", op, err)
	}
	return gorgonia.Nodes{gr, gx}, nil
}

// rotateGradROp: (x (B,3,N), G (B,3,N)) -> dL/dR (B,3,3).
type rotateGradROp struct{ plain }

func (op rotateGradROp) Arity() int            { return 2 }
func (op rotateGradROp) Type() hm.Type         { return fnType(3, 3, 3) }
func (op rotateGradROp) String() string        { return "RotatePointsGradR" }
func (op rotateGradROp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op rotateGradROp) Hashcode() uint32      { return hashOf(op) }
func (op rotateGradROp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op rotateGradROp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op rotateGradROp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op rotateGradROp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	xs, gs := in[0], in[1]
	if len(xs) != 3 || xs[1] != 3 || !xs.Eq(gs) {
		return nil, shapeErr(op, "want x (B,3,N) and grad (B,3,N)", in)
	}
	return tensor.Shape{xs[0], 3, 3}, nil
}

func (op rotateGradROp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { rotateGradRKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[2]) },
		func() { rotateGradRKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[2]) })
}

// rotateGradXOp: (R (B,3,3), G (B,3,N)) -> dL/dx = R^T G (B,3,N).
type rotateGradXOp struct{ plain }

func (op rotateGradXOp) Arity() int            { return 2 }
func (op rotateGradXOp) Type() hm.Type         { return fnType(3, 3, 3) }
func (op rotateGradXOp) String() string        { return "RotatePointsGradX" }
func (op rotateGradXOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op rotateGradXOp) Hashcode() uint32      { return hashOf(op) }
func (op rotateGradXOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op rotateGradXOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op rotateGradXOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op rotateGradXOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	return rotateOp{}.outShape(in)
}

func (op rotateGradXOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[1].Shape()
	return dispatch(out,
		func() { mat3Apply(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[2], true) },
		func() { mat3Apply(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[2], true) })
}
