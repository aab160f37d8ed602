package run

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"

	"github.com/stn3d/stn3d/graph"
)

// trainLosses runs Train and returns the logged total loss per step.
func trainLosses(t *testing.T, cfg Config, out string, resume bool) map[int]float64 {
	t.Helper()
	if _, err := Train(context.Background(), cfg, TrainOptions{Out: out, Resume: resume}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, RunMetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	losses := map[int]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Step int      `json:"step"`
			Loss *float64 `json:"loss"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", RunMetricsFile, err)
		}
		if rec.Loss != nil {
			losses[rec.Step] = *rec.Loss
		}
	}
	return losses
}

// TestTrainResumeExact trains tiny.yaml for 6 steps in one go and for 3 + 3
// with --resume in between (float32 graph, float32 Adam state through a
// float64 checkpoint): every logged loss and the final weights must be
// bit-identical.
func TestTrainResumeExact(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a few steps; skipped with -short")
	}
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), []string{
		"train.steps=6", "train.log_every=1", "train.val_every=100", "train.checkpoint_every=3",
		"data.train_count=64", "data.val_count=8", "train.val_images=8"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	whole := trainLosses(t, cfg, filepath.Join(dir, "whole"), false)

	half := cfg
	half.Train.Steps = 3
	split := filepath.Join(dir, "split")
	trainLosses(t, half, split, false)
	resumed := trainLosses(t, cfg, split, true)

	if len(whole) != 6 {
		t.Fatalf("uninterrupted run logged %d steps, want 6: %v", len(whole), whole)
	}
	for step, want := range whole {
		if got, ok := resumed[step]; !ok || got != want {
			t.Errorf("step %d: loss %v after resume (logged %v), uninterrupted %v", step, got, ok, want)
		}
	}
	ck, err := graph.LoadCheckpoint(filepath.Join(split, "ckpt-00000006.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	ckWhole, err := graph.LoadCheckpoint(filepath.Join(dir, "whole", "ckpt-00000006.ckpt"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != ckWhole.Step || len(ck.Opt) != len(ckWhole.Opt) || len(ck.Opt) == 0 {
		t.Fatalf("checkpoints: step %d vs %d, %d vs %d optimiser buffers", ck.Step, ckWhole.Step, len(ck.Opt), len(ckWhole.Opt))
	}
	if len(ck.Params) != len(ckWhole.Params) || len(ck.Params) == 0 {
		t.Fatalf("checkpoints hold %d and %d parameters", len(ck.Params), len(ckWhole.Params))
	}
	for k, p := range ckWhole.Params {
		q := ck.Params[k]
		if q.Name != p.Name || len(q.Data) != len(p.Data) || len(p.Data) == 0 {
			t.Fatalf("parameter %d: %s (%d float32 values) vs %s (%d)", k, q.Name, len(q.Data), p.Name, len(p.Data))
		}
		for i := range p.Data {
			if q.Data[i] != p.Data[i] {
				t.Fatalf("parameter %s[%d] = %v after resume, uninterrupted %v", p.Name, i, q.Data[i], p.Data[i])
			}
		}
	}
	for name, want := range ckWhole.Opt {
		got := ck.Opt[name]
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("optimiser state %s[%d] = %v after resume, uninterrupted %v", name, i, got[i], want[i])
			}
		}
	}
}
