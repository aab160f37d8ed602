package detect

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/internal/testenv"
)

func defaultDetector(t testing.TB) *Detector {
	t.Helper()
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pasteScaled draws src scaled by f with its top-left at (x, y) into dst
// (nearest-neighbour on the box-filtered mips, as the detector reads).
func pasteScaled(dst *image.RGBA, src image.Image, f float64, x, y int) {
	m := &rgb{}
	if err := toRGB(m, src); err != nil {
		panic(err)
	}
	c := mipChain{levels: []*rgb{m}}
	c.build(4)
	w, h := int(float64(m.w)*f), int(float64(m.h)*f)
	out := newRGB(w, h)
	c.sample(out, f, 0, 0)
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			p := out.pix[3*(j*w+i):]
			dst.Set(x+i, y+j, color.RGBA{uint8(p[0]*255 + 0.5), uint8(p[1]*255 + 0.5), uint8(p[2]*255 + 0.5), 255})
		}
	}
}

func grey(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{128, 128, 128, 255}), image.Point{}, draw.Src)
	return img
}

// renderedFace renders one frontal face of the default model, 128 px, on
// a flat background, and returns it with its 68-landmark box.
func renderedFace(t *testing.T, yaw float64) (image.Image, Box) {
	t.Helper()
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := dataset.DefaultSyntheticConfig()
	cfg.Seed, cfg.Count, cfg.Size = 5, 1, 128
	cfg.YawDeg, cfg.PitchDeg, cfg.RollDeg = 0, 0, 0
	cfg.ScaleMin, cfg.ScaleMax, cfg.TransJitter = 0.55, 0.55, 0
	cfg.OccluderProb, cfg.ShapeStd, cfg.Background = 0, 0.5, dataset.BackgroundGradient
	syn, err := dataset.NewSynthetic(m, cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := syn.Sample(0)
	if err != nil {
		t.Fatal(err)
	}
	b, ok := LandmarkBox(s)
	if !ok {
		t.Fatal("rendered face has no ibug68 box")
	}
	return s.Image, b
}

func TestDetectRenderedFaceKnownPlace(t *testing.T) {
	d := defaultDetector(t)
	face, fb := renderedFace(t, 0)
	for _, c := range []struct {
		f    float64
		x, y int
	}{{0.6, 40, 60}, {1.0, 300, 150}, {1.8, 150, 100}} {
		img := grey(640, 480)
		pasteScaled(img, face, c.f, c.x, c.y)
		want := Box{X0: fb.X0*c.f + float64(c.x), Y0: fb.Y0*c.f + float64(c.y), X1: fb.X1*c.f + float64(c.x), Y1: fb.Y1*c.f + float64(c.y)}
		dets, err := d.Detect(img, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms, fp, _ := Evaluate(dets, []Truth{{Box: want}}, 32)
		if ms[0].Det == nil || fp != 0 {
			t.Errorf("face %.0f px at (%d, %d): detections %+v, want one with IoU >= 0.5 with %+v", want.W(), c.x, c.y, dets, want)
			continue
		}
		t.Logf("face %.0f px: IoU %.2f score %.2f", want.W(), ms[0].IoU, ms[0].Det.Score)
	}
}

func TestDetectNothingOnBlankOrNoise(t *testing.T) {
	d := defaultDetector(t)
	noise := image.NewRGBA(image.Rect(0, 0, 640, 480))
	r := rand.New(rand.NewPCG(11, 12))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.IntN(256))
	}
	for name, img := range map[string]image.Image{"blank": grey(640, 480), "noise": noise, "tiny": grey(5, 7)} {
		dets, err := d.Detect(img, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(dets) != 0 {
			t.Errorf("%s: %d detections %+v, want none", name, len(dets), dets)
		}
	}
}

// hugeImage claims 100000 x 100000 pixels without holding them.
type hugeImage struct{ image.Image }

func (hugeImage) Bounds() image.Rectangle { return image.Rect(0, 0, 100000, 100000) }

func TestDetectBadInput(t *testing.T) {
	d := defaultDetector(t)
	if _, err := d.Detect(nil, Options{}); err == nil {
		t.Error("nil image accepted")
	}
	if _, err := d.Detect(hugeImage{grey(1, 1)}, Options{}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("huge image: %v", err)
	}
	for _, o := range []Options{{MinFace: 8}, {Threshold: 1.5}, {NMS: -1}, {LevelStep: 3}} {
		if _, err := d.Detect(grey(64, 64), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

// TestDetectTwoPhotographFaces pastes two held-out AFLW2000-3D faces into
// one picture, at known places and sizes, and finds both.
func TestDetectTwoPhotographFaces(t *testing.T) {
	dir := testenv.Shared(t, "data/faces/aflw2000")
	src, err := dataset.OpenAFLW2000(dir, dataset.AFLW2000Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := defaultDetector(t)
	img := grey(640, 480)
	var truth []Truth
	for k, i := range []int{1, 3} { // held-out photographs
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := LandmarkBox(s)
		f := []float64{0.3, 0.5}[k]
		x, y := []int{20, 330}[k], []int{40, 120}[k]
		pasteScaled(img, s.Image, f, x, y)
		truth = append(truth, Truth{Box: Box{X0: b.X0*f + float64(x), Y0: b.Y0*f + float64(y), X1: b.X1*f + float64(x), Y1: b.Y1*f + float64(y)}})
	}
	dets, err := d.Detect(img, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, _, _ := Evaluate(dets, truth, 32)
	for i, m := range ms {
		if m.Det == nil {
			t.Errorf("face %d (%+v) not found among %+v", i, m.Truth.Box, dets)
		}
	}
}

// TestDetectFaceAtImageBorder: faces whose landmark box touches an image
// edge are found where they are. (The mean-grey border of each pyramid
// level, levelPad, shows its worth only on photographs: see the README.)
func TestDetectFaceAtImageBorder(t *testing.T) {
	d := defaultDetector(t)
	face, fb := renderedFace(t, 0)
	f := 0.5
	for _, c := range []struct {
		name string
		x, y int
	}{
		{"left", -int(fb.X0 * f), 100},
		{"top", 200, -int(fb.Y0 * f)},
		{"right", 320 - int(fb.X1*f), 60},
	} {
		img := grey(320, 240)
		pasteScaled(img, face, f, c.x, c.y)
		want := Box{X0: fb.X0*f + float64(c.x), Y0: fb.Y0*f + float64(c.y), X1: fb.X1*f + float64(c.x), Y1: fb.Y1*f + float64(c.y)}
		dets, err := d.Detect(img, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ms, _, _ := Evaluate(dets, []Truth{{Box: want}}, 32)
		if ms[0].Det == nil {
			t.Errorf("%s edge: face %+v not found among %+v", c.name, want, dets)
			continue
		}
		t.Logf("%s edge: IoU %.2f score %.2f", c.name, ms[0].IoU, ms[0].Det.Score)
	}
}

// TestSensitivityRenderedFace: the rendered face is found when searched at
// a size inside the network's band and not at half its bottom.
func TestSensitivityRenderedFace(t *testing.T) {
	d := defaultDetector(t)
	face, fb := renderedFace(t, 0)
	path := filepath.Join(t.TempDir(), "face.png")
	var buf bytes.Buffer
	if err := png.Encode(&buf, face); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	curve, err := d.Sensitivity([]Photo{{Name: "face", Path: path, Faces: []Truth{{Box: fb}}}}, []float64{BandMin / 2, 22}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if curve[0].Rate != 0 || curve[1].Rate != 1 {
		t.Errorf("sensitivity %+v, want rate 0 at %v px and 1 at 22 px", curve, BandMin/2)
	}
	if _, err := d.Sensitivity([]Photo{{Name: "gone", Path: path + ".missing", Faces: []Truth{{Box: fb}}}}, []float64{22}, 0.5); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing photograph: error %v, want one naming the file", err)
	}
}

// TestNewLevelFace: weights may leave level_face out (BandMin) or give a
// size the network can search; anything else is refused by name.
func TestNewLevelFace(t *testing.T) {
	meta, ts, err := DecodeFile(embedded)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lf   float64
		want float64
		ok   bool
	}{{0, BandMin, true}, {20, 20, true}, {40, 0, false}, {math.NaN(), 0, false}} {
		meta.LevelFace = c.lf
		nd, err := New(meta, ts)
		if !c.ok {
			if err == nil || !strings.Contains(err.Error(), "level_face") {
				t.Errorf("level_face %v: error %v, want one naming level_face", c.lf, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("level_face %v: %v", c.lf, err)
		}
		if got := nd.levelFace(); got != c.want {
			t.Errorf("level_face %v: searches at %v, want %v", c.lf, got, c.want)
		}
	}
}
