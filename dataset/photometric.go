package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"

	"github.com/nfnt/resize"
)

// Photometric holds the camera-and-print effects drawn per synthetic image
// after rendering, so that a localiser trained on renderings meets
// photographs (old, grey, soft, noisy, badly exposed) less surprised. All
// zero leaves the image, and the random stream, untouched.
type Photometric struct {
	// ColorJitter j draws a contrast c in [1-j, 1+j] about the image mean,
	// a brightness offset in [-j/2, j/2] of full scale and a per-channel
	// gain in [1-j/2, 1+j/2]: v' = c*g_k*(v - mean) + mean + offset, in
	// [0, 1] units, clamped. In [0, 0.9].
	ColorJitter float64 `yaml:"color_jitter"`
	// GrayProb is the probability that the image becomes grey (Rec. 601
	// luma in all three channels). In [0, 1].
	GrayProb float64 `yaml:"gray_prob"`
	// BlurProb is the probability of a Gaussian blur whose sigma is drawn
	// uniformly in [0.4, 1.4] pixels. In [0, 1].
	BlurProb float64 `yaml:"blur_prob"`
	// NoiseStd is the largest standard deviation, in 8-bit levels, of the
	// additive Gaussian noise; each image draws sigma uniformly in
	// [0, NoiseStd]. In [0, 64].
	NoiseStd float64 `yaml:"noise_std"`
	// LowResProb is the probability that the image is shrunk by a factor
	// drawn uniformly in [1.5, 4] and enlarged back (bilinear), as a small
	// face in a photograph is enlarged to the localiser's input. In [0, 1].
	LowResProb float64 `yaml:"lowres_prob"`
	// JPEGProb is the probability that the image goes through JPEG at a
	// quality drawn uniformly in [30, 90]. In [0, 1].
	JPEGProb float64 `yaml:"jpeg_prob"`
	// PadProb is the probability that black bands cover one or two edges
	// of the image, up to a quarter of its side each, as where a
	// photograph's crop square leaves the photograph (37% of the
	// AFLW2000-3D crops). In [0, 1].
	PadProb float64 `yaml:"pad_prob"`
}

// Validate reports the first field out of range.
func (p Photometric) Validate() error {
	in := func(v, lo, hi float64) bool { return v >= lo && v <= hi }
	switch {
	case !in(p.ColorJitter, 0, 0.9):
		return fmt.Errorf("color_jitter = %v, want in [0, 0.9]", p.ColorJitter)
	case !in(p.GrayProb, 0, 1):
		return fmt.Errorf("gray_prob = %v, want in [0, 1]", p.GrayProb)
	case !in(p.BlurProb, 0, 1):
		return fmt.Errorf("blur_prob = %v, want in [0, 1]", p.BlurProb)
	case !in(p.NoiseStd, 0, 64):
		return fmt.Errorf("noise_std = %v, want in [0, 64]", p.NoiseStd)
	case !in(p.LowResProb, 0, 1):
		return fmt.Errorf("lowres_prob = %v, want in [0, 1]", p.LowResProb)
	case !in(p.JPEGProb, 0, 1):
		return fmt.Errorf("jpeg_prob = %v, want in [0, 1]", p.JPEGProb)
	case !in(p.PadProb, 0, 1):
		return fmt.Errorf("pad_prob = %v, want in [0, 1]", p.PadProb)
	}
	return nil
}

// Apply draws the effects from rng and applies them to img in place, in
// the order a camera would: exposure and colour, blur, then sensor noise,
// then greyscale, then the photograph's life after the camera: low
// resolution, JPEG, the crop's black padding. Each effect draws from rng
// only when enabled.
func (p Photometric) Apply(img *image.RGBA, rng *rand.Rand) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w == 0 || h == 0 {
		return
	}
	if p.ColorJitter > 0 {
		j := p.ColorJitter
		u := func(a float64) float64 { return (2*rng.Float64() - 1) * a }
		contrast, offset := 1+u(j), u(j/2)*255
		var gain [3]float64
		for k := range gain {
			gain[k] = contrast * (1 + u(j/2))
		}
		var mean [3]float64
		forPixels(img, func(px []uint8) {
			for k := 0; k < 3; k++ {
				mean[k] += float64(px[k])
			}
		})
		n := float64(w * h)
		var lut [3][256]uint8
		for k := 0; k < 3; k++ {
			m := mean[k] / n
			for v := range lut[k] {
				lut[k][v] = clamp8(gain[k]*(float64(v)-m) + m + offset)
			}
		}
		forPixels(img, func(px []uint8) {
			px[0], px[1], px[2] = lut[0][px[0]], lut[1][px[1]], lut[2][px[2]]
		})
	}
	if p.BlurProb > 0 && rng.Float64() < p.BlurProb {
		gaussianBlur(img, 0.4+rng.Float64())
	}
	if p.NoiseStd > 0 {
		sigma := rng.Float64() * p.NoiseStd
		forPixels(img, func(px []uint8) {
			for k := 0; k < 3; k++ {
				px[k] = clamp8(float64(px[k]) + sigma*rng.NormFloat64())
			}
		})
	}
	if p.GrayProb > 0 && rng.Float64() < p.GrayProb {
		forPixels(img, func(px []uint8) {
			y := clamp8(0.299*float64(px[0]) + 0.587*float64(px[1]) + 0.114*float64(px[2]))
			px[0], px[1], px[2] = y, y, y
		})
	}
	if p.LowResProb > 0 && rng.Float64() < p.LowResProb {
		f := 1.5 + 2.5*rng.Float64()
		sw, sh := max(int(float64(w)/f+0.5), 1), max(int(float64(h)/f+0.5), 1)
		small := resize.Resize(uint(sw), uint(sh), img, resize.Bilinear)
		big := resize.Resize(uint(w), uint(h), small, resize.Bilinear)
		draw.Draw(img, b, big, big.Bounds().Min, draw.Src)
	}
	if p.JPEGProb > 0 && rng.Float64() < p.JPEGProb {
		q := 30 + rng.IntN(61)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err == nil {
			if dec, err := jpeg.Decode(&buf); err == nil {
				draw.Draw(img, b, dec, dec.Bounds().Min, draw.Src)
			}
		}
	}
	if p.PadProb > 0 && rng.Float64() < p.PadProb {
		black := [4]uint8{0, 0, 0, 255}
		for n := 1 + rng.IntN(2); n > 0; n-- {
			side, d := rng.IntN(4), int(rng.Float64()*float64(min(w, h))/4+0.5)
			r := b
			switch side {
			case 0:
				r.Max.X = r.Min.X + d
			case 1:
				r.Min.X = r.Max.X - d
			case 2:
				r.Max.Y = r.Min.Y + d
			default:
				r.Min.Y = r.Max.Y - d
			}
			fillBlack(img, r, black)
		}
	}
}

// fillBlack paints the pixels of r (clipped to img) with c.
func fillBlack(img *image.RGBA, r image.Rectangle, c [4]uint8) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			o := img.PixOffset(x, y)
			copy(img.Pix[o:o+4], c[:])
		}
	}
}

// forPixels calls fn with the 4 bytes (R, G, B, A) of every pixel of img,
// row by row.
func forPixels(img *image.RGBA, fn func(px []uint8)) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := img.Pix[img.PixOffset(b.Min.X, y) : img.PixOffset(b.Max.X-1, y)+4]
		for x := 0; x+4 <= len(row); x += 4 {
			fn(row[x : x+4 : x+4])
		}
	}
}

// clamp8 rounds v to the nearest 8-bit level in [0, 255].
func clamp8(v float64) uint8 {
	return uint8(min(max(math.Round(v), 0), 255))
}

// gaussianBlur convolves the colour channels of img with a normalised
// Gaussian of standard deviation sigma pixels (radius ceil(3 sigma)),
// separably, replicating the border pixels.
func gaussianBlur(img *image.RGBA, sigma float64) {
	r := int(math.Ceil(3 * sigma))
	kern := make([]float64, 2*r+1)
	var sum float64
	for i := range kern {
		d := float64(i - r)
		kern[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += kern[i]
	}
	for i := range kern {
		kern[i] /= sum
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	tmp := make([]float64, 3*w*h)
	at := func(x, y int) []uint8 {
		o := img.PixOffset(b.Min.X+x, b.Min.Y+y)
		return img.Pix[o : o+3]
	}
	for y := 0; y < h; y++ { // horizontal pass into tmp
		for x := 0; x < w; x++ {
			var acc [3]float64
			for i, kv := range kern {
				px := at(min(max(x+i-r, 0), w-1), y)
				acc[0] += kv * float64(px[0])
				acc[1] += kv * float64(px[1])
				acc[2] += kv * float64(px[2])
			}
			copy(tmp[3*(y*w+x):], acc[:])
		}
	}
	for y := 0; y < h; y++ { // vertical pass back into img
		for x := 0; x < w; x++ {
			var acc [3]float64
			for i, kv := range kern {
				t := tmp[3*(min(max(y+i-r, 0), h-1)*w+x):]
				acc[0] += kv * t[0]
				acc[1] += kv * t[1]
				acc[2] += kv * t[2]
			}
			px := at(x, y)
			px[0], px[1], px[2] = clamp8(acc[0]), clamp8(acc[1]), clamp8(acc[2])
		}
	}
}
