package run

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/graph/detect"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
)

// Env is what a run needs besides the graph: the morphable model (the mesh,
// used to render synthetic images), its geometry image, and the train and
// validation sources, already cropped to the localiser's input size.
type Env struct {
	Mesh       *bfm.Model
	Grid       *bfm.GridModel
	Train, Val dataset.Source
	// Size is the localiser's square input side.
	Size int
	// Split is the train/validation split of a real dataset (nil for
	// synthetic data), recorded in the run directory.
	Split *Split
}

// Split names the items of a real dataset and the indices of its two
// parts.
type Split struct {
	Names      []string
	Train, Val []int
}

// LoadModels loads the configured morphable model, keeps the first K1
// identity and K2 expression components (clamped to what the model has, with
// a log line) and re-meshes it onto a Grid x Grid geometry image. A path
// ending in ".grid" is a saved geometry image and gives no mesh. log may be
// nil.
func LoadModels(cfg Config, log *slog.Logger) (*bfm.Model, *bfm.GridModel, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if strings.HasSuffix(cfg.Model.Path, ".grid") {
		gm, err := bfm.LoadGrid(cfg.Model.Path)
		return nil, gm, err
	}
	m, err := bfm.Load(cfg.Model.Path)
	if err != nil {
		return nil, nil, err
	}
	expr := m
	if cfg.Model.Expression != "" {
		if expr, err = bfm.Load(cfg.Model.Expression); err != nil {
			return nil, nil, err
		}
	}
	k1 := min(cfg.Model.Identity, countKind(m, bfm.Identity))
	k2 := min(cfg.Model.ExpressionComponents, countKind(expr, bfm.Expression))
	if k1 != cfg.Model.Identity || k2 != cfg.Model.ExpressionComponents {
		log.Warn("model has fewer components than configured; using what it has",
			"identity", k1, "expression", k2,
			"configured_identity", cfg.Model.Identity, "configured_expression", cfg.Model.ExpressionComponents)
	}
	var ex *bfm.Model
	if k2 > 0 {
		ex = expr
	}
	cm, err := bfm.Compose(m, k1, ex, k2)
	if err != nil {
		return nil, nil, fmt.Errorf("composing %s: %w", cfg.Model.Path, err)
	}
	gm, err := bfm.BuildGrid(cm, bfm.GridOptions{Rows: cfg.Model.Grid, Cols: cfg.Model.Grid, UseModelUV: cfg.Model.UseModelUV && cm.UV != nil})
	if err != nil {
		return nil, nil, fmt.Errorf("re-meshing %s on a %dx%d grid: %w", cfg.Model.Path, cfg.Model.Grid, cfg.Model.Grid, err)
	}
	return cm, gm, nil
}

func countKind(m *bfm.Model, k bfm.ComponentKind) int {
	n := 0
	for d := range m.Basis {
		kind := bfm.Identity
		if d < len(m.Components) && m.Components[d].Kind != "" {
			kind = m.Components[d].Kind
		}
		if kind == k {
			n++
		}
	}
	return n
}

// SyntheticConfigFrom maps the data section onto the renderer's config.
func SyntheticConfigFrom(cfg Config, size int, count int) dataset.SyntheticConfig {
	sc := dataset.DefaultSyntheticConfig()
	d := cfg.Data
	sc.Seed = cfg.Seed
	sc.Count = count
	sc.Size = size
	sc.YawDeg, sc.PitchDeg, sc.RollDeg = d.YawDeg, d.PitchDeg, d.RollDeg
	sc.ScaleMin, sc.ScaleMax = d.ScaleMin, d.ScaleMax
	sc.Placement = d.Placement
	if d.Placement == dataset.PlaceLandmarks {
		sc.BoxOffsetY = d.LandmarkOffsetY
	}
	sc.TransJitter = d.TransJitter
	sc.ShapeStd = d.ShapeStd
	if d.Background != "plain" {
		sc.Background = d.Background
	}
	sc.OccluderProb = d.OccluderProb
	sc.HeadProb = d.HeadProb
	sc.Supersample = d.Supersample
	sc.LightJitter, sc.Specular = d.LightJitter, d.Specular
	sc.AlbedoVariety, sc.Occlusion = d.AlbedoVariety, d.Occlusion
	sc.Photometric = dataset.Photometric{ColorJitter: d.ColorJitter, GrayProb: d.GrayProb, BlurProb: d.BlurProb, NoiseStd: d.NoiseStd,
		LowResProb: d.LowResProb, JPEGProb: d.JPEGProb, PadProb: d.PadProb}
	return sc
}

// cropOptions is how real images are cut to the localiser's input size.
func cropOptions(cfg Config, size int) dataset.CropOptions {
	return dataset.CropOptions{Size: size, Margin: cfg.Data.Margin, LandmarkOffsetY: cfg.Data.LandmarkOffsetY}
}

// Setup loads the models and opens the data sources of a run, reading
// images of up to dataset.DefaultMaxPixels.
//
// A nil log discards the warnings.
func Setup(cfg Config, log *slog.Logger) (*Env, error) {
	return setup(cfg, log, 0)
}

// setup is Setup with a pixel limit for real images (0 = the default).
func setup(cfg Config, log *slog.Logger, maxPixels int64) (*Env, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	size, err := graph.InputSizeFor(cfg.Localiser.Arch)
	if err != nil {
		return nil, err
	}
	mesh, grid, err := LoadModels(cfg, log)
	if err != nil {
		return nil, err
	}
	env := &Env{Mesh: mesh, Grid: grid, Size: size}
	switch cfg.Data.Kind {
	case "synthetic":
		if mesh == nil {
			return nil, fmt.Errorf("data.kind synthetic needs a mesh model, but model.path %s is a saved grid", cfg.Model.Path)
		}
		tc := SyntheticConfigFrom(cfg, size, cfg.Data.TrainCount)
		if cfg.Recognition.enabled() {
			tc.Identities = cfg.Recognition.Identities // people 0..K-1: the identity classes
		}
		tr, err := dataset.NewSynthetic(mesh, tc, "train")
		if err != nil {
			return nil, err
		}
		// Camera effects are training augmentation: validation renders
		// clean images, so its metrics measure the fit alone.
		vc := SyntheticConfigFrom(cfg, size, cfg.Data.ValCount)
		vc.Photometric = dataset.Photometric{}
		va, err := dataset.NewSynthetic(mesh, vc, "val")
		if err != nil {
			return nil, err
		}
		env.Train, env.Val = tr, va
	default:
		tr, va, split, err := openRealData(cfg, size, log, maxPixels)
		if err != nil {
			return nil, err
		}
		env.Train, env.Val, env.Split = tr, va, split
		if cfg.Data.SyntheticFraction > 0 {
			if env.Train, err = mixSynthetic(cfg, mesh, size, tr); err != nil {
				return nil, err
			}
		}
	}
	return env, nil
}

// mixSynthetic mixes data.synthetic_fraction rendered faces (the
// synthetic keys of the data section) into a real training split.
func mixSynthetic(cfg Config, mesh *bfm.Model, size int, real dataset.Source) (dataset.Source, error) {
	if mesh == nil {
		return nil, fmt.Errorf("data.synthetic_fraction %v needs a mesh model to render, but model.path %s is a saved grid", cfg.Data.SyntheticFraction, cfg.Model.Path)
	}
	syn, err := dataset.NewSynthetic(mesh, SyntheticConfigFrom(cfg, size, cfg.Data.TrainCount), "train")
	if err != nil {
		return nil, err
	}
	return dataset.NewMix(real, syn, cfg.Data.SyntheticFraction)
}

// croppedSource crops every sample of a real-data source to the localiser's
// square input (dataset.CropSample) so that training and evaluation see
// input-size images with landmarks in input pixels.
type croppedSource struct {
	src    dataset.Source
	opt    dataset.CropOptions
	scheme string
	// det, when set, crops each face from the detection that matches its
	// landmark box instead (see detectedCrop).
	det *detect.Detector
}

func (c croppedSource) Len() int { return c.src.Len() }

func (c croppedSource) Sample(i int) (dataset.Sample, error) {
	_, cs, _, err := c.cropped(i)
	return cs, err
}

// cropped returns sample i of the underlying source (its landmarks
// converted to the scheme), its crop and the crop's transform.
func (c croppedSource) cropped(i int) (orig, crop dataset.Sample, tr dataset.CropTransform, err error) {
	if orig, err = c.original(i); err != nil {
		return orig, crop, tr, err
	}
	s, opt := orig, c.opt
	if c.det != nil {
		if s, err = detectedCrop(c.det, s, opt.LandmarkOffsetY); err != nil {
			return orig, s, tr, err
		}
		opt.UseBox = true
	}
	crop, tr, err = dataset.CropSample(s, opt)
	if err != nil {
		return orig, crop, tr, fmt.Errorf("cropping %s: %w", s.Name, err)
	}
	return orig, crop, tr, nil
}

// openReader opens the configured real-data reader, which refuses images
// of more than maxPixels (0 = dataset.DefaultMaxPixels), and returns the
// items it left out while reading the annotations.
func openReader(cfg Config, maxPixels int64) (dataset.Source, []error, error) {
	d := cfg.Data
	var src *dataset.ItemSource
	var err error
	switch d.Kind {
	case "manifest":
		src, err = dataset.OpenManifest(d.Path)
	case "pts", "ljson":
		src, err = dataset.OpenFolder(d.Path)
	case "dlib":
		src, err = dataset.OpenDlibXML(d.Path)
	case "aflw":
		if d.Images == "" {
			return nil, nil, fmt.Errorf("data.kind aflw needs data.images (the folder holding flickr/)")
		}
		var a *dataset.AFLWSource
		if a, err = dataset.OpenAFLW(d.Path, d.Images, dataset.AFLWOptions{}); err == nil {
			src = a.ItemSource
		}
	case "aflw2000":
		src, err = dataset.OpenAFLW2000(d.Path, dataset.AFLW2000Options{})
	default:
		return nil, nil, fmt.Errorf("data.kind %q is not supported by this build", d.Kind)
	}
	if err != nil {
		return nil, nil, err
	}
	src.MaxPixels = maxPixels
	return src, src.Skipped, nil
}

// openRealData opens a real dataset, splits it deterministically (by
// data.split_file or by seed and data.val_fraction) and crops both parts.
func openRealData(cfg Config, size int, log *slog.Logger, maxPixels int64) (train, val dataset.Source, split *Split, err error) {
	src, skipped, err := openReader(cfg, maxPixels)
	if err != nil {
		return nil, nil, nil, err
	}
	warnSkipped(log, cfg.Data.Path, skipped)
	names, err := dataset.SourceNames(src)
	if err != nil {
		return nil, nil, nil, err
	}
	split = &Split{Names: names}
	if cfg.Data.SplitFile != "" {
		valNames, err := dataset.ReadSplitFile(cfg.Data.SplitFile)
		if err != nil {
			return nil, nil, nil, err
		}
		if split.Train, split.Val, err = dataset.SplitByNames(names, valNames); err != nil {
			return nil, nil, nil, err
		}
	} else {
		split.Train, split.Val = dataset.SplitIndices(src.Len(), cfg.Data.ValFraction, cfg.Seed)
	}
	opt := cropOptions(cfg, size)
	wrap := func(idx []int) croppedSource {
		return croppedSource{src: dataset.Subset{Src: src, Indices: idx}, opt: opt, scheme: cfg.Model.Scheme}
	}
	train, val = wrap(split.Train), wrap(split.Val)
	if d := cfg.Data; d.CropScaleJitter > 0 || d.CropShiftJitter > 0 {
		train = jitteredSource{src: wrap(split.Train), copies: jitterCopies, seed: cfg.Seed, scale: d.CropScaleJitter, shift: d.CropShiftJitter}
	}
	return train, val, split, nil
}

// jitterCopies is the number of differently jittered crops of each
// training photograph that a jitteredSource holds (its length is copies
// times the photographs').
const jitterCopies = 64

// jitteredSource is a training split of photographs whose crops are
// jittered in scale and position (data.crop_scale_jitter,
// data.crop_shift_jitter): index i is photograph i mod n with the jitter
// drawn from a generator seeded by (seed, i), so that an epoch over the
// copies sees each photograph cropped copies different ways, and a run is
// reproducible.
type jitteredSource struct {
	src          croppedSource
	copies       int
	seed         uint64
	scale, shift float64
}

func (j jitteredSource) Len() int { return j.src.Len() * j.copies }

func (j jitteredSource) Sample(i int) (dataset.Sample, error) {
	n := j.src.Len()
	if i < 0 || i >= n*j.copies {
		return dataset.Sample{}, fmt.Errorf("jittered crops: index %d out of [0, %d)", i, n*j.copies)
	}
	r := rand.New(rand.NewPCG(j.seed, 0x6a17+uint64(i)))
	c := j.src
	f := 1 + j.scale*(2*r.Float64()-1)
	c.opt.Margin = max(0, (f*(1+2*c.opt.Margin)-1)/2)
	c.opt.ShiftX = j.shift * (2*r.Float64() - 1)
	c.opt.ShiftY = j.shift * (2*r.Float64() - 1)
	_, s, _, err := c.cropped(i % n)
	return s, err
}

// warnSkipped logs how many annotated items a reader left out, and the
// first few.
func warnSkipped(log *slog.Logger, data string, skipped []error) {
	if len(skipped) == 0 {
		return
	}
	log.Warn("some items were skipped", "data", data, "skipped", len(skipped), "first", skipped[0])
	for _, e := range skipped[1:min(len(skipped), maxLoggedSkips)] {
		log.Warn("skipped", "data", data, "reason", e)
	}
}

// maxLoggedSkips bounds the skipped items logged one by one.
const maxLoggedSkips = 20

// setupEval prepares the data of an evaluation. A saved grid (from the run
// directory) replaces re-meshing the model; evalAll evaluates the whole
// real dataset (a --data manifest) instead of its validation split, and
// then returns the items its reader left out.
func setupEval(cfg Config, grid *bfm.GridModel, evalAll bool, log *slog.Logger, maxPixels int64) (*Env, []error, error) {
	size, err := graph.InputSizeFor(cfg.Localiser.Arch)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Data.Kind == "synthetic" {
		env, err := setup(cfg, log, maxPixels)
		if err != nil {
			return nil, nil, err
		}
		if grid != nil {
			env.Grid = grid
		}
		return env, nil, nil
	}
	env := &Env{Grid: grid, Size: size}
	if grid == nil {
		if _, env.Grid, err = LoadModels(cfg, log); err != nil {
			return nil, nil, err
		}
	}
	if evalAll {
		src, skipped, err := openReader(cfg, maxPixels)
		if err != nil {
			return nil, nil, err
		}
		c := croppedSource{src: src, opt: cropOptions(cfg, size), scheme: cfg.Model.Scheme}
		env.Train, env.Val = c, c
		return env, skipped, nil
	}
	if env.Train, env.Val, env.Split, err = openRealData(cfg, size, log, maxPixels); err != nil {
		return nil, nil, err
	}
	return env, nil, nil
}
