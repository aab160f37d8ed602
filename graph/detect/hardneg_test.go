package detect

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSetTensorsRoundTrip: weights exported in the inference layout load
// back into a differently initialised training graph unchanged.
func TestSetTensorsRoundTrip(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.Batch, cfg.Patch = 1, 2*Stride
	a, err := newTrainNet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want, err := a.tensors()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed++
	b, err := newTrainNet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.setTensors(want); err != nil {
		t.Fatal(err)
	}
	got, err := b.tensors()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Data, want[i].Data) {
			t.Errorf("tensor %s differs after the round trip", want[i].Name)
		}
	}
	bad := slices.Clone(want)
	for i := range bad {
		if bad[i].Name == "conv2.w" {
			bad[i].Data = bad[i].Data[:5]
		}
	}
	if err := b.setTensors(bad); err == nil || !strings.Contains(err.Error(), "conv2.w: 5 values") {
		t.Errorf("a short conv2.w: error %v, want it named", err)
	}
}

// TestCutPiece: a mined box is kept with hardMargin box sizes around it
// (clipped to the picture), resampled so that the box is at most
// hardStore px, with the faces overlapping the piece only.
func TestCutPiece(t *testing.T) {
	m := newRGB(200, 160)
	for y := 0; y < m.h; y++ {
		for x := 0; x < m.w; x++ {
			m.pix[3*(y*m.w+x)] = float32(x) / 200
			m.pix[3*(y*m.w+x)+1] = float32(y) / 160
		}
	}
	c := &mipChain{levels: []*rgb{m}}
	c.build(8)
	near, far := Box{X0: 10, Y0: 10, X1: 40, Y1: 40}, Box{X0: 170, Y0: 130, X1: 199, Y1: 159}
	// A 32 px box: kept at full size, 48 px each side, clipped at x = 0.
	p := cutPiece(c, Box{X0: 20, Y0: 60, X1: 52, Y1: 92}, []Box{near, far})
	if p.src.mips.levels[0].w != 100 || p.src.mips.levels[0].h != 128 {
		t.Errorf("piece %dx%d, want 100x128", p.src.mips.levels[0].w, p.src.mips.levels[0].h)
	}
	if want := (Box{X0: 20, Y0: 48, X1: 52, Y1: 80}); p.box != want {
		t.Errorf("box in the piece %+v, want %+v", p.box, want)
	}
	lv := p.src.mips.levels[0]
	for _, xy := range [][2]int{{0, 0}, {37, 50}, {99, 127}} {
		got := lv.pix[3*(xy[1]*lv.w+xy[0]) : 3*(xy[1]*lv.w+xy[0])+2]
		want := []float32{float32(xy[0]) / 200, float32(xy[1]+12) / 160}
		if math.Abs(float64(got[0]-want[0])) > 1e-5 || math.Abs(float64(got[1]-want[1])) > 1e-5 {
			t.Errorf("piece pixel %v = %v, want the picture's %v", xy, got, want)
		}
	}
	if len(p.src.faces) != 1 || p.src.faces[0] != (Box{X0: 10, Y0: -2, X1: 40, Y1: 28}) {
		t.Errorf("faces of the piece %+v, want only the near one, moved by (0, -12)", p.src.faces)
	}
	// A 96 px box: stored at half size.
	p = cutPiece(c, Box{X0: 50, Y0: 30, X1: 146, Y1: 126}, nil)
	if s := sizeOf(p.box); math.Abs(s-hardStore) > 1e-9 {
		t.Errorf("a 96 px box stored at %.2f px, want %d", s, hardStore)
	}
}

// TestMineIn: on a rendered face the detector finds, mining returns no
// negative when the face is annotated, and the face itself (with its
// piece) when it is not; detectRGB agrees with Detect.
func TestMineIn(t *testing.T) {
	d := defaultDetector(t)
	face, fb := renderedFace(t, 0)
	img := grey(320, 240)
	pasteScaled(img, face, 0.8, 100, 60)
	want := mapBox(fb, 0.8, 100, 60)
	m := &rgb{}
	if err := toRGB(m, img); err != nil {
		t.Fatal(err)
	}
	c := &mipChain{levels: []*rgb{m}}
	c.build(8)
	opt := Options{Threshold: 0.3}
	a, err := d.Detect(img, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.detectRGB(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) || len(a) == 0 || IoU(a[0].Box, want) < 0.5 {
		t.Fatalf("Detect %+v, detectRGB %+v: want the same, the face first", a, b)
	}
	got, err := d.mineIn(nil, c, []Box{want}, "annotated", opt)
	if err != nil || len(got) != 0 {
		t.Errorf("annotated face: mined %+v (%v), want nothing", got, err)
	}
	got, err = d.mineIn(nil, c, nil, "unannotated", opt)
	if err != nil || len(got) != len(a) || got[0].Source != "unannotated" || got[0].Box != a[0].Box {
		t.Fatalf("unannotated face: mined %+v (%v), want the %d detections", got, err, len(a))
	}
	if p := got[0].piece; p.src == nil || math.Abs(sizeOf(p.box)-min(sizeOf(a[0].Box), hardStore)) > 1e-6 {
		t.Errorf("piece %+v, want the box at min(size, %d) px", p, hardStore)
	}
}

// TestPasteHard: a mined piece lands at a size in the band, drawn from its
// photograph (white here, on a black patch: its centre is white), and the
// photograph's face, scaled with it, is ignored, never a positive.
func TestPasteHard(t *testing.T) {
	white := newRGB(64, 64)
	for i := range white.pix {
		white.pix[i] = 1
	}
	src := &source{mips: mipChain{levels: []*rgb{white}}, faces: []Box{{X0: 40, Y0: 40, X1: 60, Y1: 60}}}
	src.mips.build(8)
	hb := Box{X0: 0, Y0: 0, X1: 16, Y1: 16}
	pm := &patchMaker{size: 80, hard: []hardPiece{{src: src, box: hb}}, hardProb: 1}
	var p, tmp rgb
	centred := 0
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 1))
		p.resize(80, 80)
		clear(p.pix)
		faces := pm.pasteHard(rng, &p, &tmp, nil)
		if len(faces) != 1 || !faces[0].ignore {
			t.Fatalf("seed %d: faces %+v, want the photograph's face, ignored", seed, faces)
		}
		fb := faces[0].box
		f := fb.W() / 20
		if s := f * sizeOf(hb); s < BandMin-1e-9 || s > BandMax+1e-9 {
			t.Errorf("seed %d: piece pasted at size %.2f, want in [%g, %g]", seed, s, BandMin, BandMax)
		}
		ox, oy := fb.X0-40*f, fb.Y0-40*f
		cx, cy := int(math.Round(8*f+ox)), int(math.Round(8*f+oy))
		if cx >= 0 && cx < 80 && cy >= 0 && cy < 80 {
			centred++
			if v := p.pix[3*(cy*80+cx)]; math.Abs(float64(v)-1) > 1e-5 {
				t.Errorf("seed %d: piece centre (%d, %d) is %v, want 1 (the photograph)", seed, cx, cy, v)
			}
		}
		G := 80 / Stride
		pos, neg := make([]float32, G*G), make([]float32, G*G)
		rw, rt := make([]float32, 4*G*G), make([]float32, 4*G*G)
		if np := labels(faces, G, pos, neg, rw, rt); np != 0 {
			t.Errorf("seed %d: %d positive cells, want none", seed, np)
		}
	}
	if centred < 10 {
		t.Errorf("%d of 30 pieces centred in the patch, want most", centred)
	}
}

func TestFineTuneNeedsNegatives(t *testing.T) {
	cfg := DefaultTrainConfig()
	cfg.AFLW2000 = "x"
	cfg.HardSteps, cfg.HardRounds, cfg.HardLR, cfg.HardProb, cfg.MineThreshold = 10, 1, 1e-3, 0.5, 0.3
	if _, _, err := FineTune(cfg, Meta{}, nil, nil, 0, nil); err == nil || !strings.Contains(err.Error(), "0 mined negatives") {
		t.Errorf("error %v, want the missing negatives named", err)
	}
}

// TestEachMosaic: every photograph lands once in each layout, scaled to its
// tile, with its face box moved with it; the last mosaic of a layout may
// have empty (grey) tiles.
func TestEachMosaic(t *testing.T) {
	dir := t.TempDir()
	var photos []Photo
	for i := range 5 {
		img := image.NewRGBA(image.Rect(0, 0, 90, 90))
		draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{uint8(40 * i), 200, 0, 255}), image.Point{}, draw.Src)
		p := filepath.Join(dir, fmt.Sprintf("p%d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		photos = append(photos, Photo{Name: fmt.Sprintf("p%d", i), Path: p, Faces: []Truth{{Box: Box{X0: 30, Y0: 30, X1: 60, Y1: 60}}}})
	}
	seen := map[int]int{}
	var names []string
	err := eachMosaic(photos, 3, func(c *mipChain, faces []Box, name string) error {
		names = append(names, name)
		m := c.levels[0]
		var g int
		fmt.Sscanf(name, "mosaic %d-", &g)
		T := mosaicSide / g
		if m.w != g*T || m.h != g*T {
			t.Errorf("%s: %dx%d, want %dx%d", name, m.w, m.h, g*T, g*T)
		}
		for _, fb := range faces {
			// The face's tile, and the photograph's colour at its centre.
			tx, ty := int(fb.X0)/T, int(fb.Y0)/T
			if want := (Box{X0: float64(tx*T) + 30*float64(T)/90, Y0: float64(ty*T) + 30*float64(T)/90,
				X1: float64(tx*T) + 60*float64(T)/90, Y1: float64(ty*T) + 60*float64(T)/90}); math.Abs(fb.X0-want.X0)+math.Abs(fb.Y1-want.Y1) > 1e-9 {
				t.Errorf("%s: face %+v, want %+v", name, fb, want)
			}
			cx, cy := tx*T+T/2, ty*T+T/2
			r := m.pix[3*(cy*m.w+cx)]
			seen[g*10+int(math.Round(float64(r)*255/40))]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mosaic 2-0", "mosaic 2-1", "mosaic 3-0", "mosaic 4-0"}; !slices.Equal(names, want) {
		t.Errorf("mosaics %v, want %v", names, want)
	}
	for _, g := range mosaicGrids {
		for i := range 5 {
			if seen[g*10+i] != 1 {
				t.Errorf("layout %d: photograph %d placed %d times, want once", g, i, seen[g*10+i])
			}
		}
	}
	photos[2].Path = filepath.Join(dir, "missing.png")
	if err := eachMosaic(photos, 3, func(*mipChain, []Box, string) error { return nil }); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("a missing photograph: error %v, want it named", err)
	}
}
