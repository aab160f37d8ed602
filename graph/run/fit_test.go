package run

import (
	"io"
	"log/slog"
	"math"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"

	"github.com/stn3d/stn3d/graph"
)

// TestFitBatchOneMatchesBatchTwo builds the same seeded model at batch 1 and
// batch 2 (Gorgonia squeezes size-1 axes of slices, which once broke B = 1)
// and checks that both fit an image identically.
func TestFitBatchOneMatchesBatchTwo(t *testing.T) {
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	env, err := Setup(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := NetworkConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc.Loss.Weights.Siamese = 0
	s, err := env.Val.Sample(0)
	if err != nil {
		t.Fatal(err)
	}
	img := make([]float32, 3*112*112)
	if err := toInput(img, s.Image, 112); err != nil {
		t.Fatal(err)
	}
	var fits [2]graph.Fit
	for i, b := range []int{1, 2} {
		m, err := graph.NewNetwork(mc, env.Grid, b)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		f, err := m.Fit(img)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if len(f) != 1 {
			t.Fatalf("batch %d: %d fits for one image", b, len(f))
		}
		fits[i] = f[0]
	}
	if fits[0].Scale <= 0 || math.Abs(fits[0].Scale-fits[1].Scale) > 1e-6*fits[1].Scale {
		t.Errorf("scale %v (B=1) vs %v (B=2)", fits[0].Scale, fits[1].Scale)
	}
	for i := range fits[0].Landmarks {
		a, b := fits[0].Landmarks[i], fits[1].Landmarks[i]
		if math.IsNaN(a[0]) != math.IsNaN(b[0]) || math.Abs(a[0]-b[0]) > 1e-3 || math.Abs(a[1]-b[1]) > 1e-3 {
			t.Errorf("landmark %d: %v (B=1) vs %v (B=2)", i, a, b)
		}
	}
	if len(fits[0].Texture) != len(fits[1].Texture) || len(fits[0].Mask) != env.Grid.N() {
		t.Errorf("texture %d / %d values, mask %d, want mask %d", len(fits[0].Texture), len(fits[1].Texture), len(fits[0].Mask), env.Grid.N())
	}
}
