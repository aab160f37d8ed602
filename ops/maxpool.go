package ops

import (
	"fmt"
	"hash"
	"math"
	"unsafe"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/kern"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2x2 is 2x2 max pooling with stride 2 on NCHW tensors:
//
//	y[b,c,i,j] = max(x[b,c,2i,2j], x[b,c,2i,2j+1], x[b,c,2i+1,2j], x[b,c,2i+1,2j+1])
//
// x is (B,C,H,W) with H and W even; y is (B,C,H/2,W/2). The gradient routes
// dL/dy[b,c,i,j] to the argmax of its window (the first maximum in the order
// listed above on ties, +0 and -0 counting as equal) and zero elsewhere; a
// window holding a NaN passes no gradient. The backward op finds the argmax
// again from x with the same comparison instead of keeping indices from the
// forward pass, so the op holds no state between calls and the same graph
// may run on several machines at once; the cost is one read of x.
func MaxPool2x2(x *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.MaxPool2x2"
	if _, err := checkArgs(name, arg{"x", x}); err != nil {
		return nil, err
	}
	if err := checkDims(name, arg{"x", x}, 4, "(B, C, H, W)"); err != nil {
		return nil, err
	}
	s := x.Shape()
	if s[2]%2 != 0 || s[3]%2 != 0 || s[2] == 0 || s[3] == 0 {
		return nil, fmt.Errorf("%s: x must have even, non-zero H and W, got shape %s", name, shapeString(s))
	}
	n, err := gorgonia.ApplyOp(maxPoolOp{}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func maxPoolKernel[T float](out, x []T, planes, h, w int) {
	ho, wo := h/2, w/2
	workpool.Chunks(planes, h*w, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x[p*h*w : (p+1)*h*w]
			dst := out[p*ho*wo : (p+1)*ho*wo]
			for i := 0; i < ho; i++ {
				r0 := src[2*i*w : (2*i+1)*w]
				r1 := src[(2*i+1)*w : (2*i+2)*w]
				d := dst[i*wo : (i+1)*wo]
				for j := range d {
					d[j] = max(max(r0[2*j], r0[2*j+1]), max(r1[2*j], r1[2*j+1]))
				}
			}
		}
	})
}

// maxPoolGradKernel routes gy to the first maximum of each window. It is
// branch-free (the argmax of random data mispredicts most of the time):
// eqMask(v, m) is all ones when v - m is +0 or -0, i.e. v equals the
// window maximum m, and the first-match masks select where gy goes. U is the
// unsigned integer type of T's size (uint32 for float32, uint64 for float64).
func maxPoolGradKernel[T float, U uint32 | uint64](dx, x, gy []T, planes, h, w int, relu bool) {
	ho, wo := h/2, w/2
	workpool.Chunks(planes, h*w, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x[p*h*w : (p+1)*h*w]
			dst := dx[p*h*w : (p+1)*h*w]
			g := gy[p*ho*wo : (p+1)*ho*wo]
			for i := 0; i < ho; i++ {
				r0 := src[2*i*w : (2*i+1)*w]
				r1 := src[(2*i+1)*w : (2*i+2)*w]
				d0 := dst[2*i*w : (2*i+1)*w]
				d1 := dst[(2*i+1)*w : (2*i+2)*w]
				gr := g[i*wo : (i+1)*wo]
				for j, gv := range gr {
					a, b, c, e := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
					m := max(max(a, b), max(c, e))
					if relu && !(m > 0) {
						m = T(math.NaN()) // no gradient: the ReLU below is off
					}
					k0 := eqMask[T, U](a, m)
					k1 := eqMask[T, U](b, m) &^ k0
					k2 := eqMask[T, U](c, m) &^ (k0 | k1)
					k3 := eqMask[T, U](e, m) &^ (k0 | k1 | k2)
					d0[2*j], d0[2*j+1] = andBits(gv, k0), andBits(gv, k1)
					d1[2*j], d1[2*j+1] = andBits(gv, k2), andBits(gv, k3)
				}
			}
		}
	})
}

// eqMask is all ones when v - m is +0 or -0 (v equals m) and 0 otherwise.
func eqMask[T float, U uint32 | uint64](v, m T) U {
	d := v - m
	z := *(*U)(unsafe.Pointer(&d)) << 1 // drop the sign: -0 == +0
	shift := unsafe.Sizeof(z)*8 - 1
	return ((z | -z) >> shift) - 1 // 0 - 1 = all ones when z == 0
}

// andBits returns g with its bit pattern ANDed with mask (g or +0).
func andBits[T float, U uint32 | uint64](g T, mask U) T {
	b := *(*U)(unsafe.Pointer(&g)) & mask
	return *(*T)(unsafe.Pointer(&b))
}

func poolDims(s tensor.Shape) (planes, h, w int, ok bool) {
	if len(s) != 4 || s[2]%2 != 0 || s[3]%2 != 0 || s[2] == 0 || s[3] == 0 {
		return 0, 0, 0, false
	}
	return s[0] * s[1], s[2], s[3], true
}

// maxPoolOp: x (B,C,H,W) -> y (B,C,H/2,W/2).
type maxPoolOp struct{ plain }

func (op maxPoolOp) Arity() int            { return 1 }
func (op maxPoolOp) Type() hm.Type         { return fnType(4, 4) }
func (op maxPoolOp) String() string        { return "MaxPool2x2" }
func (op maxPoolOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op maxPoolOp) Hashcode() uint32      { return hashOf(op) }
func (op maxPoolOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op maxPoolOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op maxPoolOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op maxPoolOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if _, _, _, ok := poolDims(s); !ok {
		return nil, shapeErr(op, "want x (B, C, H, W) with even H and W", in)
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}

func (op maxPoolOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	p, h, w, _ := poolDims(in[0].Shape())
	return dispatch(out,
		func() {
			if l := simd; l == kern.AVX512 {
				// Rows of consecutive planes are consecutive rows.
				o, x := data[float32](out), data[float32](in[0])
				workpool.Chunks(p*h/2, 2*w, func(lo, hi int) {
					kern.MaxPool2x2(l, o[lo*w/2:hi*w/2], x[lo*2*w:hi*2*w], hi-lo, w)
				})
				return
			}
			maxPoolKernel(data[float32](out), data[float32](in[0]), p, h, w)
		},
		func() { maxPoolKernel(data[float64](out), data[float64](in[0]), p, h, w) })
}

func (op maxPoolOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op maxPoolOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 1", op, len(inputs))
	}
	g, err := gorgonia.ApplyOp(maxPoolGradOp{}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}

// maxPoolGradOp: (x (B,C,H,W), G (B,C,H/2,W/2)) -> dL/dx (B,C,H,W). With
// relu, x is the output of a ReLU and the result is the gradient with
// respect to the ReLU's input (Conv2D's SymDiff fuses the two this way):
// a window whose maximum is not > 0 passes nothing.
type maxPoolGradOp struct {
	plain
	relu bool
}

func (op maxPoolGradOp) Arity() int    { return 2 }
func (op maxPoolGradOp) Type() hm.Type { return fnType(4, 4, 4) }
func (op maxPoolGradOp) String() string {
	if op.relu {
		return "MaxPool2x2ReLUGrad"
	}
	return "MaxPool2x2Grad"
}
func (op maxPoolGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op maxPoolGradOp) Hashcode() uint32      { return hashOf(op) }
func (op maxPoolGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op maxPoolGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op maxPoolGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op maxPoolGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	x, g := in[0], in[1]
	if _, _, _, ok := poolDims(x); !ok || len(g) != 4 || g[0] != x[0] || g[1] != x[1] || g[2] != x[2]/2 || g[3] != x[3]/2 {
		return nil, shapeErr(op, "want x (B, C, H, W) with even H and W and G (B, C, H/2, W/2)", in)
	}
	return x.Clone(), nil
}

func (op maxPoolGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	p, h, w, _ := poolDims(in[0].Shape())
	return dispatch(out,
		func() {
			if l := simd; l == kern.AVX512 {
				dx, x, g := data[float32](out), data[float32](in[0]), data[float32](in[1])
				workpool.Chunks(p*h/2, 4*w, func(lo, hi int) {
					kern.MaxPool2x2Grad(l, dx[lo*2*w:hi*2*w], x[lo*2*w:hi*2*w], g[lo*w/2:hi*w/2], hi-lo, w, op.relu)
				})
				return
			}
			maxPoolGradKernel[float32, uint32](data[float32](out), data[float32](in[0]), data[float32](in[1]), p, h, w, op.relu)
		},
		func() {
			maxPoolGradKernel[float64, uint64](data[float64](out), data[float64](in[0]), data[float64](in[1]), p, h, w, op.relu)
		})
}
