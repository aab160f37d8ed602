package ops

import (
	"fmt"
	"hash"
	"hash/fnv"
	"strings"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/kern"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// float is the element type every kernel is written for once.
type float interface{ float32 | float64 }

// typeA is the type variable used by every op signature: all inputs and the
// output of an op share one element type (float32 or float64).
var typeA = hm.TypeVariable('a')

// tensorType returns the Gorgonia type of a dims-D tensor of typeA.
func tensorType(dims int) hm.Type { return gorgonia.TensorType{Dims: dims, Of: typeA} }

// fnType builds the op type argDims[0] -> ... -> argDims[n-1] -> retDims.
func fnType(retDims int, argDims ...int) hm.Type {
	ts := make([]hm.Type, 0, len(argDims)+1)
	for _, d := range argDims {
		ts = append(ts, tensorType(d))
	}
	ts = append(ts, tensorType(retDims))
	return hm.NewFnType(ts...)
}

// sameType is the type a -> a of shape-agnostic unary ops.
func sameType() hm.Type { return hm.NewFnType(typeA, typeA) }

// hashOf is the Hashcode of an op: FNV-1a over its WriteHash bytes.
func hashOf(op gorgonia.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// writeString writes s to h (hash.Hash writes never fail).
func writeString(h hash.Hash, s string) { _, _ = h.Write([]byte(s)) }

// shapeString formats a shape as (a, b, c).
func shapeString(s tensor.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// arg names one constructor argument for error messages.
type arg struct {
	name string
	node *gorgonia.Node
}

// checkArgs verifies that every node is non-nil, float32 or float64, and that
// all share one dtype. It returns that dtype.
func checkArgs(op string, args ...arg) (tensor.Dtype, error) {
	var dt tensor.Dtype
	for i, a := range args {
		if a.node == nil {
			return dt, fmt.Errorf("%s: %s is nil", op, a.name)
		}
		d := a.node.Dtype()
		if d != tensor.Float32 && d != tensor.Float64 {
			return dt, fmt.Errorf("%s: %s has dtype %v, want float32 or float64", op, a.name, d)
		}
		if i == 0 {
			dt = d
		} else if d != dt {
			return dt, fmt.Errorf("%s: %s has dtype %v but %s has %v; all inputs must share one dtype", op, a.name, d, args[0].name, dt)
		}
	}
	return dt, nil
}

// checkDims verifies that a node has the given number of dimensions.
func checkDims(op string, a arg, dims int, layout string) error {
	s := a.node.Shape()
	if len(s) != dims {
		return fmt.Errorf("%s: %s must be a %d-D tensor %s, got shape %s", op, a.name, dims, layout, shapeString(s))
	}
	return nil
}

// kernel is implemented by every op of this package (forward and backward):
// outShape validates the input shapes and returns the output shape; exec fills
// out (which may hold stale values) from the inputs. All inputs and out share
// one dtype, float32 or float64.
type kernel interface {
	gorgonia.Op
	outShape(in []tensor.Shape) (tensor.Shape, error)
	exec(out *tensor.Dense, in []*tensor.Dense) error
}

// inferShape adapts kernel.outShape to gorgonia's InferShape.
func inferShape(k kernel, in []gorgonia.DimSizer) (tensor.Shape, error) {
	if len(in) != k.Arity() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", k, len(in), k.Arity())
	}
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("%v: input %d has no known shape (%T)", k, i, d)
		}
		shapes[i] = s
	}
	return k.outShape(shapes)
}

// run executes a kernel on Gorgonia values, writing into prealloc when it
// has the right shape and dtype and allocating a new tensor otherwise.
func run(k kernel, prealloc gorgonia.Value, vals []gorgonia.Value) (gorgonia.Value, error) {
	if len(vals) != k.Arity() {
		return nil, fmt.Errorf("%v: got %d inputs, want %d", k, len(vals), k.Arity())
	}
	var in [4]*tensor.Dense
	var shapes [4]tensor.Shape
	var dt tensor.Dtype
	for i, v := range vals {
		d, ok := v.(*tensor.Dense)
		if !ok {
			// Gorgonia hands a batch-of-one slice over as a scalar value;
			// treat it as a one-element vector.
			switch x := v.(type) {
			case *gorgonia.F32:
				d, ok = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{float32(*x)})), true
			case *gorgonia.F64:
				d, ok = tensor.New(tensor.WithShape(1), tensor.WithBacking([]float64{float64(*x)})), true
			}
		}
		if !ok {
			return nil, fmt.Errorf("%v: input %d is a %T, want *tensor.Dense", k, i, v)
		}
		if d.IsView() {
			m, ok := d.Materialize().(*tensor.Dense)
			if !ok {
				return nil, fmt.Errorf("%v: input %d: cannot materialise view", k, i)
			}
			d = m
		}
		if i == 0 {
			dt = d.Dtype()
			if dt != tensor.Float32 && dt != tensor.Float64 {
				return nil, fmt.Errorf("%v: input 0 has dtype %v, want float32 or float64", k, dt)
			}
		} else if d.Dtype() != dt {
			return nil, fmt.Errorf("%v: input %d has dtype %v, input 0 has %v", k, i, d.Dtype(), dt)
		}
		in[i] = d
		shapes[i] = d.Shape()
	}
	n := len(vals)
	shape, err := k.outShape(shapes[:n])
	if err != nil {
		return nil, err
	}
	var out *tensor.Dense
	if p, ok := prealloc.(*tensor.Dense); ok && p.Dtype() == dt && p.Shape().Eq(shape) && !p.IsView() {
		out = p
	} else {
		out = tensor.New(tensor.WithShape(shape...), tensor.Of(dt))
	}
	if err := k.exec(out, in[:n]); err != nil {
		return nil, err
	}
	return out, nil
}

// data returns the backing slice of a dense tensor of element type T.
func data[T float](d *tensor.Dense) []T { return d.Data().([]T) }

// dispatch calls f32 or f64 depending on the dtype of out.
func dispatch(out *tensor.Dense, f32, f64 func()) error {
	switch out.Dtype() {
	case tensor.Float32:
		f32()
	case tensor.Float64:
		f64()
	default:
		return fmt.Errorf("ops: unsupported dtype %v", out.Dtype())
	}
	return nil
}

// shapeErr formats a runtime shape mismatch.
func shapeErr(op fmt.Stringer, what string, in []tensor.Shape) error {
	parts := make([]string, len(in))
	for i, s := range in {
		parts[i] = shapeString(s)
	}
	return fmt.Errorf("%v: %s; input shapes %s", op, what, strings.Join(parts, ", "))
}

// plain provides the Op methods that are the same for every op here: ops
// return fresh values (or write a preallocated one), call no external code,
// and never overwrite an input.
type plain struct{}

// Fresh is implemented by every op of this package (forward and backward).
// UsePreallocDo writes the whole output into the given tensor whenever it
// has the output's shape and dtype and is not a view, whatever it holds, and
// returns it; no output ever shares memory with an input. A machine can
// therefore plan one buffer per output, reuse it across runs and share it
// with outputs whose lifetimes do not overlap (graph's machine does).
type Fresh interface {
	gorgonia.Op
	gorgonia.UsePreallocDoer
	FreshOutput()
}

// FreshOutput marks the op as Fresh.
func (plain) FreshOutput() {}

// Inferencer is implemented by ops with a faster form for machines that
// compute no gradients (graph's predict and fit machines): ForInference
// returns it. It computes the same function with possibly different
// rounding; it is Fresh when the op is.
type Inferencer interface {
	ForInference() gorgonia.Op
}

func (plain) ReturnsPtr() bool     { return false }
func (plain) CallsExtern() bool    { return false }
func (plain) OverwritesInput() int { return -1 }

// simd is the internal/kern level of this package's float32 kernels: the
// CPU's (kern.Active), fixed when an op is built for the convolutions. Tests
// lower it to run every level the machine has.
var simd = kern.Active()
