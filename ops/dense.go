package ops

import (
	"fmt"
	"hash"
	"runtime"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/kern"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Dense is a fully connected layer with bias and an optional fused ReLU:
//
//	z[b,o] = bias[o] + sum_i x[b,i] w[i,o],   y = relu ? max(z, 0) : z
//
// x is (B, In) or any (B, ...) with In elements per item (a (B,C,H,W)
// feature map is flattened in NCHW order, as gorgonia.Reshape would), w is
// (In, Out), bias is (Out) or (1, Out); y is (B, Out). Gradients, with G =
// dL/dy masked by y > 0 when relu is set: dL/dx = G w^T (reshaped like x),
// dL/dw = x^T G, dL/dbias = sum_b G[b,:]. The GEMMs are split across
// GOMAXPROCS workers (by output columns or rows) and use the same float32
// kernel as Conv2D.
func Dense(x, w, b *gorgonia.Node, relu bool) (*gorgonia.Node, error) {
	const name = "ops.Dense"
	if _, err := checkArgs(name, arg{"x", x}, arg{"w", w}, arg{"b", b}); err != nil {
		return nil, err
	}
	if err := checkDims(name, arg{"w", w}, 2, "(In, Out)"); err != nil {
		return nil, err
	}
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if len(xs) < 2 {
		return nil, fmt.Errorf("%s: x must be (B, In) or (B, ...), got shape %s", name, shapeString(xs))
	}
	in := xs[1:].TotalSize()
	if ws[0] != in {
		return nil, fmt.Errorf("%s: w has %d input rows (shape %s) but x has %d values per item (shape %s)", name, ws[0], shapeString(ws), in, shapeString(xs))
	}
	out := ws[1]
	if !(len(bs) == 1 && bs[0] == out) && !(len(bs) == 2 && bs[0] == 1 && bs[1] == out) {
		return nil, fmt.Errorf("%s: b must have shape (%d) or (1, %d), got %s", name, out, out, shapeString(bs))
	}
	op := denseOp{xShape: xs.Clone(), out: out, biasDims: len(bs), relu: relu, ws: &scratch{}, dw: &kern.DenseWork{}}
	n, err := gorgonia.ApplyOp(op, x, w, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// parallelGemm computes C = op(A) op(B) + beta C (row-major, alpha = 1) by
// splitting C into column blocks (or row blocks when C is tall) across
// GOMAXPROCS workers; each block is one convGemm call.
func parallelGemm[T float](s *scratch, tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	workers := runtime.GOMAXPROCS(0)
	if workers <= 1 || m*n*k < 4*workpool.MinWork {
		convGemm(s, tA, tB, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if n >= m {
		chunk := roundUp((n+workers-1)/workers, sgemmNR)
		workpool.Chunks((n+chunk-1)/chunk, m*chunk*k, func(lo, hi int) {
			for q := lo; q < hi; q++ {
				j0 := q * chunk
				nb := min(chunk, n-j0)
				bo := j0 // op(B) columns j0.. start at b[j0] or at row j0 of B^T
				if tB {
					bo = j0 * ldb
				}
				convGemm(s, tA, tB, m, nb, k, 1, a, lda, b[bo:], ldb, beta, c[j0:], ldc)
			}
		})
		return
	}
	chunk := roundUp((m+workers-1)/workers, sgemmMR)
	workpool.Chunks((m+chunk-1)/chunk, chunk*n*k, func(lo, hi int) {
		for q := lo; q < hi; q++ {
			i0 := q * chunk
			mb := min(chunk, m-i0)
			ao := i0 * lda // op(A) rows i0.. start at row i0 of A or at a[i0] of A^T
			if tA {
				ao = i0
			}
			convGemm(s, tA, tB, mb, n, k, 1, a[ao:], lda, b, ldb, beta, c[i0*ldc:], ldc)
		}
	})
}

// denseMask returns G masked by y > 0 in a workspace from s (relu), or G.
// The caller gives the workspace back when done (nil when not relu).
func denseMask[T float](s *scratch, g, y []T, relu bool) (masked, buf []T) {
	if !relu {
		return g, nil
	}
	buf = take[T](s, len(g))
	reluMask(buf, g, y)
	return buf, buf
}

func denseForward[T float](s *scratch, dw *kern.DenseWork, bsz, in, out int, relu bool, y, x, w, bias []T) {
	if y32, ok := any(y).([]float32); ok && kern.DenseForward(simd, dw, y32, any(x).([]float32), any(w).([]float32), any(bias).([]float32), bsz, out, in, relu) {
		return
	}
	parallelGemm(s, false, false, bsz, out, in, x, in, w, out, 0, y, out)
	for r := 0; r < bsz; r++ {
		row := y[r*out : (r+1)*out]
		for o, bv := range bias[:out] {
			if relu {
				row[o] = max(row[o]+bv, 0)
			} else {
				row[o] += bv
			}
		}
	}
}

// denseOp: (x (B,...), w (In,Out), b) -> y (B,Out).
type denseOp struct {
	plain
	xShape   tensor.Shape
	out      int
	biasDims int
	relu     bool
	ws       *scratch
	dw       *kern.DenseWork // the forward kernel's buffers
}

func (op denseOp) Arity() int    { return 3 }
func (op denseOp) Type() hm.Type { return fnType(2, len(op.xShape), 2, op.biasDims) }
func (op denseOp) String() string {
	return fmt.Sprintf("Dense{x=%s out=%d bias=%dD relu=%t}", shapeString(op.xShape), op.out, op.biasDims, op.relu)
}
func (op denseOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op denseOp) Hashcode() uint32      { return hashOf(op) }
func (op denseOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op denseOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op denseOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op denseOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	x, w, b := in[0], in[1], in[2]
	if !x.Eq(op.xShape) || len(w) != 2 || w[0] != op.xShape[1:].TotalSize() || w[1] != op.out || b.TotalSize() != op.out || len(b) != op.biasDims {
		return nil, shapeErr(op, fmt.Sprintf("want x %s, w (%d, %d), b (%d)", shapeString(op.xShape), op.xShape[1:].TotalSize(), op.out, op.out), in)
	}
	return tensor.Shape{op.xShape[0], op.out}, nil
}

func (op denseOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	bsz, n := op.xShape[0], op.xShape[1:].TotalSize()
	return dispatch(out,
		func() {
			denseForward(op.ws, op.dw, bsz, n, op.out, op.relu, data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]))
		},
		func() {
			denseForward(op.ws, op.dw, bsz, n, op.out, op.relu, data[float64](out), data[float64](in[0]), data[float64](in[1]), data[float64](in[2]))
		})
}

func (op denseOp) DiffWRT(inputs int) []bool { return []bool{true, true, true} }

func (op denseOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 3", op, len(inputs))
	}
	tail := gorgonia.Nodes{grad}
	if op.relu {
		tail = append(tail, output)
	}
	grads := make(gorgonia.Nodes, 3)
	for i, first := range []*gorgonia.Node{inputs[1], inputs[0], nil} {
		g := denseGradOp{of: i, xShape: op.xShape, out: op.out, biasDims: op.biasDims, relu: op.relu, ws: op.ws}
		args := tail
		if first != nil {
			args = append(gorgonia.Nodes{first}, tail...)
		}
		var err error
		if grads[i], err = gorgonia.ApplyOp(g, args...); err != nil {
			return nil, fmt.Errorf("%v: gradient %d: %w", op, i, err)
		}
	}
	return grads, nil
}

// denseGradOp computes one gradient of Dense: of = 0: (w, G [, y]) ->
// dL/dx; of = 1: (x, G [, y]) -> dL/dw; of = 2: (G [, y]) -> dL/dbias.
type denseGradOp struct {
	plain
	of       int
	xShape   tensor.Shape
	out      int
	biasDims int
	relu     bool
	ws       *scratch
}

func (op denseGradOp) Arity() int {
	n := 2
	if op.of == 2 {
		n = 1
	}
	if op.relu {
		n++
	}
	return n
}

func (op denseGradOp) Type() hm.Type {
	var args []int
	ret := 0
	switch op.of {
	case 0:
		args, ret = []int{2, 2}, len(op.xShape)
	case 1:
		args, ret = []int{len(op.xShape), 2}, 2
	default:
		args, ret = []int{2}, op.biasDims
	}
	if op.relu {
		args = append(args, 2)
	}
	return fnType(ret, args...)
}

func (op denseGradOp) String() string {
	return fmt.Sprintf("DenseGrad{of=%d x=%s out=%d bias=%dD relu=%t}", op.of, shapeString(op.xShape), op.out, op.biasDims, op.relu)
}
func (op denseGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op denseGradOp) Hashcode() uint32      { return hashOf(op) }
func (op denseGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op denseGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op denseGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op denseGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	bsz, n := op.xShape[0], op.xShape[1:].TotalSize()
	gShape := tensor.Shape{bsz, op.out}
	tail := in
	if op.of != 2 {
		tail = in[1:]
	}
	if !tail[0].Eq(gShape) || (op.relu && !tail[1].Eq(gShape)) {
		return nil, shapeErr(op, fmt.Sprintf("want G (and y) of shape %s", shapeString(gShape)), in)
	}
	switch op.of {
	case 0:
		if !in[0].Eq(tensor.Shape{n, op.out}) {
			return nil, shapeErr(op, fmt.Sprintf("want w (%d, %d)", n, op.out), in)
		}
		return op.xShape.Clone(), nil
	case 1:
		if !in[0].Eq(op.xShape) {
			return nil, shapeErr(op, "want x "+shapeString(op.xShape), in)
		}
		return tensor.Shape{n, op.out}, nil
	}
	if op.biasDims == 2 {
		return tensor.Shape{1, op.out}, nil
	}
	return tensor.Shape{op.out}, nil
}

func denseGrad[T float](op denseGradOp, dst []T, in [][]T) {
	bsz, n := op.xShape[0], op.xShape[1:].TotalSize()
	tail := in
	if op.of != 2 {
		tail = in[1:]
	}
	var y []T
	if op.relu {
		y = tail[1]
	}
	g, buf := denseMask(op.ws, tail[0], y, op.relu)
	switch op.of {
	case 0: // dL/dx (B, In) = G (B, Out) w^T
		parallelGemm(op.ws, false, true, bsz, n, op.out, g, op.out, in[0], op.out, 0, dst, n)
	case 1: // dL/dw (In, Out) = x^T (In, B) G (B, Out)
		parallelGemm(op.ws, true, false, n, op.out, bsz, in[0], n, g, op.out, 0, dst, op.out)
	default: // dL/db = sum over the batch
		copy(dst, g[:op.out])
		for r := 1; r < bsz; r++ {
			for o, v := range g[r*op.out : (r+1)*op.out] {
				dst[o] += v
			}
		}
	}
	if buf != nil {
		give(op.ws, buf)
	}
}

func (op denseGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	var in32 [3][]float32
	var in64 [3][]float64
	return dispatch(out,
		func() {
			for i, d := range in {
				in32[i] = data[float32](d)
			}
			denseGrad(op, data[float32](out), in32[:len(in)])
		},
		func() {
			for i, d := range in {
				in64[i] = data[float64](d)
			}
			denseGrad(op, data[float64](out), in64[:len(in)])
		})
}
