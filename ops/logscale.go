package ops

import (
	"fmt"
	"hash"
	"math"
	"strconv"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LogScale maps a log-scale parameter to a scale, elementwise: s = base^x
// (Bas et al. 2017, Sec. 3.1: s = exp(log s), i.e. base = math.E; the
// reference MatConvNet code uses base = 0.99). base must be positive and
// finite. Gradient: dL/dx = G * s * ln(base). x may have any shape.
func LogScale(x *gorgonia.Node, base float64) (*gorgonia.Node, error) {
	const name = "ops.LogScale"
	if _, err := checkArgs(name, arg{"x", x}); err != nil {
		return nil, err
	}
	if !(base > 0) || math.IsInf(base, 0) {
		return nil, fmt.Errorf("%s: base = %v, want a positive finite number", name, base)
	}
	n, err := gorgonia.ApplyOp(logScaleOp{base: base}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func logScaleKernel[T float](out, x []T, base float64) {
	if base == math.E {
		for i, v := range x {
			out[i] = T(math.Exp(float64(v)))
		}
		return
	}
	for i, v := range x {
		out[i] = T(math.Pow(base, float64(v)))
	}
}

func logScaleGradKernel[T float](out, s, g []T, lnBase float64) {
	l := T(lnBase)
	for i, v := range s {
		out[i] = g[i] * v * l
	}
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// logScaleOp: x -> base^x elementwise.
type logScaleOp struct {
	plain
	base float64
}

func (op logScaleOp) Arity() int            { return 1 }
func (op logScaleOp) Type() hm.Type         { return sameType() }
func (op logScaleOp) String() string        { return "LogScale{base=" + formatFloat(op.base) + "}" }
func (op logScaleOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op logScaleOp) Hashcode() uint32      { return hashOf(op) }
func (op logScaleOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op logScaleOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op logScaleOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op logScaleOp) outShape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }

func (op logScaleOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	return dispatch(out,
		func() { logScaleKernel(data[float32](out), data[float32](in[0]), op.base) },
		func() { logScaleKernel(data[float64](out), data[float64](in[0]), op.base) })
}

func (op logScaleOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op logScaleOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(logScaleGradOp{lnBase: math.Log(op.base)}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}

// logScaleGradOp: (s, G) -> G * s * ln(base).
type logScaleGradOp struct {
	plain
	lnBase float64
}

func (op logScaleGradOp) Arity() int    { return 2 }
func (op logScaleGradOp) Type() hm.Type { return hm.NewFnType(typeA, typeA, typeA) }
func (op logScaleGradOp) String() string {
	return "LogScaleGrad{lnbase=" + formatFloat(op.lnBase) + "}"
}
func (op logScaleGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op logScaleGradOp) Hashcode() uint32      { return hashOf(op) }
func (op logScaleGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op logScaleGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op logScaleGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op logScaleGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if !in[0].Eq(in[1]) {
		return nil, shapeErr(op, "want s and grad of one shape", in)
	}
	return in[0].Clone(), nil
}

func (op logScaleGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	return dispatch(out,
		func() { logScaleGradKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), op.lnBase) },
		func() { logScaleGradKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), op.lnBase) })
}
