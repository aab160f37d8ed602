package ops

import (
	"fmt"
	"hash"
	"math"
	"strings"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Standardize shifts and scales each channel of an image batch x (B, C,
// ...): y[b,c,...] = (x[b,c,...] - mean[c]) * scale, the input
// normalisation in front of a localiser's first convolution (for images in
// [0, 1], mean 0.5 and scale 2 map them to [-1, 1]). len(mean) must be C;
// mean and scale are finite, scale > 0. Gradient: dL/dx = scale * G.
//
// It is one pass writing a buffer the machine reuses, where Gorgonia's
// BroadcastSub and Mul allocate two image-sized tensors per run; the
// arithmetic, (x - m) then * s in x's precision, is the same.
func Standardize(x *gorgonia.Node, mean []float64, scale float64) (*gorgonia.Node, error) {
	const name = "ops.Standardize"
	if _, err := checkArgs(name, arg{"x", x}); err != nil {
		return nil, err
	}
	s := x.Shape()
	if len(s) < 2 || s[1] != len(mean) {
		return nil, fmt.Errorf("%s: x must be (B, C, ...) with C = %d means, got shape %s", name, len(mean), shapeString(s))
	}
	for c, m := range mean {
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return nil, fmt.Errorf("%s: mean[%d] = %v, want a finite number", name, c, m)
		}
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		return nil, fmt.Errorf("%s: scale = %v, want a finite number > 0", name, scale)
	}
	n, err := gorgonia.ApplyOp(standardizeOp{mean: append([]float64(nil), mean...), scale: scale}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// standardizeKernel writes out = (x - mean[c]) * scale over planes of plane
// values, channel c = plane index mod len(mean).
func standardizeKernel[T float](out, x []T, mean []float64, scale float64, plane int) {
	c, s := len(mean), T(scale)
	workpool.Chunks(len(x)/plane, plane, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			m := T(mean[p%c])
			src, dst := x[p*plane:(p+1)*plane], out[p*plane:(p+1)*plane]
			for i, v := range src {
				dst[i] = (v - m) * s
			}
		}
	})
}

// scaleKernel writes out = g * scale.
func scaleKernel[T float](out, g []T, scale float64) {
	s := T(scale)
	for i, v := range g {
		out[i] = v * s
	}
}

// standardizeOp: x (B, C, ...) -> (x - mean[c]) * scale.
type standardizeOp struct {
	plain
	mean  []float64
	scale float64
}

func (op standardizeOp) Arity() int    { return 1 }
func (op standardizeOp) Type() hm.Type { return sameType() }
func (op standardizeOp) String() string {
	m := make([]string, len(op.mean))
	for i, v := range op.mean {
		m[i] = formatFloat(v)
	}
	return "Standardize{mean=" + strings.Join(m, ",") + ",scale=" + formatFloat(op.scale) + "}"
}
func (op standardizeOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op standardizeOp) Hashcode() uint32      { return hashOf(op) }
func (op standardizeOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op standardizeOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op standardizeOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op standardizeOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) < 2 || s[1] != len(op.mean) {
		return nil, shapeErr(op, fmt.Sprintf("want (B, %d, ...)", len(op.mean)), in)
	}
	return s.Clone(), nil
}

func (op standardizeOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	plane := s[2:].TotalSize()
	if len(s) == 2 {
		plane = 1
	}
	if plane == 0 || s.TotalSize() == 0 {
		return nil
	}
	return dispatch(out,
		func() { standardizeKernel(data[float32](out), data[float32](in[0]), op.mean, op.scale, plane) },
		func() { standardizeKernel(data[float64](out), data[float64](in[0]), op.mean, op.scale, plane) })
}

func (op standardizeOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op standardizeOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	g, err := gorgonia.ApplyOp(scaleOp{scale: op.scale}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}

// scaleOp: G -> G * scale (Standardize's gradient).
type scaleOp struct {
	plain
	scale float64
}

func (op scaleOp) Arity() int            { return 1 }
func (op scaleOp) Type() hm.Type         { return sameType() }
func (op scaleOp) String() string        { return "Scale{" + formatFloat(op.scale) + "}" }
func (op scaleOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op scaleOp) Hashcode() uint32      { return hashOf(op) }
func (op scaleOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op scaleOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op scaleOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}
func (op scaleOp) outShape(in []tensor.Shape) (tensor.Shape, error) { return in[0].Clone(), nil }
func (op scaleOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	return dispatch(out,
		func() { scaleKernel(data[float32](out), data[float32](in[0]), op.scale) },
		func() { scaleKernel(data[float64](out), data[float64](in[0]), op.scale) })
}
