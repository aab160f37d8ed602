package detect

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestMipSampleKnownValues(t *testing.T) {
	// A 8x4 image whose red channel is x, green y, blue constant.
	img := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 8; x++ {
			img.Set(x, y, color.RGBA{uint8(10 * x), uint8(20 * y), 100, 255})
		}
	}
	m := &rgb{}
	if err := toRGB(m, img); err != nil {
		t.Fatal(err)
	}
	c := mipChain{levels: []*rgb{m}}
	c.build(2)
	if len(c.levels) != 2 || c.levels[1].w != 4 || c.levels[1].h != 2 {
		t.Fatalf("mips: %d levels, level 1 %dx%d; want 2 levels, 4x2", len(c.levels), c.levels[1].w, c.levels[1].h)
	}
	// Box average of x in {0,1} (times 10/255) is 5/255.
	if got := c.levels[1].pix[0]; math.Abs(float64(got)-5.0/255) > 1e-6 {
		t.Errorf("level 1 (0,0) red = %v, want %v", got, 5.0/255)
	}
	// Scale 1, offset (2, 1): destination (x, y) reads source (x-2, y-1).
	dst := newRGB(8, 4)
	x0, y0, x1, y1 := c.sample(dst, 1, 2, 1)
	if x0 != 2 || y0 != 1 || x1 != 8 || y1 != 4 {
		t.Errorf("written rect [%d,%d)x[%d,%d), want [2,8)x[1,4)", x0, x1, y0, y1)
	}
	if got, want := dst.pix[3*(2*8+5)], float32(30)/255; math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("dst(5,2) red = %v, want %v (source x 3)", got, want)
	}
	if got, want := dst.pix[3*(2*8+5)+1], float32(20)/255; math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("dst(5,2) green = %v, want %v (source y 1)", got, want)
	}
	if dst.pix[0] != 0 {
		t.Errorf("dst(0,0) outside the source was written: %v", dst.pix[0])
	}
	// Scale 0.5 reads mip level 1 directly at half-pixel positions:
	// destination x maps to level-1 x - 0.25; red is linear in x there.
	half := newRGB(4, 2)
	c.sample(half, 0.5, 0, 0)
	for x := 1; x < 4; x++ {
		want := (float64(x)-0.25)*20/255 + 5.0/255
		if got := half.pix[3*x]; math.Abs(float64(got)-want) > 1e-5 {
			t.Errorf("half(%d,0) red = %v, want %v", x, got, want)
		}
	}
}

func TestToRGBErrors(t *testing.T) {
	m := &rgb{}
	if err := toRGB(m, nil); err == nil {
		t.Error("nil image accepted")
	}
	if err := toRGB(m, image.NewRGBA(image.Rect(0, 0, 0, 5))); err == nil {
		t.Error("empty image accepted")
	}
	// A huge image is refused from its bounds, before any pixel is read.
	if err := toRGB(m, image.NewUniform(color.White)); err == nil {
		t.Error("unbounded image accepted")
	}
}

func TestToRGBSubImage(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 6, 5))
	img.Set(3, 2, color.RGBA{255, 0, 0, 255})
	sub := img.SubImage(image.Rect(2, 1, 5, 4))
	m := &rgb{}
	if err := toRGB(m, sub); err != nil {
		t.Fatal(err)
	}
	if m.w != 3 || m.h != 3 || m.pix[3*(1*3+1)] != 1 || m.pix[0] != 0 {
		t.Errorf("sub-image %dx%d, red at (1,1) %v, at (0,0) %v; want 3x3, 1, 0", m.w, m.h, m.pix[3*(1*3+1)], m.pix[0])
	}
}
