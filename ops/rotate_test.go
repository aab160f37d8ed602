package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildRotate(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return RotatePoints(in[0], in[1])
}

func TestRotatePointsKnown(t *testing.T) {
	// Item 0: 90 degrees about z (x -> y). Item 1: a general matrix.
	R := dense([]float64{
		0, -1, 0, 1, 0, 0, 0, 0, 1,
		1, 2, 3, 4, 5, 6, 7, 8, 9,
	}, 2, 3, 3)
	X := dense([]float64{
		1, 0, 2, // x
		0, 1, 3, // y
		0, 0, 4, // z
		1, 0, 1,
		0, 1, 1,
		0, 0, 1,
	}, 2, 3, 3)
	got, _ := forward(t, buildRotate, R, X)
	want := []float64{
		0, -1, -3,
		1, 0, 2,
		0, 0, 4,
		1, 2, 6,
		4, 5, 15,
		7, 8, 24,
	}
	assertClose(t, "RX", got, want, 0)
}

func TestRotatePointsGrad(t *testing.T) {
	opstest.CheckGrad(t, buildRotate, []*tensor.Dense{randDense(1, -1, 1, 2, 3, 3), randDense(2, -2, 2, 2, 3, 7)})
}

func TestRotatePointsFloat32(t *testing.T) {
	checkF32(t, buildRotate, 1e-5, randDense(1, -1, 1, 3, 3, 3), randDense(2, -2, 2, 3, 3, 50))
}

// The composed rotation layer: gradient of R(r) X with respect to r.
func TestRotationPipelineGrad(t *testing.T) {
	build := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		R, err := AxisAngleToRotation(in[0])
		if err != nil {
			return nil, err
		}
		return RotatePoints(R, in[1])
	}
	opstest.CheckGrad(t, build, []*tensor.Dense{dense([]float64{0, 0, 0, 0.3, -0.5, 0.2}, 2, 3), randDense(3, -1, 1, 2, 3, 6)})
}
