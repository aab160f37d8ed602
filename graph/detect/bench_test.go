package detect

import (
	"image"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/internal/testenv"
)

// benchImage is a 640 x 480 photograph: a shared VOC photograph resized,
// or seeded noise when the shared data is absent.
func benchImage(b *testing.B) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	dir := testenv.SharedDir(b)
	if src, err := dataset.LoadImage(dir + "/data/faces/dlib/2008_002470.jpg"); err == nil {
		m := &rgb{}
		if err := toRGB(m, src); err != nil {
			b.Fatal(err)
		}
		c := mipChain{levels: []*rgb{m}}
		dst := newRGB(640, 480)
		c.sample(dst, 640/float64(m.w), 0, 0)
		for i := 0; i < 640*480; i++ {
			for k := 0; k < 3; k++ {
				img.Pix[4*i+k] = uint8(dst.pix[3*i+k]*255 + 0.5)
			}
			img.Pix[4*i+3] = 255
		}
		return img
	}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	return img
}

func benchDetector(b *testing.B) *Detector {
	if p := os.Getenv("STN3D_DETECTOR"); p != "" {
		d, err := Load(p)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	d, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkDetect640x480 is one Detect call on a 640 x 480 photograph with
// the default options (faces from 32 px, levels sqrt 2 apart).
func BenchmarkDetect640x480(b *testing.B) {
	d := benchDetector(b)
	img := benchImage(b)
	if _, err := d.Detect(img, Options{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := d.Detect(img, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
