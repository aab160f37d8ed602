package detect

import (
	"errors"
	"fmt"
	"image"
	"math"
)

// rgb is an image as interleaved float32 R, G, B in [0, 1], row-major.
type rgb struct {
	w, h int
	pix  []float32 // 3*w*h
}

func newRGB(w, h int) *rgb { return &rgb{w: w, h: h, pix: make([]float32, 3*w*h)} }

// resize makes m w x h, reusing its buffer when large enough.
func (m *rgb) resize(w, h int) {
	m.w, m.h = w, h
	if cap(m.pix) < 3*w*h {
		m.pix = make([]float32, 3*w*h)
	}
	m.pix = m.pix[:3*w*h]
}

// maxImagePixels bounds the images the detector accepts (the decoders of
// package dataset apply their own, larger or equal, limit first).
const maxImagePixels = 64 << 20

// toRGB converts img into dst (resized), reading 8-bit channel values
// (premultiplied, as image.Image's RGBA) scaled to [0, 1].
func toRGB(dst *rgb, img image.Image) error {
	if img == nil {
		return errors.New("detect: nil image")
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 {
		return fmt.Errorf("detect: image is %dx%d, want at least 1x1", w, h)
	}
	if int64(w)*int64(h) > maxImagePixels {
		return fmt.Errorf("detect: image is %dx%d (%d pixels), more than the %d the detector accepts", w, h, int64(w)*int64(h), maxImagePixels)
	}
	dst.resize(w, h)
	const k = 1.0 / 255
	switch im := img.(type) {
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := im.Pix[im.PixOffset(b.Min.X, b.Min.Y+y):]
			out := dst.pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				out[3*x] = float32(row[4*x]) * k
				out[3*x+1] = float32(row[4*x+1]) * k
				out[3*x+2] = float32(row[4*x+2]) * k
			}
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			out := dst.pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				c := im.YCbCrAt(b.Min.X+x, b.Min.Y+y)
				r, g, bb, _ := c.RGBA()
				out[3*x], out[3*x+1], out[3*x+2] = float32(r>>8)*k, float32(g>>8)*k, float32(bb>>8)*k
			}
		}
	default:
		for y := 0; y < h; y++ {
			out := dst.pix[3*y*w : 3*(y+1)*w]
			for x := 0; x < w; x++ {
				r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				out[3*x], out[3*x+1], out[3*x+2] = float32(r>>8)*k, float32(g>>8)*k, float32(bb>>8)*k
			}
		}
	}
	return nil
}

// halve writes the 2x2 box average of src into dst (floor(w/2) x floor(h/2)).
func halve(dst, src *rgb) {
	w, h := src.w/2, src.h/2
	dst.resize(w, h)
	for y := 0; y < h; y++ {
		r0 := src.pix[3*(2*y)*src.w:]
		r1 := src.pix[3*(2*y+1)*src.w:]
		out := dst.pix[3*y*w : 3*(y+1)*w]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				i := 6*x + c
				out[3*x+c] = 0.25 * (r0[i] + r0[i+3] + r1[i] + r1[i+3])
			}
		}
	}
}

// mipChain is an image and its successive 2x2 box-filtered halvings down to
// a side of at least minSide.
type mipChain struct {
	levels []*rgb
}

// build fills the chain from levels[0] (already set) down to minSide.
func (c *mipChain) build(minSide int) {
	n := 1
	for {
		top := c.levels[n-1]
		if top.w/2 < minSide || top.h/2 < minSide {
			break
		}
		if len(c.levels) <= n {
			c.levels = append(c.levels, &rgb{})
		}
		halve(c.levels[n], top)
		n++
	}
	c.levels = c.levels[:n]
}

// sample writes into dst (w x h) the image seen through the map
// dst pixel (x, y) -> source pixel ((x - ox)/f, (y - oy)/f): a scale f and
// an offset (ox, oy) in destination pixels. It reads the mip level whose
// scale is the smallest at least f (so downscaling is prefiltered by box
// averages) bilinearly; destination pixels that map outside the source
// are left as they are. It returns the destination rectangle [x0,x1)x[y0,y1)
// that was written.
func (c *mipChain) sample(dst *rgb, f, ox, oy float64) (x0, y0, x1, y1 int) {
	return c.sampleClip(dst, f, ox, oy, 0, 0, dst.w, dst.h)
}

// sampleClip is sample limited to the destination rectangle [cx0,cx1) x
// [cy0,cy1).
func (c *mipChain) sampleClip(dst *rgb, f, ox, oy float64, cx0, cy0, cx1, cy1 int) (x0, y0, x1, y1 int) {
	lv := 0
	for lv+1 < len(c.levels) && f <= 0.5/float64(int(1)<<lv)+1e-9 {
		lv++
	}
	src := c.levels[lv]
	// Pixel centres: level lv pixel i covers original pixels [i 2^lv, (i+1) 2^lv),
	// centre (i + 0.5) 2^lv - 0.5.
	p := float64(int(1) << lv)
	// source (level) coordinate u of destination x: original X = (x - ox)/f;
	// u = (X + 0.5)/p - 0.5.
	a := 1 / (f * p)
	bx := (-ox/f+0.5)/p - 0.5
	by := (-oy/f+0.5)/p - 0.5
	x0 = max(cx0, 0, int(math.Ceil((-0.5-bx)/a)))
	x1 = min(cx1, dst.w, int(math.Floor((float64(src.w)-0.5-bx)/a))+1)
	y0 = max(cy0, 0, int(math.Ceil((-0.5-by)/a)))
	y1 = min(cy1, dst.h, int(math.Floor((float64(src.h)-0.5-by)/a))+1)
	if x0 >= x1 || y0 >= y1 {
		return 0, 0, 0, 0
	}
	sw := src.w
	for y := y0; y < y1; y++ {
		v := a*float64(y) + by
		v = min(max(v, 0), float64(src.h-1))
		iv := int(v)
		if iv >= src.h-1 {
			iv = max(src.h-2, 0)
		}
		tv := float32(v - float64(iv))
		iv1 := min(iv+1, src.h-1)
		r0, r1 := src.pix[3*iv*sw:3*(iv+1)*sw], src.pix[3*iv1*sw:3*(iv1+1)*sw]
		out := dst.pix[3*y*dst.w : 3*(y+1)*dst.w]
		for x := x0; x < x1; x++ {
			u := a*float64(x) + bx
			u = min(max(u, 0), float64(sw-1))
			iu := int(u)
			if iu >= sw-1 {
				iu = max(sw-2, 0)
			}
			tu := float32(u - float64(iu))
			iu1 := min(iu+1, sw-1)
			for k := 0; k < 3; k++ {
				t := r0[3*iu+k] + tu*(r0[3*iu1+k]-r0[3*iu+k])
				b := r1[3*iu+k] + tu*(r1[3*iu1+k]-r1[3*iu+k])
				out[3*x+k] = t + tv*(b-t)
			}
		}
	}
	return x0, y0, x1, y1
}
