package ops

import (
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Gather selects columns of the last axis: x (B,K,N) -> (B,K,L) with
// out[b,k,l] = x[b,k,idx[l]] (the landmark selection S of Bas et al. 2017,
// Sec. 3.3). The gradient scatter-adds G back: dL/dx[b,k,n] is the sum of
// G[b,k,l] over every l with idx[l] = n, so repeated indices accumulate.
// Every index must lie in [0, N).
func Gather(x *gorgonia.Node, idx []int) (*gorgonia.Node, error) {
	const name = "ops.Gather"
	ax := arg{"x", x}
	if _, err := checkArgs(name, ax); err != nil {
		return nil, err
	}
	if err := checkDims(name, ax, 3, "(B,K,N)"); err != nil {
		return nil, err
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("%s: idx is empty; want at least one index", name)
	}
	n := x.Shape()[2]
	for l, i := range idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("%s: idx[%d] = %d out of range [0, %d) for x of shape %s", name, l, i, n, shapeString(x.Shape()))
		}
	}
	out, err := gorgonia.ApplyOp(gatherOp{idx: append([]int(nil), idx...), n: n}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func gatherKernel[T float](out, x []T, idx []int, rows, n int) {
	l := len(idx)
	workpool.Chunks(rows, l, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := x[r*n:(r+1)*n], out[r*l:(r+1)*l]
			for j, i := range idx {
				dst[j] = src[i]
			}
		}
	})
}

func scatterKernel[T float](out, g []T, idx []int, rows, n int) {
	l := len(idx)
	workpool.Chunks(rows, l+n, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := g[r*l:(r+1)*l], out[r*n:(r+1)*n]
			clear(dst)
			for j, i := range idx {
				dst[i] += src[j]
			}
		}
	})
}

// idxString encodes every index (for String and WriteHash).
func idxString(idx []int) string {
	var b strings.Builder
	for i, v := range idx {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}

// gatherOp: (B,K,N) -> (B,K,L).
type gatherOp struct {
	plain
	idx []int
	n   int
}

func (op gatherOp) Arity() int    { return 1 }
func (op gatherOp) Type() hm.Type { return fnType(3, 3) }
func (op gatherOp) String() string {
	return fmt.Sprintf("Gather{n=%d,idx=[%s]}", op.n, idxString(op.idx))
}
func (op gatherOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op gatherOp) Hashcode() uint32      { return hashOf(op) }
func (op gatherOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op gatherOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op gatherOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op gatherOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) != 3 || s[2] != op.n {
		return nil, shapeErr(op, fmt.Sprintf("want x (B,K,%d)", op.n), in)
	}
	return tensor.Shape{s[0], s[1], len(op.idx)}, nil
}

func (op gatherOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { gatherKernel(data[float32](out), data[float32](in[0]), op.idx, s[0]*s[1], s[2]) },
		func() { gatherKernel(data[float64](out), data[float64](in[0]), op.idx, s[0]*s[1], s[2]) })
}

func (op gatherOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op gatherOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(scatterOp{idx: op.idx, n: op.n}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}

// scatterOp: G (B,K,L) -> (B,K,N), the adjoint of gatherOp.
type scatterOp struct {
	plain
	idx []int
	n   int
}

func (op scatterOp) Arity() int    { return 1 }
func (op scatterOp) Type() hm.Type { return fnType(3, 3) }
func (op scatterOp) String() string {
	return fmt.Sprintf("GatherGrad{n=%d,idx=[%s]}", op.n, idxString(op.idx))
}
func (op scatterOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op scatterOp) Hashcode() uint32      { return hashOf(op) }
func (op scatterOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op scatterOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op scatterOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op scatterOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) != 3 || s[2] != len(op.idx) {
		return nil, shapeErr(op, fmt.Sprintf("want grad (B,K,%d)", len(op.idx)), in)
	}
	return tensor.Shape{s[0], s[1], op.n}, nil
}

func (op scatterOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { scatterKernel(data[float32](out), data[float32](in[0]), op.idx, s[0]*s[1], op.n) },
		func() { scatterKernel(data[float64](out), data[float64](in[0]), op.idx, s[0]*s[1], op.n) })
}
