package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// KronTranslate adds a per-item 2D translation to every projected vertex:
// y (B,2,N), t (B,2) -> y + 1_N (x) t, i.e. out[b,k,n] = y[b,k,n] + t[b,k]
// (Bas et al. 2017, Eq. 5; t in pixels). Gradients: dL/dy = G,
// dL/dt[b,k] = sum_n G[b,k,n].
func KronTranslate(y, t *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.KronTranslate"
	ay, at := arg{"y", y}, arg{"t", t}
	if _, err := checkArgs(name, ay, at); err != nil {
		return nil, err
	}
	if err := checkDims(name, ay, 3, "(B,2,N)"); err != nil {
		return nil, err
	}
	if err := checkDims(name, at, 2, "(B,2)"); err != nil {
		return nil, err
	}
	ys, ts := y.Shape(), t.Shape()
	if ys[1] != 2 || ts[1] != 2 || ys[0] != ts[0] {
		return nil, fmt.Errorf("%s: want y (B,2,N) and t (B,2), got y %s, t %s", name, shapeString(ys), shapeString(ts))
	}
	n, err := gorgonia.ApplyOp(kronOp{}, y, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func kronForward[T float](out, y, t []T, rows, n int) {
	workpool.Chunks(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			tv := t[r]
			src, dst := y[r*n:(r+1)*n], out[r*n:(r+1)*n]
			for i, v := range src {
				dst[i] = v + tv
			}
		}
	})
}

// rowSums writes out[r] = sum_i g[r*n+i].
func rowSums[T float](out, g []T, rows, n int) {
	workpool.Chunks(rows, n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var s T
			for _, v := range g[r*n : (r+1)*n] {
				s += v
			}
			out[r] = s
		}
	})
}

// kronOp: (y (B,2,N), t (B,2)) -> (B,2,N).
type kronOp struct{ plain }

func (op kronOp) Arity() int            { return 2 }
func (op kronOp) Type() hm.Type         { return fnType(3, 3, 2) }
func (op kronOp) String() string        { return "KronTranslate" }
func (op kronOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op kronOp) Hashcode() uint32      { return hashOf(op) }
func (op kronOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op kronOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op kronOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op kronOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	ys, ts := in[0], in[1]
	if len(ys) != 3 || len(ts) != 2 || ys[1] != 2 || ts[1] != 2 || ys[0] != ts[0] {
		return nil, shapeErr(op, "want y (B,2,N) and t (B,2)", in)
	}
	return ys.Clone(), nil
}

func (op kronOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { kronForward(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0]*s[1], s[2]) },
		func() { kronForward(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0]*s[1], s[2]) })
}

func (op kronOp) DiffWRT(inputs int) []bool { return []bool{true, true} }

func (op kronOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	gt, err := gorgonia.ApplyOp(kronGradTOp{}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt t: %w", op, err)
	}
	return gorgonia.Nodes{grad, gt}, nil
}

// kronGradTOp: G (B,2,N) -> dL/dt (B,2) = sum over N.
type kronGradTOp struct{ plain }

func (op kronGradTOp) Arity() int            { return 1 }
func (op kronGradTOp) Type() hm.Type         { return fnType(2, 3) }
func (op kronGradTOp) String() string        { return "KronTranslateGradT" }
func (op kronGradTOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op kronGradTOp) Hashcode() uint32      { return hashOf(op) }
func (op kronGradTOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op kronGradTOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op kronGradTOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op kronGradTOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 3 {
		return nil, shapeErr(op, "want grad (B,2,N)", in)
	}
	return tensor.Shape{in[0][0], in[0][1]}, nil
}

func (op kronGradTOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { rowSums(data[float32](out), data[float32](in[0]), s[0]*s[1], s[2]) },
		func() { rowSums(data[float64](out), data[float64](in[0]), s[0]*s[1], s[2]) })
}
