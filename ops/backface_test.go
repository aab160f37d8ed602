package ops

import (
	"math"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// hemisphere returns the unit front hemisphere sampled on a rows x cols
// grid in planar (3, N) layout: row 0 at the top (latitude +lat), col
// growing with x (longitude from -lon to +lon), z >= 0 towards the viewer.
func hemisphere(rows, cols int, lat, lon float64) []float64 {
	n := rows * cols
	p := make([]float64, 3*n)
	for r := 0; r < rows; r++ {
		la := lat - 2*lat*float64(r)/float64(rows-1)
		for c := 0; c < cols; c++ {
			lo := -lon + 2*lon*float64(c)/float64(cols-1)
			k := r*cols + c
			p[k] = math.Cos(la) * math.Sin(lo)
			p[n+k] = math.Sin(la)
			p[2*n+k] = math.Cos(la) * math.Cos(lo)
		}
	}
	return p
}

// rotY rotates planar points by angle a about the model y axis.
func rotY(p []float64, a float64) []float64 {
	n := len(p) / 3
	q := make([]float64, len(p))
	c, s := math.Cos(a), math.Sin(a)
	for k := 0; k < n; k++ {
		x, y, z := p[k], p[n+k], p[2*n+k]
		q[k] = c*x + s*z
		q[n+k] = y
		q[2*n+k] = -s*x + c*z
	}
	return q
}

func backfaceOf(t *testing.T, p []float64, rows, cols int) []float64 {
	t.Helper()
	build := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return BackfaceMask(in[0], rows, cols)
	}
	got, shape := forward(t, build, dense(p, 1, 3, rows*cols))
	if !shape.Eq(tensor.Shape{1, rows * cols}) {
		t.Fatalf("shape %v", shape)
	}
	return got
}

func TestBackfaceFrontalHemisphereVisible(t *testing.T) {
	const rows, cols = 21, 25
	// Full front hemisphere: the rim columns (z = 0) may go either way.
	p := hemisphere(rows, cols, 1.4, math.Pi/2)
	m := backfaceOf(t, p, rows, cols)
	for r := 0; r < rows; r++ {
		for c := 1; c < cols-1; c++ {
			if m[r*cols+c] != 1 {
				t.Fatalf("vertex (%d,%d) hidden in the frontal view", r, c)
			}
		}
	}
	// A flat frontal grid is fully visible, rim included.
	q := make([]float64, 3*rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			q[r*cols+c] = float64(c)
			q[rows*cols+r*cols+c] = -float64(r)
		}
	}
	for k, v := range backfaceOf(t, q, rows, cols) {
		if v != 1 {
			t.Fatalf("flat grid vertex %d hidden", k)
		}
	}
}

func TestBackfaceRotated180Hidden(t *testing.T) {
	const rows, cols = 21, 25
	p := rotY(hemisphere(rows, cols, 1.4, math.Pi/2), math.Pi)
	for k, v := range backfaceOf(t, p, rows, cols) {
		c := k % cols
		if c == 0 || c == cols-1 {
			continue
		}
		if v != 0 {
			t.Fatalf("vertex %d visible after a 180 degree turn", k)
		}
	}
}

// At 60 degrees of yaw, vertices whose true sphere normal (= position)
// points away from the viewer are hidden and those facing it are visible.
func TestBackfaceYaw60(t *testing.T) {
	const rows, cols = 31, 41
	for _, yaw := range []float64{math.Pi / 3, -math.Pi / 3} {
		p := rotY(hemisphere(rows, cols, 1.3, math.Pi/2), yaw)
		n := rows * cols
		m := backfaceOf(t, p, rows, cols)
		var near, far int
		for k := 0; k < n; k++ {
			z := p[2*n+k]
			switch {
			case z > 0.05:
				near++
				if m[k] != 1 {
					t.Fatalf("yaw %.2f: vertex %d with normal z %.3f hidden", yaw, k, z)
				}
			case z < -0.05:
				far++
				if m[k] != 0 {
					t.Fatalf("yaw %.2f: vertex %d with normal z %.3f visible", yaw, k, z)
				}
			}
		}
		if near < n/2 || far < n/10 {
			t.Fatalf("yaw %.2f: test covers %d near and %d far vertices", yaw, near, far)
		}
		// The far side is the side the face turned away: with positive yaw
		// (x towards -z) the right half (large col) is hidden.
		side := cols - 1
		if yaw < 0 {
			side = 0
		}
		if m[(rows/2)*cols+side] != 0 {
			t.Fatalf("yaw %.2f: far-side vertex visible", yaw)
		}
	}
}

func TestBackfaceFloat32AndBatch(t *testing.T) {
	const rows, cols = 11, 13
	p0 := hemisphere(rows, cols, 1.2, 1.2)
	p1 := rotY(p0, 2.5)
	both := append(append([]float64(nil), p0...), p1...)
	build := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return BackfaceMask(in[0], rows, cols)
	}
	want, _ := forward(t, build, dense(both, 2, 3, rows*cols))
	got, _ := forward(t, build, to32(dense(both, 2, 3, rows*cols)))
	assertClose(t, "float32 mask", got, want, 0)
	assertClose(t, "item 0", want[:rows*cols], backfaceOf(t, p0, rows, cols), 0)
	assertClose(t, "item 1", want[rows*cols:], backfaceOf(t, p1, rows, cols), 0)
}

// The mask is a constant: a cost through it has zero gradient wrt x from
// the mask path, and Grad does not fail.
func TestBackfaceNoGradient(t *testing.T) {
	const rows, cols = 3, 3
	g := gorgonia.NewGraph()
	x := node(g, "x", dense(hemisphere(rows, cols, 1, 1), 1, 3, rows*cols))
	m, err := BackfaceMask(x, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	op := m.Op().(gorgonia.SDOp)
	if d := op.DiffWRT(1); len(d) != 1 || d[0] {
		t.Fatalf("DiffWRT = %v, want [false]", d)
	}
	if gs, err := op.SymDiff(gorgonia.Nodes{x}, m, m); gs != nil || err != nil {
		t.Fatalf("SymDiff = %v, %v; want nil, nil", gs, err)
	}
}

func TestBackfaceErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := node(g, "x", randDense(1, 0, 1, 2, 3, 12))
	if _, err := BackfaceMask(x, 3, 5); err == nil || err.Error() != "ops.BackfaceMask: x must have shape (B,3,15) for a 3 x 5 grid, got (2, 3, 12)" {
		t.Fatalf("error %v", err)
	}
	if _, err := BackfaceMask(x, 1, 12); err == nil || !strings.Contains(err.Error(), "has no triangles") {
		t.Fatalf("error %v", err)
	}
}

// On an irregular random surface the mask equals a brute-force reference:
// list every triangle (a,d,b), (b,d,e) of every quad, take full 3D cross
// products, sum them per vertex and test z > 0.
func TestBackfaceMatchesBruteForce(t *testing.T) {
	const b, rows, cols = 2, 7, 9
	n := rows * cols
	x := randDense(17, -1, 1, b, 3, n)
	xv := x.Data().([]float64)
	build := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
		return BackfaceMask(in[0], rows, cols)
	}
	got, _ := forward(t, build, x)
	var want []float64
	for bi := 0; bi < b; bi++ {
		p := func(k int) [3]float64 {
			return [3]float64{xv[bi*3*n+k], xv[bi*3*n+n+k], xv[bi*3*n+2*n+k]}
		}
		normals := make([][3]float64, n)
		add := func(i, j, k int) { // normal (pj - pi) x (pk - pi) added to i, j, k
			a, bb, c := p(i), p(j), p(k)
			u := [3]float64{bb[0] - a[0], bb[1] - a[1], bb[2] - a[2]}
			v := [3]float64{c[0] - a[0], c[1] - a[1], c[2] - a[2]}
			cr := [3]float64{u[1]*v[2] - u[2]*v[1], u[2]*v[0] - u[0]*v[2], u[0]*v[1] - u[1]*v[0]}
			for _, q := range []int{i, j, k} {
				for m := range cr {
					normals[q][m] += cr[m]
				}
			}
		}
		for r := 0; r < rows-1; r++ {
			for c := 0; c < cols-1; c++ {
				a := r*cols + c
				add(a, a+cols, a+1)        // (a, d, b)
				add(a+1, a+cols, a+cols+1) // (b, d, e)
			}
		}
		for _, nv := range normals {
			if nv[2] > 0 {
				want = append(want, 1)
			} else {
				want = append(want, 0)
			}
		}
	}
	var ones int
	for _, v := range want {
		ones += int(v)
	}
	if ones < len(want)/5 || ones > 4*len(want)/5 {
		t.Fatalf("test setup: %d of %d visible; want a mix", ones, len(want))
	}
	assertClose(t, "mask vs brute force", got, want, 0)
}
