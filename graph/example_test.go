package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/graph"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// toyGrid is an 8 x 8 flat square of side 7 model units with one basis
// vector bulging its centre towards the viewer.
func toyGrid() *bfm.GridModel {
	const R, C = 8, 8
	gm := &bfm.GridModel{Rows: R, Cols: C, Units: "unit", Mean: make([]float64, 3*R*C), Basis: [][]float64{make([]float64, 3*R*C)},
		Landmarks: map[string][]int{}}
	for r := 0; r < R; r++ {
		for c := 0; c < C; c++ {
			k := r*C + c
			x, y := float64(c)-3.5, 3.5-float64(r)
			gm.Mean[3*k], gm.Mean[3*k+1] = x, y
			gm.Basis[0][3*k+2] = math.Exp(-(x*x + y*y) / 8)
		}
	}
	return gm
}

// endToEnd is a tiny network: a linear localiser (image -> theta), the STN,
// and a linear classifier on the STN's output texture with softmax
// cross-entropy.
type endToEnd struct {
	g                *gorgonia.ExprGraph
	img, onehot      *gorgonia.Node
	locW, locB       *gorgonia.Node
	clsW, clsB, loss *gorgonia.Node
	stn              *graph.STN
}

func buildEndToEnd(t testing.TB, B, S int) *endToEnd {
	gm := toyGrid()
	e := &endToEnd{g: gorgonia.NewGraph()}
	g := e.g
	e.img = gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, 1, S, S), gorgonia.WithName("img"))
	e.onehot = gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(B, 2), gorgonia.WithName("onehot"))
	r := rand.New(rand.NewPCG(3, 4))
	w := make([]float64, S*S*7)
	for i := range w {
		w[i] = r.NormFloat64() * 1e-3
	}
	// Bias: identity rotation, centred, 1.6 px per unit (the face spans 11 px).
	bias := []float64{0, 0, 0, float64(S-1) / 2, float64(S-1) / 2, math.Log(1.6), 0}
	e.locW = gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(S*S, 7), gorgonia.WithName("loc.w"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(S*S, 7), tensor.WithBacking(w))))
	e.locB = gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, 7), gorgonia.WithName("loc.b"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 7), tensor.WithBacking(bias))))
	flat := gorgonia.Must(gorgonia.Reshape(e.img, tensor.Shape{B, S * S}))
	theta := gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(flat, e.locW)), e.locB, nil, []byte{0}))
	stn, err := graph.BuildSTN(g, e.img, theta, gm, graph.STNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.stn = stn
	feat := gorgonia.Must(gorgonia.Reshape(stn.Output, tensor.Shape{B, 64}))
	cw := make([]float64, 64*2)
	for i := range cw {
		cw[i] = r.NormFloat64() * 0.1
	}
	e.clsW = gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(64, 2), gorgonia.WithName("cls.w"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(64, 2), tensor.WithBacking(cw))))
	e.clsB = gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, 2), gorgonia.WithName("cls.b"), gorgonia.WithInit(gorgonia.Zeroes()))
	logits := gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(feat, e.clsW)), e.clsB, nil, []byte{0}))
	logp := gorgonia.Must(gorgonia.Log(gorgonia.Must(gorgonia.SoftMax(logits))))
	nll := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(logp, e.onehot))))
	e.loss = gorgonia.Must(gorgonia.Mul(nll, gorgonia.NewConstant(-1/float64(B))))
	if _, err := gorgonia.Grad(e.loss, e.locW, e.locB, e.clsW, e.clsB); err != nil {
		t.Fatal(err)
	}
	return e
}

// toyData draws B images S x S: class 0 has a bright blob left of centre,
// class 1 right of it, plus noise.
func toyData(B, S int) (img, onehot []float64) {
	r := rand.New(rand.NewPCG(9, 9))
	img = make([]float64, B*S*S)
	onehot = make([]float64, 2*B)
	for b := 0; b < B; b++ {
		cls := b % 2
		onehot[2*b+cls] = 1
		cx := float64(S)/2 - 3 + 6*float64(cls)
		for y := 0; y < S; y++ {
			for x := 0; x < S; x++ {
				d2 := (float64(x)-cx)*(float64(x)-cx) + (float64(y)-float64(S)/2)*(float64(y)-float64(S)/2)
				img[b*S*S+y*S+x] = math.Exp(-d2/6) + 0.05*r.Float64()
			}
		}
	}
	return img, onehot
}

// TestEndToEndGradientsReachLocaliser trains localiser -> STN -> classifier
// for a few steps: the localiser's weights receive non-zero, finite
// gradients through the sampler and the loss falls.
func TestEndToEndGradientsReachLocaliser(t *testing.T) {
	const B, S = 8, 16
	e := buildEndToEnd(t, B, S)
	imgs, oh := toyData(B, S)
	gorgonia.Let(e.img, tensor.New(tensor.WithShape(B, 1, S, S), tensor.WithBacking(imgs)))
	gorgonia.Let(e.onehot, tensor.New(tensor.WithShape(B, 2), tensor.WithBacking(oh)))
	params := []*gorgonia.Node{e.locW, e.locB, e.clsW, e.clsB}
	opt, err := graph.NewOptimizer(graph.OptimizerConfig{Kind: graph.SolverAdam, Schedule: graph.Schedule{Base: 0.003}}, params, nil)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(e.g, gorgonia.BindDualValues(params...))
	defer vm.Close()
	var losses []float64
	for step := 0; step < 20; step++ {
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, e.loss.Value().Data().(float64))
		if step == 0 {
			for _, p := range []*gorgonia.Node{e.locW, e.locB} {
				gv, _ := p.Grad()
				var nz int
				for _, v := range gv.Data().([]float64) {
					if math.IsNaN(v) || math.IsInf(v, 0) {
						t.Fatalf("%s gradient has %v", p.Name(), v)
					}
					if v != 0 {
						nz++
					}
				}
				if nz == 0 {
					t.Errorf("%s gradient is all zero: no gradient reaches the localiser", p.Name())
				}
			}
		}
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		vm.Reset()
	}
	t.Logf("losses %.4f", losses)
	if !(losses[len(losses)-1] < 0.8*losses[0]) {
		t.Errorf("loss %v -> %v: want a fall of at least 20%%", losses[0], losses[len(losses)-1])
	}
}

// ExampleBuildSTN embeds the STN between a caller's localiser and
// classifier and lists the shapes of its outputs.
func ExampleBuildSTN() {
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(4, 3, 32, 32), gorgonia.WithName("img"))
	theta := gorgonia.NewMatrix(g, tensor.Float32, gorgonia.WithShape(4, 7), gorgonia.WithName("theta"))
	stn, err := graph.BuildSTN(g, img, theta, toyGrid(), graph.STNOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("rotation", stn.Rotation.Shape())
	fmt.Println("points2d", stn.Points2D.Shape())
	fmt.Println("texture ", stn.Texture.Shape())
	fmt.Println("mask    ", stn.Mask.Shape())
	fmt.Println("output  ", stn.Output.Shape())
	// Output:
	// rotation (4, 3, 3)
	// points2d (4, 2, 64)
	// texture  (4, 3, 64)
	// mask     (4, 64)
	// output   (4, 3, 8, 8)
}
