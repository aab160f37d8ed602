package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"

	"github.com/stn3d/stn3d/dataset"
)

func TestDataKindOf(t *testing.T) {
	dir := t.TempDir()
	mats := filepath.Join(dir, "aflw2000")
	if err := os.MkdirAll(mats, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p string) string {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(filepath.Join(mats, "image00002.mat"))
	for _, c := range []struct{ path, want string }{
		{dir, "pts"},
		{mats, "aflw2000"},
		{write(filepath.Join(dir, "faces.XML")), "dlib"},
		{write(filepath.Join(dir, "faces.jsonl")), "manifest"},
		{write(filepath.Join(dir, "faces.csv")), "manifest"},
	} {
		got, err := DataKindOf(c.path)
		if err != nil || got != c.want {
			t.Errorf("DataKindOf(%s) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
	for _, c := range []struct{ path, want string }{
		{write(filepath.Join(dir, "aflw.sqlite")), "needs its image folder"},
		{write(filepath.Join(dir, "faces.txt")), `unknown extension ".txt"`},
		{filepath.Join(dir, "missing.jsonl"), "no such file"},
	} {
		if _, err := DataKindOf(c.path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("DataKindOf(%s) error %v, want it to name the path and contain %q", c.path, err, c.want)
		}
	}
}

// TestSetupAugmentsTrainingOnly checks that the camera effects of the config
// reach the synthetic training split and never the validation split.
func TestSetupAugmentsTrainingOnly(t *testing.T) {
	cfg, err := LoadConfig(testenv.Config(t, "default.yaml"), []string{"data.train_count=10", "data.val_count=10",
		"data.color_jitter=0.3", "data.gray_prob=0.2", "data.blur_prob=0.4", "data.noise_std=5",
		"data.lowres_prob=0.25", "data.jpeg_prob=0.35", "data.pad_prob=0.15"})
	if err != nil {
		t.Fatal(err)
	}
	env, err := Setup(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, ok1 := env.Train.(*dataset.Synthetic)
	va, ok2 := env.Val.(*dataset.Synthetic)
	if !ok1 || !ok2 {
		t.Fatalf("sources %T, %T: want *dataset.Synthetic", env.Train, env.Val)
	}
	want := dataset.Photometric{ColorJitter: cfg.Data.ColorJitter, GrayProb: cfg.Data.GrayProb, BlurProb: cfg.Data.BlurProb, NoiseStd: cfg.Data.NoiseStd,
		LowResProb: cfg.Data.LowResProb, JPEGProb: cfg.Data.JPEGProb, PadProb: cfg.Data.PadProb}
	if want != (dataset.Photometric{ColorJitter: 0.3, GrayProb: 0.2, BlurProb: 0.4, NoiseStd: 5, LowResProb: 0.25, JPEGProb: 0.35, PadProb: 0.15}) {
		t.Fatalf("config camera effects %+v: the --set overrides did not arrive", want)
	}
	if got := tr.Config().Photometric; got != want {
		t.Errorf("training photometric %+v, want %+v", got, want)
	}
	if got := va.Config().Photometric; got != (dataset.Photometric{}) {
		t.Errorf("validation photometric %+v, want none", got)
	}
}
