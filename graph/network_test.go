package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// toyNetworkConfig trains only the theta bias with plain SGD. The landmark
// loss in px^2 has curvature ~2 in t but ~2 s^2 mean|X|^2 (~800 here) in
// log s, so SGD needs lr ~1e-3; the body and theta.w
// (whose effective step is lr |features|^2, |features|^2 ~ 500 at init) are
// frozen with multiplier 0 to keep the test about Step itself.
func toyNetworkConfig() NetworkConfig {
	mults := map[string]ParamMult{ThetaBiasName: {LR: 1, Decay: 0}, ThetaWeightName: {}}
	for _, n := range []string{"conv1", "conv2", "conv3", "conv4", "fc5"} {
		mults[n+".w"] = ParamMult{}
		mults[n+".b"] = ParamMult{}
	}
	return NetworkConfig{
		Localiser:    LocaliserOptions{Kind: LocaliserSmall, Seed: 5},
		FaceFraction: 0.5,
		Loss:         LossOptions{Weights: DefaultLossWeights()},
		Optim:        OptimizerConfig{Kind: SolverSGD, Schedule: Schedule{Base: 0.001}},
		Mults:        mults,
		Scheme:       "aflw21",
	}
}

func toyBatch(B, S, L int, seed uint64) *Batch {
	r := rand.New(rand.NewPCG(seed, 1))
	b := &Batch{Images: make([]float32, B*3*S*S), Landmarks: make([]float32, B*L*2), Weights: make([]float32, B*L)}
	for i := range b.Images {
		b.Images[i] = r.Float32()
	}
	for i := range b.Weights {
		b.Weights[i] = 1
	}
	b.Weights[3] = 0
	return b
}

func TestModelStepPredictConsistency(t *testing.T) {
	gm := flatGrid(8, 8, 1)
	const B = 2
	m, err := NewNetwork(toyNetworkConfig(), gm, B)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Params()) != 12 {
		t.Fatalf("%d params", len(m.Params()))
	}
	b := toyBatch(B, m.InputSize, m.NumLandmarks, 1)
	pred, err := m.Predict(b.Images)
	if err != nil {
		t.Fatal(err)
	}
	// Init: identity-ish, centred, scale 0.5*112/7 = 8 px per unit.
	if p := pred[0]; math.Abs(p.Scale-8) > 0.05 || math.Abs(p.Theta[3]-55.5) > 0.05 || math.Abs(p.Rotation[0]-1) > 1e-3 {
		t.Fatalf("init prediction %+v", p)
	}
	if !math.IsNaN(pred[0].Landmarks[12][0]) || math.IsNaN(pred[0].Landmarks[13][0]) {
		t.Fatalf("missing landmark handling: %v", pred[0].Landmarks[12:14])
	}
	// Targets: predicted landmarks shifted by (+6, -4) px.
	var num, den float64
	for bi := 0; bi < B; bi++ {
		for l := 0; l < m.NumLandmarks; l++ {
			p := pred[bi].Landmarks[l]
			if math.IsNaN(p[0]) {
				p = [2]float64{0, 0}
			}
			b.Landmarks[(bi*m.NumLandmarks+l)*2] = float32(p[0] + 6)
			b.Landmarks[(bi*m.NumLandmarks+l)*2+1] = float32(p[1] - 4)
			if l == 12 || l == 16 {
				continue // excluded: the grid model lacks the ears
			}
			w := float64(b.Weights[bi*m.NumLandmarks+l])
			num += w * 52
			den += w
		}
	}
	lv, err := m.Step(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := num / (den + 1e-6); math.Abs(lv.Landmark-want) > 1e-3*want {
		t.Errorf("landmark loss %v, want %v from Predict's landmarks", lv.Landmark, want)
	}
	if !(lv.Total > 0) || math.IsInf(lv.Total, 0) || !(lv.GradNorm > 0) {
		t.Errorf("loss values %+v", lv)
	}
	first, prev := lv.Landmark, lv.Landmark
	for i := 0; i < 4; i++ {
		if lv, err = m.Step(b); err != nil {
			t.Fatal(err)
		}
		if !(lv.Landmark < prev) {
			t.Errorf("step %d: landmark loss %v did not fall from %v", i+2, lv.Landmark, prev)
		}
		prev = lv.Landmark
	}
	if !(lv.Landmark < 0.98*first) {
		t.Errorf("landmark loss %v after 5 steps, want < 0.98 * %v", lv.Landmark, first)
	}

	// Checkpoint round trip through the model.
	ck, err := m.Checkpoint([]byte{1, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.stnc")
	if err := SaveCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	after1, _ := m.Step(b)
	ck2, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Restore(ck2); err != nil {
		t.Fatal(err)
	}
	after2, _ := m.Step(b)
	if after1.Total != after2.Total {
		t.Errorf("step after restore: loss %v, want %v", after2.Total, after1.Total)
	}

	// Errors.
	if _, err := m.Step(&Batch{Images: b.Images[:10]}); err == nil || !strings.Contains(err.Error(), "batch has 10 image values, want 75264") {
		t.Errorf("short batch: %v", err)
	}
	b.Images[0] = float32(math.NaN())
	before := append([]float32(nil), m.Params()[0].Value().Data().([]float32)...)
	if _, err = m.Step(b); err == nil || err.Error() != "graph: step: batch images[0] = NaN: want finite values" {
		t.Errorf("NaN image: err %v", err)
	}
	if got := m.Params()[0].Value().Data().([]float32); got[0] != before[0] {
		t.Errorf("refused step changed conv1.w")
	}
}

// TestStepReproducible: two networks trained from the same seed on the same
// batches end with bit-identical parameters, also when one of them runs on
// a single worker (every parallel reduction has a fixed order).
func TestStepReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the small localiser twice")
	}
	train := func(procs int) [][]float32 {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		gm := benchGrid(16, 4)
		cfg := NetworkConfig{
			Localiser: LocaliserOptions{Kind: LocaliserSmall, Seed: 3},
			Loss:      LossOptions{Weights: DefaultLossWeights()},
			Optim:     OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 1e-3}, ClipNorm: 10},
			Mults:     ReferenceMultipliers(),
			Scheme:    "aflw21",
		}
		m, err := NewNetwork(cfg, gm, 4)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for s := 0; s < 3; s++ {
			b := toyBatch(4, m.InputSize, m.NumLandmarks, uint64(10+s))
			for i := range b.Landmarks {
				b.Landmarks[i] = float32(m.InputSize/2 + i%7)
			}
			if _, err := m.Step(b); err != nil {
				t.Fatal(err)
			}
		}
		var out [][]float32
		for _, p := range m.Params() {
			out = append(out, append([]float32(nil), p.Value().Data().([]float32)...))
		}
		return out
	}
	a, b, c := train(2), train(2), train(1)
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] || a[i][j] != c[i][j] {
				t.Fatalf("parameter %d[%d]: %v, %v (again), %v (one worker)", i, j, a[i][j], b[i][j], c[i][j])
			}
		}
	}
}

// TestFitIntoReusesBuffers: FitInto gives what Fit gives, over several
// chunks (5 images on a batch-2 network: the last chunk padded), writes
// into the slices of dst it is given, and cuts dst to the images given.
func TestFitIntoReusesBuffers(t *testing.T) {
	gm := flatGrid(8, 8, 1)
	cfg := toyNetworkConfig()
	cfg.Loss.Weights.Siamese = 0
	m, err := NewNetwork(cfg, gm, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	per := 3 * m.InputSize * m.InputSize
	imgs := toyBatch(5, m.InputSize, m.NumLandmarks, 9).Images
	want, err := m.Fit(imgs)
	if err != nil {
		t.Fatal(err)
	}
	// Each image alone gives the fit it has in the batch of 5 (to float32
	// rounding: the kernels may block a batch differently).
	for i := range want {
		one, err := m.Fit(imgs[i*per : (i+1)*per])
		if err != nil {
			t.Fatal(err)
		}
		for v, p := range one[0].Points2D {
			if d := math.Hypot(p[0]-want[i].Points2D[v][0], p[1]-want[i].Points2D[v][1]); d > 1e-3 {
				t.Fatalf("image %d vertex %d: alone %v, in the batch %v", i, v, p, want[i].Points2D[v])
			}
		}
	}
	// Fits hold NaN for unmapped landmarks, so compare their printed
	// values (%v prints floats exactly).
	same := func(a, b Fit) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
	dst, err := m.FitInto(nil, imgs)
	if err != nil || len(dst) != 5 || !same(dst[0], want[0]) || !same(dst[4], want[4]) {
		t.Fatalf("FitInto(nil) differs from Fit: %v", err)
	}
	tex, pts := &dst[1].Texture[0], &dst[1].Points2D[0]
	// Three other images into the same buffers.
	got, err := m.FitInto(dst, imgs[2*per:])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || &got[1].Texture[0] != tex || &got[1].Points2D[0] != pts {
		t.Fatalf("got %d fits; texture reused %v, points reused %v", len(got), &got[1].Texture[0] == tex, &got[1].Points2D[0] == pts)
	}
	for i := range got {
		if !same(got[i], want[2+i]) {
			t.Fatalf("reused fit %d differs from Fit's fit %d", i, 2+i)
		}
	}
}

// TestFirstNonFinite: the bit test finds the first NaN or infinity at any
// position (in the blocks of 8 and in the tail) and passes every finite
// value, the largest and the subnormals included.
func TestFirstNonFinite(t *testing.T) {
	finite := []float32{0, -0.5, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-40}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 23} {
		v := make([]float32, n)
		for i := range v {
			v[i] = finite[i%len(finite)]
		}
		if got := firstNonFinite(v); got != -1 {
			t.Fatalf("n %d all finite: %d", n, got)
		}
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			for p := 0; p < n; p++ {
				w := append([]float32(nil), v...)
				w[p] = bad
				if p+1 < n {
					w[n-1] = bad
				}
				if got := firstNonFinite(w); got != p {
					t.Fatalf("n %d, %v at %d: got %d", n, bad, p, got)
				}
			}
		}
	}
}
