package dataset

import (
	"context"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// chwReference converts img through image.At, the definition ImageToCHW's
// fast paths must match bit for bit.
func chwReference(img image.Image, mean [3]float32) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]float32, 3*w*h)
	const inv = 1.0 / 255
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := [3]uint32{}
			c[0], c[1], c[2], _ = img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			for k := 0; k < 3; k++ {
				out[k*w*h+y*w+x] = float32(c[k]>>8)*inv - mean[k]
			}
		}
	}
	return out
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: value %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestImageToCHWKnownValues(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.SetRGBA(0, 0, color.RGBA{0, 3, 255, 255})
	img.SetRGBA(1, 0, color.RGBA{255, 128, 7, 255})
	img.SetRGBA(0, 1, color.RGBA{10, 20, 30, 255})
	img.SetRGBA(1, 1, color.RGBA{1, 2, 254, 0}) // alpha is ignored
	dst := make([]float32, 12)
	if err := ImageToCHW(dst, img, 2, 2, [3]float32{}); err != nil {
		t.Fatal(err)
	}
	// Locked bit patterns: v * float32(1/255), as training has always
	// computed them (3, 7, 30 and 254 differ from the correctly rounded
	// v/255 by one unit in the last place).
	want := []uint32{
		0x00000000, 0x3f800000, 0x3d20a0a1, 0x3b808081, // R: 0, 255, 10, 1
		0x3c40c0c2, 0x3f008081, 0x3da0a0a1, 0x3c008081, // G: 3, 128, 20, 2
		0x3f800000, 0x3ce0e0e2, 0x3df0f0f2, 0x3f7eff00, // B: 255, 7, 30, 254
	}
	for i, wb := range want {
		if got := math.Float32bits(dst[i]); got != wb {
			t.Errorf("value %d = %v (%#08x), want %v (%#08x)", i, dst[i], got, math.Float32frombits(wb), wb)
		}
	}
	mean := [3]float32{0.5, 0.25, 0.125}
	if err := ImageToCHW(dst, img, 2, 2, mean); err != nil {
		t.Fatal(err)
	}
	if dst[1] != 0.5 || dst[4+1] != float32(128)*float32(1.0/255)-0.25 || dst[8] != 0.875 {
		t.Errorf("with mean: %v", dst)
	}
}

func TestImageToCHWErrors(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	for _, c := range []struct {
		dst  []float32
		img  image.Image
		w, h int
		want string
	}{
		{make([]float32, 36), img, 3, 4, "image is 4x3, want 3x4"},
		{make([]float32, 36), img, 4, 4, "image is 4x3, want 4x4"},
		{make([]float32, 35), img, 4, 3, "destination holds 35 values, want 3 x 3 x 4 = 36"},
		{make([]float32, 37), img, 4, 3, "destination holds 37 values"},
		{nil, nil, 4, 3, "no image"},
		{nil, img, 0, 3, "image size 0x3 requested"},
	} {
		err := ImageToCHW(c.dst, c.img, c.w, c.h, [3]float32{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%dx%d into %d: error %v, want %q", c.w, c.h, len(c.dst), err, c.want)
		}
	}
}

// TestImageToCHWTypesAndBounds checks every fast path and the generic one
// against image.At, for images at the origin, with an offset Rect and as
// sub-images of a larger picture.
func TestImageToCHWTypesAndBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(p []uint8) {
		for i := range p {
			p[i] = uint8(rng.IntN(256))
		}
	}
	makeAll := func(r image.Rectangle) []image.Image {
		rgba := image.NewRGBA(r)
		fill(rgba.Pix)
		nrgba := image.NewNRGBA(r) // random alpha: premultiplied as At does
		fill(nrgba.Pix)
		gray := image.NewGray(r)
		fill(gray.Pix)
		ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
		fill(ycc.Y)
		fill(ycc.Cb)
		fill(ycc.Cr)
		ycc444 := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
		fill(ycc444.Y)
		fill(ycc444.Cb)
		fill(ycc444.Cr)
		rgba64 := image.NewRGBA64(r)
		fill(rgba64.Pix)
		pal := image.NewPaletted(r, color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}, color.Gray{77}})
		for i := range pal.Pix {
			pal.Pix[i] = uint8(rng.IntN(3))
		}
		cmyk := image.NewCMYK(r)
		fill(cmyk.Pix)
		return []image.Image{rgba, nrgba, gray, ycc, ycc444, rgba64, pal, cmyk}
	}
	type subImager interface {
		SubImage(image.Rectangle) image.Image
	}
	mean := [3]float32{0.5, 0.25, -0.125}
	const w, h = 5, 3
	var cases []image.Image
	cases = append(cases, makeAll(image.Rect(0, 0, w, h))...)
	cases = append(cases, makeAll(image.Rect(-7, 11, -7+w, 11+h))...)
	for _, big := range makeAll(image.Rect(-2, -1, 9, 8)) {
		cases = append(cases, big.(subImager).SubImage(image.Rect(3, 2, 3+w, 2+h)))
	}
	for _, img := range cases {
		dst := make([]float32, 3*w*h)
		if err := ImageToCHW(dst, img, w, h, mean); err != nil {
			t.Fatalf("%T %v: %v", img, img.Bounds(), err)
		}
		sameBits(t, "image "+img.Bounds().String(), dst, chwReference(img, mean))
	}
}

// TestImageToCHWMatchesBatch checks that the batcher's images are exactly
// ImageToCHW of the samples (and their mirrors).
func TestImageToCHWMatchesBatch(t *testing.T) {
	src := newMemSource(6, 5, 4)
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 3, Height: 4, Width: 5, Scheme: "aflw21", Workers: 2, Mean: [3]float32{0.1, 0.2, 0.3}, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bt, err := b.Next()
	if err != nil {
		t.Fatal(err)
	}
	per := 3 * 4 * 5
	for j := 0; j < bt.B; j += 2 {
		smp, _ := src.Sample(bt.Index[j])
		want := make([]float32, per)
		if err := ImageToCHW(want, smp.Image, 5, 4, [3]float32{0.1, 0.2, 0.3}); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "batch image", bt.Images[j*per:(j+1)*per], want)
		mir := make([]float32, per)
		if err := ImageToCHW(mir, FlipImage(smp.Image), 5, 4, [3]float32{0.1, 0.2, 0.3}); err != nil {
			t.Fatal(err)
		}
		sameBits(t, "batch mirror", bt.Images[(j+1)*per:(j+2)*per], mir)
	}
}
