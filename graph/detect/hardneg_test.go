package detect

import (
	"math"
	"math/rand/v2"
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

// TestHardPieces: mined boxes move to the kept mip level (pixel centres:
// original u covers level-1 (u+0.5)/2-0.5); bad ones are refused by name.
func TestHardPieces(t *testing.T) {
	photos := []*source{{}, {}}
	got, err := hardPieces([]HardNegative{{Photo: 1, Box: Box{X0: 9.5, Y0: 19.5, X1: 29.5, Y1: 39.5}}}, photos, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].src != photos[1] || got[0].box != (Box{X0: 4.5, Y0: 9.5, X1: 14.5, Y1: 19.5}) {
		t.Errorf("piece %+v, want photograph 1, box (4.5, 9.5)-(14.5, 19.5)", got[0])
	}
	for _, c := range []struct {
		h    HardNegative
		want string
	}{
		{HardNegative{Photo: 2, Box: Box{X1: 1, Y1: 1}}, "photograph 2: want 0..1"},
		{HardNegative{Photo: -1, Box: Box{X1: 1, Y1: 1}}, "photograph -1"},
		{HardNegative{Photo: 0, Box: Box{X0: 3, X1: 3, Y1: 1}}, "empty box"},
	} {
		if _, err := hardPieces([]HardNegative{c.h}, photos, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.h, err, c.want)
		}
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
	cfg.HardSteps, cfg.HardLR, cfg.HardProb, cfg.MineThreshold = 10, 1e-3, 0.5, 0.3
	if _, _, err := FineTune(cfg, Meta{}, nil, nil, 0, nil); err == nil || !strings.Contains(err.Error(), "0 mined negatives") {
		t.Errorf("error %v, want the missing negatives named", err)
	}
}
