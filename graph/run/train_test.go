package run

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/internal/testenv"

	"github.com/stn3d/stn3d/graph"
)

// TestTrainTinyHalvesLandmarkError trains configs/tiny.yaml and checks that
// the validation landmark error falls at least by half from the untrained
// localiser's, that the run directory holds what Evaluate needs, and that
// Evaluate on it reproduces the training's last validation.
func TestTrainTinyHalvesLandmarkError(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for tens of seconds; skipped with -short")
	}
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	env, err := Setup(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := NetworkConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m0, err := graph.NewNetwork(mc, env.Grid, cfg.Eval.Batch)
	if err != nil {
		t.Fatal(err)
	}
	before, err := EvaluateSource(ctx, m0, env.Val, env.Val.Len(), cfg.Model.Scheme)
	m0.Close()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := Train(ctx, cfg, TrainOptions{Out: out, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != cfg.Train.Steps {
		t.Fatalf("trained %d steps, want %d", res.Steps, cfg.Train.Steps)
	}
	for _, f := range []string{RunConfigFile, RunGridFile, RunMetricsFile, RunBestFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("run directory lacks %s: %v", f, err)
		}
	}
	// Fitted once per crop (no test-time mirroring or second pass), as
	// training validates.
	cfg.Eval.Flip, cfg.Eval.Derotate = false, false
	after, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: out, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("validation mean error %.2f px (NME %.2f%%) untrained -> %.2f px (NME %.2f%%) after %d steps",
		before.MeanErrorPx, before.NME, after.MeanErrorPx, after.NME, res.Steps)
	if !(after.MeanErrorPx <= before.MeanErrorPx/2) {
		t.Errorf("validation mean error %.2f px -> %.2f px: did not fall by half", before.MeanErrorPx, after.MeanErrorPx)
	}
	if after.Images != env.Val.Len() {
		t.Errorf("evaluated %d images, want %d", after.Images, env.Val.Len())
	}
	// tiny.yaml validates once, at the last step, on all its validation
	// images: best.ckpt is that step's, and Evaluate must reproduce it.
	if _, err := Embed(ctx, EmbedOptions{Checkpoint: out, Inputs: []string{"a.png"}}); err == nil || !strings.Contains(err.Error(), "was not trained for recognition") {
		t.Errorf("embed with a landmark-only run: %v", err)
	}
	last := lastValidation(t, filepath.Join(out, RunMetricsFile))
	if last.Images != after.Images || last.NME != after.NME || last.MeanErrorPx != after.MeanErrorPx || last.NME != res.BestNME {
		t.Errorf("Evaluate: %d images NME %v mean error %v px; training's last validation: %d images NME %v mean error %v px (best %v)",
			after.Images, after.NME, after.MeanErrorPx, last.Images, last.NME, last.MeanErrorPx, res.BestNME)
	}
}

// lastValidation reads the last "val" record of a metrics log.
func lastValidation(t *testing.T, path string) dataset.Metrics {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var last *dataset.Metrics
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Val *dataset.Metrics `json:"val"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%s: %v in %q", path, err, line)
		}
		if rec.Val != nil {
			last = rec.Val
		}
	}
	if last == nil {
		t.Fatalf("%s holds no validation", path)
	}
	return *last
}
