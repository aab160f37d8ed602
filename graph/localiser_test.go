package graph

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestSmallLocaliserShapesAndInit(t *testing.T) {
	const B, D = 2, 4
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(B, 3, 112, 112), gorgonia.WithName("img"))
	loc, err := BuildLocaliser(g, img, LocaliserOptions{Kind: LocaliserSmall, D: D, InitScale: 2.5, ScaleBase: 0.99, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !loc.Theta.Shape().Eq(tensor.Shape{B, 6 + D}) {
		t.Fatalf("theta shape %v", loc.Theta.Shape())
	}
	var names []string
	for _, p := range loc.Params {
		names = append(names, fmt.Sprintf("%s%v", p.Name(), p.Shape()))
	}
	want := "conv1.w(32, 3, 3, 3) conv1.b(32) conv2.w(64, 32, 3, 3) conv2.b(64) conv3.w(128, 64, 3, 3) conv3.b(128) " +
		"conv4.w(256, 128, 3, 3) conv4.b(256) fc5.w(12544, 256) fc5.b(1, 256) theta.w(256, 10) theta.b(1, 10)"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("params:\n got %s\nwant %s", got, want)
	}
	// He init: sample std of conv2.w close to sqrt(2/288).
	w := loc.Params[2].Value().Data().([]float32)
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	if std, want := math.Sqrt(ss/float64(len(w))), math.Sqrt(2.0/288); math.Abs(std-want) > 0.02*want {
		t.Errorf("conv2.w std %v, want %v", std, want)
	}
	// Run on a random image in [0,1]: theta ~ bias.
	data := make([]float32, B*3*112*112)
	for i := range data {
		data[i] = float32((i*7919)%1000) / 1000
	}
	if err := gorgonia.Let(img, tensor.New(tensor.WithShape(B, 3, 112, 112), tensor.WithBacking(data))); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	th := loc.Theta.Value().Data().([]float32)
	wantB := []float64{0, 0, 0, 55.5, 55.5, math.Log(2.5) / math.Log(0.99), 0, 0, 0, 0}
	for b := 0; b < B; b++ {
		for k, wv := range wantB {
			if got := float64(th[b*(6+D)+k]); math.Abs(got-wv) > 0.05 {
				t.Errorf("theta[%d][%d] = %v, want %v +- 0.05", b, k, got, wv)
			}
		}
	}
	// Pretrained round trip through the weights format: all but theta.
	ts, err := TensorsFromNodes(loc.Params)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ts {
		for j := range ts[i].Data {
			ts[i].Data[j] = float32(i + 1)
		}
	}
	path := filepath.Join(t.TempDir(), "small.stnw")
	if err := WriteWeights(path, ts[:len(ts)-2]); err != nil {
		t.Fatal(err)
	}
	if err := loc.LoadPretrained(path); err != nil {
		t.Fatal(err)
	}
	if v := loc.Params[9].Value().Data().([]float32)[3]; v != 10 {
		t.Errorf("fc5.b after load = %v, want 10", v)
	}
	if v := loc.Params[11].Value().Data().([]float32)[3]; v != 55.5 {
		t.Errorf("theta.b changed by pretrained load: %v", v)
	}
	if err := WriteWeights(path, ts[:3]); err != nil {
		t.Fatal(err)
	}
	if err := loc.LoadPretrained(path); err == nil || !strings.Contains(err.Error(), "missing tensors conv2.b, conv3.w") {
		t.Errorf("incomplete file: %v", err)
	}
}

func TestLocaliserErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 100, 100), gorgonia.WithName("img"))
	for _, c := range []struct {
		o   LocaliserOptions
		msg string
	}{
		{LocaliserOptions{Kind: "resnet", InitScale: 1}, `localiser kind "resnet"`},
		{LocaliserOptions{Kind: LocaliserSmall, InitScale: 1}, "input shape (1, 3, 100, 100), want (B, 3, 112, 112)"},
		{LocaliserOptions{Kind: LocaliserSmall}, "InitScale 0"},
		{LocaliserOptions{Kind: LocaliserSmall, InitScale: 1, ScaleBase: 1}, "ScaleBase 1"},
	} {
		if _, err := BuildLocaliser(g, img, c.o); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: err %v, want %q", c.o, err, c.msg)
		}
	}
}

func TestInitScaleFor(t *testing.T) {
	s, err := InitScaleFor([]float64{-1, -2, 0, 1, 2, 0, 0, 0, 5}, 112, 0.5)
	if err != nil || s != 14 {
		t.Errorf("InitScaleFor = %v, %v; want 14 (extent 4, 56 px)", s, err)
	}
	if _, err := InitScaleFor([]float64{1, 1, 1, 1, 1, 1}, 112, 0.5); err == nil {
		t.Error("degenerate model accepted")
	}
}

func TestVGGFaceLocaliserShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 138M parameters")
	}
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 3, 224, 224), gorgonia.WithName("img"))
	loc, err := BuildLocaliser(g, img, LocaliserOptions{Kind: LocaliserVGGFace, D: 10, InitScale: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(loc.Params) != 2*(13+3) || !loc.Theta.Shape().Eq(tensor.Shape{1, 16}) {
		t.Fatalf("%d params, theta %v", len(loc.Params), loc.Theta.Shape())
	}
	var total int
	for _, p := range loc.Params {
		total += p.Shape().TotalSize()
	}
	// VGG-16 without fc8: 134,260,544 weights; plus theta 4096*16+16.
	if want := 134260544 + 4096*16 + 16; total != want {
		t.Errorf("parameter count %d, want %d", total, want)
	}
	if p := loc.Params[26]; p.Name() != "fc6.w" || !p.Shape().Eq(tensor.Shape{25088, 4096}) {
		t.Errorf("param 26 = %s %v", p.Name(), p.Shape())
	}
}

func TestSmallLocaliserFloat64Bias(t *testing.T) {
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(1, 3, 112, 112), gorgonia.WithName("img"))
	loc, err := BuildLocaliser(g, img, LocaliserOptions{Kind: LocaliserSmall, D: 2, InitScale: 3, Seed: 2, Dtype: tensor.Float64})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Theta.Dtype() != tensor.Float64 {
		t.Fatalf("theta dtype %v", loc.Theta.Dtype())
	}
	b := loc.Params[len(loc.Params)-1].Value().Data().([]float64)
	want := []float64{0, 0, 0, 55.5, 55.5, math.Log(3), 0, 0}
	for i := range want {
		if b[i] != want[i] {
			t.Errorf("theta.b[%d] = %v, want %v", i, b[i], want[i])
		}
	}
	// Same seed, same weights; another seed differs.
	g2 := gorgonia.NewGraph()
	img2 := gorgonia.NewTensor(g2, tensor.Float64, 4, gorgonia.WithShape(1, 3, 112, 112), gorgonia.WithName("img"))
	loc2, _ := BuildLocaliser(g2, img2, LocaliserOptions{Kind: LocaliserSmall, D: 2, InitScale: 3, Seed: 2, Dtype: tensor.Float64})
	g3 := gorgonia.NewGraph()
	img3 := gorgonia.NewTensor(g3, tensor.Float64, 4, gorgonia.WithShape(1, 3, 112, 112), gorgonia.WithName("img"))
	loc3, err := BuildLocaliser(g3, img3, LocaliserOptions{Kind: LocaliserSmall, D: 2, InitScale: 3, Seed: 3, Dtype: tensor.Float64})
	if err != nil || loc2 == nil {
		t.Fatal(err)
	}
	w1 := loc.Params[0].Value().Data().([]float64)
	w2 := loc2.Params[0].Value().Data().([]float64)
	w3 := loc3.Params[0].Value().Data().([]float64)
	if w1[7] != w2[7] || w1[7] == w3[7] {
		t.Errorf("seeding: %v %v %v", w1[7], w2[7], w3[7])
	}
}

func TestLocaliserBiasScale(t *testing.T) {
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(1, 3, 112, 112), gorgonia.WithName("img"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3, 112, 112), tensor.WithBacking(make([]float64, 3*112*112)))))
	u := DefaultBiasScale(112, 1)
	if u[3] != 56 || u[4] != 56 || u[5] != 1 || len(u) != 7 {
		t.Fatalf("DefaultBiasScale = %v", u)
	}
	loc, err := BuildLocaliser(g, img, LocaliserOptions{Kind: LocaliserSmall, D: 1, InitScale: 4, Seed: 2, Dtype: tensor.Float64, BiasScale: u})
	if err != nil {
		t.Fatal(err)
	}
	b := loc.Params[len(loc.Params)-1].Value().Data().([]float64)
	if b[3] != 55.5/56 || b[5] != math.Log(4) {
		t.Errorf("theta.b = %v, want t = 55.5/56, log s = ln 4", b)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// A black image gives ReLU features of bias 0: theta = u * theta.b exactly.
	// The gradient reaching theta.b is u times the one reaching theta.
	th := loc.Theta.Value().Data().([]float64)
	want := []float64{0, 0, 0, 55.5, 55.5, math.Log(4), 0}
	for i := range want {
		if math.Abs(th[i]-want[i]) > 1e-12 {
			t.Errorf("theta[%d] = %v, want %v", i, th[i], want[i])
		}
	}
	if _, err := BuildLocaliser(g, img, LocaliserOptions{Kind: LocaliserSmall, D: 1, InitScale: 4, Dtype: tensor.Float64, BiasScale: []float64{1}}); err == nil ||
		!strings.Contains(err.Error(), "BiasScale has 1 entries, want 6+D = 7") {
		t.Errorf("bad BiasScale: %v", err)
	}
}
