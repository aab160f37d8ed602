package ops

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildSoftmaxCE(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return SoftmaxCrossEntropy(in[0], in[1])
}

// TestSoftmaxCrossEntropyKnown: two labelled rows and one unlabelled row.
// Row 0: z = (0, 0, 0), class 1: -log(1/3). Row 1: z = (1000, 0, -1000),
// class 0: -log(1/(1 + e^-1000 + e^-2000)) ~ 0, computed without overflow.
// Row 2 has no label and does not count: L = log 3 / 2.
func TestSoftmaxCrossEntropyKnown(t *testing.T) {
	z := dense([]float64{0, 0, 0, 1000, 0, -1000, 5, -3, 2}, 3, 3)
	tg := dense([]float64{0, 1, 0, 1, 0, 0, 0, 0, 0}, 3, 3)
	got, shape := forward(t, buildSoftmaxCE, z, tg)
	if !shape.Eq(tensor.Shape{1}) {
		t.Fatalf("shape %v, want (1)", shape)
	}
	assertClose(t, "loss", got, []float64{math.Log(3) / 2}, 1e-12)
	// Wrong class with a huge margin: finite, ~1000.
	got, _ = forward(t, buildSoftmaxCE, dense([]float64{1000, -1000}, 1, 2), dense([]float64{0, 1}, 1, 2))
	assertClose(t, "confident and wrong", got, []float64{2000}, 1e-9)
	// No labelled row at all: 0, not NaN.
	got, _ = forward(t, buildSoftmaxCE, dense([]float64{1, 2}, 1, 2), dense([]float64{0, 0}, 1, 2))
	assertClose(t, "no labels", got, []float64{0}, 0)
}

func TestSoftmaxCrossEntropyGrad(t *testing.T) {
	z := randDense(3, -3, 3, 4, 5)
	tg := dense([]float64{
		0, 0, 1, 0, 0,
		1, 0, 0, 0, 0,
		0, 0, 0, 0, 0, // unlabelled
		0, 0.5, 0, 0, 0.5, // soft target
	}, 4, 5)
	opstest.CheckGrad(t, buildSoftmaxCE, []*tensor.Dense{z, tg}, opstest.Only(0))
}

func TestSoftmaxCrossEntropyErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	z := node(g, "z", dense(make([]float64, 6), 2, 3))
	bad := node(g, "t", dense(make([]float64, 4), 2, 2))
	if _, err := SoftmaxCrossEntropy(z, bad); err == nil || !strings.Contains(err.Error(), "target shape (2, 2) differs from logits shape (2, 3)") {
		t.Errorf("shape mismatch: %v", err)
	}
	v := node(g, "v", dense(make([]float64, 3), 3))
	if _, err := SoftmaxCrossEntropy(v, v); err == nil || !strings.Contains(err.Error(), "logits must be a 2-D tensor (B,K)") {
		t.Errorf("1-D logits: %v", err)
	}
}
