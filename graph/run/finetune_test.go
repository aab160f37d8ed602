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
