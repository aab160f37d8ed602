package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"
)

// TestShippedTrainConfig: configs/detector/detector.yaml is the default
// configuration (the one the embedded weights record) with the shared
// AFLW2000-3D folder.
func TestShippedTrainConfig(t *testing.T) {
	cfg, err := ReadTrainConfig(testenv.Config(t, "detector/detector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultTrainConfig()
	def.AFLW2000 = "../shared/data/faces/aflw2000"
	if cfg.Seed != def.Seed || cfg.Steps != def.Steps || cfg.Batch != def.Batch || cfg.LR != def.LR || cfg.MaxFPPerPhoto != def.MaxFPPerPhoto ||
		cfg.Synthetic != def.Synthetic || cfg.AFLW2000 != def.AFLW2000 || cfg.HardSteps != def.HardSteps || cfg.HardRounds != def.HardRounds ||
		cfg.HardLR != def.HardLR || cfg.HardProb != def.HardProb || cfg.MineThreshold != def.MineThreshold {
		t.Errorf("shipped config %+v, want the default %+v", cfg, def)
	}
	m := defaultDetector(t).Meta()
	if _, boot := m.Train["hard_steps"]; boot != (cfg.HardSteps > 0) {
		t.Errorf("embedded weights bootstrapped: %v; config's hard_steps %d", boot, cfg.HardSteps)
	}
	if m.Train["seed"] != float64(cfg.Seed) || m.Train["steps"] != float64(cfg.Steps) {
		t.Errorf("embedded weights trained with seed %v, %v steps; config says %d, %d", m.Train["seed"], m.Train["steps"], cfg.Seed, cfg.Steps)
	}
}

func TestTrainConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ yaml, want string }{
		{"seed: 1\nstepz: 3\n", "field stepz not found"},
		{"aflw2000: x\npatch: 20\n", "patch 20"},
		{"aflw2000: x\ngamma: 1\n", "gamma 1"},
		{"steps: 3\n", "aflw2000"},
		{"aflw2000: x\nhard_steps: 10\nhard_rounds: 0\n", "hard_steps 10, hard_rounds 0"},
		{"aflw2000: x\nhard_steps: 10\nhard_rounds: 1\nhard_lr: 0.001\nhard_prob: 2\nmine_threshold: 0.3\n", "hard_prob 2"},
	} {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(c.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadTrainConfig(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
