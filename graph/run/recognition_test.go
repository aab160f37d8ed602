package run

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"
)

// TestTrainRecognitionTiny trains tiny.yaml with the identity branch on the
// texture for a few dozen steps and evaluates face verification on unseen
// people: the metrics are complete and consistent, and the recogniser has
// learnt something (AUC above chance).
func TestTrainRecognitionTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for tens of seconds; skipped with -short")
	}
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), []string{
		"recognition.input=texture", "recognition.identities=8", "recognition.channels=[8, 16, 16, 16]",
		"recognition.embedding=16", "recognition.test_identities=6", "recognition.test_images=4",
		"train.steps=60", "train.val_every=60", "train.checkpoint_every=60"})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	out := t.TempDir()
	if _, err := Train(context.Background(), cfg, TrainOptions{Out: out, Log: log}); err != nil {
		t.Fatal(err)
	}
	met, err := Evaluate(context.Background(), cfg, EvalOptions{Checkpoint: out, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	r := met.Recognition
	if r == nil {
		t.Fatal("no recognition metrics")
	}
	// 6 people x 4 images: 24 images, 6*C(4,2) = 36 genuine pairs and
	// C(24,2) - 36 = 240 impostor pairs; 6 gallery images, 18 probes.
	if r.Images != 24 || r.Identities != 6 || r.All.Genuine != 36 || r.All.Impostor != 240 {
		t.Errorf("verification set: %d images, %d people, %d genuine, %d impostor pairs; want 24, 6, 36, 240",
			r.Images, r.Identities, r.All.Genuine, r.All.Impostor)
	}
	t.Logf("after 60 steps: AUC %.3f, rank-1 %.3f", r.All.AUC, r.Rank1)
	if !(r.All.AUC > 0.55) {
		t.Errorf("ROC AUC %.3f after 60 steps on 8 people: want > 0.55 (0.5 is chance)", r.All.AUC)
	}
	if r.All.TAR1e2 == nil || r.All.TAR1e3 != nil {
		t.Errorf("TAR@1e-2 %v (240 impostors: defined), TAR@1e-3 %v (undefined)", r.All.TAR1e2, r.All.TAR1e3)
	}
}

func TestRecognitionConfigErrors(t *testing.T) {
	for _, c := range []struct {
		set  []string
		want string
	}{
		{[]string{"recognition.input=pixels"}, `recognition.input: got "pixels"`},
		{[]string{"recognition.input=texture", "recognition.identities=1"}, "recognition.identities: got 1, expected at least 2 people"},
		{[]string{"recognition.input=crop", "recognition.test_images=1"}, "recognition.test_images: got 1"},
		{[]string{"recognition.input=crop", "recognition.channels=[]"}, "recognition.channels: got 0 blocks"},
		{[]string{"recognition.input=crop", "data.kind=manifest", "data.path=x.jsonl"}, "data.kind must be synthetic"},
	} {
		_, err := ParseConfig("x.yaml", nil, c.set)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.set, err, c.want)
		}
	}
}
