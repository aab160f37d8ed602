package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildTranspose(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return TransposePoints(in[0])
}

func TestTransposePointsKnown(t *testing.T) {
	x := dense([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 3)
	got, shape := forward(t, buildTranspose, x)
	if !shape.Eq(tensor.Shape{2, 3, 2}) {
		t.Fatalf("shape %v", shape)
	}
	assertClose(t, "T", got, []float64{1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12}, 0)
}

func TestTransposePointsGrad(t *testing.T) {
	opstest.CheckGrad(t, buildTranspose, []*tensor.Dense{randDense(1, -1, 1, 2, 3, 4)})
}
