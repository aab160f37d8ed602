package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SwapPairs swaps batch items 0<->1, 2<->3, ... of any tensor whose first
// axis is the batch: out[b] = x[b^1]. With each image next to its mirror in
// the batch it pairs the two for the siamese (flip) loss (Bas et al. 2017,
// Sec. 3.3). B must be even. Gradient: SwapPairs(G).
func SwapPairs(x *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.SwapPairs"
	if _, err := checkArgs(name, arg{"x", x}); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) == 0 {
		return nil, fmt.Errorf("%s: x must have a batch axis, got a scalar", name)
	}
	if s[0]%2 != 0 {
		return nil, fmt.Errorf("%s: batch size B = %d (shape %s) must be even: items are (image, mirror) pairs", name, s[0], shapeString(s))
	}
	n, err := gorgonia.ApplyOp(swapOp{}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func swapKernel[T float](out, x []T, b int) {
	item := len(x) / b
	workpool.Chunks(b, item, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			src := bi ^ 1
			copy(out[bi*item:(bi+1)*item], x[src*item:(src+1)*item])
		}
	})
}

// swapOp swaps adjacent batch items.
type swapOp struct{ plain }

func (op swapOp) Arity() int            { return 1 }
func (op swapOp) Type() hm.Type         { return sameType() }
func (op swapOp) String() string        { return "SwapPairs" }
func (op swapOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op swapOp) Hashcode() uint32      { return hashOf(op) }
func (op swapOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op swapOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op swapOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op swapOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) == 0 || s[0]%2 != 0 {
		return nil, shapeErr(op, "want an even batch size", in)
	}
	return s.Clone(), nil
}

func (op swapOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b := in[0].Shape()[0]
	return dispatch(out,
		func() { swapKernel(data[float32](out), data[float32](in[0]), b) },
		func() { swapKernel(data[float64](out), data[float64](in[0]), b) })
}

func (op swapOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op swapOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(swapOp{}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}
