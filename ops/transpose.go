package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TransposePoints swaps the last two axes: x (B,K,N) -> (B,N,K),
// out[b,n,k] = x[b,k,n]. It turns projected points (B,2,N) into the
// (B,N,2) layout of BilinearSample. Gradient: TransposePoints(G).
func TransposePoints(x *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.TransposePoints"
	ax := arg{"x", x}
	if _, err := checkArgs(name, ax); err != nil {
		return nil, err
	}
	if err := checkDims(name, ax, 3, "(B,K,N)"); err != nil {
		return nil, err
	}
	n, err := gorgonia.ApplyOp(transposeOp{}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func transposeKernel[T float](out, x []T, b, k, n int) {
	workpool.Chunks(b, k*n, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			src, dst := x[bi*k*n:(bi+1)*k*n], out[bi*k*n:(bi+1)*k*n]
			for ki := 0; ki < k; ki++ {
				row := src[ki*n : (ki+1)*n]
				for ni, v := range row {
					dst[ni*k+ki] = v
				}
			}
		}
	})
}

// transposeOp: (B,K,N) -> (B,N,K).
type transposeOp struct{ plain }

func (op transposeOp) Arity() int            { return 1 }
func (op transposeOp) Type() hm.Type         { return fnType(3, 3) }
func (op transposeOp) String() string        { return "TransposePoints" }
func (op transposeOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op transposeOp) Hashcode() uint32      { return hashOf(op) }
func (op transposeOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op transposeOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op transposeOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op transposeOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) != 3 {
		return nil, shapeErr(op, "want x (B,K,N)", in)
	}
	return tensor.Shape{s[0], s[2], s[1]}, nil
}

func (op transposeOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { transposeKernel(data[float32](out), data[float32](in[0]), s[0], s[1], s[2]) },
		func() { transposeKernel(data[float64](out), data[float64](in[0]), s[0], s[1], s[2]) })
}

func (op transposeOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op transposeOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(transposeOp{}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}
