package detect

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/atomicfile"
	"github.com/stn3d/stn3d/internal/sealedfile"
)

// Detector weights file ("STN3DDET", version 1), integers little-endian:
//
//	magic    [8]byte   "STN3DDET"
//	version  uint32    1
//	metaLen  uint32    length of the JSON metadata (<= 1 MiB)
//	bodyLen  uint64    length of the tensor body (<= 64 MiB)
//	sha256   [32]byte  SHA-256 of meta followed by body
//	meta     [metaLen]byte  JSON Meta
//	body     [bodyLen]byte  graph weights format (EncodeWeights) holding
//	                        LAYER.w (cout, cin, k, k) and LAYER.b (cout)
//	                        for conv1..conv5 and head
const (
	fileMagic   = "STN3DDET"
	fileVersion = 1
)

// Calibration maps the network's box to the box of the face's 68 iBUG
// landmarks: centre (cx + DX*w, cy + DY*h), size (SW*w, SH*h). It is fitted
// by least squares on the training photographs (see Fit in train.go).
type Calibration struct {
	DX float64 `json:"dx"`
	DY float64 `json:"dy"`
	SW float64 `json:"sw"`
	SH float64 `json:"sh"`
}

// Identity is the calibration that changes nothing.
var Identity = Calibration{SW: 1, SH: 1}

// Apply maps a network box to the landmark-box convention.
func (c Calibration) Apply(b Box) Box {
	cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
	w, h := b.X1-b.X0, b.Y1-b.Y0
	cx += c.DX * w
	cy += c.DY * h
	w *= c.SW
	h *= c.SH
	return Box{X0: cx - w/2, Y0: cy - h/2, X1: cx + w/2, Y1: cy + h/2}
}

// Meta is the metadata stored with the weights.
type Meta struct {
	// Arch names the layer list (ArchName); a file of another arch is refused.
	Arch string `json:"arch"`
	// Threshold is the default score threshold.
	Threshold float64 `json:"threshold"`
	// Calibration maps network boxes to 68-landmark boxes.
	Calibration Calibration `json:"calibration"`
	// CalibrationResidual is the RMS of the fit's residual (relative to the
	// box size) on the training photographs.
	CalibrationResidual float64 `json:"calibration_residual"`
	// LevelFace is the face size sqrt(w h), in pixels of the finest
	// pyramid level, at which a face of Options.MinFace is searched; each
	// coarser level is LevelStep smaller, so every face appears once in
	// [LevelFace, LevelStep LevelFace). Calibrate picks it where the
	// network finds faces most reliably; 0 (files written before it
	// existed) means BandMin.
	LevelFace float64 `json:"level_face,omitempty"`
	// Train records how the weights were made (config, seed, steps, time).
	Train map[string]any `json:"train,omitempty"`
}

// ArchName names the current layer list.
const ArchName = "fcn8-v2: conv3x3 16,32,32 (pool) 64,96; head 1x1 5; stride 8; band 16-32"

//go:embed detector.weights
var embedded []byte

// EncodeFile writes the weights file format.
func EncodeFile(w io.Writer, meta Meta, ts []graph.WeightTensor) error {
	mj, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("detect: weights meta: %w", err)
	}
	var body bytes.Buffer
	if err := graph.EncodeWeights(&body, ts); err != nil {
		return fmt.Errorf("detect: weights: %w", err)
	}
	if err := sealedfile.Write(w, fileMagic, fileVersion, mj, body.Bytes()); err != nil {
		return fmt.Errorf("detect: %w", err)
	}
	return nil
}

// WriteFile writes a weights file atomically.
func WriteFile(path string, meta Meta, ts []graph.WeightTensor) error {
	return atomicfile.Write(path, func(w io.Writer) error { return EncodeFile(w, meta, ts) })
}

// ErrBadWeights is wrapped by every error about a malformed weights file.
var ErrBadWeights = errors.New("detect: bad detector weights")

// DecodeFile parses a weights file held in data.
func DecodeFile(data []byte) (Meta, []graph.WeightTensor, error) {
	var meta Meta
	mj, body, err := sealedfile.Open(data, fileMagic, fileVersion)
	if err != nil {
		return meta, nil, fmt.Errorf("%w: %v", ErrBadWeights, err)
	}
	if err := json.Unmarshal(mj, &meta); err != nil {
		return meta, nil, fmt.Errorf("%w: meta: %v", ErrBadWeights, err)
	}
	if meta.Arch != ArchName {
		return meta, nil, fmt.Errorf("%w: arch %q, this build runs %q", ErrBadWeights, meta.Arch, ArchName)
	}
	ts, err := graph.DecodeWeights(bytes.NewReader(body))
	if err != nil {
		return meta, nil, fmt.Errorf("%w: %v", ErrBadWeights, err)
	}
	return meta, ts, nil
}

// ReadFile reads a weights file.
func ReadFile(path string) (Meta, []graph.WeightTensor, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("detect: %w", err)
	}
	meta, ts, err := DecodeFile(data)
	if err != nil {
		return meta, nil, fmt.Errorf("%s: %w", path, err)
	}
	return meta, ts, nil
}
