package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// MaxPool2x2 is 2x2 max pooling with stride 2 on NCHW tensors:
//
//	y[b,c,i,j] = max(x[b,c,2i,2j], x[b,c,2i,2j+1], x[b,c,2i+1,2j], x[b,c,2i+1,2j+1])
//
// x is (B,C,H,W) with H and W even; y is (B,C,H/2,W/2). The gradient routes
// dL/dy[b,c,i,j] to the argmax of its window (the first maximum in the order
// listed above on ties) and zero elsewhere. The backward op finds the argmax
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

// argmax4 returns the index 0..3 of the first maximum of a, b, c, d.
func argmax4[T float](a, b, c, d T) int {
	k, m := 0, a
	if b > m {
		k, m = 1, b
	}
	if c > m {
		k, m = 2, c
	}
	if d > m {
		k = 3
	}
	return k
}

func maxPoolKernel[T float](out, x []T, planes, h, w int) {
	ho, wo := h/2, w/2
	parallelFor(planes, h*w, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			src := x[p*h*w : (p+1)*h*w]
			dst := out[p*ho*wo : (p+1)*ho*wo]
			for i := 0; i < ho; i++ {
				r0 := src[2*i*w : (2*i+1)*w]
				r1 := src[(2*i+1)*w : (2*i+2)*w]
				d := dst[i*wo : (i+1)*wo]
				for j := range d {
					a, b, c, e := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
					m := a
					if b > m {
						m = b
					}
					if c > m {
						m = c
					}
					if e > m {
						m = e
					}
					d[j] = m
				}
			}
		}
	})
}

func maxPoolGradKernel[T float](dx, x, gy []T, planes, h, w int) {
	ho, wo := h/2, w/2
	parallelFor(planes, h*w, func(lo, hi int) {
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
					d0[2*j], d0[2*j+1], d1[2*j], d1[2*j+1] = 0, 0, 0, 0
					switch argmax4(r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]) {
					case 0:
						d0[2*j] = gv
					case 1:
						d0[2*j+1] = gv
					case 2:
						d1[2*j] = gv
					default:
						d1[2*j+1] = gv
					}
				}
			}
		}
	})
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
		func() { maxPoolKernel(data[float32](out), data[float32](in[0]), p, h, w) },
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

// maxPoolGradOp: (x (B,C,H,W), G (B,C,H/2,W/2)) -> dL/dx (B,C,H,W).
type maxPoolGradOp struct{ plain }

func (op maxPoolGradOp) Arity() int            { return 2 }
func (op maxPoolGradOp) Type() hm.Type         { return fnType(4, 4, 4) }
func (op maxPoolGradOp) String() string        { return "MaxPool2x2Grad" }
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
		func() { maxPoolGradKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), p, h, w) },
		func() { maxPoolGradKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), p, h, w) })
}
