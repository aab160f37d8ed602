package dataset

import (
	"context"
	"image"
	"math"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

// TestSyntheticIdentities: with identities, image i shows person
// FirstIdentity + i mod Identities; a person's identity shape weights and
// appearance are the same in every image and split, while expression and
// pose change; two people differ.
func TestSyntheticIdentities(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Count, cfg.Identities, cfg.FirstIdentity = 12, 4, 100
	cfg.OccluderProb, cfg.Photometric = 0, Photometric{}
	train, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	test, err := NewSynthetic(m, cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	var idIdx, exIdx []int
	for d := 0; d < m.NumComponents(); d++ {
		if m.Components[d].Kind == bfm.Expression {
			exIdx = append(exIdx, d)
		} else {
			idIdx = append(idIdx, d)
		}
	}
	if len(idIdx) == 0 || len(exIdx) == 0 {
		t.Fatalf("default model: %d identity and %d expression components, want both", len(idIdx), len(exIdx))
	}
	a, _ := train.Sample(1) // person 101
	b, _ := train.Sample(5) // person 101 again
	c, _ := test.Sample(9)  // person 101 in another split
	d, _ := train.Sample(2) // person 102
	for _, s := range []Sample{a, b, c} {
		if s.Identity != 102 {
			t.Fatalf("%s: identity %d, want 1 + person 101", s.Name, s.Identity)
		}
	}
	if d.Identity != 103 {
		t.Errorf("%s: identity %d, want 103", d.Name, d.Identity)
	}
	for _, k := range idIdx {
		if a.Shape[k] != b.Shape[k] || a.Shape[k] != c.Shape[k] {
			t.Errorf("identity weight %d: %v, %v, %v across images of one person", k, a.Shape[k], b.Shape[k], c.Shape[k])
		}
	}
	same := func(x, y Sample, idx []int) bool {
		for _, k := range idx {
			if x.Shape[k] != y.Shape[k] {
				return false
			}
		}
		return true
	}
	if same(a, b, exIdx) || *a.Pose == *b.Pose {
		t.Error("two images of one person share expression or pose")
	}
	if same(a, d, idIdx) {
		t.Error("two people share their identity weights")
	}
	// Appearance: render the same person's weights and a frontal camera
	// twice through different images' appearance streams: the skin at the
	// nose tip matches; another person's differs.
	nose := m.Landmarks[bfm.SchemeIBUG68][30]
	colourAt := func(s Sample) [3]float64 {
		alpha := append([]float64(nil), s.Shape...)
		for _, k := range exIdx {
			alpha[k] = 0 // neutral: the shading then depends on the person alone
		}
		s.Shape = alpha
		cam := Camera{Pose: Pose{}, S: 0.5 * float64(cfg.Size) / train.meanWidth}
		cam.T = [2]float64{float64(cfg.Size-1) / 2, float64(cfg.Size-1) / 2}
		out, err := train.sampleWith(s.Identity-1-cfg.FirstIdentity, s.Shape, cam, train.rng(0))
		if err != nil {
			t.Fatal(err)
		}
		v, err := train.Vertices(s.Shape, cam)
		if err != nil {
			t.Fatal(err)
		}
		p := v[nose]
		c := out.Image.(*image.RGBA).RGBAAt(int(math.Round(p[0])), int(math.Round(p[1])))
		return [3]float64{float64(c.R), float64(c.G), float64(c.B)}
	}
	ca, cb, cd := colourAt(a), colourAt(b), colourAt(d)
	if ca != cb {
		t.Errorf("one person's nose-tip colour differs: %v vs %v", ca, cb)
	}
	if ca == cd {
		t.Errorf("two people share the nose-tip colour %v", ca)
	}
	bad := cfg
	bad.Identities = -1
	if _, err := NewSynthetic(m, bad, "x"); err == nil {
		t.Error("negative identities accepted")
	}
}

// TestBatcherIdentities: a batch labels each image and its mirror with
// the person's class, Sample.Identity - 1.
func TestBatcherIdentities(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Count, cfg.Identities, cfg.Size = 16, 5, 32
	src, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 4, Height: 32, Width: 32, Scheme: bfm.SchemeAFLW21, Seed: 3, Workers: 1, Prefetch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bt, err := b.Next()
	if err != nil {
		t.Fatal(err)
	}
	for j := 0; j < bt.B; j++ {
		if want := bt.Index[j] % 5; bt.Identities[j] != want {
			t.Errorf("image %d (sample %d): identity class %d, want %d", j, bt.Index[j], bt.Identities[j], want)
		}
	}
}
