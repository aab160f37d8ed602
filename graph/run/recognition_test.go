package run

import (
	"context"
	"encoding/binary"
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
	checkEmbed(t, cfg, out)
}

// checkEmbed embeds photographs with a trained recognition run: two copies
// of one image give one unit vector, a corrupt file is skipped by name,
// and the .npy file holds the vectors.
func checkEmbed(t *testing.T, cfg Config, run string) {
	t.Helper()
	dir := t.TempDir()
	src, err := recognitionTestSource(cfg, mustDefault(t), 112)
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for i := 0; i < 3; i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("face%d.png", i))
		if err := dataset.WritePNG(p, s.Image); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, p)
	}
	copyOf := filepath.Join(dir, "copy.png")
	data, err := os.ReadFile(inputs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyOf, data, 0o644); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(broken, data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Embed(context.Background(), EmbedOptions{Checkpoint: run, Inputs: append(inputs, copyOf, broken), Batch: 2, Margin: -1})
	if err == nil || len(res.Failed) != 1 || res.Failed[0].Input != broken {
		t.Fatalf("embed: error %v, failed %v: want the broken file skipped by name", err, res.Failed)
	}
	if len(res.Faces) != 4 || len(res.Faces[0].Embedding) != cfg.Recognition.Embedding {
		t.Fatalf("%d faces of %d values, want 4 of %d", len(res.Faces), len(res.Faces[0].Embedding), cfg.Recognition.Embedding)
	}
	for _, f := range res.Faces {
		var n float64
		for _, v := range f.Embedding {
			n += float64(v) * float64(v)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("%s: |embedding|^2 = %v, want 1", f.Input, n)
		}
	}
	for i, v := range res.Faces[0].Embedding {
		if res.Faces[3].Embedding[i] != v {
			t.Fatalf("a copy of %s embeds differently at %d: %v vs %v", inputs[0], i, res.Faces[3].Embedding[i], v)
		}
	}
	npy, names := filepath.Join(dir, "e.npy"), filepath.Join(dir, "e.txt")
	if err := WriteEmbeddingsNPY(npy, names, res.Faces); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(npy)
	if err != nil {
		t.Fatal(err)
	}
	hlen := int(raw[8]) | int(raw[9])<<8
	if string(raw[:8]) != "\x93NUMPY\x01\x00" || (10+hlen)%64 != 0 || len(raw) != 10+hlen+4*4*cfg.Recognition.Embedding {
		t.Errorf(".npy: magic %q, header %d bytes, file %d bytes", raw[:8], hlen, len(raw))
	}
	if !strings.Contains(string(raw[10:10+hlen]), fmt.Sprintf("'shape': (4, %d)", cfg.Recognition.Embedding)) {
		t.Errorf(".npy header %q", raw[10:10+hlen])
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[10+hlen:])); got != res.Faces[0].Embedding[0] {
		t.Errorf(".npy first value %v, want %v", got, res.Faces[0].Embedding[0])
	}
	if lines, _ := os.ReadFile(names); strings.Count(string(lines), "\n") != 4 || !strings.HasPrefix(string(lines), inputs[0]+"\n") {
		t.Errorf("names file %q", lines)
	}
}

func mustDefault(t *testing.T) *bfm.Model {
	t.Helper()
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	return m
}
