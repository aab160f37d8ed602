package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildProject(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return OrthoProject(in[0], in[1])
}

func TestOrthoProjectKnown(t *testing.T) {
	X := dense([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9}, 2, 3, 3)
	s := dense([]float64{2, 0.5}, 2)
	got, shape := forward(t, buildProject, X, s)
	if !shape.Eq(tensor.Shape{2, 2, 3}) {
		t.Fatalf("shape %v", shape)
	}
	assertClose(t, "proj", got, []float64{2, 4, 6, -8, -10, -12, -0.5, -1, -1.5, 2, 2.5, 3}, 0)
}

func TestOrthoProjectGrad(t *testing.T) {
	opstest.CheckGrad(t, buildProject, []*tensor.Dense{randDense(4, -1, 1, 3, 3, 5), randDense(5, 0.5, 2, 3)})
}

func TestOrthoProjectFloat32(t *testing.T) {
	checkF32(t, buildProject, 1e-6, randDense(4, -1, 1, 3, 3, 5), randDense(5, 0.5, 2, 3))
}
