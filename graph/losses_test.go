package graph

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func valNode(g *gorgonia.ExprGraph, name string, shape []int, data []float64) *gorgonia.Node {
	return gorgonia.NewTensor(g, tensor.Float64, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name),
		gorgonia.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float64(nil), data...)))))
}

func scalarVal(t *testing.T, n *gorgonia.Node) float64 {
	t.Helper()
	switch v := n.Value().Data().(type) {
	case float64:
		return v
	case []float64:
		return v[0]
	case float32:
		return float64(v)
	}
	t.Fatalf("node %s value %T", n.Name(), n.Value().Data())
	return 0
}

func TestLossesHand(t *testing.T) {
	g := gorgonia.NewGraph()
	// Landmarks: B=1, L=2; p0 = (0,0), p1 = (3,4) against (0,0), weights 1, 0.5.
	pred := valNode(g, "pred", []int{1, 2, 2}, []float64{0, 3, 0, 4})
	tgt := valNode(g, "tgt", []int{1, 2, 2}, []float64{0, 0, 0, 0})
	wgt := valNode(g, "wgt", []int{1, 2}, []float64{1, 0.5})
	lm, err := LandmarkLoss(pred, tgt, wgt, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Prior: alpha = [[1,2],[3,0]] -> (5 + 9) / 2.
	alpha := valNode(g, "alpha", []int{2, 2}, []float64{1, 2, 3, 0})
	pr, err := PriorLoss(alpha)
	if err != nil {
		t.Fatal(err)
	}
	// Symmetry: C=2 (second channel 0), 1x4 grid, tex [1 2 5 7], mask [1 1 1 0]:
	// P = [0 1 1 0], diffs^2 = [36 9 9 36] -> 18 / (2 * 2) = 4.5.
	stex := valNode(g, "stex", []int{1, 2, 4}, []float64{1, 2, 5, 7, 0, 0, 0, 0})
	smask := valNode(g, "smask", []int{1, 4}, []float64{1, 1, 1, 0})
	sym, err := SymmetryLoss(stex, smask, 1, 4, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Siamese: B=2, C=1, 1x2 grid, T0 = [1 2], T1 = [3 5], M0 = [1 1],
	// M1 = [1 0]: S0 = [5 3], S1 = [2 1], P0 = [0 1], P1 = [1 0] -> 2 / 2.
	qtex := valNode(g, "qtex", []int{2, 1, 2}, []float64{1, 2, 3, 5})
	qmask := valNode(g, "qmask", []int{2, 2}, []float64{1, 1, 1, 0})
	sia, err := SiameseLoss(qtex, qmask, 1, 2, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gorgonia.Grad(lm, pred); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(pred))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		n    *gorgonia.Node
		want float64
	}{
		{"landmark", lm, 12.5 / 1.5 / 4},
		{"prior", pr, 7},
		{"symmetry", sym, 4.5},
		{"siamese", sia, 1},
	} {
		if got := scalarVal(t, c.n); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s = %.15g, want %.15g", c.name, got, c.want)
		}
	}
	// dL/dp1 = 2 w1 (p1 - q1) / (sum w) / norm^2 = (3, 4) * 2*0.5/1.5/4.
	gr, _ := pred.Grad()
	gd := gr.Data().([]float64)
	want := []float64{0, 3.0 / 6, 0, 4.0 / 6}
	for i := range want {
		if math.Abs(gd[i]-want[i]) > 1e-12 {
			t.Errorf("dL/dpred[%d] = %v, want %v", i, gd[i], want[i])
		}
	}
}

func TestBuildLossesTotalAndErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	alpha := valNode(g, "alpha", []int{2, 2}, []float64{1, 2, 3, 0})
	qtex := valNode(g, "qtex", []int{2, 1, 2}, []float64{1, 2, 3, 5})
	qmask := valNode(g, "qmask", []int{2, 2}, []float64{1, 1, 1, 0})
	l, err := BuildLosses(LossInputs{Alpha: alpha, Texture: qtex, Mask: qmask, Rows: 1, Cols: 2},
		LossOptions{Weights: LossWeights{Prior: 0.5, Symmetry: 2, Siamese: 3}})
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Symmetry here: T0 [1 2] both visible -> pair diff 1 twice; T1 [3 5],
	// M1 [1 0] -> no pair. 2 / (2 + 1e-6).
	symW := 2 / (2 + 1e-6)
	if got := scalarVal(t, l.Symmetry); math.Abs(got-symW) > 1e-12 {
		t.Errorf("symmetry = %v, want %v", got, symW)
	}
	want := 0.5*7 + 2*symW + 3*2/(2+1e-6)
	if got := scalarVal(t, l.Total); math.Abs(got-want) > 1e-12 {
		t.Errorf("total = %.15g, want %.15g", got, want)
	}
	if l.Landmark != nil {
		t.Error("landmark term built without inputs")
	}
	g2 := gorgonia.NewGraph()
	odd := valNode(g2, "t", []int{3, 1, 2}, make([]float64, 6))
	om := valNode(g2, "m", []int{3, 2}, make([]float64, 6))
	if _, err := BuildLosses(LossInputs{Texture: odd, Mask: om, Rows: 1, Cols: 2}, LossOptions{Weights: LossWeights{Siamese: 1}}); err == nil ||
		!strings.Contains(err.Error(), "needs an even batch") {
		t.Errorf("odd batch: %v", err)
	}
	if _, err := SymmetryLoss(odd, om, 2, 2, 0); err == nil || !strings.Contains(err.Error(), "want (B,C,4) and (B,4)") {
		t.Errorf("bad grid: %v", err)
	}
}
