package graph

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// recognitionConfig is a small Adam network on a 16 x 16 grid with an
// identity branch of 4 classes.
func recognitionConfig(input string) NetworkConfig {
	return NetworkConfig{
		Localiser:    LocaliserOptions{Kind: LocaliserSmall, Seed: 5},
		FaceFraction: 0.5,
		Loss:         LossOptions{Weights: LossWeights{Landmark: 1}},
		Optim:        OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 3e-3}, Beta1: 0.9, Beta2: 0.99},
		Scheme:       "aflw21",
		ScaledBias:   true,
		Recognition: &RecognitionOptions{Input: input, Classes: 4, Weight: 1,
			Recogniser: RecogniserOptions{Channels: []int{8, 16}, Embedding: 12}},
	}
}

// TestRecognitionBranch: both inputs give the same recogniser, parameter
// for parameter; the identity loss changes the localiser only through the
// texture; Embed gives one E-vector per image; and Adam steps on four
// fixed images with four labels drive the identity loss down (after the
// first step the localiser is frozen, so that the texture holds still).
func TestRecognitionBranch(t *testing.T) {
	gm := flatGrid(16, 16, 1)
	const B = 4
	counts := map[string]int{}
	for _, input := range []string{RecogniseTexture, RecogniseCrop} {
		cfg := recognitionConfig(input)
		cfg.Loss.Weights = LossWeights{}
		m, err := NewNetwork(cfg, gm, B)
		if err != nil {
			t.Fatalf("%s: %v", input, err)
		}
		n := 0
		for _, p := range m.Recogniser.Params {
			if !strings.HasPrefix(p.Name(), "rec.") {
				t.Errorf("%s: recogniser parameter %q lacks the rec. prefix", input, p.Name())
			}
			n += p.Shape().TotalSize()
		}
		counts[input] = n
		b := toyBatch(B, m.InputSize, m.NumLandmarks, 2)
		b.Identities = []int{0, 1, 2, 3}
		conv1 := paramValues(t, m, "conv1.w")
		first, err := m.Step(b)
		if err != nil {
			t.Fatalf("%s: %v", input, err)
		}
		if first.Identity < 0.5 || first.Identity > math.Log(4)+1 {
			t.Errorf("%s: initial identity loss %v, want about log 4 = %v", input, first.Identity, math.Log(4))
		}
		changed := 0
		for i, v := range paramValues(t, m, "conv1.w") {
			if v != conv1[i] {
				changed++
			}
		}
		if input == RecogniseTexture && changed == 0 {
			t.Errorf("texture: the identity loss left the localiser's conv1.w unchanged")
		}
		if input == RecogniseCrop && changed != 0 {
			t.Errorf("crop: the identity loss changed %d values of the localiser's conv1.w, want none", changed)
		}
		frozen := recognitionConfig(input)
		frozen.Loss.Weights = LossWeights{}
		frozen.Mults = map[string]ParamMult{ThetaWeightName: {}, ThetaBiasName: {}}
		for _, n := range []string{"conv1", "conv2", "conv3", "conv4", "fc5"} {
			frozen.Mults[n+".w"], frozen.Mults[n+".b"] = ParamMult{}, ParamMult{}
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if m, err = NewNetwork(frozen, gm, B); err != nil {
			t.Fatal(err)
		}
		var last LossValues
		for i := 0; i < 15; i++ {
			if last, err = m.Step(b); err != nil {
				t.Fatal(err)
			}
		}
		if !(last.Identity < first.Identity/2) {
			t.Errorf("%s: identity loss %v -> %v after 15 steps on 4 fixed images: did not halve", input, first.Identity, last.Identity)
		}
		emb, err := m.Embed(b.Images[:3*3*m.InputSize*m.InputSize])
		if err != nil {
			t.Fatal(err)
		}
		if len(emb) != 3 || len(emb[0]) != 12 {
			t.Errorf("%s: embed gave %d vectors of %d, want 3 of 12", input, len(emb), len(emb[0]))
		}
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	}
	if counts[RecogniseTexture] != counts[RecogniseCrop] || counts[RecogniseCrop] == 0 {
		t.Errorf("recogniser parameters: texture %d, crop %d: want equal", counts[RecogniseTexture], counts[RecogniseCrop])
	}
}

// paramValues copies the values of the named parameter.
func paramValues(t *testing.T, m *Network, name string) []float64 {
	t.Helper()
	for _, p := range m.Params() {
		if p.Name() == name {
			return toFloat64s(p.Value().Data())
		}
	}
	t.Fatalf("no parameter %s", name)
	return nil
}

func TestRecognitionErrors(t *testing.T) {
	gm := flatGrid(16, 16, 1)
	bad := recognitionConfig("pixels")
	if _, err := NewNetwork(bad, gm, 2); err == nil || !strings.Contains(err.Error(), `recognition input "pixels"`) {
		t.Errorf("bad input: %v", err)
	}
	one := recognitionConfig(RecogniseTexture)
	one.Recognition.Classes = 1
	if _, err := NewNetwork(one, gm, 2); err == nil || !strings.Contains(err.Error(), "1 identities, want >= 2") {
		t.Errorf("one class: %v", err)
	}
	odd := recognitionConfig(RecogniseTexture)
	odd.Recognition.Recogniser.Channels = []int{4, 4, 4, 4, 4}
	if _, err := NewNetwork(odd, gm, 2); err == nil || !strings.Contains(err.Error(), "not divisible by 2^5") {
		t.Errorf("too many blocks for 16x16: %v", err)
	}
	m, err := NewNetwork(recognitionConfig(RecogniseCrop), gm, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b := toyBatch(2, m.InputSize, m.NumLandmarks, 3)
	b.Identities = []int{0, 9}
	if _, err := m.Step(b); err == nil || !strings.Contains(err.Error(), "identity 9 of image 1: want < 4") {
		t.Errorf("label out of range: %v", err)
	}
	plain, err := NewNetwork(toyNetworkConfig(), gm, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Embed(b.Images); err == nil || !strings.Contains(err.Error(), "no recogniser") {
		t.Errorf("embed without recogniser: %v", err)
	}
}

// TestRecognitionCropInputKnownAnswer: the crop baseline's input is the
// image on a regular rows x cols lattice from pixel centre 0 to side-1,
// centred as 2 (x - 0.5), plus a ones channel. On an image that is linear
// in x (channel 0) and y (channel 1) and constant 0.25 (channel 2),
// bilinear sampling is exact, so every value is known.
func TestRecognitionCropInputKnownAnswer(t *testing.T) {
	const B, H, W, rows, cols = 2, 9, 13, 5, 7
	g := gorgonia.NewGraph()
	px := make([]float64, B*3*H*W)
	for b := 0; b < B; b++ {
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				i := ((b*3)*H+y)*W + x
				px[i] = float64(x) / (W - 1)
				px[i+H*W] = float64(y) / (H - 1)
				px[i+2*H*W] = 0.25
			}
		}
	}
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, 3, H, W), gorgonia.WithName("img"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(B, 3, H, W), tensor.WithBacking(px))))
	in, err := recognitionInput(g, img, &STN{Rows: rows, Cols: cols}, RecogniseCrop)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Shape(); !got.Eq(tensor.Shape{B, 4, rows, cols}) {
		t.Fatalf("shape %v, want (%d, 4, %d, %d)", got, B, rows, cols)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	v := in.Value().Data().([]float64)
	for b := 0; b < B; b++ {
		for r := 0; r < rows; r++ {
			for q := 0; q < cols; q++ {
				at := func(c int) float64 { return v[((b*4+c)*rows+r)*cols+q] }
				want := [4]float64{2 * (float64(q)/(cols-1) - 0.5), 2 * (float64(r)/(rows-1) - 0.5), -0.5, 1}
				for c := 0; c < 4; c++ {
					if math.Abs(at(c)-want[c]) > 1e-12 {
						t.Fatalf("item %d channel %d at (%d, %d) = %v, want %v", b, c, r, q, at(c), want[c])
					}
				}
			}
		}
	}
}

// TestRecognitionTextureInputKnownAnswer: the texture input is the STN's
// output centred as 2 (x - 0.5), then the visibility mask as is.
func TestRecognitionTextureInputKnownAnswer(t *testing.T) {
	const B, C, rows, cols = 2, 3, 3, 4
	g := gorgonia.NewGraph()
	tex := make([]float64, B*C*rows*cols)
	for i := range tex {
		tex[i] = float64(i%7) / 6
	}
	mask := make([]float64, B*rows*cols)
	for i := range mask {
		mask[i] = float64(i % 2)
	}
	out := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, C, rows, cols), gorgonia.WithName("tex"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(B, C, rows, cols), tensor.WithBacking(tex))))
	mk := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(B, rows*cols), gorgonia.WithName("mask"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(B, rows*cols), tensor.WithBacking(mask))))
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, C, 8, 8), gorgonia.WithName("img"),
		gorgonia.WithValue(tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(B, C, 8, 8))))
	in, err := recognitionInput(g, img, &STN{Rows: rows, Cols: cols, Output: out, Mask: mk}, RecogniseTexture)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	v := in.Value().Data().([]float64)
	n := rows * cols
	for b := 0; b < B; b++ {
		for c := 0; c <= C; c++ {
			for k := 0; k < n; k++ {
				want := mask[b*n+k]
				if c < C {
					want = 2 * (tex[(b*C+c)*n+k] - 0.5)
				}
				if got := v[(b*(C+1)+c)*n+k]; math.Abs(got-want) > 1e-12 {
					t.Fatalf("item %d channel %d texel %d = %v, want %v", b, c, k, got, want)
				}
			}
		}
	}
}
