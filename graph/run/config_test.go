package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"
)

func TestParseConfigOverridesAndDefaults(t *testing.T) {
	src := "seed: 7\noptim:\n  lr: 0.01\n  solver: sgd\ntrain:\n  batch: 8\n"
	cfg, err := ParseConfig("a.yaml", []byte(src), []string{"optim.lr=0.5", "loss.prior=0.25", "model.scheme=ibug68"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Seed != 7 || cfg.Optim.LR != 0.5 || cfg.Optim.Solver != "sgd" || cfg.Train.Batch != 8 {
		t.Errorf("got seed %d lr %v solver %q batch %d", cfg.Seed, cfg.Optim.LR, cfg.Optim.Solver, cfg.Train.Batch)
	}
	if cfg.Loss.Prior != 0.25 || cfg.Model.Scheme != "ibug68" {
		t.Errorf("override of absent keys: prior %v scheme %q", cfg.Loss.Prior, cfg.Model.Scheme)
	}
	if cfg.Localiser.Arch != "small" || cfg.Model.Path != "default" {
		t.Errorf("defaults lost: %+v", cfg.Localiser)
	}
}

func TestParseConfigErrorsNameKeyAndLine(t *testing.T) {
	cases := []struct {
		src, want string
	}{
		{"seed: 1\noptim:\n  lr: 0.01\n  lrr: 3\n", "a.yaml:4: optim.lrr: unknown key (did you mean \"lr\"?)"},
		{"seed: 1\ntrain:\n  batch: 7\n", "a.yaml:3: train.batch: got 7, expected an even number"},
		{"optim:\n  solver: rmsprop\n", "a.yaml:2: optim.solver: got \"rmsprop\", expected one of sgd, adam"},
		{"optim:\n  lr: -1\n", "a.yaml:2: optim.lr: got -1, expected a finite number > 0"},
		{"train:\n  batch: many\n", "line 2: cannot unmarshal !!str `many` into int"},
		{"optim: 3\n", "a.yaml:1: optim: expected a section"},
		{"data:\n  yaw_deg: 120\n", "a.yaml:2: data.yaw_deg: got 120, expected 0..90 degrees"},
		{"loss:\n  landmark: 1\n  hidden_landmark: 2\n", "a.yaml:3: loss.hidden_landmark: got 2, expected a number in [0, 1]"},
		{"data:\n  kind: manifest\n", "data.path: data.kind \"manifest\" needs data.path"},
		{"seed: [1\n", "a.yaml: (syntax)"},
	}
	for _, c := range cases {
		_, err := ParseConfig("a.yaml", []byte(c.src), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want it to contain %q", c.src, err, c.want)
		}
	}
	if _, err := ParseConfig("a.yaml", []byte("seed: 1\n"), []string{"nonsense"}); err == nil || !strings.Contains(err.Error(), "expected key=value") {
		t.Errorf("bad --set: %v", err)
	}
	if _, err := ParseConfig("a.yaml", []byte("seed: 1\n"), []string{"optim.lrate=1"}); err == nil || !strings.Contains(err.Error(), "optim.lrate: unknown key") {
		t.Errorf("unknown --set key: %v", err)
	}
}

func TestShippedConfigsParse(t *testing.T) {
	files, _ := filepath.Glob(testenv.Config(t, "*.yaml"))
	if len(files) < 3 {
		t.Fatalf("expected configs/default.yaml, tiny.yaml and paper.yaml, found %v", files)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadConfig(f, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
