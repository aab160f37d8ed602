package ops

import (
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildMorphable(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return Morphable(in[0], in[1], in[2])
}

func TestMorphableEqualsNaiveLoop(t *testing.T) {
	const b, d, n = 3, 4, 5
	alpha := randDense(1, -1, 1, b, d)
	basis := randDense(2, -1, 1, d, 3*n)
	mean := randDense(3, -10, 10, 3*n)
	got, shape := forward(t, buildMorphable, alpha, basis, mean)
	if !shape.Eq(tensor.Shape{b, 3, n}) {
		t.Fatalf("shape %v", shape)
	}
	av, bv, mv := alpha.Data().([]float64), basis.Data().([]float64), mean.Data().([]float64)
	var want []float64
	for bi := 0; bi < b; bi++ {
		for k := 0; k < 3; k++ {
			for v := 0; v < n; v++ {
				s := mv[k*n+v]
				for di := 0; di < d; di++ {
					s += av[bi*d+di] * bv[di*3*n+k*n+v]
				}
				want = append(want, s)
			}
		}
	}
	assertClose(t, "X", got, want, 1e-14)
}

func TestMorphableGrad(t *testing.T) {
	opstest.CheckGrad(t, buildMorphable, []*tensor.Dense{
		randDense(1, -1, 1, 2, 3), randDense(2, -1, 1, 3, 12), randDense(3, -1, 1, 12)})
}

func TestMorphableFloat32(t *testing.T) {
	checkF32(t, buildMorphable, 1e-5, randDense(1, -1, 1, 4, 10), randDense(2, -1, 1, 10, 60), randDense(3, -1, 1, 60))
}
