package detect

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/ops"
	"gopkg.in/yaml.v3"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TrainConfig configures Train (configs/detector/detector.yaml).
type TrainConfig struct {
	Seed uint64 `yaml:"seed"`
	// AFLW2000 is the AFLW2000-3D folder whose training part
	// (not AFLWHeldOut) gives the real positives.
	AFLW2000 string `yaml:"aflw2000"`
	// Synthetic is the number of rendered faces in the pool, SynthProb the
	// probability that a pasted face is one of them.
	Synthetic int     `yaml:"synthetic"`
	SynthProb float64 `yaml:"synth_prob"`
	// Patch is the side of the training patches (a multiple of Stride).
	Patch int `yaml:"patch"`
	Batch int `yaml:"batch"`
	Steps int `yaml:"steps"`
	// LR is Adam's base rate (cosine schedule to LR/50 after Warmup steps).
	LR          float64 `yaml:"lr"`
	Warmup      int     `yaml:"warmup"`
	WeightDecay float64 `yaml:"weight_decay"`
	// Alpha and Gamma of the focal loss; RegWeight of the box term.
	Alpha     float64 `yaml:"alpha"`
	Gamma     float64 `yaml:"gamma"`
	RegWeight float64 `yaml:"reg_weight"`
	// Threshold is the score threshold stored with the weights; with
	// MaxFPPerPhoto > 0 it is chosen instead on the training photographs
	// (see Calibrate).
	Threshold     float64 `yaml:"threshold"`
	MaxFPPerPhoto float64 `yaml:"max_fp_per_photo"`
	// HardSteps > 0 adds a bootstrapping stage of HardRounds rounds
	// (FineTune): the calibrated detector's detections on the Mined
	// training photographs that are no face and score at least
	// MineThreshold join a pool of negatives, pasted one per patch with
	// probability HardProb into HardSteps more steps at base rate HardLR.
	HardSteps     int     `yaml:"hard_steps"`
	HardRounds    int     `yaml:"hard_rounds"`
	HardLR        float64 `yaml:"hard_lr"`
	HardProb      float64 `yaml:"hard_prob"`
	MineThreshold float64 `yaml:"mine_threshold"`
}

// DefaultTrainConfig returns the configuration of the embedded weights.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Seed: 14, Synthetic: 2000, SynthProb: 0.2, Patch: 80, Batch: 32, Steps: 36000,
		LR: 2e-3, Warmup: 200, WeightDecay: 1e-4, Alpha: 0.25, Gamma: 2, RegWeight: 2, Threshold: 0.5, MaxFPPerPhoto: 0.1,
		HardRounds: 2, HardLR: 5e-4, HardProb: 0.7, MineThreshold: 0.1}
}

// ReadTrainConfig reads a YAML file over DefaultTrainConfig; unknown keys
// are errors.
func ReadTrainConfig(path string) (TrainConfig, error) {
	cfg := DefaultTrainConfig()
	f, err := os.Open(path)
	if err != nil {
		return cfg, fmt.Errorf("detect: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("detect: %s: %w", path, err)
	}
	return cfg, cfg.Validate()
}

// Validate reports the first bad field.
func (c TrainConfig) Validate() error {
	switch {
	case c.Patch < 2*Stride || c.Patch%Stride != 0:
		return fmt.Errorf("detect: train config: patch %d: want a multiple of %d, at least %d", c.Patch, Stride, 2*Stride)
	case c.Batch < 1 || c.Steps < 0:
		return fmt.Errorf("detect: train config: batch %d, steps %d: want >= 1, >= 0", c.Batch, c.Steps)
	case c.Synthetic < 0 || !(c.SynthProb >= 0 && c.SynthProb <= 1) || (c.SynthProb > 0 && c.Synthetic == 0):
		return fmt.Errorf("detect: train config: synthetic %d, synth_prob %v: want >= 0, in [0, 1], a pool when used", c.Synthetic, c.SynthProb)
	case !(c.LR > 0) || c.Warmup < 0 || !(c.WeightDecay >= 0):
		return fmt.Errorf("detect: train config: lr %v, warmup %d, weight_decay %v: want > 0, >= 0, >= 0", c.LR, c.Warmup, c.WeightDecay)
	case !(c.Alpha > 0 && c.Alpha < 1) || (c.Gamma != 0 && c.Gamma != 2) || !(c.RegWeight >= 0):
		return fmt.Errorf("detect: train config: alpha %v, gamma %v, reg_weight %v: want in (0,1), 0 or 2, >= 0", c.Alpha, c.Gamma, c.RegWeight)
	case !(c.MaxFPPerPhoto >= 0):
		return fmt.Errorf("detect: train config: max_fp_per_photo %v: want >= 0", c.MaxFPPerPhoto)
	case !(c.Threshold > 0 && c.Threshold < 1):
		return fmt.Errorf("detect: train config: threshold %v: want in (0, 1)", c.Threshold)
	case c.HardSteps < 0 || (c.HardSteps > 0 && !(c.HardRounds >= 1 && c.HardLR > 0 && c.HardProb > 0 && c.HardProb <= 1 && c.MineThreshold > 0 && c.MineThreshold < 1)):
		return fmt.Errorf("detect: train config: hard_steps %d, hard_rounds %d, hard_lr %v, hard_prob %v, mine_threshold %v: want >= 0 and, when > 0, >= 1, > 0, in (0, 1], in (0, 1)",
			c.HardSteps, c.HardRounds, c.HardLR, c.HardProb, c.MineThreshold)
	case c.AFLW2000 == "":
		return errors.New("detect: train config: aflw2000: want the AFLW2000-3D folder")
	}
	return nil
}

// trainNet is the detector as a Gorgonia graph for one batch size.
type trainNet struct {
	g                      *gorgonia.ExprGraph
	x, wp, wn, wr, tr      *gorgonia.Node
	xT, wpT, wnT, wrT, trT *tensor.Dense
	cls, reg               *gorgonia.Node
	loss, lcls, lreg       *gorgonia.Node
	params                 []*gorgonia.Node
	vm                     gorgonia.VM
	opt                    *graph.Optimizer
	batch, patch, cells    int
}

func newTrainNet(cfg TrainConfig) (*trainNet, error) {
	B, P := cfg.Batch, cfg.Patch
	G := P / Stride
	t := &trainNet{g: gorgonia.NewGraph(), batch: B, patch: P, cells: G}
	g := t.g
	dt := tensor.Float32
	newIn := func(name string, c, h int) (*gorgonia.Node, *tensor.Dense) {
		v := tensor.New(tensor.Of(dt), tensor.WithShape(B, c, h, h))
		return gorgonia.NewTensor(g, dt, 4, gorgonia.WithShape(B, c, h, h), gorgonia.WithName(name), gorgonia.WithValue(v)), v
	}
	t.x, t.xT = newIn("x", 3, P)
	t.wp, t.wpT = newIn("wpos", 1, G)
	t.wn, t.wnT = newIn("wneg", 1, G)
	t.wr, t.wrT = newIn("wreg", 4, G)
	t.tr, t.trT = newIn("treg", 4, G)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	param := func(name string, shape []int, std float64) *gorgonia.Node {
		n := 1
		for _, d := range shape {
			n *= d
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(rng.NormFloat64() * std)
		}
		p := gorgonia.NewTensor(g, dt, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name),
			gorgonia.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))))
		t.params = append(t.params, p)
		return p
	}
	x := t.x
	var err error
	for i, l := range arch[:len(arch)-1] {
		w := param(l.name+".w", []int{l.cout, l.cin, l.k, l.k}, math.Sqrt(2/float64(l.cin*l.k*l.k)))
		b := param(l.name+".b", []int{l.cout}, 0)
		conv := ops.Conv2D
		if i == 0 {
			conv = ops.Conv2DNoInputGrad
		}
		if x, err = conv(x, w, b, l.k/2, 1, l.relu); err != nil {
			return nil, fmt.Errorf("detect: %s: %w", l.name, err)
		}
		if l.pool {
			if x, err = ops.MaxPool2x2(x); err != nil {
				return nil, fmt.Errorf("detect: %s pool: %w", l.name, err)
			}
		}
	}
	head := arch[len(arch)-1]
	cw := param("cls.w", []int{1, head.cin, 1, 1}, 0.01)
	cb := param("cls.b", []int{1}, 0)
	// Prior probability 0.01 for a face at start (RetinaNet's bias).
	cb.Value().Data().([]float32)[0] = float32(math.Log(0.01 / 0.99))
	rwt := param("reg.w", []int{4, head.cin, 1, 1}, 0.01)
	rb := param("reg.b", []int{4}, 0)
	if t.cls, err = ops.Conv2D(x, cw, cb, 0, 1, false); err != nil {
		return nil, fmt.Errorf("detect: cls: %w", err)
	}
	if t.reg, err = ops.Conv2D(x, rwt, rb, 0, 1, false); err != nil {
		return nil, fmt.Errorf("detect: reg: %w", err)
	}
	if err := t.buildLoss(cfg); err != nil {
		return nil, err
	}
	if _, err := gorgonia.Grad(t.loss, t.params...); err != nil {
		return nil, fmt.Errorf("detect: gradients: %w", err)
	}
	mults := map[string]graph.ParamMult{}
	for _, p := range t.params {
		if p.Dims() == 1 {
			mults[p.Name()] = graph.ParamMult{LR: 1, Decay: 0}
		}
	}
	sched := graph.Schedule{Kind: graph.ScheduleCosine, Base: cfg.LR, Total: max(cfg.Steps-cfg.Warmup, 1), Min: cfg.LR / 50, Warmup: cfg.Warmup}
	if t.opt, err = graph.NewOptimizer(graph.OptimizerConfig{Kind: graph.SolverAdam, Schedule: sched, WeightDecay: cfg.WeightDecay, ClipNorm: 10}, t.params, mults); err != nil {
		return nil, err
	}
	t.vm = gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(t.params...))
	return t, nil
}

// buildLoss adds the focal loss (alpha, gamma) on the cell logits and a
// weighted squared error on the box outputs.
func (t *trainNet) buildLoss(cfg TrainConfig) error {
	m := gorgonia.Must
	z := t.cls
	nz := m(gorgonia.Neg(z))
	// Positive term (1-p)^gamma * -log p = sigmoid(-z)^gamma * softplus(-z).
	pos := m(gorgonia.Softplus(nz))
	neg := m(gorgonia.Softplus(z))
	if cfg.Gamma == 2 {
		pos = m(gorgonia.HadamardProd(m(gorgonia.Square(m(gorgonia.Sigmoid(nz)))), pos))
		neg = m(gorgonia.HadamardProd(m(gorgonia.Square(m(gorgonia.Sigmoid(z)))), neg))
	}
	t.lcls = m(gorgonia.Add(m(gorgonia.Sum(m(gorgonia.HadamardProd(t.wp, pos)))), m(gorgonia.Sum(m(gorgonia.HadamardProd(t.wn, neg))))))
	d := m(gorgonia.Sub(t.reg, t.tr))
	t.lreg = m(gorgonia.Sum(m(gorgonia.HadamardProd(t.wr, m(gorgonia.Square(d))))))
	t.loss = m(gorgonia.Add(t.lcls, t.lreg))
	return nil
}

// tensors returns the weights in the inference layout: the two heads joined
// into "head" (NumOut outputs).
func (t *trainNet) tensors() ([]graph.WeightTensor, error) {
	ts, err := graph.TensorsFromNodes(t.params)
	if err != nil {
		return nil, err
	}
	by := map[string]graph.WeightTensor{}
	var out []graph.WeightTensor
	for _, w := range ts {
		by[w.Name] = w
		if w.Name[:3] == "cls" || w.Name[:3] == "reg" {
			continue
		}
		out = append(out, w)
	}
	cin := arch[len(arch)-1].cin
	out = append(out,
		graph.WeightTensor{Name: "head.w", Shape: []int{NumOut, cin, 1, 1}, Data: append(append([]float32(nil), by["cls.w"].Data...), by["reg.w"].Data...)},
		graph.WeightTensor{Name: "head.b", Shape: []int{NumOut}, Data: append(append([]float32(nil), by["cls.b"].Data...), by["reg.b"].Data...)})
	return out, nil
}

// setTensors loads weights in the inference layout (tensors) into the
// graph's parameters.
func (t *trainNet) setTensors(ts []graph.WeightTensor) error {
	by := map[string]graph.WeightTensor{}
	for _, w := range ts {
		by[w.Name] = w
	}
	head, hb := by["head.w"], by["head.b"]
	cin := arch[len(arch)-1].cin
	if len(head.Data) != NumOut*cin || len(hb.Data) != NumOut {
		return fmt.Errorf("detect: init weights: head.w %d, head.b %d values: want %d, %d", len(head.Data), len(hb.Data), NumOut*cin, NumOut)
	}
	by["cls.w"] = graph.WeightTensor{Data: head.Data[:cin]}
	by["reg.w"] = graph.WeightTensor{Data: head.Data[cin:]}
	by["cls.b"] = graph.WeightTensor{Data: hb.Data[:1]}
	by["reg.b"] = graph.WeightTensor{Data: hb.Data[1:]}
	for _, p := range t.params {
		w, ok := by[p.Name()]
		d := p.Value().Data().([]float32)
		if !ok || len(w.Data) != len(d) {
			return fmt.Errorf("detect: init weights: %s: %d values: want %d", p.Name(), len(w.Data), len(d))
		}
		copy(d, w.Data)
	}
	return nil
}

// Progress is one logged training step.
type Progress struct {
	Step           int
	Loss, Cls, Reg float64
	Positives      float64 // per patch
	LR             float64
	ImagesPerSec   float64
}

// Train trains the detector from cfg and returns its weights, with the
// threshold of cfg and an identity calibration (see Calibrate). log, when
// not nil, is called every logEvery steps.
func Train(cfg TrainConfig, logEvery int, log func(Progress)) (Meta, []graph.WeightTensor, error) {
	if err := cfg.Validate(); err != nil {
		return Meta{}, nil, err
	}
	meta, ts, err := train(cfg, nil, nil, logEvery, log)
	if err != nil {
		return Meta{}, nil, err
	}
	meta.Train["steps"] = cfg.Steps
	meta.Train["lr"] = cfg.LR
	return meta, ts, nil
}

// FineTune is one round of the bootstrapping stage: it continues training
// the weights ts (meta's) for cfg.HardSteps steps, base rate cfg.HardLR with a fresh
// warm-up and cosine schedule, on patches made as Train's plus, with
// probability cfg.HardProb, one of the mined negatives hard
// (MineHardNegatives) pasted at a size in the band. The returned meta
// keeps meta's training record, adds this stage's, and has an identity
// calibration and cfg's threshold (see Calibrate).
func FineTune(cfg TrainConfig, meta Meta, ts []graph.WeightTensor, hard []HardNegative, logEvery int, log func(Progress)) (Meta, []graph.WeightTensor, error) {
	if err := cfg.Validate(); err != nil {
		return Meta{}, nil, err
	}
	for _, h := range hard {
		if h.piece.src == nil {
			return Meta{}, nil, fmt.Errorf("detect: fine-tune: negative %q %+v was not mined (MineHardNegatives)", h.Source, h.Box)
		}
	}
	if cfg.HardSteps == 0 || len(hard) == 0 {
		return Meta{}, nil, fmt.Errorf("detect: fine-tune: hard_steps %d, %d mined negatives: want both > 0", cfg.HardSteps, len(hard))
	}
	c := cfg
	c.Steps, c.LR = cfg.HardSteps, cfg.HardLR
	// Round r (1, 2, ...) draws its own patches: seed + r.
	round := int(toFloat(meta.Train["hard_rounds"])) + 1
	c.Seed = cfg.Seed + uint64(round)
	m, out, err := train(c, ts, hard, logEvery, log)
	if err != nil {
		return Meta{}, nil, err
	}
	for k, v := range meta.Train {
		if _, ok := m.Train[k]; !ok {
			m.Train[k] = v
		}
	}
	m.Train["seconds"] = m.Train["seconds"].(float64) + toFloat(meta.Train["seconds"])
	m.Train["hard_negatives"] = len(hard)
	m.Train["hard_rounds"] = round
	m.Train["hard_steps"] = cfg.HardSteps
	m.Train["hard_lr"] = cfg.HardLR
	m.Train["hard_prob"] = cfg.HardProb
	m.Train["mine_threshold"] = cfg.MineThreshold
	return m, out, nil
}

func toFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int:
		return float64(v)
	}
	return 0
}

// train runs cfg.Steps steps from init (random weights when nil), pasting
// the mined negatives hard when there are any.
func train(cfg TrainConfig, init []graph.WeightTensor, hard []HardNegative, logEvery int, log func(Progress)) (_ Meta, _ []graph.WeightTensor, err error) {
	start := time.Now()
	photos, err := loadAFLWTrain(cfg.AFLW2000, 1)
	if err != nil {
		return Meta{}, nil, err
	}
	var synth []*source
	if cfg.Synthetic > 0 {
		if synth, err = renderSynthetic(cfg.Synthetic, cfg.Seed); err != nil {
			return Meta{}, nil, fmt.Errorf("detect: synthetic faces: %w", err)
		}
	}
	t, err := newTrainNet(cfg)
	if err != nil {
		return Meta{}, nil, err
	}
	defer func() { err = errors.Join(err, t.vm.Close()) }()
	if init != nil {
		if err := t.setTensors(init); err != nil {
			return Meta{}, nil, err
		}
	}
	pm := &patchMaker{size: cfg.Patch, photos: photos, synth: synth, synthProb: cfg.SynthProb, hardProb: cfg.HardProb}
	for _, h := range hard {
		pm.hard = append(pm.hard, h.piece)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xda7a))
	G := t.cells
	n := G * G
	var patch, tmp rgb
	pos, neg := make([]float32, n), make([]float32, n)
	rw, rt := make([]float32, 4*n), make([]float32, 4*n)
	xs := t.xT.Data().([]float32)
	wps, wns := t.wpT.Data().([]float32), t.wnT.Data().([]float32)
	wrs, trs := t.wrT.Data().([]float32), t.trT.Data().([]float32)
	P := cfg.Patch
	var sumLoss, sumCls, sumReg, sumPos float64
	lastT, lastStep := time.Now(), 0
	for step := 0; step < cfg.Steps; step++ {
		npos := 0
		for b := 0; b < t.batch; b++ {
			faces := pm.make(rng, &patch, &tmp)
			toCHW(xs[b*3*P*P:(b+1)*3*P*P], &patch)
			npos += labels(faces, G, pos, neg, rw, rt)
			copy(wps[b*n:], pos)
			copy(wns[b*n:], neg)
			copy(wrs[b*4*n:], rw)
			copy(trs[b*4*n:], rt)
		}
		norm := float32(1 / float64(max(npos, 1)))
		for i := range wps {
			wps[i] *= norm * float32(cfg.Alpha)
			wns[i] *= norm * float32(1-cfg.Alpha)
		}
		for i := range wrs {
			wrs[i] *= norm * float32(cfg.RegWeight)
		}
		if err := t.vm.RunAll(); err != nil {
			return Meta{}, nil, fmt.Errorf("detect: step %d: %w", step, err)
		}
		sumLoss += scalar(t.loss)
		sumCls += scalar(t.lcls)
		sumReg += scalar(t.lreg)
		sumPos += float64(npos) / float64(t.batch)
		err := t.opt.Step()
		t.vm.Reset()
		if err != nil {
			return Meta{}, nil, fmt.Errorf("detect: step %d: %w", step, err)
		}
		if log != nil && logEvery > 0 && (step+1)%logEvery == 0 {
			k := float64(step + 1 - lastStep)
			el := time.Since(lastT).Seconds()
			log(Progress{Step: step + 1, Loss: sumLoss / k, Cls: sumCls / k, Reg: sumReg / k, Positives: sumPos / k,
				LR: t.opt.LastLR, ImagesPerSec: k * float64(t.batch) / el})
			sumLoss, sumCls, sumReg, sumPos = 0, 0, 0, 0
			lastT, lastStep = time.Now(), step+1
		}
	}
	ts, err := t.tensors()
	if err != nil {
		return Meta{}, nil, err
	}
	meta := Meta{Arch: ArchName, Threshold: cfg.Threshold, Calibration: Identity, Train: map[string]any{
		"seed": cfg.Seed, "batch": cfg.Batch, "patch": cfg.Patch,
		"aflw2000_train_photos": len(photos), "synthetic": cfg.Synthetic, "synth_prob": cfg.SynthProb,
		"seconds": math.Round(time.Since(start).Seconds()),
	}}
	return meta, ts, nil
}

func scalar(n *gorgonia.Node) float64 {
	switch v := n.Value().Data().(type) {
	case float32:
		return float64(v)
	case []float32:
		return float64(v[0])
	case float64:
		return v
	}
	return math.NaN()
}
