package run

import (
	"testing"

	"github.com/stn3d/stn3d/graph"
)

// benchInferEmbedded measures what normalize and eval run on faces with the
// weights they use: the embedded default localiser + STN forward
// (Network.FitInto, outputs reused) on batches of rendered validation faces
// (the product's own, clean, 112 x 112). graph's BenchmarkInferSmall* run
// the same network with untrained (He-initialised) weights on toy images;
// a trained network's features are far sparser (91% of fc5's inputs are
// zero on faces, which the fully connected layer skips).
func benchInferEmbedded(b *testing.B, batch int) {
	cfg, err := EmbeddedConfig()
	if err != nil {
		b.Fatal(err)
	}
	cfg.Data.ValCount = batch
	tm, err := LoadEmbedded(&cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	net, err := tm.Network(batch, false)
	if err != nil {
		b.Fatal(err)
	}
	defer net.Close()
	env, err := Setup(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	size := net.InputSize
	images := make([]float32, batch*3*size*size)
	for i := 0; i < batch; i++ {
		s, err := env.Val.Sample(i)
		if err != nil {
			b.Fatal(err)
		}
		if err := toInput(images[i*3*size*size:(i+1)*3*size*size], s.Image, size); err != nil {
			b.Fatal(err)
		}
	}
	var fits []graph.Fit
	if fits, err = net.FitInto(fits, images); err != nil { // warm-up: maps the buffers
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if fits, err = net.FitInto(fits, images); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed().Seconds() / float64(b.N*batch)
	b.ReportMetric(1/per, "faces/s")
	b.ReportMetric(per*1e3, "ms/face")
}

// BenchmarkInferEmbeddedB1: the embedded model, one face at a time.
func BenchmarkInferEmbeddedB1(b *testing.B) { benchInferEmbedded(b, 1) }

// BenchmarkInferEmbeddedB64: the embedded model, batches of 64 faces.
func BenchmarkInferEmbeddedB64(b *testing.B) { benchInferEmbedded(b, 64) }
