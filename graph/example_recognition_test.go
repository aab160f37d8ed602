package graph_test

import (
	"fmt"
	"math"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// ExampleBuildRecogniser builds your own recogniser on the STN's output:
// a localiser (here a single linear layer) regresses theta, the STN
// resamples the image into the pose-normalised texture, a recognition CNN
// reads the texture with the visibility mask as a fourth channel, and a
// softmax identity loss trains all of it end to end with the package's
// Adam. (graph.Network does the same for the full model when
// NetworkConfig.Recognition is set; configs/recognition.yaml trains it.)
func ExampleBuildRecogniser() {
	const B, S = 8, 16
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, 1, S, S), gorgonia.WithName("img"))
	labels := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(B, 2), gorgonia.WithName("labels"))

	// Your localiser: image -> theta = [r(3), t(2), log s, alpha(D=1)],
	// starting at the identity rotation, centred, 1.6 px per model unit.
	locW := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(S*S, 7), gorgonia.WithName("loc.w"), gorgonia.WithInit(gorgonia.Zeroes()))
	bias := []float64{0, 0, 0, float64(S-1) / 2, float64(S-1) / 2, math.Log(1.6), 0}
	locB := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(1, 7), gorgonia.WithName("loc.b"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 7), tensor.WithBacking(bias))))
	flat := gorgonia.Must(gorgonia.Reshape(img, tensor.Shape{B, S * S}))
	theta := gorgonia.Must(gorgonia.BroadcastAdd(gorgonia.Must(gorgonia.Mul(flat, locW)), locB, nil, []byte{0}))

	// The STN, and its texture + mask as the recogniser's input.
	stn, err := graph.BuildSTN(g, img, theta, toyGrid(), graph.STNOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	mask := gorgonia.Must(gorgonia.Reshape(stn.Mask, tensor.Shape{B, 1, stn.Rows, stn.Cols}))
	in := gorgonia.Must(gorgonia.Concat(1, stn.Output, mask)) // (B, 2, 8, 8)
	rec, err := graph.BuildRecogniser(g, in, graph.RecogniserOptions{Channels: []int{4}, Embedding: 8, Classes: 2, Seed: 1, InputGrad: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	ce := gorgonia.Must(ops.SoftmaxCrossEntropy(rec.Logits, labels))
	loss := gorgonia.Must(gorgonia.Sum(ce))
	params := append([]*gorgonia.Node{locW, locB}, rec.Params...)
	if _, err := gorgonia.Grad(loss, params...); err != nil {
		fmt.Println(err)
		return
	}
	opt, err := graph.NewOptimizer(graph.OptimizerConfig{Kind: graph.SolverAdam, Schedule: graph.Schedule{Base: 0.01}}, params, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(params...))
	defer vm.Close()

	images, onehot := toyData(B, S) // two classes: a blob left or right
	if err := gorgonia.Let(img, tensor.New(tensor.WithShape(B, 1, S, S), tensor.WithBacking(images))); err != nil {
		fmt.Println(err)
		return
	}
	if err := gorgonia.Let(labels, tensor.New(tensor.WithShape(B, 2), tensor.WithBacking(onehot))); err != nil {
		fmt.Println(err)
		return
	}
	var first, last float64
	for step := 0; step < 30; step++ {
		if err := vm.RunAll(); err != nil {
			fmt.Println(err)
			return
		}
		last = loss.Value().Data().(float64)
		if step == 0 {
			first = last
		}
		if err := opt.Step(); err != nil {
			fmt.Println(err)
			return
		}
		vm.Reset()
	}
	fmt.Println("embedding", rec.Embedding.Shape())
	fmt.Printf("identity loss %.2f at the start, below 0.1 after 30 steps: %v\n", first, last < 0.1)
	// Output:
	// embedding (8, 8)
	// identity loss 1.03 at the start, below 0.1 after 30 steps: true
}
