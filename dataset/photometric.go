package dataset

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
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
	}
	return nil
}

// Apply draws the effects from rng and applies them to img in place, in
// the order a camera would: exposure and colour, blur, then sensor noise,
// then greyscale. Each effect draws from rng only when enabled.
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
