package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildRotation(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return AxisAngleToRotation(in[0])
}

func TestRotation90Degrees(t *testing.T) {
	h := math.Pi / 2
	r := dense([]float64{h, 0, 0, 0, h, 0, 0, 0, h}, 3, 3)
	got, shape := forward(t, buildRotation, r)
	if !shape.Eq(tensor.Shape{3, 3, 3}) {
		t.Fatalf("shape %v", shape)
	}
	want := []float64{
		1, 0, 0, 0, 0, -1, 0, 1, 0, // about x: y -> z
		0, 0, 1, 0, 1, 0, -1, 0, 0, // about y: z -> x
		0, -1, 0, 1, 0, 0, 0, 0, 1, // about z: x -> y
	}
	assertClose(t, "R", got, want, 1e-15)
}

// rodriguesDirect is the textbook formula with k = r/|r| (valid for r != 0).
func rodriguesDirect(r [3]float64) [9]float64 {
	th := math.Sqrt(r[0]*r[0] + r[1]*r[1] + r[2]*r[2])
	k := [3]float64{r[0] / th, r[1] / th, r[2] / th}
	c, s := math.Cos(th), math.Sin(th)
	kx := skew(k[0], k[1], k[2])
	var m [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			v := s*kx[3*i+j] + (1-c)*k[i]*k[j]
			if i == j {
				v += c
			}
			m[3*i+j] = v
		}
	}
	return m
}

func TestRotationMatchesTextbookAndIsOrthonormal(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var vals []float64
	var rs [][3]float64
	for i := 0; i < 40; i++ {
		r := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		// Angles spread from 1e-4 to ~3.1 rad, including the series range.
		scale := []float64{1e-4, 0.03, 0.0999, 0.1001, 0.5, 1, 2, 3.1}[i%8]
		n := math.Sqrt(r[0]*r[0] + r[1]*r[1] + r[2]*r[2])
		for k := range r {
			r[k] *= scale / n
		}
		rs = append(rs, r)
		vals = append(vals, r[:]...)
	}
	got, _ := forward(t, buildRotation, dense(vals, len(rs), 3))
	for i, r := range rs {
		m := got[9*i : 9*i+9]
		want := rodriguesDirect(r)
		assertClose(t, "R vs textbook", m, want[:], 1e-14)
		// R R^T = I and det R = 1.
		var mm [9]float64
		copy(mm[:], m)
		for a := 0; a < 3; a++ {
			for b := 0; b < 3; b++ {
				d := mm[3*a]*mm[3*b] + mm[3*a+1]*mm[3*b+1] + mm[3*a+2]*mm[3*b+2]
				if a == b {
					d--
				}
				if math.Abs(d) > 1e-14 {
					t.Fatalf("item %d: (R R^T - I)[%d,%d] = %g", i, a, b, d)
				}
			}
		}
		det := mm[0]*(mm[4]*mm[8]-mm[5]*mm[7]) - mm[1]*(mm[3]*mm[8]-mm[5]*mm[6]) + mm[2]*(mm[3]*mm[7]-mm[4]*mm[6])
		if math.Abs(det-1) > 1e-14 {
			t.Fatalf("item %d: det R = %.17g", i, det)
		}
	}
}

func TestRotationAtZero(t *testing.T) {
	got, _ := forward(t, buildRotation, dense([]float64{0, 0, 0}, 1, 3))
	assertClose(t, "R(0)", got, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}, 0)
	// dL/dr_i = <G, [e_i]x> at r = 0.
	g := gorgonia.NewGraph()
	r := node(g, "r", dense([]float64{0, 0, 0}, 1, 3))
	R, err := AxisAngleToRotation(r)
	if err != nil {
		t.Fatal(err)
	}
	wv := []float64{0.3, -1.1, 0.7, 2.5, -0.4, 1.9, -0.8, 0.6, 1.3}
	w := node(g, "w", dense(wv, 1, 3, 3))
	prod, err := gorgonia.HadamardProd(R, w)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Sum(prod)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(cost, r)
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	// [e_x]x has -1 at (1,2), +1 at (2,1); [e_y]x +1 at (0,2), -1 at (2,0);
	// [e_z]x -1 at (0,1), +1 at (1,0).
	want := []float64{wv[7] - wv[5], wv[2] - wv[6], wv[3] - wv[1]}
	assertClose(t, "dL/dr at 0", grads[0].Value().Data().([]float64), want, 1e-15)
}

func TestRotationGrad(t *testing.T) {
	cases := map[string][]float64{
		"zero":        {0, 0, 0},
		"tiny":        {1e-9, -2e-9, 5e-10},
		"small":       {1e-4, 3e-4, -2e-4},
		"series edge": {0.0577, -0.0577, 0.0577},
		"above edge":  {0.0578, -0.0578, 0.0578},
		"random":      {0.4, -1.2, 0.7},
		"near pi":     {0, 3.14159, 0},
		"near pi mix": {1.8, -1.8, 1.7},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			opstest.CheckGrad(t, buildRotation, []*tensor.Dense{dense(r, 1, 3)})
		})
	}
	// A batch mixing them.
	var all []float64
	for _, r := range cases {
		all = append(all, r...)
	}
	opstest.CheckGrad(t, buildRotation, []*tensor.Dense{dense(all, len(cases), 3)})
}

// The four Rodrigues coefficients agree with their long Taylor series
// (evaluated term by term) on both sides of the series/closed-form switch
// at th = 0.1, and the two branches meet there.
func TestRodriguesCoeffs(t *testing.T) {
	fact := func(n int) float64 {
		f := 1.0
		for i := 2; i <= n; i++ {
			f *= float64(i)
		}
		return f
	}
	for _, th := range []float64{0, 1e-8, 1e-3, 0.05, 0.0999999, 0.1000001, 0.2, 0.5} {
		var a, b, c, d float64
		for k := 0; k < 14; k++ {
			s := math.Pow(-1, float64(k))
			p := math.Pow(th, float64(2*k))
			a += s * p / fact(2*k+1)
			b += s * p / fact(2*k+2)
			if k >= 1 {
				q := math.Pow(th, float64(2*k-2))
				c += s * float64(2*k) * q / fact(2*k+1)
				d += s * float64(2*k) * q / fact(2*k+2)
			}
		}
		ga, gb, gc, gd := rodriguesCoeffs(th * th)
		assertClose(t, "A,B,C,D", []float64{ga, gb, gc, gd}, []float64{a, b, c, d}, 2e-13)
	}
	lo := math.Nextafter(0.01, 0)
	a1, b1, c1, d1 := rodriguesCoeffs(lo)
	a2, b2, c2, d2 := rodriguesCoeffs(0.01)
	assertClose(t, "branches at switch", []float64{a1, b1, c1, d1}, []float64{a2, b2, c2, d2}, 2e-13)
}

func TestRotationFloat32(t *testing.T) {
	checkF32(t, buildRotation, 1e-6, dense([]float64{0, 0, 0, 1e-5, 2e-5, 0, 0.3, -0.2, 1.1, 2, 2, -1}, 4, 3))
}
