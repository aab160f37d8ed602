package ops

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildFlip(cols int) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return FlipCols(in[0], cols)
	}
}

func TestFlipColsKnown(t *testing.T) {
	x := dense([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 1, 2, 2, 3)
	got, _ := forward(t, buildFlip(3), x)
	assertClose(t, "flip", got, []float64{3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10}, 0)
	// Flipping twice is the identity.
	twice := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		f, err := FlipCols(in[0], 3)
		if err != nil {
			return nil, err
		}
		return FlipCols(f, 3)
	}
	got, _ = forward(t, twice, x)
	assertClose(t, "flip twice", got, x.Data().([]float64), 0)
}

func TestFlipColsGrad(t *testing.T) {
	opstest.CheckGrad(t, buildFlip(5), []*tensor.Dense{randDense(2, -1, 1, 2, 3, 2, 5)})
	opstest.CheckGrad(t, buildFlip(4), []*tensor.Dense{randDense(3, -1, 1, 4)})
}

func TestFlipColsErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 2, 3, 4))
	_, err := FlipCols(x, 5)
	if want := "ops.FlipCols: x must have last dimension cols = 5, got shape (2, 3, 4)"; err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if _, err := FlipCols(nil, 5); err == nil || !strings.Contains(err.Error(), "x is nil") {
		t.Fatalf("nil: error %v", err)
	}
}
