package ops

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildLogScale(base float64) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return LogScale(in[0], base)
	}
}

func TestLogScaleKnown(t *testing.T) {
	x := dense([]float64{0, 1, -2, 0.5}, 4)
	got, _ := forward(t, buildLogScale(math.E), x)
	assertClose(t, "exp", got, []float64{1, math.E, math.Exp(-2), math.Exp(0.5)}, 1e-15)
	got, _ = forward(t, buildLogScale(0.99), x)
	assertClose(t, "0.99^x", got, []float64{1, 0.99, 1 / (0.99 * 0.99), math.Sqrt(0.99)}, 1e-15)
}

func TestLogScaleGrad(t *testing.T) {
	for _, base := range []float64{math.E, 0.99, 2} {
		opstest.CheckGrad(t, buildLogScale(base), []*tensor.Dense{randDense(6, -2, 2, 2, 3)})
	}
}

// Two LogScale nodes with different bases on one input must not merge.
func TestLogScaleHashDistinguishesBase(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", dense([]float64{1}, 1))
	a, err := LogScale(x, math.E)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LogScale(x, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("LogScale nodes with different bases were merged")
	}
}

func TestLogScaleErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", dense([]float64{1}, 1))
	for _, base := range []float64{0, -1, math.Inf(1), math.NaN()} {
		_, err := LogScale(x, base)
		if err == nil || !strings.Contains(err.Error(), "ops.LogScale: base = ") {
			t.Errorf("base %v: error %v", base, err)
		}
	}
}

func TestLogScaleFloat32(t *testing.T) {
	checkF32(t, buildLogScale(0.99), 1e-6, randDense(6, -20, 20, 8))
}
