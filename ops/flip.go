package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FlipCols mirrors the last axis (length cols) of any tensor:
// out[..., c] = x[..., cols-1-c]. On a texture (B,C,rows,cols) of the
// geometry image it is the bilateral-symmetry mirror col <-> cols-1-col
// (Bas et al. 2017, Sec. 3.3, symmetry loss). Gradient: FlipCols(G).
func FlipCols(x *gorgonia.Node, cols int) (*gorgonia.Node, error) {
	const name = "ops.FlipCols"
	if _, err := checkArgs(name, arg{"x", x}); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) == 0 || s[len(s)-1] != cols || cols < 1 {
		return nil, fmt.Errorf("%s: x must have last dimension cols = %d, got shape %s", name, cols, shapeString(s))
	}
	n, err := gorgonia.ApplyOp(flipOp{cols: cols}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func flipKernel[T float](out, x []T, cols int) {
	rows := len(x) / cols
	workpool.Chunks(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := x[r*cols:(r+1)*cols], out[r*cols:(r+1)*cols]
			for c, v := range src {
				dst[cols-1-c] = v
			}
		}
	})
}

// flipOp reverses the last axis (length cols).
type flipOp struct {
	plain
	cols int
}

func (op flipOp) Arity() int            { return 1 }
func (op flipOp) Type() hm.Type         { return sameType() }
func (op flipOp) String() string        { return fmt.Sprintf("FlipCols{cols=%d}", op.cols) }
func (op flipOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op flipOp) Hashcode() uint32      { return hashOf(op) }
func (op flipOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op flipOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op flipOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op flipOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) == 0 || s[len(s)-1] != op.cols {
		return nil, shapeErr(op, fmt.Sprintf("want last dimension %d", op.cols), in)
	}
	return s.Clone(), nil
}

func (op flipOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	return dispatch(out,
		func() { flipKernel(data[float32](out), data[float32](in[0]), op.cols) },
		func() { flipKernel(data[float64](out), data[float64](in[0]), op.cols) })
}

func (op flipOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op flipOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(flipOp{cols: op.cols}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}
