package ops

import (
	"fmt"
	"hash"
	"iter"
	"math"
	"sync"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/kern"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Conv2D is a 2-D convolution (cross-correlation, as in every CNN library)
// with bias and an optional fused ReLU, NCHW:
//
//	z[b,o,i,j] = bias[o] + sum_{c,u,v} w[o,c,u,v] * x[b,c, i*s-p+u, j*s-p+v]
//	y = relu ? max(z, 0) : z
//
// x is (B,Cin,H,W), w is (Cout,Cin,k,k), bias is (Cout) or (1,Cout,1,1);
// reads outside the image are zero (padding p = pad on every side, stride
// s = stride). The output is (B,Cout,H',W') with H' = (H+2p-k)/s + 1 (integer
// division) and likewise W'.
//
// Each batch item is lowered with im2col into a (Cin*k*k, H'*W') matrix and
// multiplied by w viewed as (Cout, Cin*k*k) with one GEMM (gonum's blas32 /
// blas64, OpenBLAS with the openblas build tag); batch items are shared out
// one at a time to GOMAXPROCS workers, each with its own workspace kept in
// the op between calls, and dL/dw is reduced across the workers. Gradients, with G = dL/dy masked by y > 0 when relu is set:
//
//	dL/dx[b]  = col2im(w^T G[b])
//	dL/dw     = sum_b G[b] col(x[b])^T
//	dL/dbias  = sum_{b,i,j} G[b,:,i,j]
func Conv2D(x, w, b *gorgonia.Node, pad, stride int, relu bool) (*gorgonia.Node, error) {
	op, err := newConv("ops.Conv2D", x, w, b, pad, stride, relu)
	if err != nil {
		return nil, err
	}
	return applyConv(op, x, w, b)
}

// Conv2DNoInputGrad is Conv2D for a layer whose input x needs no gradient
// (the first layer of a network, reading the image): it declares x
// non-differentiable, so gorgonia.Grad builds no dL/dx (col2im) node for it.
// Gorgonia's Grad cannot tell by itself that no one wants dL/dx and would
// otherwise compute it on every step. Asking gorgonia.Grad for x's gradient
// through this op is an error.
func Conv2DNoInputGrad(x, w, b *gorgonia.Node, pad, stride int, relu bool) (*gorgonia.Node, error) {
	op, err := newConv("ops.Conv2DNoInputGrad", x, w, b, pad, stride, relu)
	if err != nil {
		return nil, err
	}
	op.noInputGrad = true
	return applyConv(op, x, w, b)
}

func applyConv(op convOp, x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	n, err := gorgonia.ApplyOp(op, x, w, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op.name(), err)
	}
	return n, nil
}

func newConv(name string, x, w, b *gorgonia.Node, pad, stride int, relu bool) (convOp, error) {
	if _, err := checkArgs(name, arg{"x", x}, arg{"w", w}, arg{"b", b}); err != nil {
		return convOp{}, err
	}
	if err := checkDims(name, arg{"x", x}, 4, "(B, Cin, H, W)"); err != nil {
		return convOp{}, err
	}
	if err := checkDims(name, arg{"w", w}, 4, "(Cout, Cin, k, k)"); err != nil {
		return convOp{}, err
	}
	xs, ws, bs := x.Shape(), w.Shape(), b.Shape()
	if ws[2] != ws[3] || ws[2] < 1 {
		return convOp{}, fmt.Errorf("%s: w must be (Cout, Cin, k, k) with a square kernel, got shape %s", name, shapeString(ws))
	}
	if ws[1] != xs[1] {
		return convOp{}, fmt.Errorf("%s: w has %d input channels (shape %s) but x has %d (shape %s)", name, ws[1], shapeString(ws), xs[1], shapeString(xs))
	}
	if !biasShapeOK(bs, ws[0]) {
		return convOp{}, fmt.Errorf("%s: b must have shape (%d) or (1, %d, 1, 1), got %s", name, ws[0], ws[0], shapeString(bs))
	}
	if pad < 0 {
		return convOp{}, fmt.Errorf("%s: pad = %d, want >= 0", name, pad)
	}
	if stride < 1 {
		return convOp{}, fmt.Errorf("%s: stride = %d, want >= 1", name, stride)
	}
	k := ws[2]
	if xs[2]+2*pad < k || xs[3]+2*pad < k {
		return convOp{}, fmt.Errorf("%s: x is %dx%d, padded by %d it is smaller than the %dx%d kernel", name, xs[2], xs[3], pad, k, k)
	}
	op := convOp{geom: convGeom{pad: pad, stride: stride, k: k, h: xs[2], w: xs[3], biasDims: len(bs)}, relu: relu, ws: &scratch{}}
	op.ws.direct = newDirect(op.geom, xs[1], ws[0])
	return op, nil
}

// direct holds the internal/kern convolutions of a float32 3x3, stride-1
// layer: the forward one and the one that computes dL/dx. They are used
// when the CPU has AVX2 or AVX-512 (kern.Active); otherwise, and for float64
// and other geometries, the layer uses im2col + GEMM.
//
// With AVX-512, the inference form of a layer (see ForInference) with
// padding 1, images at least 8 wide and at least 16 input channels runs
// with Winograd F(4x4,3x3) (kern.Wino) when the batch has enough 4x4 tiles
// for its GEMMs; the weights, transformed once, serve every later call.
// Training stays on the direct kernels, which round like a plain sum:
// Winograd's float32 rounding (~2e-5 of an output's rms, 8x the direct
// sum's) would flip ReLU and pooling choices near ties and move gradients
// by up to ~2e-3 through four layers, and its weights would have to be
// transformed again after every update.
type direct struct {
	fwd, gradX *kern.Conv3
	wino       *kern.Wino
}

// winoMinTiles is the least number of 4x4 output tiles in a batch for which
// a layer uses Winograd.
const winoMinTiles = 96

func newDirect(g convGeom, cin, cout int) *direct {
	if simd == kern.Generic || g.k != 3 || g.stride != 1 || g.pad > 2 {
		return nil
	}
	fwd, err := kern.NewConv3(simd, cin, cout, g.h, g.w, g.pad)
	if err != nil {
		return nil
	}
	gx, err := fwd.GradX()
	if err != nil {
		return nil
	}
	d := &direct{fwd: fwd, gradX: gx}
	if simd == kern.AVX512 && !kern.WinogradOff && g.pad == 1 && g.w >= 8 && g.h >= 8 && cin >= 16 {
		if wn, err := kern.NewWino(cin, cout, g.h, g.w, false); err == nil {
			d.wino = wn
		}
	}
	return d
}

// useWino reports whether the inference form should run a batch of b
// images with Winograd: enough tiles for its GEMMs, and a chunk for every
// core (Winograd shares out whole chunks; with fewer, the direct kernels,
// which split one image's tiles over the cores, are faster: conv2 of the
// small localiser at batch 1 is one chunk).
func (d *direct) useWino(b int) bool {
	if d.wino == nil || b*d.wino.Tiles() < winoMinTiles {
		return false
	}
	per := d.wino.ChunkImages()
	return (b+per-1)/per >= workpool.Workers(math.MaxInt32, workpool.Heavy)
}

// directForward runs c (the forward or the input-gradient convolution) on
// every image of x (b images) into y with packed weights. Images are shared
// out to the workers; with fewer images than twice the workers each image's
// tiles (and, when it has few tiles, its channel panels) are split too, so
// that a batch of one uses every core.
func directForward(c *kern.Conv3, b int, y, x, packed, bias []float32, relu bool) {
	in, out := c.Cin*c.H*c.W, c.Cout*c.Ho*c.Wo
	tiles, panels := c.Tiles(), c.Panels()
	tc, pc := 1, 1
	if w := workpool.Workers(b*tiles, c.TileWork()); b < 2*w {
		tc = min(tiles, (4*w+b-1)/b)
		if tiles < 2*w {
			pc = min(panels, (4*w+b*tc-1)/(b*tc))
		}
	}
	work := c.TileWork() * tiles / (tc * pc)
	workpool.For(b*tc*pc, work, func(i int) {
		bi, t, p := i/(tc*pc), i/pc%tc, i%pc
		c.ForwardPanels(y[bi*out:(bi+1)*out], x[bi*in:(bi+1)*in], packed, bias, relu,
			t*tiles/tc, (t+1)*tiles/tc, p*panels/pc, (p+1)*panels/pc)
	})
}

func biasShapeOK(bs tensor.Shape, cout int) bool {
	switch len(bs) {
	case 1:
		return bs[0] == cout
	case 4:
		return bs[0] == 1 && bs[1] == cout && bs[2] == 1 && bs[3] == 1
	}
	return false
}

// convGeom is the fixed geometry of one convolution layer.
type convGeom struct {
	pad, stride, k int
	h, w           int // input height and width
	biasDims       int // 1: bias (Cout); 4: bias (1,Cout,1,1)
}

func (g convGeom) outHW() (int, int) {
	return (g.h+2*g.pad-g.k)/g.stride + 1, (g.w+2*g.pad-g.k)/g.stride + 1
}

func (g convGeom) String() string {
	return fmt.Sprintf("k=%d pad=%d stride=%d in=%dx%d bias=%dD", g.k, g.pad, g.stride, g.h, g.w, g.biasDims)
}

// dims are the sizes of one call: batch, channels, K = Cin*k*k rows of the
// im2col matrix and N = H'*W' output pixels.
type convDims struct {
	b, cin, cout, ho, wo, kk, n int
}

func (g convGeom) dims(b, cin, cout int) convDims {
	ho, wo := g.outHW()
	return convDims{b: b, cin: cin, cout: cout, ho: ho, wo: wo, kk: cin * g.k * g.k, n: ho * wo}
}

// scratch is a free list of workspaces shared by a convolution's forward
// and backward ops. Buffers are taken for the duration of one call and
// returned, so after the first step nothing is allocated; the mutex keeps it
// safe when several machines run the same graph concurrently.
type scratch struct {
	mu  sync.Mutex
	f32 [][]float32
	f64 [][]float64
	// direct is the layer's kern convolutions (nil: im2col + GEMM).
	direct *direct
}

func scratchList[T float](s *scratch) *[][]T {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(&s.f32).(*[][]T)
	}
	return any(&s.f64).(*[][]T)
}

// take returns a buffer of length n (stale contents): the smallest free
// buffer that is large enough, or a new one.
func take[T float](s *scratch, n int) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := scratchList[T](s)
	best := -1
	for i, b := range *l {
		if cap(b) >= n && (best < 0 || cap(b) < cap((*l)[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]T, n)
	}
	b := (*l)[best]
	last := len(*l) - 1
	(*l)[best] = (*l)[last]
	(*l)[last] = nil
	*l = (*l)[:last]
	return b[:n]
}

// give returns buffers to the free list.
func give[T float](s *scratch, bufs ...[]T) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := scratchList[T](s)
	for _, b := range bufs {
		if b != nil {
			*l = append(*l, b)
		}
	}
}

// validCols returns the range [j0, j1) of output columns j whose input
// column j*stride - pad + kj lies inside [0, w).
func validCols(wo, w, pad, stride, kj int) (int, int) {
	j0 := 0
	if d := pad - kj; d > 0 {
		j0 = (d + stride - 1) / stride
	}
	j1 := (w + pad - kj + stride - 1) / stride
	j1 = min(max(j1, 0), wo)
	j0 = min(j0, j1)
	return j0, j1
}

// im2col fills col (Cin*k*k, H'*W') from one image x (Cin, H, W): row
// (c*k+u)*k+v, column i*W'+j holds x[c, i*s-p+u, j*s-p+v] (0 outside).
func im2col[T float](col, x []T, g convGeom, d convDims) {
	k, hw := g.k, g.h*g.w
	for c := 0; c < d.cin; c++ {
		img := x[c*hw : (c+1)*hw]
		for u := 0; u < k; u++ {
			for v := 0; v < k; v++ {
				r0 := ((c*k+u)*k + v) * d.n
				row := col[r0 : r0+d.n]
				j0, j1 := validCols(d.wo, g.w, g.pad, g.stride, v)
				off := v - g.pad
				for i := 0; i < d.ho; i++ {
					dst := row[i*d.wo : (i+1)*d.wo]
					r := i*g.stride - g.pad + u
					if r < 0 || r >= g.h {
						clear(dst)
						continue
					}
					src := img[r*g.w : (r+1)*g.w]
					clear(dst[:j0])
					clear(dst[j1:])
					if g.stride == 1 {
						copy(dst[j0:j1], src[j0+off:j1+off])
					} else {
						for j := j0; j < j1; j++ {
							dst[j] = src[j*g.stride+off]
						}
					}
				}
			}
		}
	}
}

// col2im adds col (Cin*k*k, H'*W') back into one image gradient dx (Cin, H,
// W), the adjoint of im2col. dx must be zeroed by the caller.
func col2im[T float](dx, col []T, g convGeom, d convDims) {
	k, hw := g.k, g.h*g.w
	for c := 0; c < d.cin; c++ {
		img := dx[c*hw : (c+1)*hw]
		for u := 0; u < k; u++ {
			for v := 0; v < k; v++ {
				r0 := ((c*k+u)*k + v) * d.n
				row := col[r0 : r0+d.n]
				j0, j1 := validCols(d.wo, g.w, g.pad, g.stride, v)
				if j0 >= j1 {
					continue
				}
				off := v - g.pad
				for i := 0; i < d.ho; i++ {
					r := i*g.stride - g.pad + u
					if r < 0 || r >= g.h {
						continue
					}
					dst := img[r*g.w : (r+1)*g.w]
					src := row[i*d.wo : (i+1)*d.wo]
					if g.stride == 1 {
						dd := dst[j0+off : j1+off]
						ss := src[j0:j1]
						for t := range dd {
							dd[t] += ss[t]
						}
					} else {
						for j := j0; j < j1; j++ {
							dst[j*g.stride+off] += src[j]
						}
					}
				}
			}
		}
	}
}

// work is the number of multiply-adds of one batch item, the cost hint for
// the worker pool. Batch loops use workpool.Each: each worker takes its
// scratch buffers once and ranges over the batch items it is handed, one
// at a time from a shared counter.
func (d convDims) work() int { return d.cout * d.kk * d.n }

func convForward[T float](s *scratch, g convGeom, d convDims, relu bool, out, x, w, bias []T) {
	inSize, outSize := d.cin*g.h*g.w, d.cout*d.n
	workpool.Each(d.b, d.work(), func(items iter.Seq[int]) {
		col := take[T](s, d.kk*d.n)
		defer give(s, col)
		for bi := range items {
			o := out[bi*outSize : (bi+1)*outSize]
			im2col(col, x[bi*inSize:(bi+1)*inSize], g, d)
			convGemm(s, false, false, d.cout, d.n, d.kk, 1, w, d.kk, col, d.n, 0, o, d.n)
			for c := 0; c < d.cout; c++ {
				oc := o[c*d.n : (c+1)*d.n]
				bv := bias[c]
				if relu {
					for i, v := range oc {
						oc[i] = max(v+bv, 0)
					}
				} else {
					for i := range oc {
						oc[i] += bv
					}
				}
			}
		}
	})
}

// reluMask sets dst[i] = g[i] where y[i] > 0 and 0 elsewhere, without
// branches (a data-dependent branch mispredicts half the time on ReLU
// outputs): the mask is all ones exactly when y's bit pattern is non-zero
// with a clear sign bit, i.e. y > 0 for every non-NaN y.
func reluMask[T float](dst, g, y []T) {
	switch d := any(dst).(type) {
	case []float32:
		reluMask32(d, any(g).([]float32), any(y).([]float32))
	case []float64:
		reluMask64(d, any(g).([]float64), any(y).([]float64))
	}
}

func reluMask32(dst, g, y []float32) {
	dst, y = dst[:len(g)], y[:len(g)]
	for i, v := range g {
		yb := math.Float32bits(y[i])
		m := uint32(int32(yb|-yb)>>31) &^ uint32(int32(yb)>>31)
		dst[i] = math.Float32frombits(math.Float32bits(v) & m)
	}
}

func reluMask64(dst, g, y []float64) {
	dst, y = dst[:len(g)], y[:len(g)]
	for i, v := range g {
		yb := math.Float64bits(y[i])
		m := uint64(int64(yb|-yb)>>63) &^ uint64(int64(yb)>>63)
		dst[i] = math.Float64frombits(math.Float64bits(v) & m)
	}
}

func convGradX[T float](s *scratch, g convGeom, d convDims, dx, w, gy []T) {
	inSize, outSize := d.cin*g.h*g.w, d.cout*d.n
	workpool.Each(d.b, d.work(), func(items iter.Seq[int]) {
		dcol := take[T](s, d.kk*d.n)
		defer give(s, dcol)
		for bi := range items {
			convGemm(s, true, false, d.kk, d.n, d.cout, 1, w, d.kk, gy[bi*outSize:(bi+1)*outSize], d.n, 0, dcol, d.n)
			dxb := dx[bi*inSize : (bi+1)*inSize]
			clear(dxb)
			col2im(dxb, dcol, g, d)
		}
	})
}

// gradWChunks is the number of fixed batch slices whose dL/dw partial sums
// convGradW adds in slice order. A fixed split (not one partial per worker,
// filled first come first served) makes the sum, and so training,
// bit-reproducible from run to run and across a resume.
const gradWChunks = 4

func convGradW[T float](s *scratch, g convGeom, d convDims, dw, x, gy []T) {
	inSize, outSize := d.cin*g.h*g.w, d.cout*d.n
	chunks := min(d.b, gradWChunks)
	size := d.cout * d.kk
	parts := take[T](s, chunks*size)
	defer give(s, parts)
	workpool.Each(chunks, d.work()*((d.b+chunks-1)/chunks), func(items iter.Seq[int]) {
		col := take[T](s, d.kk*d.n)
		defer give(s, col)
		for c := range items {
			part := parts[c*size : (c+1)*size]
			for bi := c * d.b / chunks; bi < (c+1)*d.b/chunks; bi++ {
				gb := gy[bi*outSize : (bi+1)*outSize]
				im2col(col, x[bi*inSize:(bi+1)*inSize], g, d)
				beta := T(1)
				if bi == c*d.b/chunks {
					beta = 0
				}
				convGemm(s, false, true, d.cout, d.kk, d.n, 1, gb, d.n, col, d.n, beta, part, d.kk)
			}
		}
	})
	copy(dw, parts[:size])
	for c := 1; c < chunks; c++ {
		for i, v := range parts[c*size : (c+1)*size] {
			dw[i] += v
		}
	}
}

func convGradB[T float](d convDims, db, gy []T) {
	l := simd
	g32, f32 := any(gy).([]float32)
	workpool.Chunks(d.cout, d.b*d.n, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			var sum T
			for bi := 0; bi < d.b; bi++ {
				off := (bi*d.cout + c) * d.n
				if f32 && l == kern.AVX512 {
					sum += T(kern.Sum(l, g32[off:off+d.n]))
					continue
				}
				for _, v := range gy[off : off+d.n] {
					sum += v
				}
			}
			db[c] = sum
		}
	})
}

// convOp: (x (B,Cin,H,W), w (Cout,Cin,k,k), b) -> y (B,Cout,H',W').
type convOp struct {
	plain
	geom        convGeom
	relu        bool
	noInputGrad bool
	ws          *scratch // workspaces, shared with the backward ops
	// inference marks the form a forward-only machine runs (ForInference):
	// it may use Winograd.
	inference bool
}

// ForInference returns the form of the op for a machine that computes no
// gradients: the same function, possibly rounded differently (Winograd
// where it pays). The graph keeps the op itself.
func (op convOp) ForInference() gorgonia.Op {
	op.inference = true
	return op
}

func (op convOp) name() string {
	if op.noInputGrad {
		return "ops.Conv2DNoInputGrad"
	}
	return "ops.Conv2D"
}

func (op convOp) Arity() int    { return 3 }
func (op convOp) Type() hm.Type { return fnType(4, 4, 4, op.geom.biasDims) }
func (op convOp) String() string {
	return fmt.Sprintf("Conv2D{%v relu=%t noInputGrad=%t}", op.geom, op.relu, op.noInputGrad)
}
func (op convOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op convOp) Hashcode() uint32      { return hashOf(op) }
func (op convOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op convOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op convOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op convOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	x, w, b := in[0], in[1], in[2]
	if len(x) != 4 || len(w) != 4 || x[1] != w[1] || x[2] != op.geom.h || x[3] != op.geom.w || w[2] != op.geom.k || w[3] != op.geom.k || !biasShapeOK(b, w[0]) || len(b) != op.geom.biasDims {
		return nil, shapeErr(op, fmt.Sprintf("want x (B, C, %d, %d), w (Cout, C, %d, %d), b (Cout)", op.geom.h, op.geom.w, op.geom.k, op.geom.k), in)
	}
	ho, wo := op.geom.outHW()
	return tensor.Shape{x[0], w[0], ho, wo}, nil
}

func (op convOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	xs, ws := in[0].Shape(), in[1].Shape()
	d := op.geom.dims(xs[0], xs[1], ws[0])
	return dispatch(out,
		func() {
			if dc := op.ws.direct; dc != nil && op.inference && dc.useWino(d.b) {
				dc.wino.Forward(data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), d.b, op.relu)
				return
			}
			if dc := op.ws.direct; dc != nil {
				c := dc.fwd
				directForward(c, d.b, data[float32](out), data[float32](in[0]), c.Packed(data[float32](in[1]), false), data[float32](in[2]), op.relu)
				return
			}
			convForward(op.ws, op.geom, d, op.relu, data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]))
		},
		func() {
			convForward(op.ws, op.geom, d, op.relu, data[float64](out), data[float64](in[0]), data[float64](in[1]), data[float64](in[2]))
		})
}

func (op convOp) DiffWRT(inputs int) []bool { return []bool{!op.noInputGrad, true, true} }

func (op convOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 3", op, len(inputs))
	}
	x, w := inputs[0], inputs[1]
	// With the fused ReLU, G is masked by y > 0 once (reluGradOp) and the
	// three gradients below read the masked G. When y feeds only a 2x2 max
	// pool, G is that pool's gradient node: the mask is then folded into a
	// second pool gradient that reads y once (and the first one, unused,
	// is left out by a machine that runs only what its roots need).
	if op.relu {
		var err error
		if pg := poolGradOf(output, grad); pg != nil {
			if grad, err = gorgonia.ApplyOp(maxPoolGradOp{relu: true}, output, pg); err != nil {
				return nil, fmt.Errorf("%v: pool and ReLU gradient: %w", op, err)
			}
		} else if grad, err = gorgonia.ApplyOp(reluGradOp{}, grad, output); err != nil {
			return nil, fmt.Errorf("%v: ReLU gradient: %w", op, err)
		}
	}
	grads := make(gorgonia.Nodes, 3)
	var err error
	if !op.noInputGrad {
		gx := convGradXOp{geom: op.geom, ws: op.ws}
		if grads[0], err = gorgonia.ApplyOp(gx, w, grad); err != nil {
			return nil, fmt.Errorf("%v: gradient x: %w", op, err)
		}
	}
	gw := convGradWOp{geom: op.geom, ws: op.ws}
	if grads[1], err = gorgonia.ApplyOp(gw, x, grad); err != nil {
		return nil, fmt.Errorf("%v: gradient w: %w", op, err)
	}
	gb := convGradBOp{geom: op.geom}
	if grads[2], err = gorgonia.ApplyOp(gb, grad); err != nil {
		return nil, fmt.Errorf("%v: gradient b: %w", op, err)
	}
	return grads, nil
}

// poolGradOf returns the pool's output gradient when grad is a plain
// MaxPool2x2 gradient with respect to y, else nil.
func poolGradOf(y, grad *gorgonia.Node) *gorgonia.Node {
	if op, ok := grad.Op().(maxPoolGradOp); !ok || op.relu {
		return nil
	}
	var in []*gorgonia.Node
	for it := grad.Graph().From(grad.ID()); it.Next(); {
		in = append(in, it.Node().(*gorgonia.Node))
	}
	if len(in) != 2 || in[0] != y {
		return nil
	}
	return in[1]
}

// reluGradOp: (G, y) -> G * [y > 0], the backward of a ReLU given its
// output y (the subgradient at 0 is 0), computed once per fused conv.
type reluGradOp struct{ plain }

func (op reluGradOp) Arity() int            { return 2 }
func (op reluGradOp) Type() hm.Type         { return fnType(4, 4, 4) }
func (op reluGradOp) String() string        { return "ReLUGrad" }
func (op reluGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op reluGradOp) Hashcode() uint32      { return hashOf(op) }
func (op reluGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op reluGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op reluGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op reluGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if len(in[0]) != 4 || !in[0].Eq(in[1]) {
		return nil, shapeErr(op, "want G and y of one 4-D shape", in)
	}
	return in[0].Clone(), nil
}

func (op reluGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	const chunk = 1 << 14
	n := in[0].Shape().TotalSize()
	masked := func(dst, g, y any) {
		workpool.Chunks((n+chunk-1)/chunk, chunk, func(lo, hi int) {
			a, b := lo*chunk, min(hi*chunk, n)
			switch d := dst.(type) {
			case []float32:
				if l := simd; l == kern.AVX512 {
					kern.ReluMask(l, d[a:b], g.([]float32)[a:b], y.([]float32)[a:b])
					return
				}
				reluMask32(d[a:b], g.([]float32)[a:b], y.([]float32)[a:b])
			case []float64:
				reluMask64(d[a:b], g.([]float64)[a:b], y.([]float64)[a:b])
			}
		})
	}
	return dispatch(out,
		func() { masked(data[float32](out), data[float32](in[0]), data[float32](in[1])) },
		func() { masked(data[float64](out), data[float64](in[0]), data[float64](in[1])) })
}

// convGradXOp: (w, G) -> dL/dx (B,Cin,H,W), G the (ReLU-masked) output
// gradient.
type convGradXOp struct {
	plain
	geom convGeom
	ws   *scratch
}

func (op convGradXOp) Arity() int            { return 2 }
func (op convGradXOp) Type() hm.Type         { return fnType(4, 4, 4) }
func (op convGradXOp) String() string        { return fmt.Sprintf("Conv2DGradX{%v}", op.geom) }
func (op convGradXOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op convGradXOp) Hashcode() uint32      { return hashOf(op) }
func (op convGradXOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op convGradXOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op convGradXOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op convGradXOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := checkGradShapes(op, op.geom, in[0], in[1], in); err != nil {
		return nil, err
	}
	return tensor.Shape{in[1][0], in[0][1], op.geom.h, op.geom.w}, nil
}

// checkGradShapes checks w (or nil) against G of a backward op.
func checkGradShapes(op fmt.Stringer, g convGeom, w, gy tensor.Shape, all []tensor.Shape) error {
	ho, wo := g.outHW()
	if len(gy) != 4 || gy[2] != ho || gy[3] != wo {
		return shapeErr(op, fmt.Sprintf("want G (B, Cout, %d, %d)", ho, wo), all)
	}
	if w != nil && (len(w) != 4 || w[0] != gy[1] || w[2] != g.k || w[3] != g.k) {
		return shapeErr(op, fmt.Sprintf("want w (Cout, Cin, %d, %d)", g.k, g.k), all)
	}
	return nil
}

func (op convGradXOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	ws, gs := in[0].Shape(), in[1].Shape()
	d := op.geom.dims(gs[0], ws[1], ws[0])
	return dispatch(out,
		func() {
			if dc := op.ws.direct; dc != nil {
				c := dc.gradX
				directForward(c, d.b, data[float32](out), data[float32](in[1]), c.Packed(data[float32](in[0]), true), nil, false)
				return
			}
			convGradX(op.ws, op.geom, d, data[float32](out), data[float32](in[0]), data[float32](in[1]))
		},
		func() {
			convGradX(op.ws, op.geom, d, data[float64](out), data[float64](in[0]), data[float64](in[1]))
		})
}

// convGradWOp: (x, G) -> dL/dw (Cout,Cin,k,k).
type convGradWOp struct {
	plain
	geom convGeom
	ws   *scratch
}

func (op convGradWOp) Arity() int            { return 2 }
func (op convGradWOp) Type() hm.Type         { return fnType(4, 4, 4) }
func (op convGradWOp) String() string        { return fmt.Sprintf("Conv2DGradW{%v}", op.geom) }
func (op convGradWOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op convGradWOp) Hashcode() uint32      { return hashOf(op) }
func (op convGradWOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op convGradWOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op convGradWOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op convGradWOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := checkGradShapes(op, op.geom, nil, in[1], in); err != nil {
		return nil, err
	}
	x := in[0]
	if len(x) != 4 || x[0] != in[1][0] || x[2] != op.geom.h || x[3] != op.geom.w {
		return nil, shapeErr(op, fmt.Sprintf("want x (B, Cin, %d, %d)", op.geom.h, op.geom.w), in)
	}
	return tensor.Shape{in[1][1], x[1], op.geom.k, op.geom.k}, nil
}

func (op convGradWOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	xs, gs := in[0].Shape(), in[1].Shape()
	d := op.geom.dims(xs[0], xs[1], gs[1])
	return dispatch(out,
		func() {
			if dc := op.ws.direct; dc != nil {
				dc.fwd.GradW(data[float32](out), data[float32](in[0]), data[float32](in[1]), d.b)
				return
			}
			convGradW(op.ws, op.geom, d, data[float32](out), data[float32](in[0]), data[float32](in[1]))
		},
		func() {
			convGradW(op.ws, op.geom, d, data[float64](out), data[float64](in[0]), data[float64](in[1]))
		})
}

// convGradBOp: G -> dL/db, the sum of G over batch and space.
type convGradBOp struct {
	plain
	geom convGeom
}

func (op convGradBOp) Arity() int            { return 1 }
func (op convGradBOp) Type() hm.Type         { return fnType(op.geom.biasDims, 4) }
func (op convGradBOp) String() string        { return fmt.Sprintf("Conv2DGradB{%v}", op.geom) }
func (op convGradBOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op convGradBOp) Hashcode() uint32      { return hashOf(op) }
func (op convGradBOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op convGradBOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op convGradBOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op convGradBOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	if err := checkGradShapes(op, op.geom, nil, in[0], in); err != nil {
		return nil, err
	}
	if op.geom.biasDims == 4 {
		return tensor.Shape{1, in[0][1], 1, 1}, nil
	}
	return tensor.Shape{in[0][1]}, nil
}

func (op convGradBOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	gs := in[0].Shape()
	d := op.geom.dims(gs[0], 0, gs[1])
	return dispatch(out,
		func() { convGradB(d, data[float32](out), data[float32](in[0])) },
		func() { convGradB(d, data[float64](out), data[float64](in[0])) })
}
