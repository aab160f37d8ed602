package run

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/atomicfile"
	"github.com/stn3d/stn3d/internal/sealedfile"
)

// Pretrained model file ("STN3DPRE", version 1): a trained localiser in one
// self-describing file, as embedded in the binary (default.weights). It is
// an internal/sealedfile container:
//
//	magic    [8]byte   "STN3DPRE"
//	version  uint32    1
//	metaLen  uint32    length of the JSON metadata (<= 1 MiB)
//	bodyLen  uint64    length of the body (<= 64 MiB)
//	sha256   [32]byte  SHA-256 of meta followed by body
//	meta     JSON PretrainedMeta: the training config (YAML, verbatim), the
//	         geometry image's identity (bfm.GridID), provenance
//	body     the localiser's parameters in the weights format (graph.
//	         EncodeWeightsFloat16: float16, read back as float32)
//
// The geometry image itself is not stored: it is regenerated from the
// config (the embedded default face model takes ~75 ms) and must have the
// recorded identity, so a file never runs against a model it was not
// trained with.
const (
	pretrainedMagic   = "STN3DPRE"
	pretrainedVersion = 1
	// PretrainedFormat names what the file holds.
	PretrainedFormat = "stn3d localiser"
)

// PretrainedMeta is the metadata of a pretrained model file.
type PretrainedMeta struct {
	// Format is PretrainedFormat.
	Format string `json:"format"`
	// Config is the run's config.yaml, verbatim.
	Config string `json:"config"`
	// GridSHA256 is the identity of the geometry image it was trained with
	// (bfm.GridID); GridSource names it.
	GridSHA256 string `json:"grid_sha256"`
	GridSource string `json:"grid_source,omitempty"`
	// Dtype is how the body stores the parameters ("float16").
	Dtype string `json:"dtype"`
	// Params is the number of parameter values.
	Params int `json:"params"`
	// WeightsSHA256 is the SHA-256 of the body: the same config retrained
	// on a machine of the same kind reproduces it bit for bit.
	WeightsSHA256 string `json:"weights_sha256"`
	// Step is the training step of the exported checkpoint, ValNME its
	// synthetic validation NME (%).
	Step   int     `json:"step"`
	ValNME float64 `json:"val_nme,omitempty"`
	// Commit is the source revision of the stn3d that exported the file
	// (`make weights` trains and exports with one binary), Modified whether
	// its tree had uncommitted changes.
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"commit_modified,omitempty"`
	// Source is the checkpoint exported.
	Source string `json:"source,omitempty"`
}

// EmbeddedName is how the embedded default model is named in logs, outputs
// and errors, in place of a checkpoint path.
const EmbeddedName = "embedded default model"

//go:embed default.weights
var embeddedWeights []byte

// EmbeddedWeights returns the bytes of the embedded default model file.
func EmbeddedWeights() []byte { return embeddedWeights }

// ErrBadPretrained is wrapped by every error about a malformed pretrained
// model file.
var ErrBadPretrained = errors.New("bad pretrained model file")

// ExportOptions say where an exported file comes from.
type ExportOptions struct {
	// Run is the run directory (its best checkpoint) or checkpoint file.
	Run string
	// Out is the file written (atomically).
	Out string
	// Commit and Modified record the source revision (see PretrainedMeta).
	Commit   string
	Modified bool
	Log      *slog.Logger
}

// ExportPretrained writes the localiser of a trained run as a pretrained
// model file (float16). The run's config must regenerate the geometry image
// it was trained with, or the file could not be loaded: that is checked
// here.
func ExportPretrained(opt ExportOptions) (*PretrainedMeta, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tm, err := LoadTrained(opt.Run, nil, log)
	if err != nil {
		return nil, err
	}
	cfgYAML, err := os.ReadFile(tm.Dir.Config())
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	id, err := bfm.GridID(tm.Grid)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	_, regen, err := LoadModels(tm.Config, log)
	if err != nil {
		return nil, fmt.Errorf("export: regenerating the geometry image from %s: %w", tm.Dir.Config(), err)
	}
	if rid, err := bfm.GridID(regen); err != nil || rid != id {
		return nil, fmt.Errorf("export: the geometry image of %s (%.12s) is not what its config regenerates (%.12s, %v): the file could not be loaded", tm.Dir, id, rid, err)
	}
	var body bytes.Buffer
	if err := graph.EncodeWeightsFloat16(&body, tm.Checkpoint.Params); err != nil {
		return nil, fmt.Errorf("export %s: %w", tm.CheckpointPath, err)
	}
	n := 0
	for i := range tm.Checkpoint.Params {
		n += tm.Checkpoint.Params[i].Len()
	}
	meta := &PretrainedMeta{
		Format: PretrainedFormat, Config: string(cfgYAML),
		GridSHA256: id, GridSource: tm.Grid.Source,
		Dtype: "float16", Params: n,
		WeightsSHA256: fmt.Sprintf("%x", sha256.Sum256(body.Bytes())),
		Step:          tm.Checkpoint.Step,
		Commit:        opt.Commit, Modified: opt.Modified,
		Source: tm.CheckpointPath,
	}
	if v, ok := tm.Checkpoint.Meta[metaBestNME]; ok {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			meta.ValNME = f
		}
	}
	mj, err := json.MarshalIndent(meta, "", " ")
	if err != nil {
		return nil, fmt.Errorf("export: meta: %w", err)
	}
	err = atomicfile.Write(opt.Out, func(w io.Writer) error {
		return sealedfile.Write(w, pretrainedMagic, pretrainedVersion, mj, body.Bytes())
	})
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", opt.Out, err)
	}
	return meta, nil
}

// DecodePretrained checks a pretrained model file held in data (container,
// meta, weights and their checksum) without building anything. name is the
// file named in errors.
func DecodePretrained(name string, data []byte) (*PretrainedMeta, []graph.WeightTensor, error) {
	mj, body, err := sealedfile.Open(data, pretrainedMagic, pretrainedVersion)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: %v", name, ErrBadPretrained, err)
	}
	var meta PretrainedMeta
	dec := json.NewDecoder(bytes.NewReader(mj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&meta); err != nil {
		return nil, nil, fmt.Errorf("%s: %w: meta: %v", name, ErrBadPretrained, err)
	}
	if meta.Format != PretrainedFormat {
		return nil, nil, fmt.Errorf("%s: %w: format %q, want %q", name, ErrBadPretrained, meta.Format, PretrainedFormat)
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(body)); got != meta.WeightsSHA256 {
		return nil, nil, fmt.Errorf("%s: %w: weights_sha256 %.16s, the weights hash to %.16s", name, ErrBadPretrained, meta.WeightsSHA256, got)
	}
	r := bytes.NewReader(body)
	ts, err := graph.DecodeWeights(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w: weights: %v", name, ErrBadPretrained, err)
	}
	if r.Len() != 0 {
		return nil, nil, fmt.Errorf("%s: %w: %d bytes after the weights", name, ErrBadPretrained, r.Len())
	}
	n := 0
	for i := range ts {
		n += ts[i].Len()
	}
	if n != meta.Params {
		return nil, nil, fmt.Errorf("%s: %w: %d parameter values, meta says %d", name, ErrBadPretrained, n, meta.Params)
	}
	return &meta, ts, nil
}

// LoadPretrained builds a TrainedModel from a pretrained model file held in
// data: its config (or cfg, if non-nil, for everything but the model), the
// geometry image regenerated from the file's config and checked against
// its identity, and the weights. name is the file named in errors and
// recorded as the model's CheckpointPath.
func LoadPretrained(name string, data []byte, cfg *Config, log *slog.Logger) (*TrainedModel, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	meta, ts, err := DecodePretrained(name, data)
	if err != nil {
		return nil, err
	}
	own, err := ParseConfig(name+" (its config)", []byte(meta.Config), nil)
	if err != nil {
		return nil, err
	}
	_, gm, err := LoadModels(own, log)
	if err != nil {
		return nil, fmt.Errorf("%s: regenerating its geometry image: %w", name, err)
	}
	// Through the grid file format, so that the values are the float32 ones
	// the model was trained and validated with (as LoadTrained reads them
	// from model.grid).
	var gb bytes.Buffer
	if err := bfm.EncodeGrid(&gb, gm); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if id := fmt.Sprintf("%x", gb.Bytes()[gb.Len()-sha256.Size:]); id != meta.GridSHA256 {
		return nil, fmt.Errorf("%s: the geometry image regenerated from its config is %.12s, the weights were trained with %.12s (model.path %q)", name, id, meta.GridSHA256, own.Model.Path)
	}
	if gm, err = bfm.DecodeGrid(name, gb.Bytes()); err != nil {
		return nil, err
	}
	t := &TrainedModel{
		CheckpointPath: name,
		Checkpoint:     &graph.Checkpoint{Step: meta.Step, Params: ts},
		Config:         own,
		Grid:           gm,
		Pretrained:     meta,
	}
	if cfg != nil {
		t.Config = *cfg
		t.Config.Model = own.Model
		t.Config.Localiser = own.Localiser
		t.Config.STN = own.STN
		t.Config.Recognition = own.Recognition
	}
	return t, nil
}

// LoadEmbedded is LoadPretrained on the embedded default model.
func LoadEmbedded(cfg *Config, log *slog.Logger) (*TrainedModel, error) {
	return LoadPretrained(EmbeddedName, embeddedWeights, cfg, log)
}

// EmbeddedMeta returns the metadata of the embedded default model.
func EmbeddedMeta() (*PretrainedMeta, error) {
	meta, _, err := DecodePretrained(EmbeddedName, embeddedWeights)
	return meta, err
}

// EmbeddedConfig returns the configuration the embedded default model was
// trained with.
func EmbeddedConfig() (Config, error) {
	meta, err := EmbeddedMeta()
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(EmbeddedName+" (its config)", []byte(meta.Config), nil)
}
