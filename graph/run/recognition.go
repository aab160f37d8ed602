package run

import (
	"context"
	"fmt"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// RecognitionSection turns a run into pose-invariant face recognition
// (configs/recognition.yaml): a recogniser CNN on the STN's pose-normalised
// texture (or, for the no-STN baseline, on the plain crop) is trained end to
// end with an identity loss together with the STN's geometric losses, on
// synthetic people (dataset.SyntheticConfig.Identities), and evaluated by
// face verification on people never seen in training.
type RecognitionSection struct {
	// Input is "texture" (STN + CNN), "crop" (the same CNN on the plain
	// crop) or "" (no recognition).
	Input string `yaml:"input"`
	// Identities is the number of training people (persons 0..K-1).
	Identities int `yaml:"identities"`
	// Weight multiplies the identity loss.
	Weight float64 `yaml:"weight"`
	// Embedding and Channels shape the recogniser (graph.RecogniserOptions).
	Embedding int   `yaml:"embedding"`
	Channels  []int `yaml:"channels,flow"`
	// TestIdentities people (persons K..K+T-1) with TestImages images each
	// form the verification set.
	TestIdentities int `yaml:"test_identities"`
	TestImages     int `yaml:"test_images"`
	// MinYawGap (degrees) selects the large-pose pairs reported apart.
	MinYawGap float64 `yaml:"min_yaw_gap"`
}

// enabled reports whether the run trains a recogniser.
func (r RecognitionSection) enabled() bool { return r.Input != "" }

// recognitionDefaults are the values a recognition section starts from.
func recognitionDefaults() RecognitionSection {
	return RecognitionSection{Identities: 400, Weight: 1, Embedding: 128, Channels: []int{32, 64, 128, 128},
		TestIdentities: 100, TestImages: 10, MinYawGap: 45}
}

// validate checks the section; bad reports a key's problem.
func (r RecognitionSection) validate(bad func(key, format string, args ...any) error, dataKind string) error {
	if !r.enabled() {
		return nil
	}
	switch {
	case r.Input != graph.RecogniseTexture && r.Input != graph.RecogniseCrop:
		return bad("recognition.input", "got %q, expected texture, crop or empty", r.Input)
	case dataKind != "synthetic":
		return bad("recognition.input", "recognition trains on synthetic people: data.kind must be synthetic, got %q", dataKind)
	case r.Identities < 2:
		return bad("recognition.identities", "got %d, expected at least 2 people", r.Identities)
	case !(r.Weight >= 0) || r.Weight > 1e6:
		return bad("recognition.weight", "got %v, expected a finite number >= 0", r.Weight)
	case r.Embedding < 1 || r.Embedding > 4096:
		return bad("recognition.embedding", "got %d, expected 1..4096", r.Embedding)
	case len(r.Channels) == 0 || len(r.Channels) > 6:
		return bad("recognition.channels", "got %d blocks, expected 1..6", len(r.Channels))
	case r.TestIdentities < 2:
		return bad("recognition.test_identities", "got %d, expected at least 2 people", r.TestIdentities)
	case r.TestImages < 2:
		return bad("recognition.test_images", "got %d, expected at least 2 images per person", r.TestImages)
	case !(r.MinYawGap >= 0 && r.MinYawGap <= 180):
		return bad("recognition.min_yaw_gap", "got %v, expected 0..180 degrees", r.MinYawGap)
	}
	for i, c := range r.Channels {
		if c < 1 || c > 1024 {
			return bad("recognition.channels", "block %d has %d channels, expected 1..1024", i+1, c)
		}
	}
	return nil
}

// recognitionOptions maps the section onto the network's identity branch
// (nil when recognition is off).
func recognitionOptions(cfg Config) *graph.RecognitionOptions {
	r := cfg.Recognition
	if !r.enabled() {
		return nil
	}
	return &graph.RecognitionOptions{Input: r.Input, Classes: r.Identities, Weight: r.Weight,
		Recogniser: graph.RecogniserOptions{Channels: append([]int(nil), r.Channels...), Embedding: r.Embedding}}
}

// recognitionTestSource renders the verification set: TestIdentities
// people after the training ones, TestImages images each, with the
// validation split's (clean) camera.
func recognitionTestSource(cfg Config, mesh *bfm.Model, size int) (*dataset.Synthetic, error) {
	r := cfg.Recognition
	sc := SyntheticConfigFrom(cfg, size, r.TestIdentities*r.TestImages)
	sc.Photometric = dataset.Photometric{}
	sc.Identities, sc.FirstIdentity = r.TestIdentities, r.Identities
	return dataset.NewSynthetic(mesh, sc, "recognition-test")
}

// EvaluateRecognition embeds the verification set with net and scores it
// (dataset.Verify): ROC AUC and TAR at FAR 1e-2 and 1e-3 on all pairs and
// on pairs at least recognition.min_yaw_gap degrees apart, and rank-1
// identification.
func EvaluateRecognition(ctx context.Context, net *graph.Network, cfg Config, mesh *bfm.Model) (*dataset.VerificationMetrics, error) {
	if mesh == nil {
		return nil, fmt.Errorf("recognition: the verification set is rendered from a mesh model, but model.path %s is a saved grid", cfg.Model.Path)
	}
	src, err := recognitionTestSource(cfg, mesh, net.InputSize)
	if err != nil {
		return nil, fmt.Errorf("recognition: %w", err)
	}
	per := 3 * net.InputSize * net.InputSize
	buf := make([]float32, net.BatchSize*per)
	var in []dataset.VerificationInput
	for start := 0; start < src.Len(); start += net.BatchSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		k := min(net.BatchSize, src.Len()-start)
		samples := make([]dataset.Sample, k)
		for j := range samples {
			if samples[j], err = src.Sample(start + j); err != nil {
				return nil, fmt.Errorf("recognition: %w", err)
			}
			if err := toInput(buf[j*per:(j+1)*per], samples[j].Image, net.InputSize); err != nil {
				return nil, fmt.Errorf("recognition: %s: %w", samples[j].Name, err)
			}
		}
		emb, err := net.Embed(buf[:k*per])
		if err != nil {
			return nil, fmt.Errorf("recognition: %w", err)
		}
		for j, s := range samples {
			in = append(in, dataset.VerificationInput{Embedding: emb[j], Identity: s.Identity, Yaw: s.Pose.Yaw})
		}
	}
	return dataset.Verify(in, cfg.Recognition.MinYawGap)
}
