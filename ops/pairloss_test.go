package ops

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

// pairLossRef is the definition, composed of FlipCols, SwapPairs and
// Gorgonia's built-ins as graph built it before PairLoss.
func pairLossRef(rows, cols int, pairs bool, eps float64) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		ts := in[0].Shape()
		t4, err := gorgonia.Reshape(in[0], tensor.Shape{ts[0], ts[1], rows, cols})
		if err != nil {
			return nil, err
		}
		m4, err := gorgonia.Reshape(in[1], tensor.Shape{ts[0], 1, rows, cols})
		if err != nil {
			return nil, err
		}
		tp, mp := t4, m4
		if pairs {
			if tp, err = SwapPairs(tp); err != nil {
				return nil, err
			}
			if mp, err = SwapPairs(mp); err != nil {
				return nil, err
			}
		}
		if tp, err = FlipCols(tp, cols); err != nil {
			return nil, err
		}
		if mp, err = FlipCols(mp, cols); err != nil {
			return nil, err
		}
		p, err := gorgonia.HadamardProd(m4, mp)
		if err != nil {
			return nil, err
		}
		d, err := gorgonia.Sub(t4, tp)
		if err != nil {
			return nil, err
		}
		if d, err = gorgonia.Square(d); err != nil {
			return nil, err
		}
		if d, err = gorgonia.BroadcastHadamardProd(d, p, nil, []byte{1}); err != nil {
			return nil, err
		}
		num, err := gorgonia.Sum(d)
		if err != nil {
			return nil, err
		}
		den, err := gorgonia.Sum(p)
		if err != nil {
			return nil, err
		}
		if den, err = gorgonia.Add(den, gorgonia.NewConstant(eps)); err != nil {
			return nil, err
		}
		if den, err = gorgonia.Mul(den, gorgonia.NewConstant(float64(ts[1]))); err != nil {
			return nil, err
		}
		return gorgonia.Div(num, den)
	}
}

func buildPairLoss(rows, cols int, pairs bool, eps float64) opstest.BuildFunc {
	return func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return PairLoss(in[0], in[1], rows, cols, pairs, eps)
	}
}

// binaryMask is a (b, n) float64 mask of 0s and 1s.
func binaryMask(seed uint64, b, n int) *tensor.Dense {
	m := randDense(seed, 0, 1, b, n)
	for i, v := range m.Data().([]float64) {
		m.Data().([]float64)[i] = math.Round(v)
	}
	return m
}

func TestPairLoss(t *testing.T) {
	for _, c := range []struct {
		b, ch, rows, cols int
		pairs             bool
	}{{2, 3, 4, 5, false}, {4, 2, 3, 4, true}, {1, 1, 2, 3, false}, {6, 3, 5, 6, true}} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d_pairs%v", c.b, c.ch, c.rows, c.cols, c.pairs), func(t *testing.T) {
			n := c.rows * c.cols
			tex := randDense(11, -1, 1, c.b, c.ch, n)
			mask := binaryMask(12, c.b, n)
			want, _ := forward(t, pairLossRef(c.rows, c.cols, c.pairs, 1e-6), tex, mask)
			got, _ := forward(t, buildPairLoss(c.rows, c.cols, c.pairs, 1e-6), tex, mask)
			assertClose(t, "loss", got, want, 1e-12)
			got32, _ := forward(t, buildPairLoss(c.rows, c.cols, c.pairs, 1e-6), to32(tex), to32(mask))
			assertClose(t, "loss f32", got32, want, 1e-5)
			checkPairLossGrad(t, pairLossOp{rows: c.rows, cols: c.cols, pairs: c.pairs, eps: 1e-6}, tex, mask)
		})
	}
}

// checkPairLossGrad compares the gradient op (upstream gradient 0.7) with
// central differences of the forward op in float64.
func checkPairLossGrad(t *testing.T, op pairLossOp, tex, mask *tensor.Dense) {
	t.Helper()
	up := gorgonia.NewF64(0.7)
	gv, err := pairLossGradOp{op}.Do(tex, mask, up)
	if err != nil {
		t.Fatal(err)
	}
	got := gv.Data().([]float64)
	x := tex.Clone().(*tensor.Dense)
	xd := x.Data().([]float64)
	const h = 1e-6
	for i := range xd {
		v := xd[i]
		xd[i] = v + h
		lp, err1 := op.Do(x, mask)
		xd[i] = v - h
		lm, err2 := op.Do(x, mask)
		xd[i] = v
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		want := 0.7 * (float64(*lp.(*gorgonia.F64)) - float64(*lm.(*gorgonia.F64))) / (2 * h)
		if math.Abs(got[i]-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("dL/dtex[%d] = %v, central difference %v", i, got[i], want)
		}
	}
}

func TestPairLossErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	tex := node(g, "t", randDense(1, 0, 1, 3, 2, 6))
	mask := node(g, "m", randDense(2, 0, 1, 3, 6))
	if _, err := PairLoss(tex, mask, 2, 3, true, 0); err == nil {
		t.Error("odd batch with pairs: no error")
	}
	if _, err := PairLoss(tex, mask, 2, 4, false, 0); err == nil {
		t.Error("rows*cols != N: no error")
	}
}
