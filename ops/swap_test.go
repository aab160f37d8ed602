package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildSwap(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return SwapPairs(in[0])
}

func TestSwapPairsKnown(t *testing.T) {
	x := dense([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4, 2)
	got, _ := forward(t, buildSwap, x)
	assertClose(t, "swap", got, []float64{3, 4, 1, 2, 7, 8, 5, 6}, 0)
}

func TestSwapPairsGrad(t *testing.T) {
	opstest.CheckGrad(t, buildSwap, []*tensor.Dense{randDense(1, -1, 1, 4, 3, 2)})
}

func TestSwapPairsOddBatch(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 3, 2))
	_, err := SwapPairs(x)
	want := "ops.SwapPairs: batch size B = 3 (shape (3, 2)) must be even: items are (image, mirror) pairs"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}
