package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SoftmaxCrossEntropy is the identity loss of a classifier: logits z (B,K)
// and target distributions t (B,K) (one-hot rows for labelled images, zero
// rows for unlabelled ones) give the mean cross-entropy over the labelled
// rows,
//
//	L = - sum_b sum_k t_bk log p_bk / N,   p_b = softmax(z_b),
//	N = max(sum_b sum_k t_bk, 1),
//
// computed with the log-sum-exp shift (p is never formed in the forward
// pass, so no log(0)). The result has shape (1). Gradient:
// dL/dz_bk = G (p_bk m_b - t_bk) / N with m_b = sum_k t_bk; the target gets
// none (DiffWRT {true, false}).
func SoftmaxCrossEntropy(logits, target *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.SoftmaxCrossEntropy"
	al, at := arg{"logits", logits}, arg{"target", target}
	if _, err := checkArgs(name, al, at); err != nil {
		return nil, err
	}
	if err := checkDims(name, al, 2, "(B,K)"); err != nil {
		return nil, err
	}
	if !logits.Shape().Eq(target.Shape()) {
		return nil, fmt.Errorf("%s: target shape %s differs from logits shape %s", name, shapeString(target.Shape()), shapeString(logits.Shape()))
	}
	n, err := gorgonia.ApplyOp(softmaxCEOp{}, logits, target)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// logSumExp returns log sum_k exp(z_k) computed in float64 with the max
// shift.
func logSumExp[T float](z []T) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range z {
		s += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(s)
}

// softmaxCEKernel writes the loss into out[0].
func softmaxCEKernel[T float](out, z, t []T, b, k int) {
	var loss, mass float64
	for i := 0; i < b; i++ {
		zr, tr := z[i*k:(i+1)*k], t[i*k:(i+1)*k]
		var m float64
		for _, v := range tr {
			m += float64(v)
		}
		if m == 0 {
			continue
		}
		lse := logSumExp(zr)
		for j, v := range tr {
			if v != 0 {
				loss -= float64(v) * (float64(zr[j]) - lse)
			}
		}
		mass += m
	}
	out[0] = T(loss / math.Max(mass, 1))
}

// softmaxCEGradKernel writes dL/dz = G (p m_b - t) / N into out.
func softmaxCEGradKernel[T float](out, z, t, g []T, b, k int) {
	var mass float64
	for _, v := range t {
		mass += float64(v)
	}
	scale := float64(g[0]) / math.Max(mass, 1)
	for i := 0; i < b; i++ {
		zr, tr, or := z[i*k:(i+1)*k], t[i*k:(i+1)*k], out[i*k:(i+1)*k]
		var m float64
		for _, v := range tr {
			m += float64(v)
		}
		if m == 0 {
			clear(or)
			continue
		}
		lse := logSumExp(zr)
		for j := range or {
			p := math.Exp(float64(zr[j]) - lse)
			or[j] = T(scale * (p*m - float64(tr[j])))
		}
	}
}

// softmaxCEOp: (z, t) -> L, shape (1).
type softmaxCEOp struct{ plain }

func (op softmaxCEOp) Arity() int            { return 2 }
func (op softmaxCEOp) Type() hm.Type         { return fnType(1, 2, 2) }
func (op softmaxCEOp) String() string        { return "SoftmaxCrossEntropy" }
func (op softmaxCEOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op softmaxCEOp) Hashcode() uint32      { return hashOf(op) }
func (op softmaxCEOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op softmaxCEOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op softmaxCEOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op softmaxCEOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 2 || !in[0].Eq(in[1]) {
		return nil, shapeErr(op, "want logits and target of one (B,K) shape", in)
	}
	return tensor.Shape{1}, nil
}

func (op softmaxCEOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b, k := in[0].Shape()[0], in[0].Shape()[1]
	return dispatch(out,
		func() { softmaxCEKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), b, k) },
		func() { softmaxCEKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), b, k) })
}

func (op softmaxCEOp) DiffWRT(inputs int) []bool { return []bool{true, false} }

func (op softmaxCEOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(softmaxCEGradOp{}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g, nil}, nil
}

// softmaxCEGradOp: (z, t, G) -> dL/dz.
type softmaxCEGradOp struct{ plain }

func (op softmaxCEGradOp) Arity() int            { return 3 }
func (op softmaxCEGradOp) Type() hm.Type         { return fnType(2, 2, 2, 1) }
func (op softmaxCEGradOp) String() string        { return "SoftmaxCrossEntropyGrad" }
func (op softmaxCEGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op softmaxCEGradOp) Hashcode() uint32      { return hashOf(op) }
func (op softmaxCEGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op softmaxCEGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, nil, in)
}
func (op softmaxCEGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op softmaxCEGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 2 || !in[0].Eq(in[1]) || in[2].TotalSize() != 1 {
		return nil, shapeErr(op, "want logits and target of one (B,K) shape and a one-element gradient", in)
	}
	return in[0].Clone(), nil
}

func (op softmaxCEGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b, k := in[0].Shape()[0], in[0].Shape()[1]
	return dispatch(out,
		func() {
			softmaxCEGradKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), b, k)
		},
		func() {
			softmaxCEGradKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), b, k)
		})
}
