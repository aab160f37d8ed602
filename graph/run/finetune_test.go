package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/testenv"
)

// photoFolder writes n rendered faces as PNG photographs with their 68
// landmarks in .pts files: a stand-in for an annotated photo collection.
func photoFolder(t *testing.T, n int) string {
	t.Helper()
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	sc := dataset.DefaultSyntheticConfig()
	sc.Count, sc.Size, sc.YawDeg = n, 160, 30
	src, err := dataset.NewSynthetic(m, sc, "photos")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		stem := filepath.Join(dir, fmt.Sprintf("photo%02d", i))
		if err := dataset.WritePNG(stem+".png", s.Image); err != nil {
			t.Fatal(err)
		}
		if err := dataset.WritePTS(stem+".pts", s.Landmarks[bfm.SchemeIBUG68].Points); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestFineTune: train.init starts a run on annotated photographs from a
// checkpoint's weights; rendered faces are mixed in at
// data.synthetic_fraction; the split is recorded in the run and
// evaluation uses it.
func TestFineTune(t *testing.T) {
	if testing.Short() {
		t.Skip("trains; skipped with -short")
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base, err := LoadConfig(testenv.Config(t, "tiny.yaml"), []string{"train.steps=2", "train.val_every=2", "train.checkpoint_every=2"})
	if err != nil {
		t.Fatal(err)
	}
	initRun := filepath.Join(t.TempDir(), "init")
	if _, err := Train(ctx, base, TrainOptions{Out: initRun, Log: log}); err != nil {
		t.Fatal(err)
	}
	photos := photoFolder(t, 8)
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), []string{
		"data.kind=pts", "data.path=" + photos, "data.val_fraction=0.25", "data.synthetic_fraction=0.5",
		"train.init=" + initRun, "train.steps=2", "train.val_every=2", "train.checkpoint_every=2", "optim.lr=1e-12"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := Setup(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if env.Split == nil || len(env.Split.Train) != 6 || len(env.Split.Val) != 2 {
		t.Fatalf("split %+v, want 6 + 2 of 8 photographs", env.Split)
	}
	if env.Train.Len() != 11 || env.Val.Len() != 2 {
		t.Errorf("training images %d (6 photographs + 5 rendered at fraction 0.5), validation %d; want 11 and 2", env.Train.Len(), env.Val.Len())
	}
	out := filepath.Join(t.TempDir(), "fine")
	if _, err := Train(ctx, cfg, TrainOptions{Out: out, Log: log}); err != nil {
		t.Fatal(err)
	}
	val, err := os.ReadFile(filepath.Join(out, dataset.SplitValFile))
	if err != nil {
		t.Fatalf("run records no split: %v", err)
	}
	if n := strings.Count(string(val), "\n"); n != 2 {
		t.Errorf("%s lists %d photographs, want 2", dataset.SplitValFile, n)
	}
	a, err := graph.LoadCheckpoint(filepath.Join(initRun, RunBestFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := graph.LoadCheckpoint(filepath.Join(out, RunBestFile))
	if err != nil {
		t.Fatal(err)
	}
	// Two Adam steps of lr 1e-12 leave the initial weights in place.
	for k, p := range a.Params {
		q := b.Params[k]
		for i := range p.Data {
			if d := math.Abs(float64(q.Data[i] - p.Data[i])); d > 1e-6*(1+math.Abs(float64(p.Data[i]))) {
				t.Fatalf("%s[%d]: fine-tuned %v, init %v: train.init did not load the weights", p.Name, i, q.Data[i], p.Data[i])
			}
		}
	}
	// Evaluation of the run uses its recorded validation photographs, even
	// with another seed in the config.
	other := cfg
	other.Seed = 99
	met, err := Evaluate(ctx, other, EvalOptions{Checkpoint: out, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if met.Images != 2 {
		t.Errorf("evaluated %d photographs, want the 2 of the recorded split", met.Images)
	}
	bad := cfg
	bad.Train.Init = filepath.Join(t.TempDir(), "missing")
	if _, err := Train(ctx, bad, TrainOptions{Out: filepath.Join(t.TempDir(), "x"), Log: log}); err == nil || !strings.Contains(err.Error(), "train.init") {
		t.Errorf("missing init: %v", err)
	}
}

// TestCropJitter: data.crop_scale_jitter and data.crop_shift_jitter give a
// training split of copies x n crops, photograph i mod n, each jittered
// reproducibly within the configured ranges; validation keeps the plain
// crop; out-of-range values are refused.
func TestCropJitter(t *testing.T) {
	dir := photoFolder(t, 6)
	cfg := DefaultConfig()
	cfg.Data.Kind, cfg.Data.Path, cfg.Data.ValFraction = "pts", dir, 0.34
	cfg.Model.Scheme = bfm.SchemeIBUG68
	plain, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Data.CropScaleJitter, cfg.Data.CropShiftJitter = 0.2, 0.1
	env, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := plain.Train.Len()
	if env.Train.Len() != n*jitterCopies || env.Val.Len() != plain.Val.Len() {
		t.Fatalf("train %d, val %d; want %d x %d and %d", env.Train.Len(), env.Val.Len(), n, jitterCopies, plain.Val.Len())
	}
	box := func(s dataset.Sample) (cx, cy, side float64) {
		b, err := dataset.FaceBox(s, false)
		if err != nil {
			t.Fatal(err)
		}
		return (b.X0 + b.X1) / 2, (b.Y0 + b.Y1) / 2, max(b.X1-b.X0, b.Y1-b.Y0)
	}
	moved := 0
	for i := 0; i < 3*n; i++ {
		a, err := env.Train.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := env.Train.Sample(i)
		if a.Name != again.Name || a.Landmarks[bfm.SchemeIBUG68].Points[0] != again.Landmarks[bfm.SchemeIBUG68].Points[0] {
			t.Fatalf("sample %d differs between two reads", i)
		}
		p, err := plain.Train.Sample(i % n)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != p.Name {
			t.Fatalf("sample %d is %s, want photograph %d (%s)", i, a.Name, i%n, p.Name)
		}
		// In crop pixels the landmark box grows as the crop shrinks (scale
		// within 1/1.2 .. 1/0.8) and its centre moves against the shift
		// (up to 0.1 box sides, in the plain crop's scale, x 1.25).
		ax, ay, as := box(a)
		px, py, ps := box(p)
		if r := as / ps; r < 1/1.2-0.02 || r > 1/0.8+0.02 {
			t.Errorf("sample %d: box side %.2f vs plain %.2f: ratio %.3f outside the scale jitter", i, as, ps, r)
		}
		if math.Abs(ax-px) > 0.1*1.25*as+1.5 || math.Abs(ay-py) > 0.1*1.25*as+1.5 {
			t.Errorf("sample %d: box centre (%.1f, %.1f) vs plain (%.1f, %.1f): moved more than the shift jitter", i, ax, ay, px, py)
		}
		if math.Abs(as-ps) > 0.5 || math.Hypot(ax-px, ay-py) > 0.5 {
			moved++
		}
	}
	if moved < 3*n*3/4 {
		t.Errorf("only %d of %d jittered crops differ from the plain crop", moved, 3*n)
	}
	if _, err := ParseConfig("x.yaml", []byte("seed: 1\n"), []string{"data.crop_shift_jitter=0.6"}); err == nil || !strings.Contains(err.Error(), "data.crop_shift_jitter") {
		t.Errorf("crop_shift_jitter 0.6: %v", err)
	}
}
