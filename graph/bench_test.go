package graph

import (
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/stn3d/stn3d/bfm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// benchGrid is a rows x rows bent sheet (a face-like cylinder patch) with D
// random smooth basis vectors and aflw21 landmarks, spanning 2 units.
func benchGrid(rows, d int) *bfm.GridModel {
	n := rows * rows
	gm := &bfm.GridModel{Rows: rows, Cols: rows, Units: "unit", Mean: make([]float64, 3*n), Landmarks: map[string][]int{"aflw21": make([]int, 21)}}
	r := rand.New(rand.NewPCG(11, 12))
	for k := 0; k < d; k++ {
		gm.Basis = append(gm.Basis, make([]float64, 3*n))
	}
	for i := 0; i < rows; i++ {
		for j := 0; j < rows; j++ {
			k := i*rows + j
			x := 2*float64(j)/float64(rows-1) - 1
			y := 1 - 2*float64(i)/float64(rows-1)
			gm.Mean[3*k], gm.Mean[3*k+1], gm.Mean[3*k+2] = x, y, 0.5*math.Cos(x*1.2)
			for dd := 0; dd < d; dd++ {
				gm.Basis[dd][3*k+dd%3] = 0.02 * math.Sin(float64(dd+1)*x+float64(dd)*y)
			}
		}
	}
	for i := range gm.Landmarks["aflw21"] {
		gm.Landmarks["aflw21"][i] = r.IntN(n)
	}
	return gm
}

// BenchmarkSTNForwardBackward: B=32, image 3x224x224, grid 112x112, D=10;
// all four losses, gradient with respect to theta, float32.
func BenchmarkSTNForwardBackward(b *testing.B) {
	const B, S, G, D = 32, 224, 112, 10
	gm := benchGrid(G, D)
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(B, 3, S, S), gorgonia.WithName("img"))
	th := make([]float32, B*(6+D))
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < B; i++ {
		p := th[i*(6+D):]
		p[0], p[1], p[2] = 0.1*float32(rng.NormFloat64()), 0.3*float32(rng.NormFloat64()), 0.1*float32(rng.NormFloat64())
		p[3], p[4], p[5] = 111.5, 111.5, float32(math.Log(75))
	}
	theta := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(B, 6+D), gorgonia.WithName("theta"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(B, 6+D), tensor.WithBacking(th))))
	stn, err := BuildSTN(g, img, theta, gm, STNOptions{})
	if err != nil {
		b.Fatal(err)
	}
	tgt := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(B, 2, 21), gorgonia.WithName("tgt"), gorgonia.WithInit(gorgonia.Zeroes()))
	w := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(B, 21), gorgonia.WithName("w"), gorgonia.WithInit(gorgonia.Ones()))
	l, err := BuildLosses(LossInputs{Landmarks: stn.Landmarks["aflw21"], Target: tgt, Weight: w, Alpha: stn.Alpha,
		Texture: stn.Texture, Mask: stn.Mask, Rows: G, Cols: G}, LossOptions{Weights: DefaultLossWeights()})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gorgonia.Grad(l.Total, theta); err != nil {
		b.Fatal(err)
	}
	iv := make([]float32, B*3*S*S)
	for i := range iv {
		iv[i] = rng.Float32()
	}
	it := tensor.New(tensor.WithShape(B, 3, S, S), tensor.WithBacking(iv))
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(theta))
	defer vm.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		gorgonia.Let(img, it)
		if err := vm.RunAll(); err != nil {
			b.Fatal(err)
		}
		vm.Reset()
	}
}

func benchModelStep(b *testing.B, kind string, batch int) {
	gm := benchGrid(64, 10)
	cfg := NetworkConfig{
		Localiser: LocaliserOptions{Kind: kind, Seed: 1},
		Loss:      LossOptions{Weights: DefaultLossWeights()},
		Optim:     OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 1e-6}},
		Mults:     ReferenceMultipliers(),
		Scheme:    "aflw21",
	}
	m, err := NewNetwork(cfg, gm, batch)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	bt := toyBatch(batch, m.InputSize, m.NumLandmarks, 2)
	for i := range bt.Landmarks {
		bt.Landmarks[i] = float32(m.InputSize / 2)
	}
	// One warm-up step, untimed (the PyTorch peer, torch_stn.py, also drops
	// its first step): it maps the buffers and fills the caches.
	if _, err := m.Step(bt); err != nil {
		b.Fatal(err)
	}
	if os.Getenv("STN3D_BENCH_OPS") == "1" {
		m.train.opTime = map[string]time.Duration{}
		defer logOpTimes(b, m.train.opTime)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Step(bt); err != nil {
			b.Fatal(err)
		}
	}
}

// logOpTimes logs the time per op kind (STN3D_BENCH_OPS=1; =layers: per op
// and output shape, for the inference benchmarks), largest first.
func logOpTimes(b *testing.B, t map[string]time.Duration) {
	type kv struct {
		k string
		v time.Duration
	}
	var all []kv
	var sum time.Duration
	for k, v := range t {
		all = append(all, kv{k, v})
		sum += v
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	for _, e := range all {
		b.Logf("%-28s %8.3f s %5.1f%%", e.k, e.v.Seconds(), 100*e.v.Seconds()/sum.Seconds())
	}
}

// BenchmarkTrainStepSmall: one Network.Step (forward, backward, Adam) of the
// small localiser + STN (grid 64x64, D=10) + all losses at batch 16.
func BenchmarkTrainStepSmall(b *testing.B) { benchModelStep(b, LocaliserSmall, 16) }

// BenchmarkTrainStepVGGFace: the same with the VGG-Face localiser at batch
// 8. It needs ~20 GB of memory, so it runs only with STN3D_BENCH_VGG=1; use
// -benchtime=1x.
func BenchmarkTrainStepVGGFace(b *testing.B) {
	if os.Getenv("STN3D_BENCH_VGG") != "1" {
		b.Skip("set STN3D_BENCH_VGG=1 (needs ~20 GB of memory)")
	}
	benchModelStep(b, LocaliserVGGFace, 8)
}

// benchInfer times Network.FitInto (localiser + STN forward: pose, shape,
// landmarks, sampled texture and mask, what normalize, eval and detection
// run, reusing the output buffers batch after batch as normalize does) of
// the small model on batches of batch faces, and reports faces/s and ms per
// face.
func benchInfer(b *testing.B, batch int) {
	gm := benchGrid(64, 10)
	cfg := NetworkConfig{
		Localiser: LocaliserOptions{Kind: LocaliserSmall, Seed: 1},
		Loss:      LossOptions{Weights: DefaultLossWeights()},
		Optim:     OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 1e-6}},
		Scheme:    "aflw21",
	}
	if batch%2 != 0 {
		cfg.Loss.Weights.Siamese = 0
	}
	m, err := NewNetwork(cfg, gm, batch)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	images := toyBatch(batch, m.InputSize, m.NumLandmarks, 3).Images
	fits, err := m.FitInto(nil, images) // warm-up: maps the buffers
	if err != nil {
		b.Fatal(err)
	}
	if v := os.Getenv("STN3D_BENCH_OPS"); v == "1" || v == "layers" {
		m.fitVM.opTime = map[string]time.Duration{}
		m.fitVM.opTimeShapes = v == "layers"
		defer logOpTimes(b, m.fitVM.opTime)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if fits, err = m.FitInto(fits, images); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed().Seconds() / float64(b.N*batch)
	b.ReportMetric(1/per, "faces/s")
	b.ReportMetric(per*1e3, "ms/face")
}

// BenchmarkInferSmallB1: one face at a time (latency).
func BenchmarkInferSmallB1(b *testing.B) { benchInfer(b, 1) }

// BenchmarkInferSmallB64: batches of 64 faces (throughput).
func BenchmarkInferSmallB64(b *testing.B) { benchInfer(b, 64) }
