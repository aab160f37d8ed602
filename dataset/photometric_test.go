package dataset

import (
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"testing"
)

func greyImage(w, h int, v uint8) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = v
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	return img
}

func TestPhotometricZeroIsIdentity(t *testing.T) {
	img := greyImage(9, 7, 0)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 37)
	}
	want := append([]uint8(nil), img.Pix...)
	r1, r2 := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(1, 2))
	Photometric{}.Apply(img, r1)
	for i := range want {
		if img.Pix[i] != want[i] {
			t.Fatalf("zero Photometric changed byte %d: %d -> %d", i, want[i], img.Pix[i])
		}
	}
	if r1.Uint64() != r2.Uint64() {
		t.Fatal("zero Photometric consumed random numbers")
	}
}

func TestPhotometricGray(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 1))
	img.SetRGBA(0, 0, color.RGBA{255, 0, 0, 255})
	img.SetRGBA(1, 0, color.RGBA{0, 255, 0, 255})
	img.SetRGBA(2, 0, color.RGBA{10, 20, 30, 255})
	Photometric{GrayProb: 1}.Apply(img, rand.New(rand.NewPCG(3, 4)))
	// Rec. 601 luma: 0.299*255 = 76.2, 0.587*255 = 149.7, 2.99+11.74+3.42 = 18.15.
	for x, want := range []uint8{76, 150, 18} {
		c := img.RGBAAt(x, 0)
		if c.R != want || c.G != want || c.B != want || c.A != 255 {
			t.Errorf("pixel %d = %v, want grey %d", x, c, want)
		}
	}
}

func TestPhotometricBlur(t *testing.T) {
	img := greyImage(21, 21, 100)
	gaussianBlur(img, 1.2)
	for i, v := range img.Pix {
		if i%4 != 3 && v != 100 {
			t.Fatalf("blur of a constant image changed byte %d to %d", i, v)
		}
	}
	img = greyImage(21, 21, 0)
	img.SetRGBA(10, 10, color.RGBA{255, 255, 255, 255})
	gaussianBlur(img, 1)
	var sum float64
	for y := 0; y < 21; y++ {
		for x := 0; x < 21; x++ {
			sum += float64(img.RGBAAt(x, y).R)
		}
	}
	// Mass is kept up to rounding of the ~50 touched pixels.
	if math.Abs(sum-255) > 25 {
		t.Errorf("blurred impulse sums to %v, want about 255", sum)
	}
	c, n, e := img.RGBAAt(10, 10).R, img.RGBAAt(10, 9).R, img.RGBAAt(11, 10).R
	// Centre weight of a unit 2-D Gaussian on the pixel grid: 1/(2 pi) ~ 0.16.
	if c < 35 || c > 45 || n != e || n >= c {
		t.Errorf("impulse response centre %d, neighbours %d %d: want ~40 and equal, smaller neighbours", c, n, e)
	}
}

func TestPhotometricNoiseAndJitter(t *testing.T) {
	img := greyImage(64, 64, 128)
	Photometric{NoiseStd: 20}.Apply(img, rand.New(rand.NewPCG(5, 6)))
	var s, ss float64
	n := 0
	for i, v := range img.Pix {
		if i%4 == 3 {
			continue
		}
		d := float64(v) - 128
		s += d
		ss += d * d
		n++
	}
	mean, std := s/float64(n), math.Sqrt(ss/float64(n))
	if math.Abs(mean) > 1 || std <= 0.5 || std > 20.5 {
		t.Errorf("noise mean %.2f std %.2f, want ~0 and in (0.5, 20.5]", mean, std)
	}

	// Colour jitter is a monotone map per channel: it keeps the order of values.
	img = image.NewRGBA(image.Rect(0, 0, 256, 1))
	for x := 0; x < 256; x++ {
		img.SetRGBA(x, 0, color.RGBA{uint8(x), uint8(255 - x), uint8(x / 2), 255})
	}
	Photometric{ColorJitter: 0.9}.Apply(img, rand.New(rand.NewPCG(7, 8)))
	changed := false
	for x := 1; x < 256; x++ {
		a, b := img.RGBAAt(x-1, 0), img.RGBAAt(x, 0)
		if b.R < a.R || b.G > a.G || b.B < a.B {
			t.Fatalf("jitter broke the order at x=%d: %v then %v", x, a, b)
		}
		if b.R != uint8(x) {
			changed = true
		}
	}
	if !changed {
		t.Error("colour jitter 0.9 left the red ramp unchanged")
	}
}

func TestPhotometricValidate(t *testing.T) {
	for _, c := range []struct {
		p    Photometric
		want string
	}{
		{Photometric{ColorJitter: 1}, "color_jitter = 1, want in [0, 0.9]"},
		{Photometric{GrayProb: -0.1}, "gray_prob = -0.1, want in [0, 1]"},
		{Photometric{BlurProb: math.NaN()}, "blur_prob = NaN, want in [0, 1]"},
		{Photometric{NoiseStd: 65}, "noise_std = 65, want in [0, 64]"},
	} {
		if err := c.p.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("%+v: error %v, want %q", c.p, err, c.want)
		}
	}
	cfg := DefaultSyntheticConfig()
	cfg.Photometric.GrayProb = 2
	if err := cfg.Validate(); err == nil || err.Error() != "dataset: synthetic config: gray_prob = 2, want in [0, 1]" {
		t.Errorf("synthetic config with gray_prob 2: %v", err)
	}
}
