package run

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/stn3d/stn3d/graph"

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
}

// LoadModels loads the configured morphable model, keeps the first K1
// identity and K2 expression components (clamped to what the model has, with
// a log line) and re-meshes it onto a Grid x Grid geometry image. A path
// ending in ".grid" is a saved geometry image and gives no mesh.
func LoadModels(cfg Config, log *slog.Logger) (*bfm.Model, *bfm.GridModel, error) {
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

// Setup loads the models and opens the data sources of a run.
//
// A nil log discards the warnings.
func Setup(cfg Config, log *slog.Logger) (*Env, error) {
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
		tr, err := dataset.NewSynthetic(mesh, SyntheticConfigFrom(cfg, size, cfg.Data.TrainCount), "train")
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
		tr, va, err := openRealData(cfg, size, log)
		if err != nil {
			return nil, err
		}
		env.Train, env.Val = tr, va
	}
	return env, nil
}

// croppedSource crops every sample of a real-data source to the localiser's
// square input (dataset.CropSample) so that training and evaluation see
// input-size images with landmarks in input pixels.
type croppedSource struct {
	src    dataset.Source
	opt    dataset.CropOptions
	scheme string
}

func (c croppedSource) Len() int { return c.src.Len() }

func (c croppedSource) Sample(i int) (dataset.Sample, error) {
	s, err := c.Original(i)
	if err != nil {
		return s, err
	}
	cs, _, err := dataset.CropSample(s, c.opt)
	if err != nil {
		return cs, fmt.Errorf("cropping %s: %w", s.Name, err)
	}
	return cs, nil
}

// openReader opens the configured real-data reader.
func openReader(cfg Config) (dataset.Source, error) {
	d := cfg.Data
	switch d.Kind {
	case "manifest":
		return dataset.OpenManifest(d.Path)
	case "pts":
		return dataset.OpenFolder(d.Path)
	case "dlib":
		return dataset.OpenDlibXML(d.Path)
	case "ljson":
		return dataset.OpenFolder(d.Path)
	case "aflw":
		if d.Images == "" {
			return nil, fmt.Errorf("data.kind aflw needs data.images (the folder holding flickr/)")
		}
		return dataset.OpenAFLW(d.Path, d.Images, dataset.AFLWOptions{})
	case "aflw2000":
		return dataset.OpenAFLW2000(d.Path, dataset.AFLW2000Options{})
	}
	return nil, fmt.Errorf("data.kind %q is not supported by this build", d.Kind)
}

// openRealData opens a real dataset, splits it deterministically (by
// data.split_file or by seed and data.val_fraction) and crops both parts.
func openRealData(cfg Config, size int, log *slog.Logger) (train, val dataset.Source, err error) {
	src, err := openReader(cfg)
	if err != nil {
		return nil, nil, err
	}
	if p, ok := src.(interface{ Problems() error }); ok {
		if err := p.Problems(); err != nil {
			log.Warn("some items were skipped", "data", cfg.Data.Path, "problems", err)
		}
	}
	var tr, va []int
	if cfg.Data.SplitFile != "" {
		names, err := dataset.SourceNames(src)
		if err != nil {
			return nil, nil, err
		}
		valNames, err := dataset.ReadSplitFile(cfg.Data.SplitFile)
		if err != nil {
			return nil, nil, err
		}
		if tr, va, err = dataset.SplitByNames(names, valNames); err != nil {
			return nil, nil, err
		}
	} else {
		tr, va = dataset.SplitIndices(src.Len(), cfg.Data.ValFraction, cfg.Seed)
	}
	opt := cropOptions(cfg, size)
	wrap := func(idx []int) dataset.Source {
		return croppedSource{src: dataset.Subset{Src: src, Indices: idx}, opt: opt, scheme: cfg.Model.Scheme}
	}
	return wrap(tr), wrap(va), nil
}

// setupEval prepares the data of an evaluation. A saved grid (from the run
// directory) replaces re-meshing the model; evalAll evaluates the whole
// real dataset (a --data manifest) instead of its validation split.
func setupEval(cfg Config, grid *bfm.GridModel, evalAll bool, log *slog.Logger) (*Env, error) {
	size, err := graph.InputSizeFor(cfg.Localiser.Arch)
	if err != nil {
		return nil, err
	}
	if cfg.Data.Kind == "synthetic" {
		env, err := Setup(cfg, log)
		if err != nil {
			return nil, err
		}
		if grid != nil {
			env.Grid = grid
		}
		return env, nil
	}
	env := &Env{Grid: grid, Size: size}
	if grid == nil {
		if _, env.Grid, err = LoadModels(cfg, log); err != nil {
			return nil, err
		}
	}
	if evalAll {
		src, err := openReader(cfg)
		if err != nil {
			return nil, err
		}
		if p, ok := src.(interface{ Problems() error }); ok {
			if err := p.Problems(); err != nil {
				log.Warn("some items were skipped", "data", cfg.Data.Path, "problems", err)
			}
		}
		c := croppedSource{src: src, opt: cropOptions(cfg, size), scheme: cfg.Model.Scheme}
		env.Train, env.Val = c, c
		return env, nil
	}
	if env.Train, env.Val, err = openRealData(cfg, size, log); err != nil {
		return nil, err
	}
	return env, nil
}
