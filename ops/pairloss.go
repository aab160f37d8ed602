package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// PairLoss is the masked mean squared difference between every texel of a
// texture and its partner, the symmetry and siamese terms of Bas et al.
// 2017 (Sec. 3.3) in one op. tex is (B,C,N) and mask (B,N) with N =
// rows*cols (texel k = row*cols + col); the partner of (b, row, col) is
// (b, row, cols-1-col), or with pairs (b^1, row, cols-1-col) (batch item
// 2i+1 is the mirror image of 2i, B even). With P_bk = M_bk M_partner:
//
//	L = sum_{b,c,k} P_bk (T_bck - T_partner)^2 / (C (sum_{b,k} P_bk + eps))
//
// a scalar. Every pair is counted from both sides. The mask is a constant
// for differentiation; dL/dT_bck = 4 P_bk (T_bck - T_partner) / (C (sum P
// + eps)). Sums are taken in float64 in a fixed order.
func PairLoss(tex, mask *gorgonia.Node, rows, cols int, pairs bool, eps float64) (*gorgonia.Node, error) {
	const name = "ops.PairLoss"
	if _, err := checkArgs(name, arg{"tex", tex}, arg{"mask", mask}); err != nil {
		return nil, err
	}
	ts, ms := tex.Shape(), mask.Shape()
	if rows < 1 || cols < 1 || len(ts) != 3 || ts[2] != rows*cols || len(ms) != 2 || ms[0] != ts[0] || ms[1] != ts[2] {
		return nil, fmt.Errorf("%s: tex %s and mask %s: want (B,C,%d) and (B,%d)", name, shapeString(ts), shapeString(ms), rows*cols, rows*cols)
	}
	if pairs && ts[0]%2 != 0 {
		return nil, fmt.Errorf("%s: batch %d: pairs need an even batch", name, ts[0])
	}
	if !(eps >= 0) {
		return nil, fmt.Errorf("%s: eps = %v, want >= 0", name, eps)
	}
	n, err := gorgonia.ApplyOp(pairLossOp{rows: rows, cols: cols, pairs: pairs, eps: eps}, tex, mask)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// pairSums returns sum P (T - T')^2 and sum P over the batch, and, when
// grad is non-nil, writes grad = scale * 4 P (T - T') / den into it with
// den = C (sum P + eps).
func pairSums[T float](op pairLossOp, tex, mask []T, b, c int, grad []T, scale float64) (num, psum float64) {
	n := op.rows * op.cols
	partner := func(bi, k int) (int, int) {
		row, col := k/op.cols, k%op.cols
		if op.pairs {
			bi ^= 1
		}
		return bi, row*op.cols + op.cols - 1 - col
	}
	for bi := 0; bi < b; bi++ {
		for k := 0; k < n; k++ {
			pb, pk := partner(bi, k)
			psum += float64(mask[bi*n+k] * mask[pb*n+pk])
		}
	}
	den := float64(c) * (psum + op.eps)
	for bi := 0; bi < b; bi++ {
		for ch := 0; ch < c; ch++ {
			row := tex[(bi*c+ch)*n : (bi*c+ch+1)*n]
			for k, t := range row {
				pb, pk := partner(bi, k)
				p := mask[bi*n+k] * mask[pb*n+pk]
				d := t - tex[(pb*c+ch)*n+pk]
				num += float64(p * d * d)
				if grad != nil {
					grad[(bi*c+ch)*n+k] = T(scale * 4 * float64(p*d) / den)
				}
			}
		}
	}
	return num, psum
}

// pairLossOp: (tex (B,C,N), mask (B,N)) -> scalar.
type pairLossOp struct {
	plain
	rows, cols int
	pairs      bool
	eps        float64
}

func (op pairLossOp) Arity() int { return 2 }
func (op pairLossOp) Type() hm.Type {
	return hm.NewFnType(tensorType(3), tensorType(2), typeA)
}
func (op pairLossOp) String() string {
	return fmt.Sprintf("PairLoss{%dx%d pairs=%t eps=%g}", op.rows, op.cols, op.pairs, op.eps)
}
func (op pairLossOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op pairLossOp) Hashcode() uint32      { return hashOf(op) }
func (op pairLossOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: got %d inputs, want 2", op, len(in))
	}
	return tensor.ScalarShape(), nil
}

func (op pairLossOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("%v: got %d inputs, want 2", op, len(in))
	}
	tex, ok1 := in[0].(*tensor.Dense)
	mask, ok2 := in[1].(*tensor.Dense)
	if !ok1 || !ok2 || tex.Dtype() != mask.Dtype() {
		return nil, fmt.Errorf("%v: inputs %T, %T: want two dense tensors of one dtype", op, in[0], in[1])
	}
	ts := tex.Shape()
	if len(ts) != 3 || ts[2] != op.rows*op.cols || !mask.Shape().Eq(tensor.Shape{ts[0], ts[2]}) {
		return nil, shapeErr(op, fmt.Sprintf("want tex (B, C, %d) and mask (B, %d)", op.rows*op.cols, op.rows*op.cols), []tensor.Shape{ts, mask.Shape()})
	}
	var num, psum float64
	switch t := tex.Data().(type) {
	case []float32:
		num, psum = pairSums(op, t, mask.Data().([]float32), ts[0], ts[1], nil, 0)
		return gorgonia.NewF32(float32(num / (float64(ts[1]) * (psum + op.eps)))), nil
	case []float64:
		num, psum = pairSums(op, t, mask.Data().([]float64), ts[0], ts[1], nil, 0)
		return gorgonia.NewF64(num / (float64(ts[1]) * (psum + op.eps))), nil
	}
	return nil, fmt.Errorf("%v: dtype %v, want float32 or float64", op, tex.Dtype())
}

func (op pairLossOp) DiffWRT(inputs int) []bool { return []bool{true, false} }

func (op pairLossOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	g, err := gorgonia.ApplyOp(pairLossGradOp{op}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g, nil}, nil
}

// pairLossGradOp: (tex, mask, dL/dout) -> dL/dtex (B,C,N).
type pairLossGradOp struct{ of pairLossOp }

func (op pairLossGradOp) Arity() int { return 3 }
func (op pairLossGradOp) Type() hm.Type {
	return hm.NewFnType(tensorType(3), tensorType(2), typeA, tensorType(3))
}
func (op pairLossGradOp) String() string        { return "PairLossGrad" + op.of.String()[len("PairLoss"):] }
func (op pairLossGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op pairLossGradOp) Hashcode() uint32      { return hashOf(op) }
func (op pairLossGradOp) ReturnsPtr() bool      { return false }
func (op pairLossGradOp) CallsExtern() bool     { return false }
func (op pairLossGradOp) OverwritesInput() int  { return -1 }
func (op pairLossGradOp) FreshOutput()          {}
func (op pairLossGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op pairLossGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op pairLossGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op pairLossGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	ts, ms := in[0], in[1]
	n := op.of.rows * op.of.cols
	if len(ts) != 3 || ts[2] != n || !ms.Eq(tensor.Shape{ts[0], n}) || in[2].TotalSize() != 1 {
		return nil, shapeErr(op, fmt.Sprintf("want tex (B, C, %d), mask (B, %d) and a scalar gradient", n, n), in)
	}
	return ts.Clone(), nil
}

func (op pairLossGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	ts := in[0].Shape()
	return dispatch(out,
		func() {
			pairSums(op.of, data[float32](in[0]), data[float32](in[1]), ts[0], ts[1], data[float32](out), float64(data[float32](in[2])[0]))
		},
		func() {
			pairSums(op.of, data[float64](in[0]), data[float64](in[1]), ts[0], ts[1], data[float64](out), data[float64](in[2])[0])
		})
}
