package run

import (
	"math"
	"strings"
	"testing"
)

func TestNetworkConfigFrom(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Optim.Schedule = "step"
	cfg.Optim.StepEvery = 500
	cfg.Train.Steps = 2000
	mc, err := NetworkConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := mc.Optim.Schedule.Milestones; len(got) != 3 || got[0] != 500 || got[2] != 1500 {
		t.Errorf("milestones %v", got)
	}
	if mc.STN.ScaleBase != math.E || mc.Localiser.Kind != "small" {
		t.Errorf("%+v", mc)
	}
	cfg.STN.Scale = "2"
	if _, err := NetworkConfigFrom(cfg); err == nil || !strings.Contains(err.Error(), `stn.scale "2"`) {
		t.Errorf("bad scale: %v", err)
	}
}
