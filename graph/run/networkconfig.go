package run

import (
	"fmt"
	"math"

	"github.com/stn3d/stn3d/graph"
	"gorgonia.org/tensor"
)

// NetworkConfigFrom maps the YAML run configuration onto a graph.NetworkConfig.
func NetworkConfigFrom(cfg Config) (graph.NetworkConfig, error) {
	mc := graph.NetworkConfig{
		Localiser: graph.LocaliserOptions{Kind: cfg.Localiser.Arch, Seed: cfg.Seed,
			InputMean: cfg.Localiser.InputMean, InputScale: cfg.Localiser.InputScale},
		FaceFraction: cfg.Localiser.FaceFraction,
		Pretrained:   cfg.Localiser.Weights,
		STN:          graph.STNOptions{TrainableBasis: cfg.STN.TrainableBasis},
		Loss: graph.LossOptions{Weights: graph.LossWeights{Landmark: cfg.Loss.Landmark, Prior: cfg.Loss.Prior,
			Symmetry: cfg.Loss.Symmetry, Siamese: cfg.Loss.Siamese}},
		Scheme:      cfg.Model.Scheme,
		Recognition: recognitionOptions(cfg),
		ScaledBias:  cfg.Optim.Solver == graph.SolverAdam,
		Mults: map[string]graph.ParamMult{
			graph.ThetaWeightName: {LR: cfg.Optim.HeadWeightLRMult, Decay: 1},
			graph.ThetaBiasName:   {LR: cfg.Optim.HeadBiasLRMult, Decay: 0},
		},
	}
	size, err := graph.InputSizeFor(cfg.Localiser.Arch)
	if err != nil {
		return mc, err
	}
	if cfg.Localiser.Input != 0 && cfg.Localiser.Input != size {
		return mc, fmt.Errorf("graph: localiser.input %d: the %s localiser takes %d", cfg.Localiser.Input, cfg.Localiser.Arch, size)
	}
	switch cfg.STN.Scale {
	case "exp", "":
		mc.STN.ScaleBase = math.E
	case "0.99":
		mc.STN.ScaleBase = 0.99
	default:
		return mc, fmt.Errorf("graph: stn.scale %q: want \"exp\" or \"0.99\"", cfg.STN.Scale)
	}
	mc.Localiser.ScaleBase = mc.STN.ScaleBase
	switch cfg.Train.Float {
	case "float32", "":
		mc.Localiser.Dtype = tensor.Float32
	case "float64":
		mc.Localiser.Dtype = tensor.Float64
	default:
		return mc, fmt.Errorf("graph: train.float %q: want float32 or float64", cfg.Train.Float)
	}
	o := cfg.Optim
	s := graph.Schedule{Kind: o.Schedule, Base: o.LR, Warmup: o.WarmupSteps, Gamma: o.StepGamma}
	switch o.Schedule {
	case graph.ScheduleStep:
		if o.StepEvery <= 0 {
			return mc, fmt.Errorf("graph: optim.step_every %d: want > 0 with the step schedule", o.StepEvery)
		}
		for m := o.StepEvery; m < cfg.Train.Steps; m += o.StepEvery {
			s.Milestones = append(s.Milestones, m)
		}
	case graph.ScheduleCosine:
		s.Total = max(cfg.Train.Steps-o.WarmupSteps, 1)
		s.Min = o.MinLRFrac * o.LR
	}
	mc.Optim = graph.OptimizerConfig{Kind: o.Solver, Schedule: s, Momentum: o.Momentum, WeightDecay: o.WeightDecay,
		Beta1: o.Beta1, Beta2: o.Beta2, ClipNorm: o.ClipNorm}
	return mc, nil
}
