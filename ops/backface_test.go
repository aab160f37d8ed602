package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
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

// backfaceReference computes the mask of planar points p (3, rows*cols)
// directly from bfm.GridTriangles: the centre vertices at the mean of their
// corners, the full 3D cross product (p_j-p_i)x(p_k-p_i) of every triangle
// (i,j,k) added to each of its vertices, visible where the sum's z > 0.
func backfaceReference(p []float64, rows, cols int) []float64 {
	n := rows * cols
	tri := bfm.GridTriangles(rows, cols)
	pts := make([][3]float64, n)
	for k := range pts {
		pts[k] = [3]float64{p[k], p[n+k], p[2*n+k]}
	}
	pts = tri.AppendCentres(pts)
	normals := make([][3]float64, len(pts))
	for _, t := range tri.Triangles {
		a, b, c := pts[t[0]], pts[t[1]], pts[t[2]]
		u := [3]float64{b[0] - a[0], b[1] - a[1], b[2] - a[2]}
		v := [3]float64{c[0] - a[0], c[1] - a[1], c[2] - a[2]}
		cr := [3]float64{u[1]*v[2] - u[2]*v[1], u[2]*v[0] - u[0]*v[2], u[0]*v[1] - u[1]*v[0]}
		for _, q := range t {
			for m := range cr {
				normals[q][m] += cr[m]
			}
		}
	}
	want := make([]float64, n)
	for k := range want {
		if normals[k][2] > 0 {
			want[k] = 1
		}
	}
	return want
}

// defaultFace returns the mean of the embedded default model re-meshed as a
// rows x cols geometry image, in planar (3, N) layout (mm).
func defaultFace(t *testing.T, rows, cols int) []float64 {
	t.Helper()
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	g, err := bfm.BuildGrid(m, bfm.GridOptions{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	n := g.N()
	p := make([]float64, 3*n)
	for k := 0; k < n; k++ {
		p[k], p[n+k], p[2*n+k] = g.Mean[3*k], g.Mean[3*k+1], g.Mean[3*k+2]
	}
	return p
}

// rotXY rotates planar points by pitch about the model x axis, then by yaw
// about the y axis.
func rotXY(p []float64, pitch, yaw float64) []float64 {
	n := len(p) / 3
	q := make([]float64, len(p))
	c, s := math.Cos(pitch), math.Sin(pitch)
	for k := 0; k < n; k++ {
		y, z := p[n+k], p[2*n+k]
		q[k], q[n+k], q[2*n+k] = p[k], c*y-s*z, s*y+c*z
	}
	return rotY(q, yaw)
}

// mirrorPose returns the mirrored pose of planar points p on a rows x cols
// grid: vertex mirror(k) = (row, cols-1-col) gets (-x, y, z) of vertex k.
func mirrorPose(p []float64, rows, cols int) []float64 {
	n := rows * cols
	q := make([]float64, len(p))
	for k := 0; k < n; k++ {
		m := (k/cols)*cols + cols - 1 - k%cols
		q[m], q[n+m], q[2*n+m] = -p[k], p[n+k], p[2*n+k]
	}
	return q
}

// backfaceCase is one input of the reference and mirror tests.
type backfaceCase struct {
	name       string
	rows, cols int
	p          []float64
	mixed      bool // the mask must have both visible and hidden vertices
}

// backfaceCases are random surfaces, rotated noisy hemispheres and the
// default face at several poses, on grids of odd and even widths (the
// product's grids have 64 and 112 columns).
func backfaceCases(t *testing.T) []backfaceCase {
	var cs []backfaceCase
	for i, sz := range [][2]int{{7, 9}, {7, 10}, {6, 64}, {5, 2}} {
		p := randDense(uint64(17+i), -1, 1, 3, sz[0]*sz[1]).Data().([]float64)
		cs = append(cs, backfaceCase{fmt.Sprintf("random %dx%d", sz[0], sz[1]), sz[0], sz[1], p, sz[0]*sz[1] > 20})
	}
	for i, sz := range [][2]int{{21, 25}, {20, 24}} {
		h := hemisphere(sz[0], sz[1], 1.3, 1.5)
		noise := randDense(uint64(40+i), -0.02, 0.02, len(h)).Data().([]float64)
		for k := range h {
			h[k] += noise[k]
		}
		for _, pose := range [][2]float64{{0, 0}, {0.3, 0.9}, {-0.2, -1.1}} {
			cs = append(cs, backfaceCase{fmt.Sprintf("hemisphere %dx%d pitch %.1f yaw %.1f", sz[0], sz[1], pose[0], pose[1]),
				sz[0], sz[1], rotXY(h, pose[0], pose[1]), pose[1] != 0})
		}
	}
	for _, sz := range [][2]int{{64, 64}, {65, 65}, {40, 112}} {
		f := defaultFace(t, sz[0], sz[1])
		for _, pose := range [][2]float64{{0, 0}, {0.2, math.Pi / 3}, {-0.3, -0.7}, {0.1, 2.8}} {
			cs = append(cs, backfaceCase{fmt.Sprintf("default face %dx%d pitch %.1f yaw %.1f", sz[0], sz[1], pose[0], pose[1]),
				sz[0], sz[1], rotXY(f, pose[0], pose[1]), pose[1] != 0})
		}
	}
	return cs
}

// The mask equals the reference computed from the bfm triangulation, on
// random surfaces (every sign pattern of the triangle areas) and face-like
// ones, odd and even widths, float64 and float32 (whose points are the
// float32-rounded ones).
func TestBackfaceMatchesTriangulation(t *testing.T) {
	for _, c := range backfaceCases(t) {
		got := backfaceOf(t, c.p, c.rows, c.cols)
		want := backfaceReference(c.p, c.rows, c.cols)
		assertClose(t, c.name, got, want, 0)
		if ones := sum(want); c.mixed && (ones < float64(len(want))/10 || ones > 0.9*float64(len(want))) {
			t.Fatalf("%s: test setup: %g of %d visible; want a mix", c.name, ones, len(want))
		}
		build := func(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
			return BackfaceMask(in[0], c.rows, c.cols)
		}
		got32, _ := forward(t, build, to32(dense(c.p, 1, 3, c.rows*c.cols)))
		p32 := to32(dense(c.p, 3, c.rows*c.cols)).Data().([]float32)
		p64 := make([]float64, len(p32))
		for i, v := range p32 {
			p64[i] = float64(v)
		}
		assertClose(t, c.name+" float32", got32, backfaceReference(p64, c.rows, c.cols), 0)
	}
}

// The mask of a mirrored pose is the mirror of the mask: if vertex
// mirror(k) of X'_m is (-x, y, z) of vertex k of X', then
// mask_m(mirror(k)) = mask(k). It holds because the triangulation is
// mirror-symmetric; a triangulation with one diagonal direction fails it
// on the random surfaces.
func TestBackfaceMirrorPose(t *testing.T) {
	for _, c := range backfaceCases(t) {
		m := backfaceOf(t, c.p, c.rows, c.cols)
		mm := backfaceOf(t, mirrorPose(c.p, c.rows, c.cols), c.rows, c.cols)
		for k := range m {
			r, col := k/c.cols, k%c.cols
			if mk := r*c.cols + c.cols - 1 - col; mm[mk] != m[k] {
				t.Fatalf("%s: vertex (%d,%d) mask %g, its mirror (%d,%d) in the mirrored pose %g", c.name, r, col, m[k], r, c.cols-1-col, mm[mk])
			}
		}
	}
}

// The default face (the product's model) re-meshed at 64 x 64 and 65 x 65:
// at yaw 0 the frontal face, every vertex of the middle 7/8 of the columns,
// is visible, the nose tip included (the surface wraps back to 93 degrees
// at the sides, so the outer columns may face away); at yaw +60 degrees (the face
// turns its +x side away) the far cheek is hidden and the near one
// visible, at -60 degrees the other way round.
func TestBackfaceDefaultFace(t *testing.T) {
	for _, sz := range [][2]int{{64, 64}, {65, 65}} {
		rows, cols := sz[0], sz[1]
		f := defaultFace(t, rows, cols)
		n := rows * cols
		m := backfaceOf(t, f, rows, cols)
		tip := 0
		for k := 0; k < n; k++ {
			if f[2*n+k] > f[2*n+tip] {
				tip = k
			}
			if c := k % cols; c >= cols/16 && c < cols-cols/16 && m[k] != 1 {
				t.Fatalf("%dx%d frontal: vertex (%d,%d) hidden", rows, cols, k/cols, c)
			}
		}
		if m[tip] != 1 {
			t.Fatalf("%dx%d frontal: nose tip hidden", rows, cols)
		}
		// Cheeks: mid-height, a sixth of the width in from each side.
		r := rows / 2
		left, right := r*cols+cols/6, r*cols+cols-1-cols/6
		for _, yaw := range []float64{math.Pi / 3, -math.Pi / 3} {
			m := backfaceOf(t, rotY(f, yaw), rows, cols)
			far, near := right, left
			if yaw < 0 {
				far, near = left, right
			}
			if m[far] != 0 || m[near] != 1 || m[tip] != 1 {
				t.Fatalf("%dx%d yaw %.2f: far cheek %g, near cheek %g, nose tip %g; want 0, 1, 1", rows, cols, yaw, m[far], m[near], m[tip])
			}
		}
	}
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

// TestBackfaceKernelCarry: the kernel, which carries each row of quads to
// the next vertex row within a chunk of rows, equals computing the four
// quads of every vertex afresh, on several images whose chunks of rows
// start mid-image (5 x 37 rows), with odd width (every quad split kind).
func TestBackfaceKernelCarry(t *testing.T) {
	const b, rows, cols = 5, 37, 33
	n := rows * cols
	r := rand.New(rand.NewPCG(4, 4))
	x := make([]float64, b*3*n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	got := make([]float64, b*n)
	backfaceKernel(got, x, b, rows, cols)
	for bi := 0; bi < b; bi++ {
		px, py := x[bi*3*n:bi*3*n+n], x[bi*3*n+n:bi*3*n+2*n]
		quad := func(qr, qc int) [4]float64 {
			if qr < 0 || qr >= rows-1 || qc < 0 || qc >= cols-1 {
				return [4]float64{}
			}
			return quadCornerNZ(px, py, cols, qr, qc, bfm.GridQuadSplit(cols, qc))
		}
		ones := 0
		for vr := 0; vr < rows; vr++ {
			for vc := 0; vc < cols; vc++ {
				nz := quad(vr-1, vc-1)[bfm.CornerE] + quad(vr-1, vc)[bfm.CornerD] + quad(vr, vc-1)[bfm.CornerB] + quad(vr, vc)[bfm.CornerA]
				want := 0.0
				if nz > 0 {
					want = 1
				}
				if g := got[bi*n+vr*cols+vc]; g != want {
					t.Fatalf("image %d vertex (%d, %d): %v, want %v", bi, vr, vc, g, want)
				}
				ones += int(want)
			}
		}
		if ones == 0 || ones == n {
			t.Fatalf("image %d: %d of %d vertices visible: a weak test", bi, ones, n)
		}
	}
}
