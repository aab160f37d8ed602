package run

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/graph"
)

// Run-directory layout written by Train and read by Evaluate and Normalize:
//
//	DIR/config.yaml        the resolved configuration
//	DIR/model.grid         the geometry image trained with
//	DIR/metrics.jsonl      one JSON object per logged step and per validation
//	DIR/ckpt-STEP.ckpt     the last train.keep_last checkpoints
//	DIR/best.ckpt          the checkpoint with the lowest validation NME
const (
	RunConfigFile  = "config.yaml"
	RunGridFile    = "model.grid"
	RunMetricsFile = "metrics.jsonl"
	RunBestFile    = "best.ckpt"
)

// RunDir is a run directory and the paths of its files.
type RunDir string

// Config, Grid, Metrics and Best are the paths of the run's files.
func (d RunDir) Config() string  { return filepath.Join(string(d), RunConfigFile) }
func (d RunDir) Grid() string    { return filepath.Join(string(d), RunGridFile) }
func (d RunDir) Metrics() string { return filepath.Join(string(d), RunMetricsFile) }
func (d RunDir) Best() string    { return filepath.Join(string(d), RunBestFile) }

// Checkpoint is the path of the step checkpoint after step updates.
func (d RunDir) Checkpoint(step int) string {
	return filepath.Join(string(d), fmt.Sprintf("ckpt-%08d.ckpt", step))
}

// Checkpoints lists the step checkpoints, oldest first.
func (d RunDir) Checkpoints() ([]string, error) {
	m, err := filepath.Glob(filepath.Join(string(d), "ckpt-*.ckpt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// ErrNoRunConfig reports a checkpoint whose directory holds no
// config.yaml, so the configuration must be given explicitly.
var ErrNoRunConfig = errors.New("no " + RunConfigFile + " beside the checkpoint")

// ResolveCheckpoint turns a checkpoint file or a run directory into a
// checkpoint file: a directory gives its best.ckpt, else its newest step
// checkpoint.
func ResolveCheckpoint(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if !st.IsDir() {
		return path, nil
	}
	d := RunDir(path)
	if fileExists(d.Best()) {
		return d.Best(), nil
	}
	all, err := d.Checkpoints()
	if err != nil {
		return "", err
	}
	if len(all) == 0 {
		return "", fmt.Errorf("checkpoint: run directory %s holds no %s and no ckpt-*.ckpt", path, RunBestFile)
	}
	return all[len(all)-1], nil
}

// IsPretrainedFile reports whether p is a file that starts with the
// pretrained model file's magic (see LoadPretrained).
func IsPretrainedFile(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var m [len(pretrainedMagic)]byte
	_, err = io.ReadFull(f, m[:])
	return err == nil && string(m[:]) == pretrainedMagic
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// TrainedModel is what applying a trained model needs: the checkpoint, the
// configuration it was trained with and its geometry image.
type TrainedModel struct {
	// CheckpointPath is the resolved checkpoint file, Dir its directory
	// ("" for a pretrained model file, whose name CheckpointPath holds).
	CheckpointPath string
	Dir            RunDir
	Checkpoint     *graph.Checkpoint
	Config         Config
	Grid           *bfm.GridModel
	// Pretrained describes a model loaded from a pretrained model file
	// (LoadPretrained, LoadEmbedded); nil for a run's checkpoint.
	Pretrained *PretrainedMeta
}

// LoadTrained loads a checkpoint file or run directory (see
// ResolveCheckpoint). cfg is the configuration to use; nil reads the run's
// config.yaml (ErrNoRunConfig if there is none). The geometry image is the
// run's model.grid, so that inference matches training exactly; a
// directory without one re-meshes the configured model (with a warning).
// An empty checkpoint loads the embedded default model (LoadEmbedded), a
// file that starts like a pretrained model file loads that (LoadPretrained).
func LoadTrained(checkpoint string, cfg *Config, log *slog.Logger) (*TrainedModel, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if checkpoint == "" {
		return LoadEmbedded(cfg, log)
	}
	if IsPretrainedFile(checkpoint) {
		data, err := os.ReadFile(checkpoint)
		if err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		return LoadPretrained(checkpoint, data, cfg, log)
	}
	ckPath, err := ResolveCheckpoint(checkpoint)
	if err != nil {
		return nil, err
	}
	t := &TrainedModel{CheckpointPath: ckPath, Dir: RunDir(filepath.Dir(ckPath))}
	if cfg != nil {
		t.Config = *cfg
	} else if t.Config, err = runConfig(t.Dir, nil); err != nil {
		return nil, err
	}
	if fileExists(t.Dir.Grid()) {
		if t.Grid, err = bfm.LoadGrid(t.Dir.Grid()); err != nil {
			return nil, err
		}
	} else {
		log.Warn("run directory has no geometry image; re-meshing the configured model", "dir", t.Dir)
		if _, t.Grid, err = LoadModels(t.Config, log); err != nil {
			return nil, err
		}
	}
	if t.Checkpoint, err = graph.LoadCheckpoint(ckPath); err != nil {
		return nil, err
	}
	return t, nil
}

// TrainedConfig returns the configuration LoadTrained(checkpoint, nil, ...)
// uses, with the --set style overrides sets applied: the embedded model's
// (checkpoint ""), a pretrained model file's own, or the run directory's
// config.yaml (ErrNoRunConfig if it has none).
func TrainedConfig(checkpoint string, sets []string) (Config, error) {
	if checkpoint == "" {
		meta, err := EmbeddedMeta()
		if err != nil {
			return Config{}, err
		}
		return ParseConfig(EmbeddedName+" (its config)", []byte(meta.Config), sets)
	}
	if IsPretrainedFile(checkpoint) {
		data, err := os.ReadFile(checkpoint)
		if err != nil {
			return Config{}, fmt.Errorf("checkpoint: %w", err)
		}
		meta, _, err := DecodePretrained(checkpoint, data)
		if err != nil {
			return Config{}, err
		}
		return ParseConfig(checkpoint+" (its config)", []byte(meta.Config), sets)
	}
	ckPath, err := ResolveCheckpoint(checkpoint)
	if err != nil {
		return Config{}, err
	}
	return runConfig(RunDir(filepath.Dir(ckPath)), sets)
}

// runConfig loads a run directory's config.yaml with overrides.
func runConfig(dir RunDir, sets []string) (Config, error) {
	if !fileExists(dir.Config()) {
		return Config{}, fmt.Errorf("%s: %w", dir, ErrNoRunConfig)
	}
	return LoadConfig(dir.Config(), sets)
}

// Network builds an inference network of the given batch size with the
// trained weights: no pretrained body is loaded and, unless pairs is set
// (batches of image/mirror pairs), the siamese loss is off.
func (t *TrainedModel) Network(batch int, pairs bool) (*graph.Network, error) {
	nc, err := NetworkConfigFrom(t.Config)
	if err != nil {
		return nil, err
	}
	nc.Pretrained = ""
	if !pairs {
		nc.Loss.Weights.Siamese = 0
	}
	net, err := graph.NewNetwork(nc, t.Grid, batch)
	if err != nil {
		return nil, err
	}
	if err := net.RestoreParams(t.Checkpoint); err != nil {
		return nil, errors.Join(fmt.Errorf("restoring %s: %w", t.CheckpointPath, err), net.Close())
	}
	return net, nil
}
