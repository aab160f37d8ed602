package run

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is the whole description of a training or evaluation run, read from
// YAML (configs/*.yaml). Every random choice takes its seed from Seed.
type Config struct {
	// Seed drives every random choice: initialisation, data order, synthetic
	// images, augmentation.
	Seed uint64 `yaml:"seed"`
	// Device is "cpu", "cuda" or "auto".
	Device string `yaml:"device"`

	Model     ModelSection     `yaml:"model"`
	Data      DataSection      `yaml:"data"`
	Localiser LocaliserSection `yaml:"localiser"`
	STN       STNSection       `yaml:"stn"`
	Loss      LossSection      `yaml:"loss"`
	Optim     OptimSection     `yaml:"optim"`
	Train     TrainSection     `yaml:"train"`
	Eval      EvalSection      `yaml:"eval"`
	// Recognition (off by default) adds face recognition: see
	// RecognitionSection.
	Recognition RecognitionSection `yaml:"recognition"`
}

// ModelSection chooses the morphable model and its geometry image.
type ModelSection struct {
	// Path is "default" (the embedded model) or a model file (.bin, .mat,
	// .h5, .obj) or a saved grid (.grid).
	Path string `yaml:"path"`
	// Expression is an optional separate expression model file.
	Expression string `yaml:"expression"`
	// Identity and ExpressionComponents are K1 and K2 of the paper (5 + 5).
	Identity             int `yaml:"identity_components"`
	ExpressionComponents int `yaml:"expression_components"`
	// Grid is the geometry image size (rows = cols).
	Grid int `yaml:"grid"`
	// UseModelUV uses the model's own UVs instead of the Tutte flattening.
	UseModelUV bool `yaml:"use_model_uv"`
	// Scheme is the landmark scheme trained and evaluated ("aflw21", "ibug68").
	Scheme string `yaml:"scheme"`
}

// DataSection chooses where images come from.
type DataSection struct {
	// Kind is "synthetic", "manifest", "aflw", "aflw2000", "pts" or "dlib".
	Kind string `yaml:"kind"`
	// Path is the dataset file or folder (not used by synthetic).
	Path string `yaml:"path"`
	// Images is the folder of AFLW images (aflw only).
	Images string `yaml:"images"`
	// ValFraction of real data held out for validation.
	ValFraction float64 `yaml:"val_fraction"`
	// SplitFile optionally lists validation image names, one a line.
	SplitFile string `yaml:"split_file"`
	// Margin around the landmark box / face rectangle when cropping (fraction).
	Margin float64 `yaml:"margin"`
	// LandmarkOffsetY moves a landmark-centred crop so that the landmark
	// box centre sits this fraction of the box side below the crop centre
	// (dataset.CropOptions.LandmarkOffsetY; 0 = centred).
	LandmarkOffsetY float64 `yaml:"landmark_offset_y"`

	// Synthetic data.
	TrainCount int     `yaml:"train_count"`
	ValCount   int     `yaml:"val_count"`
	YawDeg     float64 `yaml:"yaw_deg"`
	PitchDeg   float64 `yaml:"pitch_deg"`
	RollDeg    float64 `yaml:"roll_deg"`
	// Placement is "face" (scale_min/max: the mean face's width over the
	// image's) or "landmarks" (scale_min/max: the larger side of the posed
	// face's iBUG-68 box, hidden points included, over the image's, its
	// centre landmark_offset_y box sides below the image centre: where a
	// photograph's 68 points sit after the crop).
	Placement    string  `yaml:"placement"`
	ScaleMin     float64 `yaml:"scale_min"`
	ScaleMax     float64 `yaml:"scale_max"`
	TransJitter  float64 `yaml:"trans_jitter"`
	ShapeStd     float64 `yaml:"shape_std"`
	Background   string  `yaml:"background"`
	OccluderProb float64 `yaml:"occluder_prob"`
	// HeadProb is the fraction of synthetic images that show hair, ears,
	// neck and shoulders around the face (dataset.SyntheticConfig.HeadProb).
	HeadProb float64 `yaml:"head_prob"`
	// Supersample renders synthetic images at this many times the input
	// size and box-filters them down (dataset.SyntheticConfig.Supersample;
	// 0 or 1 = none).
	Supersample int `yaml:"supersample"`
	// LightJitter spreads the light's direction (up to atan(light_jitter)
	// off the view axis) and Specular is the largest weight of a skin
	// highlight (dataset.SyntheticConfig).
	LightJitter float64 `yaml:"light_jitter"`
	Specular    float64 `yaml:"specular"`
	// AlbedoVariety (0..1) varies the face's albedo per image and
	// Occlusion (0..1) darkens it by ambient occlusion
	// (dataset.SyntheticConfig).
	AlbedoVariety float64 `yaml:"albedo_variety"`
	Occlusion     float64 `yaml:"occlusion"`
	// ColorJitter, GrayProb, BlurProb and NoiseStd are the camera effects
	// of synthetic training images (dataset.Photometric; 0 = off); the
	// validation split is always rendered without them.
	ColorJitter float64 `yaml:"color_jitter"`
	GrayProb    float64 `yaml:"gray_prob"`
	BlurProb    float64 `yaml:"blur_prob"`
	NoiseStd    float64 `yaml:"noise_std"`
	// LowResProb, JPEGProb and PadProb: shrink-and-enlarge, JPEG and the
	// black bands of a crop that leaves its photograph (dataset.Photometric).
	LowResProb float64 `yaml:"lowres_prob"`
	JPEGProb   float64 `yaml:"jpeg_prob"`
	PadProb    float64 `yaml:"pad_prob"`

	// Workers render or load images in parallel with training (1..256).
	Workers int `yaml:"workers"`
	// Prefetch is the number of batches prepared ahead (1..64).
	Prefetch int `yaml:"prefetch"`
	// SyntheticFraction mixes rendered faces into the training split of a
	// real dataset: this fraction of the training images is synthetic
	// (configured by the synthetic keys below), the rest are the real
	// ones (0 = real only). Validation stays real.
	SyntheticFraction float64 `yaml:"synthetic_fraction"`
	// CropScaleJitter and CropShiftJitter augment the training crops of
	// photographs (setup.go, jitteredSource): each draw scales the crop's
	// side by a factor uniform in [1 - CropScaleJitter, 1 + CropScaleJitter]
	// and moves its centre by up to CropShiftJitter of the landmark box's
	// larger side in x and in y, seeded from seed and the draw. 0 = the
	// evaluation's crop every time. In [0, 0.5].
	CropScaleJitter float64 `yaml:"crop_scale_jitter"`
	CropShiftJitter float64 `yaml:"crop_shift_jitter"`
	// MaxBadFraction is the fraction of the training samples that may fail
	// to load (an unreadable or truncated image, a face that cannot be
	// cropped) before a run stops; until then each bad sample is replaced
	// in its batch by the next one of the epoch's order, logged, and
	// counted in the metrics log. In [0, 1]; default 0.01 (0 = stop at the
	// first bad sample).
	MaxBadFraction float64 `yaml:"max_bad_fraction"`
}

// LocaliserSection chooses the CNN that regresses theta.
type LocaliserSection struct {
	// Arch is "small" (3x112x112) or "vggface" (3x224x224).
	Arch string `yaml:"arch"`
	// Input is the square input size in pixels.
	Input int `yaml:"input"`
	// Weights optionally names pretrained weights (stn3d weight format).
	Weights string `yaml:"weights"`
	// FaceFraction is the fraction of the input side the mean face's larger
	// extent (its height, for faces) spans at initialisation (sets the
	// initial scale).
	FaceFraction float64 `yaml:"face_fraction"`
	// InputMean (RGB, in [0,1] image units) is subtracted from the image
	// and the result multiplied by InputScale before the localiser's first
	// layer. VGG-Face weights expect mean (129.19, 104.76, 93.59)/255 and
	// scale 255.
	InputMean  [3]float64 `yaml:"input_mean,flow"`
	InputScale float64    `yaml:"input_scale"`
}

// STNSection configures the grid generator.
type STNSection struct {
	// Scale is "exp" (paper: s = exp(log s)) or "0.99" (reference code:
	// s = 0.99^(log s)).
	Scale string `yaml:"scale"`
	// TrainableBasis makes the 3DMM layer's basis a trained parameter.
	TrainableBasis bool `yaml:"trainable_basis"`
}

// LossSection holds the weight of each loss term (Sec. 3.3).
type LossSection struct {
	Landmark float64 `yaml:"landmark"`
	Prior    float64 `yaml:"prior"`
	Symmetry float64 `yaml:"symmetry"`
	Siamese  float64 `yaml:"siamese"`
	// HiddenLandmark is the confidence of a self-occluded landmark whose
	// position the data knows (rendered ground truth only; real annotations
	// have no position for an invisible point). 0 = the paper's loss over
	// visible landmarks only. In [0, 1].
	HiddenLandmark float64 `yaml:"hidden_landmark"`
}

// OptimSection configures the solver.
type OptimSection struct {
	// Solver is "sgd" or "adam".
	Solver      string  `yaml:"solver"`
	LR          float64 `yaml:"lr"`
	Momentum    float64 `yaml:"momentum"`
	WeightDecay float64 `yaml:"weight_decay"`
	Beta1       float64 `yaml:"beta1"`
	Beta2       float64 `yaml:"beta2"`
	// Schedule is "constant", "step", or "cosine".
	Schedule    string  `yaml:"schedule"`
	WarmupSteps int     `yaml:"warmup_steps"`
	StepEvery   int     `yaml:"step_every"`
	StepGamma   float64 `yaml:"step_gamma"`
	MinLRFrac   float64 `yaml:"min_lr_fraction"`
	ClipNorm    float64 `yaml:"clip_norm"`
	// HeadWeightLRMult and HeadBiasLRMult multiply the learning rate of the
	// new last layer (reference: 4 and 8).
	HeadWeightLRMult float64 `yaml:"head_weight_lr_mult"`
	HeadBiasLRMult   float64 `yaml:"head_bias_lr_mult"`
}

// TrainSection configures the training loop.
type TrainSection struct {
	// Batch is the number of images per step including mirrors (even).
	Batch int `yaml:"batch"`
	// Steps is the number of optimiser steps.
	Steps int `yaml:"steps"`
	// LogEvery, ValEvery and CheckpointEvery are in steps.
	LogEvery        int `yaml:"log_every"`
	ValEvery        int `yaml:"val_every"`
	CheckpointEvery int `yaml:"checkpoint_every"`
	// KeepLast checkpoints are kept besides the best.
	KeepLast int `yaml:"keep_last"`
	// ValImages bounds the validation images used during training (0 = all).
	ValImages int `yaml:"val_images"`
	// Out is the run directory (overridden by --out).
	Out string `yaml:"out"`
	// Float is "float32" (default) or "float64".
	Float string `yaml:"float"`
	// Init starts the network from the weights of a checkpoint file or run
	// directory (its best checkpoint) instead of a fresh initialisation:
	// fine-tuning. The optimiser and the step count start afresh; layers
	// the checkpoint lacks (a new recogniser, say) keep their
	// initialisation. Ignored on --resume, which continues its own run.
	Init string `yaml:"init"`
}

// EvalSection configures evaluation outputs.
type EvalSection struct {
	// Panels is the number of Figure-6 panels written.
	Panels int `yaml:"panels"`
	// Batch is the evaluation batch size.
	Batch int `yaml:"batch"`
	// Refine is the number of passes after the first that crop a
	// photograph again around the network's own landmarks (refine.go);
	// 0 = one pass on the crop of the annotated landmarks.
	Refine int `yaml:"refine"`
	// Flip (default true) also fits each crop mirrored and averages the
	// two fits' landmarks, rotation and scale (flip.go; test-time
	// mirroring, twice the network time): on the 789 shared AFLW2000-3D
	// photographs the embedded model's NME goes from 12.10% to 11.65%.
	// Training's validation fits each crop once.
	Flip bool `yaml:"flip"`
	// Derotate (default true) fits each crop whose first fit has |yaw| < 30
	// degrees a second time, rotated upright about its centre by the first
	// fit's roll, and maps that fit back (derotate.go): the network
	// underestimates roll on photographs. Embedded model, 789 shared
	// AFLW2000-3D photographs, with Flip: 11.65% -> 11.49% NME.
	Derotate bool `yaml:"derotate"`
}

// maxSyntheticCount bounds data.train_count and data.val_count (the
// batcher holds an index per sample).
const maxSyntheticCount = 100_000_000

// DefaultConfig returns the values every config starts from; a YAML file
// overrides them key by key.
func DefaultConfig() Config {
	return Config{
		Seed:   1,
		Device: "auto",
		Model: ModelSection{Path: "default", Identity: 5, ExpressionComponents: 5,
			Grid: 64, UseModelUV: true, Scheme: "aflw21"},
		Data: DataSection{Kind: "synthetic", ValFraction: 0.1, Margin: 0.25,
			TrainCount: 50000, ValCount: 500, YawDeg: 90, PitchDeg: 30, RollDeg: 30,
			Placement: "face", ScaleMin: 0.42, ScaleMax: 0.55, TransJitter: 0.06, ShapeStd: 1,
			Background: "mixed", OccluderProb: 0.2, LightJitter: 0.8, Workers: 1, Prefetch: 2, MaxBadFraction: 0.01},
		Localiser: LocaliserSection{Arch: "small", Input: 112, FaceFraction: 0.65,
			InputMean: [3]float64{0.5, 0.5, 0.5}, InputScale: 4},
		STN:  STNSection{Scale: "exp"},
		Loss: LossSection{Landmark: 1, Prior: 0.01, Symmetry: 0.1, Siamese: 0.1},
		Optim: OptimSection{Solver: "adam", LR: 2e-3, Momentum: 0.9, Beta1: 0.9,
			Beta2: 0.99, Schedule: "cosine", WarmupSteps: 100, StepGamma: 0.1,
			MinLRFrac: 0.02, ClipNorm: 10, HeadWeightLRMult: 0.1, HeadBiasLRMult: 0.1},
		Train: TrainSection{Batch: 16, Steps: 2000, LogEvery: 20, ValEvery: 250,
			CheckpointEvery: 250, KeepLast: 3, ValImages: 256, Out: "runs/default",
			Float: "float32"},
		Eval:        EvalSection{Panels: 6, Batch: 16, Flip: true, Derotate: true},
		Recognition: recognitionDefaults(),
	}
}

// ConfigError reports a bad key or value with its position in the file.
type ConfigError struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
}

// LoadConfig reads a YAML config file, applies the overrides ("key.sub=value",
// as from --set) and validates the result. Unknown keys and bad values are
// errors naming the key and the line.
func LoadConfig(path string, overrides []string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, data, overrides)
}

// ParseConfig is LoadConfig on bytes already read; name is used in errors.
func ParseConfig(name string, data []byte, overrides []string) (Config, error) {
	cfg := DefaultConfig()
	var root yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &root); err != nil {
			return cfg, &ConfigError{File: name, Key: "(syntax)", Msg: err.Error()}
		}
	}
	if root.Kind == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return cfg, &ConfigError{File: name, Line: 1, Key: "(top level)", Msg: "expected a mapping of sections"}
	}
	doc := root.Content[0]
	for _, o := range overrides {
		if err := applyOverride(doc, o); err != nil {
			return cfg, &ConfigError{File: name, Key: "--set " + o, Msg: err.Error()}
		}
	}
	if err := checkKeys(name, doc, "", cfg); err != nil {
		return cfg, err
	}
	if err := doc.Decode(&cfg); err != nil {
		return cfg, &ConfigError{File: name, Key: "(value)", Msg: strings.ReplaceAll(err.Error(), "yaml: unmarshal errors:\n  ", "")}
	}
	if err := cfg.validate(name, doc); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// applyOverride sets key.path=value in the YAML tree, creating the section
// entry if absent (unknown keys are still rejected by checkKeys).
func applyOverride(doc *yaml.Node, kv string) error {
	key, val, ok := strings.Cut(kv, "=")
	if !ok || key == "" {
		return errors.New(`expected key=value, e.g. optim.lr=0.001`)
	}
	parts := strings.Split(strings.TrimSpace(key), ".")
	n := doc
	for i, p := range parts {
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == p {
				next = n.Content[j+1]
				break
			}
		}
		last := i == len(parts)-1
		if next == nil {
			k := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}
			if last {
				next = &yaml.Node{Kind: yaml.ScalarNode}
			} else {
				next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			n.Content = append(n.Content, k, next)
		}
		if last {
			var v yaml.Node
			if err := yaml.Unmarshal([]byte(val), &v); err != nil || len(v.Content) != 1 {
				*next = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: val}
			} else {
				*next = *v.Content[0]
			}
			return nil
		}
		if next.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a section", strings.Join(parts[:i+1], "."))
		}
		n = next
	}
	return nil
}

// checkKeys rejects keys the Config type does not have, naming the line.
func checkKeys(file string, n *yaml.Node, prefix string, cfg Config) error {
	known := knownKeys()
	var walk func(n *yaml.Node, prefix string) error
	walk = func(n *yaml.Node, prefix string) error {
		for j := 0; j+1 < len(n.Content); j += 2 {
			k, v := n.Content[j], n.Content[j+1]
			full := k.Value
			if prefix != "" {
				full = prefix + "." + k.Value
			}
			kind, ok := known[full]
			if !ok {
				return &ConfigError{File: file, Line: k.Line, Key: full, Msg: "unknown key" + suggest(full, known)}
			}
			if kind == "section" {
				if v.Kind != yaml.MappingNode {
					return &ConfigError{File: file, Line: k.Line, Key: full, Msg: "expected a section (a mapping of keys)"}
				}
				if err := walk(v, full); err != nil {
					return err
				}
			} else if kind == "array" || kind == "slice" {
				if v.Kind != yaml.SequenceNode {
					return &ConfigError{File: file, Line: k.Line, Key: full, Msg: "expected a list, e.g. [0.5, 0.5, 0.5]"}
				}
			} else if v.Kind != yaml.ScalarNode {
				return &ConfigError{File: file, Line: k.Line, Key: full, Msg: "expected a single value of type " + kind}
			}
		}
		return nil
	}
	return walk(n, prefix)
}

func suggest(full string, known map[string]string) string {
	i := strings.LastIndex(full, ".")
	sec, leaf := "", full
	if i >= 0 {
		sec, leaf = full[:i], full[i+1:]
	}
	var opts []string
	for k, kind := range known {
		if kind == "section" && sec != "" {
			continue
		}
		j := strings.LastIndex(k, ".")
		ks := ""
		if j >= 0 {
			ks = k[:j]
		}
		if ks == sec {
			opts = append(opts, k[j+1:])
		}
	}
	best, bestD := "", 4
	for _, o := range opts {
		if d := editDistance(leaf, o); d < bestD {
			best, bestD = o, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lineOf returns the line of key path "a.b" in the YAML tree, or 0.
func lineOf(doc *yaml.Node, path string) int {
	n := doc
	line := 0
	for _, p := range strings.Split(path, ".") {
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == p {
				line = n.Content[j].Line
				next = n.Content[j+1]
			}
		}
		if next == nil {
			return 0
		}
		n = next
	}
	return line
}

func (c *Config) validate(file string, doc *yaml.Node) error {
	bad := func(key, format string, args ...any) error {
		return &ConfigError{File: file, Line: lineOf(doc, key), Key: key, Msg: fmt.Sprintf(format, args...)}
	}
	oneOf := func(key, v string, opts ...string) error {
		for _, o := range opts {
			if v == o {
				return nil
			}
		}
		return bad(key, "got %q, expected one of %s", v, strings.Join(opts, ", "))
	}
	pos := func(key string, v int) error {
		if v <= 0 {
			return bad(key, "got %d, expected a positive integer", v)
		}
		return nil
	}
	nonneg := func(key string, v float64) error {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return bad(key, "got %v, expected a finite number >= 0", v)
		}
		return nil
	}
	inRange := func(key string, v, lo, hi float64) error {
		if !(v >= lo && v <= hi) {
			return bad(key, "got %v, expected a number in [%v, %v]", v, lo, hi)
		}
		return nil
	}
	frac := func(key string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return bad(key, "got %v, expected a number in [0, 1]", v)
		}
		return nil
	}
	checks := []error{
		oneOf("device", c.Device, "auto", "cpu", "cuda"),
		oneOf("model.scheme", c.Model.Scheme, "aflw21", "ibug68"),
		oneOf("data.kind", c.Data.Kind, "synthetic", "manifest", "aflw", "aflw2000", "pts", "dlib", "ljson"),
		oneOf("data.background", c.Data.Background, "noise", "gradient", "blobs", "mixed", "natural", "plain"),
		oneOf("data.placement", c.Data.Placement, "face", "landmarks"),
		oneOf("localiser.arch", c.Localiser.Arch, "small", "vggface"),
		oneOf("stn.scale", c.STN.Scale, "exp", "0.99"),
		oneOf("optim.solver", c.Optim.Solver, "sgd", "adam"),
		oneOf("optim.schedule", c.Optim.Schedule, "constant", "step", "cosine"),
		oneOf("train.float", c.Train.Float, "float32", "float64"),
		pos("model.grid", c.Model.Grid),
		pos("localiser.input", c.Localiser.Input),
		pos("train.batch", c.Train.Batch),
		pos("train.steps", c.Train.Steps),
		pos("train.log_every", c.Train.LogEvery),
		pos("train.val_every", c.Train.ValEvery),
		pos("train.checkpoint_every", c.Train.CheckpointEvery),
		pos("train.keep_last", c.Train.KeepLast),
		pos("data.workers", c.Data.Workers),
		pos("data.prefetch", c.Data.Prefetch),
		pos("eval.batch", c.Eval.Batch),
		nonneg("loss.landmark", c.Loss.Landmark),
		nonneg("loss.prior", c.Loss.Prior),
		nonneg("loss.symmetry", c.Loss.Symmetry),
		nonneg("loss.siamese", c.Loss.Siamese),
		frac("loss.hidden_landmark", c.Loss.HiddenLandmark),
		nonneg("optim.weight_decay", c.Optim.WeightDecay),
		nonneg("optim.clip_norm", c.Optim.ClipNorm),
		nonneg("optim.head_weight_lr_mult", c.Optim.HeadWeightLRMult),
		nonneg("optim.head_bias_lr_mult", c.Optim.HeadBiasLRMult),
		nonneg("data.trans_jitter", c.Data.TransJitter),
		nonneg("data.shape_std", c.Data.ShapeStd),
		frac("data.val_fraction", c.Data.ValFraction),
		inRange("data.synthetic_fraction", c.Data.SyntheticFraction, 0, 0.95),
		inRange("data.crop_scale_jitter", c.Data.CropScaleJitter, 0, 0.5),
		inRange("data.crop_shift_jitter", c.Data.CropShiftJitter, 0, 0.5),
		frac("data.max_bad_fraction", c.Data.MaxBadFraction),
		frac("data.occluder_prob", c.Data.OccluderProb),
		frac("data.head_prob", c.Data.HeadProb),
		nonneg("data.light_jitter", c.Data.LightJitter),
		frac("data.specular", c.Data.Specular),
		frac("data.albedo_variety", c.Data.AlbedoVariety),
		frac("data.occlusion", c.Data.Occlusion),
		inRange("data.landmark_offset_y", c.Data.LandmarkOffsetY, -1, 1),
		frac("data.gray_prob", c.Data.GrayProb),
		frac("data.blur_prob", c.Data.BlurProb),
		frac("data.lowres_prob", c.Data.LowResProb),
		frac("data.jpeg_prob", c.Data.JPEGProb),
		frac("data.pad_prob", c.Data.PadProb),
		inRange("data.color_jitter", c.Data.ColorJitter, 0, 0.9),
		inRange("data.noise_std", c.Data.NoiseStd, 0, 64),
		frac("optim.momentum", c.Optim.Momentum),
		frac("optim.min_lr_fraction", c.Optim.MinLRFrac),
		frac("localiser.face_fraction", c.Localiser.FaceFraction),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if c.Eval.Refine < 0 || c.Eval.Refine > 5 {
		return bad("eval.refine", "got %d, expected 0..5 passes", c.Eval.Refine)
	}
	if !(c.Optim.LR > 0) || math.IsInf(c.Optim.LR, 0) {
		return bad("optim.lr", "got %v, expected a finite number > 0", c.Optim.LR)
	}
	for _, b := range []struct {
		key    string
		v, max int
	}{{"data.workers", c.Data.Workers, 256}, {"data.prefetch", c.Data.Prefetch, 64}} {
		if b.v > b.max {
			return bad(b.key, "got %d, expected 1..%d", b.v, b.max)
		}
	}
	if c.Train.Batch%2 != 0 {
		return bad("train.batch", "got %d, expected an even number (each image sits next to its mirror)", c.Train.Batch)
	}
	if c.Model.Identity < 0 || c.Model.ExpressionComponents < 0 {
		return bad("model.identity_components", "component counts must be >= 0")
	}
	if c.Model.Grid < 4 || c.Model.Grid > 1024 {
		return bad("model.grid", "got %d, expected 4..1024", c.Model.Grid)
	}
	if !(c.Localiser.InputScale > 0) || math.IsInf(c.Localiser.InputScale, 0) {
		return bad("localiser.input_scale", "got %v, expected a finite number > 0", c.Localiser.InputScale)
	}
	if c.Localiser.Arch == "small" && c.Localiser.Input != 112 {
		return bad("localiser.input", "got %d, the small localiser takes 112", c.Localiser.Input)
	}
	if c.Localiser.Arch == "vggface" && c.Localiser.Input != 224 {
		return bad("localiser.input", "got %d, vggface takes 224", c.Localiser.Input)
	}
	if c.Data.ScaleMin <= 0 || c.Data.ScaleMax < c.Data.ScaleMin {
		return bad("data.scale_min", "need 0 < scale_min <= scale_max, got %v and %v", c.Data.ScaleMin, c.Data.ScaleMax)
	}
	for _, a := range []struct {
		k string
		v float64
		m float64
	}{{"data.yaw_deg", c.Data.YawDeg, 90}, {"data.pitch_deg", c.Data.PitchDeg, 90}, {"data.roll_deg", c.Data.RollDeg, 180}} {
		if a.v < 0 || a.v > a.m {
			return bad(a.k, "got %v, expected 0..%v degrees", a.v, a.m)
		}
	}
	if c.Data.Kind == "synthetic" {
		for _, n := range []struct {
			key string
			v   int
		}{{"data.train_count", c.Data.TrainCount}, {"data.val_count", c.Data.ValCount}} {
			if n.v <= 0 || n.v > maxSyntheticCount {
				return bad(n.key, "got %d, expected 1..%d", n.v, maxSyntheticCount)
			}
		}
	} else if c.Data.Path == "" {
		return bad("data.path", "data.kind %q needs data.path", c.Data.Kind)
	}
	if err := c.Recognition.validate(bad, c.Data.Kind); err != nil {
		return err
	}
	if c.Optim.Schedule == "step" && c.Optim.StepEvery <= 0 {
		return bad("optim.step_every", "the step schedule needs step_every > 0")
	}
	return nil
}

// knownKeys lists every key path with its kind ("section" or a type name),
// derived from the yaml tags of Config.
func knownKeys() map[string]string {
	m := map[string]string{}
	addStructKeys(m, "", DefaultConfig())
	return m
}

// FormatValue renders a scalar for messages and run records.
func FormatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}
