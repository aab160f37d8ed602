package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildKron(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return KronTranslate(in[0], in[1])
}

func TestKronTranslateExact(t *testing.T) {
	y := randDense(7, -5, 5, 2, 2, 4)
	tv := []float64{112, 111.5, -3.25, 0.125}
	got, _ := forward(t, buildKron, y, dense(tv, 2, 2))
	yv := y.Data().([]float64)
	want := make([]float64, len(yv))
	for i := range yv {
		want[i] = yv[i] + tv[i/4]
	}
	assertClose(t, "y + t", got, want, 0)
}

func TestKronTranslateGrad(t *testing.T) {
	opstest.CheckGrad(t, buildKron, []*tensor.Dense{randDense(8, -1, 1, 3, 2, 5), randDense(9, -1, 1, 3, 2)})
}
