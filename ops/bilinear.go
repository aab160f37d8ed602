package ops

import (
	"fmt"
	"hash"
	"math"
	"runtime"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BilinearSample samples img (B,C,H,W) at the points pts (B,N,2) and returns
// the sampled values (B,C,N): the sampler of the spatial transformer (Bas et
// al. 2017, Sec. 3.2, after Jaderberg et al. 2015).
//
// pts[b,n] = (x, y) in pixels: x = column, y = row, (0,0) = the centre of the
// top-left pixel. The value at (x, y) is
//
//	V = sum over the 4 taps (xi, yi) in {x0, x0+1} x {y0, y0+1} of
//	    (1 - |x - xi|)(1 - |y - yi|) I[yi, xi],   x0 = floor(x), y0 = floor(y),
//
// where each tap outside the image contributes 0 (PyTorch's grid_sample with
// align_corners=True and padding_mode="zeros"). Gradients flow to img and to
// pts; at integer coordinates the gradient with respect to pts is the
// one-sided (right) derivative, since floor selects the cell to the right.
func BilinearSample(img, pts *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.BilinearSample"
	ai, ap := arg{"img", img}, arg{"pts", pts}
	if _, err := checkArgs(name, ai, ap); err != nil {
		return nil, err
	}
	if err := checkDims(name, ai, 4, "(B,C,H,W)"); err != nil {
		return nil, err
	}
	if err := checkDims(name, ap, 3, "(B,N,2)"); err != nil {
		return nil, err
	}
	is, ps := img.Shape(), pts.Shape()
	if ps[2] != 2 {
		return nil, fmt.Errorf("%s: pts must have shape (B,N,2), got %s", name, shapeString(ps))
	}
	if ps[0] != is[0] {
		return nil, fmt.Errorf("%s: batch sizes differ: img %s, pts %s", name, shapeString(is), shapeString(ps))
	}
	n, err := gorgonia.ApplyOp(bilinearOp{}, img, pts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// taps holds the four bilinear taps of one sample point: flat offsets into
// an H*W plane (0 for taps outside the image), inside-masks m (0 or 1), and
// the fractional parts fx, fy. Tap order: (y0,x0), (y0,x1), (y1,x0), (y1,x1).
type taps[T float] struct {
	off    [4]int
	m      [4]T
	fx, fy T
}

// bilinearTaps computes the taps of (x, y) in an H x W image.
func bilinearTaps[T float](x, y T, h, w int) (t taps[T]) {
	// Points with x < -1, x >= W (likewise y) or NaN touch no pixel, in
	// value and in right-sided derivative. x = -1 is kept: its value is 0
	// but its right-sided derivative sees the pixel at column 0.
	if !(x >= -1 && x < T(w) && y >= -1 && y < T(h)) {
		return t
	}
	x0 := math.Floor(float64(x))
	y0 := math.Floor(float64(y))
	t.fx = x - T(x0)
	t.fy = y - T(y0)
	ix, iy := int(x0), int(y0)
	inX0, inX1 := ix >= 0, ix+1 < w
	inY0, inY1 := iy >= 0, iy+1 < h
	if inY0 && inX0 {
		t.off[0], t.m[0] = iy*w+ix, 1
	}
	if inY0 && inX1 {
		t.off[1], t.m[1] = iy*w+ix+1, 1
	}
	if inY1 && inX0 {
		t.off[2], t.m[2] = (iy+1)*w+ix, 1
	}
	if inY1 && inX1 {
		t.off[3], t.m[3] = (iy+1)*w+ix+1, 1
	}
	return t
}

// weights returns the masked bilinear weights of the four taps.
func (t *taps[T]) weights() [4]T {
	gx, gy := 1-t.fx, 1-t.fy
	return [4]T{t.m[0] * gx * gy, t.m[1] * t.fx * gy, t.m[2] * gx * t.fy, t.m[3] * t.fx * t.fy}
}

func bilinearForward[T float](out, img, pts []T, b, c, h, w, n int) {
	plane := h * w
	workpool.Chunks(b*n, 8*c+16, func(lo, hi int) {
		bi, ni := lo/n, lo%n
		src := img[bi*c*plane : (bi+1)*c*plane]
		dst := out[bi*c*n : (bi+1)*c*n]
		for i := lo; i < hi; i, ni = i+1, ni+1 {
			if ni == n {
				bi, ni = bi+1, 0
				src = img[bi*c*plane : (bi+1)*c*plane]
				dst = out[bi*c*n : (bi+1)*c*n]
			}
			x, y := pts[2*i], pts[2*i+1]
			// Fast path: all four taps inside the image (x, y >= 0, so
			// truncation is floor). The sum is the general path's, term
			// for term, with every mask 1: the same bits.
			if x >= 0 && y >= 0 && x < T(w-1) && y < T(h-1) {
				ix, iy := int(x), int(y)
				fx, fy := x-T(ix), y-T(iy)
				gx, gy := 1-fx, 1-fy
				w0, w1, w2, w3 := gx*gy, fx*gy, gx*fy, fx*fy
				off := iy*w + ix
				for ci := 0; ci < c; ci++ {
					p := src[ci*plane+off : ci*plane+off+w+2]
					dst[ci*n+ni] = w0*p[0] + w1*p[1] + w2*p[w] + w3*p[w+1]
				}
				continue
			}
			t := bilinearTaps(x, y, h, w)
			wt := t.weights()
			for ci := 0; ci < c; ci++ {
				p := src[ci*plane : (ci+1)*plane]
				dst[ci*n+ni] = wt[0]*p[t.off[0]] + wt[1]*p[t.off[1]] + wt[2]*p[t.off[2]] + wt[3]*p[t.off[3]]
			}
		}
	})
}

// bilinearImgGrad scatters g (B,C,N) back onto the image planes (B,C,H,W).
// With at least as many items as CPUs each worker owns whole batch items and
// computes every point's taps once for all channels; otherwise (small B)
// workers own single (b, c) planes.
func bilinearImgGrad[T float](out, pts, g []T, b, c, h, w, n int) {
	if b >= runtime.GOMAXPROCS(0) {
		bilinearImgGradItems(out, pts, g, b, c, h, w, n)
	} else {
		bilinearImgGradPlanes(out, pts, g, b, c, h, w, n)
	}
}

// bilinearImgGradItems parallelises bilinearImgGrad over batch items.
func bilinearImgGradItems[T float](out, pts, g []T, b, c, h, w, n int) {
	plane := h * w
	workpool.Chunks(b, (16+4*c)*n+c*plane, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			o := out[bi*c*plane : (bi+1)*c*plane]
			clear(o)
			gb := g[bi*c*n : (bi+1)*c*n]
			p := pts[bi*n*2 : (bi+1)*n*2]
			for ni := 0; ni < n; ni++ {
				t := bilinearTaps(p[2*ni], p[2*ni+1], h, w)
				wt := t.weights()
				for ci := 0; ci < c; ci++ {
					gv := gb[ci*n+ni]
					oc := o[ci*plane : (ci+1)*plane]
					oc[t.off[0]] += wt[0] * gv
					oc[t.off[1]] += wt[1] * gv
					oc[t.off[2]] += wt[2] * gv
					oc[t.off[3]] += wt[3] * gv
				}
			}
		}
	})
}

// bilinearImgGradPlanes parallelises bilinearImgGrad over (b, c) planes.
func bilinearImgGradPlanes[T float](out, pts, g []T, b, c, h, w, n int) {
	plane := h * w
	workpool.Chunks(b*c, 16*n+plane, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			bi := j / c
			o := out[j*plane : (j+1)*plane]
			clear(o)
			gj := g[j*n : (j+1)*n]
			p := pts[bi*n*2 : (bi+1)*n*2]
			for ni, gv := range gj {
				t := bilinearTaps(p[2*ni], p[2*ni+1], h, w)
				wt := t.weights()
				o[t.off[0]] += wt[0] * gv
				o[t.off[1]] += wt[1] * gv
				o[t.off[2]] += wt[2] * gv
				o[t.off[3]] += wt[3] * gv
			}
		}
	})
}

// bilinearPtsGrad computes dL/dpts (B,N,2) from img and g = dL/dout.
func bilinearPtsGrad[T float](out, img, pts, g []T, b, c, h, w, n int) {
	plane := h * w
	workpool.Chunks(b*n, 12*c+16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			bi := i / n
			ni := i - bi*n
			t := bilinearTaps(pts[2*i], pts[2*i+1], h, w)
			gx, gy := 1-t.fx, 1-t.fy
			var sx, sy T
			for ci := 0; ci < c; ci++ {
				p := img[(bi*c+ci)*plane : (bi*c+ci+1)*plane]
				v0 := t.m[0] * p[t.off[0]]
				v1 := t.m[1] * p[t.off[1]]
				v2 := t.m[2] * p[t.off[2]]
				v3 := t.m[3] * p[t.off[3]]
				gv := g[(bi*c+ci)*n+ni]
				sx += gv * (gy*(v1-v0) + t.fy*(v3-v2))
				sy += gv * (gx*(v2-v0) + t.fx*(v3-v1))
			}
			out[2*i] = sx
			out[2*i+1] = sy
		}
	})
}

// bilinearOp: (img (B,C,H,W), pts (B,N,2)) -> (B,C,N).
type bilinearOp struct{ plain }

func (op bilinearOp) Arity() int            { return 2 }
func (op bilinearOp) Type() hm.Type         { return fnType(3, 4, 3) }
func (op bilinearOp) String() string        { return "BilinearSample" }
func (op bilinearOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op bilinearOp) Hashcode() uint32      { return hashOf(op) }
func (op bilinearOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op bilinearOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op bilinearOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op bilinearOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	is, ps := in[0], in[1]
	if len(is) != 4 || len(ps) != 3 || ps[2] != 2 || ps[0] != is[0] {
		return nil, shapeErr(op, "want img (B,C,H,W) and pts (B,N,2)", in)
	}
	return tensor.Shape{is[0], is[1], ps[1]}, nil
}

func (op bilinearOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s, n := in[0].Shape(), in[1].Shape()[1]
	return dispatch(out,
		func() {
			bilinearForward(data[float32](out), data[float32](in[0]), data[float32](in[1]), s[0], s[1], s[2], s[3], n)
		},
		func() {
			bilinearForward(data[float64](out), data[float64](in[0]), data[float64](in[1]), s[0], s[1], s[2], s[3], n)
		})
}

func (op bilinearOp) DiffWRT(inputs int) []bool { return []bool{true, true} }

func (op bilinearOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 2", op, len(inputs))
	}
	img, pts := inputs[0], inputs[1]
	s := img.Shape()
	gImg, err := gorgonia.ApplyOp(bilinearImgGradOp{h: s[2], w: s[3]}, pts, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt img: %w", op, err)
	}
	gPts, err := gorgonia.ApplyOp(bilinearPtsGradOp{}, img, pts, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt pts: %w", op, err)
	}
	return gorgonia.Nodes{gImg, gPts}, nil
}

// bilinearImgGradOp: (pts (B,N,2), g (B,C,N)) -> dL/dimg (B,C,H,W).
type bilinearImgGradOp struct {
	plain
	h, w int
}

func (op bilinearImgGradOp) Arity() int    { return 2 }
func (op bilinearImgGradOp) Type() hm.Type { return fnType(4, 3, 3) }
func (op bilinearImgGradOp) String() string {
	return fmt.Sprintf("BilinearSampleImgGrad{h=%d,w=%d}", op.h, op.w)
}
func (op bilinearImgGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op bilinearImgGradOp) Hashcode() uint32      { return hashOf(op) }
func (op bilinearImgGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op bilinearImgGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op bilinearImgGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op bilinearImgGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	ps, gs := in[0], in[1]
	if len(ps) != 3 || ps[2] != 2 || len(gs) != 3 || gs[0] != ps[0] || gs[2] != ps[1] {
		return nil, shapeErr(op, "want pts (B,N,2) and grad (B,C,N)", in)
	}
	return tensor.Shape{ps[0], gs[1], op.h, op.w}, nil
}

func (op bilinearImgGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	gs := in[1].Shape()
	b, c, n := gs[0], gs[1], gs[2]
	return dispatch(out,
		func() {
			bilinearImgGrad(data[float32](out), data[float32](in[0]), data[float32](in[1]), b, c, op.h, op.w, n)
		},
		func() {
			bilinearImgGrad(data[float64](out), data[float64](in[0]), data[float64](in[1]), b, c, op.h, op.w, n)
		})
}

// bilinearPtsGradOp: (img (B,C,H,W), pts (B,N,2), g (B,C,N)) -> dL/dpts (B,N,2).
type bilinearPtsGradOp struct{ plain }

func (op bilinearPtsGradOp) Arity() int            { return 3 }
func (op bilinearPtsGradOp) Type() hm.Type         { return fnType(3, 4, 3, 3) }
func (op bilinearPtsGradOp) String() string        { return "BilinearSamplePtsGrad" }
func (op bilinearPtsGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op bilinearPtsGradOp) Hashcode() uint32      { return hashOf(op) }
func (op bilinearPtsGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op bilinearPtsGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op bilinearPtsGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op bilinearPtsGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	is, ps, gs := in[0], in[1], in[2]
	if len(is) != 4 || len(ps) != 3 || ps[2] != 2 || ps[0] != is[0] || !gs.Eq(tensor.Shape{is[0], is[1], ps[1]}) {
		return nil, shapeErr(op, "want img (B,C,H,W), pts (B,N,2), grad (B,C,N)", in)
	}
	return ps.Clone(), nil
}

func (op bilinearPtsGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s, n := in[0].Shape(), in[1].Shape()[1]
	return dispatch(out,
		func() {
			bilinearPtsGrad(data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), s[0], s[1], s[2], s[3], n)
		},
		func() {
			bilinearPtsGrad(data[float64](out), data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), s[0], s[1], s[2], s[3], n)
		})
}
