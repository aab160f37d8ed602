package ops

import (
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/kern"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FuseConvPool returns one op computing MaxPool2x2(Conv2D(x, w, b)) for a
// Conv2D op and a MaxPool2x2 op (ok is false for any other pair), for a
// machine that computes no gradients and whose graph reads the convolution's
// output only through the pool: the convolution (in its inference form) is
// computed an image, or a Winograd chunk of images, at a time into a
// per-worker buffer that stays in cache, and pooled from there, so the
// full-size activation is never written to memory nor kept.
func FuseConvPool(conv, pool gorgonia.Op) (gorgonia.Op, bool) {
	return fuseConvPool(conv, pool, fuseMinPixels)
}

// fuseConvPool is FuseConvPool with the size threshold as a parameter.
func fuseConvPool(conv, pool gorgonia.Op, minPixels int) (gorgonia.Op, bool) {
	c, ok := conv.(convOp)
	if _, isPool := pool.(maxPoolOp); !ok || !isPool {
		return nil, false
	}
	ho, wo := c.geom.outHW()
	if ho%2 != 0 || wo%2 != 0 || ho == 0 || wo == 0 || ho*wo < minPixels {
		return nil, false
	}
	c.inference = true
	return convPoolOp{conv: c}, true
}

// fuseMinPixels is the smallest convolution output (pixels per channel)
// fused: below it the activation is small enough to stay in cache anyway
// and the unfused convolution keeps its batch-wide Winograd pass. (Small
// model at B64, 2 cores: fusing conv1-conv3 took 788-850 faces/s to
// 918-986; fusing conv4, 14x14, as well measured the same.)
const fuseMinPixels = 28 * 28

// convPoolOp: (x, w, b) -> MaxPool2x2(Conv2D(x, w, b)).
type convPoolOp struct {
	plain
	conv convOp
}

func (op convPoolOp) Arity() int            { return 3 }
func (op convPoolOp) Type() hm.Type         { return op.conv.Type() }
func (op convPoolOp) String() string        { return "ConvPool{" + op.conv.String() + "}" }
func (op convPoolOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op convPoolOp) Hashcode() uint32      { return hashOf(op) }
func (op convPoolOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op convPoolOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op convPoolOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op convPoolOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s, err := op.conv.outShape(in)
	if err != nil {
		return nil, err
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}

func (op convPoolOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	xs, ws := in[0].Shape(), in[1].Shape()
	d := op.conv.geom.dims(xs[0], xs[1], ws[0])
	if dc := op.conv.ws.direct; dc != nil && out.Dtype() == tensor.Float32 {
		op.fused(dc, d, data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]))
		return nil
	}
	// Elsewhere (float64, other geometries): the two ops one after the other.
	shape, err := op.conv.outShape([]tensor.Shape{xs, ws, in[2].Shape()})
	if err != nil {
		return err
	}
	y := tensor.New(tensor.WithShape(shape...), tensor.Of(out.Dtype()))
	if err := op.conv.exec(y, in); err != nil {
		return err
	}
	return maxPoolOp{}.exec(out, []*tensor.Dense{y})
}

// fused runs the float32 layer: units of images (a Winograd chunk, or one
// image) on the workers, each convolved into the worker's buffer and
// pooled; a batch smaller than twice the workers convolves each image on
// all of them instead.
func (op convPoolOp) fused(dc *direct, d convDims, out, x, w, bias []float32) {
	g := op.conv.geom
	in, conv, pooled := d.cin*g.h*g.w, d.cout*d.n, d.cout*d.n/4
	pool := func(dst, src []float32, imgs int) {
		rows := imgs * d.cout * d.ho / 2
		if simd == kern.AVX512 {
			kern.MaxPool2x2(simd, dst, src, rows, d.wo)
			return
		}
		maxPoolKernel(dst, src, imgs*d.cout, d.ho, d.wo)
	}
	if dc.useWino(d.b) {
		per := dc.wino.ChunkImages()
		workpool.For((d.b+per-1)/per, per*d.work(), func(ch int) {
			b0, b1 := ch*per, min(d.b, (ch+1)*per)
			buf := take[float32](op.conv.ws, (b1-b0)*conv)
			dc.wino.Forward(buf, x[b0*in:b1*in], w, bias, b1-b0, op.conv.relu)
			pool(out[b0*pooled:b1*pooled], buf, b1-b0)
			give(op.conv.ws, buf)
		})
		return
	}
	c := dc.fwd
	packed := c.Packed(w, false)
	if d.b >= 2*workpool.Workers(d.b, d.work()) {
		workpool.For(d.b, d.work(), func(bi int) {
			buf := take[float32](op.conv.ws, conv)
			c.Forward(buf, x[bi*in:(bi+1)*in], packed, bias, op.conv.relu, 0, c.Tiles())
			pool(out[bi*pooled:(bi+1)*pooled], buf, 1)
			give(op.conv.ws, buf)
		})
		return
	}
	buf := take[float32](op.conv.ws, conv)
	defer give(op.conv.ws, buf)
	for bi := 0; bi < d.b; bi++ {
		directForward(c, 1, buf, x[bi*in:(bi+1)*in], packed, bias, op.conv.relu)
		o := out[bi*pooled : (bi+1)*pooled]
		rows := d.cout * d.ho / 2
		workpool.Chunks(rows, 2*d.wo, func(lo, hi int) {
			if simd == kern.AVX512 {
				kern.MaxPool2x2(simd, o[lo*d.wo/2:hi*d.wo/2], buf[lo*2*d.wo:hi*2*d.wo], hi-lo, d.wo)
				return
			}
			maxPoolKernel(o[lo*d.wo/2:hi*d.wo/2], buf[lo*2*d.wo:hi*2*d.wo], hi-lo, 2, d.wo)
		})
	}
}
