package bfm

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// symMesh is a generated face-like mesh, exactly symmetric about x = 0: a
// (2C+1) x (2R+1) vertex grid, warped in x, jittered (mirrored jitter),
// lifted onto a sphere cap with a nose bump, triangulated in a "union jack"
// pattern (mirror-symmetric) and, optionally, with a 4 x 1 cell mouth hole
// across the mid-line at row r = -R/2.
type symMesh struct {
	m    *Model
	C, R int
}

func (s symMesh) id(c, r int) int { return (r+s.R)*(2*s.C+1) + (c + s.C) }

func newSymMesh(C, R int, hole bool, seed uint64) symMesh {
	s := symMesh{C: C, R: R}
	nc, nr := 2*C+1, 2*R+1
	rng := rand.New(rand.NewPCG(seed, 7))
	mean := make([]float64, 3*nc*nr)
	type jit struct{ x, y, z float64 }
	jitter := make(map[[2]int]jit)
	for r := -R; r <= R; r++ {
		for c := 0; c <= C; c++ {
			j := jit{0.15 * (rng.Float64() - 0.5), 0.15 * (rng.Float64() - 0.5), 0.5 * (rng.Float64() - 0.5)}
			if c == 0 || c == C {
				j.x = 0
			}
			if r == R || r == -R {
				j.y = 0
			}
			jitter[[2]int{c, r}] = j
		}
	}
	const W, H, rho = 70.0, 90.0, 130.0
	for r := -R; r <= R; r++ {
		for c := -C; c <= C; c++ {
			a := float64(c) / float64(C)
			x := W * math.Sinh(1.2*a) / math.Sinh(1.2)
			y := H * (float64(r) / float64(R))
			j := jitter[[2]int{flatIabs(c), r}]
			if c < 0 {
				x -= j.x * W / float64(C)
			} else {
				x += j.x * W / float64(C)
			}
			y += j.y * H / float64(R)
			z := math.Sqrt(rho*rho-x*x-y*y) - rho + 25*math.Exp(-(x*x+y*y)/300) + j.z
			k := s.id(c, r)
			mean[3*k], mean[3*k+1], mean[3*k+2] = x, y, z
		}
	}
	var tris [][3]int32
	r0 := -R / 2
	for r := -R; r < R; r++ {
		for c := -C; c < C; c++ {
			if hole && r == r0 && c >= -2 && c <= 1 {
				continue
			}
			p00, p10 := int32(s.id(c, r)), int32(s.id(c+1, r))
			p01, p11 := int32(s.id(c, r+1)), int32(s.id(c+1, r+1))
			if (float64(c)+0.5)*(float64(r)+0.5) > 0 {
				tris = append(tris, [3]int32{p00, p10, p11}, [3]int32{p00, p11, p01})
			} else {
				tris = append(tris, [3]int32{p00, p10, p01}, [3]int32{p10, p11, p01})
			}
		}
	}
	s.m = &Model{Name: "generated", Format: "generated", Source: "test", Units: "mm", Mean: mean, Triangles: tris,
		Landmarks: map[string][]int{SchemeAFLW21: {s.id(-C/2, R/2), s.id(C/2, R/2), s.id(0, 0), -1}}}
	return s
}

func flatIabs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestFlattenGeneratedMesh(t *testing.T) {
	s := newSymMesh(10, 13, true, 1)
	uv, info, err := FlattenDetailed(s.m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.HolesFilled != 1 || info.MidlineVertices != 2*s.R+1 || info.BoundaryVertices != 4*(s.C+s.R) {
		t.Errorf("info = %+v, want 1 hole, %d mid-line and %d boundary vertices", info, 2*s.R+1, 4*(s.C+s.R))
	}
	if info.Asymmetry != 0 {
		t.Errorf("asymmetry of an exactly symmetric mesh = %v, want 0", info.Asymmetry)
	}
	flatCheckEmbedding(t, s.m, uv)
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			p, q := uv[s.id(c, r)], uv[s.id(-c, r)]
			if math.Abs(p[0]-(1-q[0])) > 1e-9 || math.Abs(p[1]-q[1]) > 1e-9 {
				t.Fatalf("vertex (%d,%d) at %v, mirror at %v, want (1-u, v)", c, r, p, q)
			}
			onB := flatIabs(c) == s.C || flatIabs(r) == s.R
			d := min(p[0], 1-p[0], p[1], 1-p[1])
			if onB && math.Abs(d) > 1e-12 {
				t.Errorf("boundary vertex (%d,%d) at %v, want on the unit square", c, r, p)
			}
			if !onB && !(d > 0) {
				t.Errorf("interior vertex (%d,%d) at %v, want strictly inside", c, r, p)
			}
			if c == 0 && p[0] != 0.5 {
				t.Errorf("mid-line vertex (0,%d) u = %v, want 0.5", r, p[0])
			}
			if c > 0 && !(p[0] > 0.5) {
				t.Errorf("vertex (%d,%d) with x > 0 has u = %v, want > 0.5", c, r, p[0])
			}
		}
	}
	if top, bot := uv[s.id(0, s.R)], uv[s.id(0, -s.R)]; top != [2]float64{0.5, 1} || bot != [2]float64{0.5, 0} {
		t.Errorf("top mid-line at %v, bottom at %v, want (0.5,1) and (0.5,0)", top, bot)
	}
	for r := -s.R; r < s.R; r++ {
		if !(uv[s.id(0, r+1)][1] > uv[s.id(0, r)][1]) {
			t.Errorf("v does not grow with y on the mid-line at row %d", r)
		}
	}
	for _, corner := range [][2]float64{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
		found := false
		for _, p := range uv {
			found = found || (math.Abs(p[0]-corner[0]) < 1e-12 && math.Abs(p[1]-corner[1]) < 1e-12)
		}
		if !found {
			t.Errorf("no boundary vertex on corner %v", corner)
		}
	}
}

// flatCheckEmbedding asserts that every triangle has a positive signed area.
func flatCheckEmbedding(t *testing.T, m *Model, uv [][2]float64) {
	t.Helper()
	bad := 0
	minA := math.Inf(1)
	for k, tri := range m.Triangles {
		a, b, c := uv[tri[0]], uv[tri[1]], uv[tri[2]]
		area := 0.5 * ((b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0]))
		minA = min(minA, area)
		if !(area > 0) {
			if bad < 5 {
				t.Errorf("triangle %d %v flattened to %v %v %v, signed area %g, want > 0", k, tri, a, b, c, area)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d triangles flipped or degenerate", bad, len(m.Triangles))
	}
	t.Logf("smallest flattened triangle area %.3g (%d triangles)", minA, len(m.Triangles))
}

// TestFlattenMatchesFullSolve checks the folded half-mesh solve against a
// dense solve of the full mesh's Tutte system with the weights symmetrised,
// (w_ij + w_i'j')/2, and the same boundary.
func TestFlattenMatchesFullSolve(t *testing.T) {
	s := newSymMesh(4, 5, false, 3)
	uv, info, err := FlattenDetailed(s.m, FlattenOptions{Tol: 1e-14})
	if err != nil {
		t.Fatal(err)
	}
	n := s.m.NumVertices()
	pos := make([][3]float64, n)
	for i := range pos {
		pos[i] = [3]float64{s.m.Mean[3*i], s.m.Mean[3*i+1], s.m.Mean[3*i+2]}
	}
	var scratch FlattenInfo
	adj, err := flatCotanWeights(pos, s.m.Triangles, 1e-3, &scratch)
	if err != nil {
		t.Fatal(err)
	}
	w := make([][]float64, n)
	for i := range w {
		w[i] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		for p := adj.ptr[i]; p < adj.ptr[i+1]; p++ {
			w[i][adj.nbr[p]] = adj.w[p]
		}
	}
	pairs := info.Pairs
	var interior []int
	idx := make([]int, n)
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			k := s.id(c, r)
			idx[k] = -1
			if flatIabs(c) < s.C && flatIabs(r) < s.R {
				idx[k] = len(interior)
				interior = append(interior, k)
			}
		}
	}
	for comp := 0; comp < 2; comp++ {
		ni := len(interior)
		a := make([][]float64, ni)
		b := make([]float64, ni)
		for row, i := range interior {
			a[row] = make([]float64, ni)
			for j := 0; j < n; j++ {
				wij := 0.5 * (w[i][j] + w[pairs[i]][pairs[j]])
				if wij == 0 {
					continue
				}
				a[row][row] += wij
				if idx[j] >= 0 {
					a[row][idx[j]] -= wij
				} else {
					b[row] += wij * uv[j][comp]
				}
			}
		}
		x := flatDenseSolve(t, a, b)
		for row, i := range interior {
			if d := math.Abs(x[row] - uv[i][comp]); d > 1e-9 {
				t.Errorf("vertex %d component %d: folded solve %v, full dense solve %v (diff %g)", i, comp, uv[i][comp], x[row], d)
			}
		}
	}
}

// flatDenseSolve solves a x = b by Gaussian elimination with partial pivoting.
func flatDenseSolve(t *testing.T, a [][]float64, b []float64) []float64 {
	t.Helper()
	n := len(b)
	m := make([][]float64, n)
	for i := range m {
		m[i] = append(append([]float64(nil), a[i]...), b[i])
	}
	for k := 0; k < n; k++ {
		p := k
		for i := k + 1; i < n; i++ {
			if math.Abs(m[i][k]) > math.Abs(m[p][k]) {
				p = i
			}
		}
		if m[p][k] == 0 {
			t.Fatalf("singular dense system at column %d", k)
		}
		m[k], m[p] = m[p], m[k]
		for i := k + 1; i < n; i++ {
			f := m[i][k] / m[k][k]
			for j := k; j <= n; j++ {
				m[i][j] -= f * m[k][j]
			}
		}
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := m[i][n]
		for j := i + 1; j < n; j++ {
			s -= m[i][j] * x[j]
		}
		x[i] = s / m[i][i]
	}
	return x
}

func TestFlattenJacobiMatchesIC0(t *testing.T) {
	s := newSymMesh(8, 9, true, 5)
	a, ia, err := FlattenDetailed(s.m, FlattenOptions{Precond: PrecondIC0, Tol: 1e-13})
	if err != nil {
		t.Fatal(err)
	}
	b, ib, err := FlattenDetailed(s.m, FlattenOptions{Precond: PrecondJacobi, Tol: 1e-13})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if math.Abs(a[i][0]-b[i][0]) > 1e-9 || math.Abs(a[i][1]-b[i][1]) > 1e-9 {
			t.Fatalf("vertex %d: IC(0) %v, Jacobi %v", i, a[i], b[i])
		}
	}
	if !(ia.IterationsV < ib.IterationsV) {
		t.Errorf("IC(0) took %d iterations, Jacobi %d: want fewer with IC(0)", ia.IterationsV, ib.IterationsV)
	}
}

func TestFlattenModelUV(t *testing.T) {
	s := newSymMesh(3, 3, false, 1)
	if _, err := Flatten(s.m, FlattenOptions{UseModelUV: true}); err == nil || !strings.Contains(err.Error(), "0 UVs for 49 vertices") {
		t.Errorf("model without UVs: err = %v, want one naming the UV count", err)
	}
	s.m.UV = make([][2]float64, s.m.NumVertices())
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			s.m.UV[s.id(c, r)] = [2]float64{0.5 + 0.4*float64(c)/3, 0.5 + 0.4*float64(r)/3}
		}
	}
	uv, err := Flatten(s.m, FlattenOptions{UseModelUV: true})
	if err != nil {
		t.Fatal(err)
	}
	uv[0][0] = -1
	if s.m.UV[0][0] == -1 {
		t.Error("Flatten returned the model's own UV slice, want a copy")
	}
	s.m.UV[3] = [2]float64{1.5, 0}
	if _, err := Flatten(s.m, FlattenOptions{UseModelUV: true}); err == nil || !strings.Contains(err.Error(), "UV 3 = (1.5, 0)") {
		t.Errorf("UV outside the square: err = %v", err)
	}
}

func TestFlattenErrors(t *testing.T) {
	s := newSymMesh(3, 3, false, 1)
	s.m.Triangles[4][1] = 99
	if _, err := Flatten(s.m, FlattenOptions{}); err == nil || !strings.Contains(err.Error(), "triangle 4") {
		t.Errorf("bad index: err = %v", err)
	}
	s = newSymMesh(3, 3, false, 1)
	s.m.Mean[3*s.id(2, 1)+2] += 30 // break the symmetry; no UVs to fall back on
	if _, err := Flatten(s.m, FlattenOptions{}); err == nil || !strings.Contains(err.Error(), "mirror") {
		t.Errorf("asymmetric mesh: err = %v", err)
	}
	s = newSymMesh(3, 3, false, 1)
	s.m.Triangles[0][0], s.m.Triangles[0][1] = s.m.Triangles[0][1], s.m.Triangles[0][0]
	if _, err := Flatten(s.m, FlattenOptions{}); err == nil || !strings.Contains(err.Error(), "inconsistent winding") {
		t.Errorf("flipped triangle: err = %v", err)
	}
}

func BenchmarkFlatten53k(b *testing.B) {
	s := newSymMesh(115, 115, true, 1) // 231 x 231 = 53,361 vertices
	b.ReportMetric(float64(s.m.NumVertices()), "vertices")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, info, err := FlattenDetailed(s.m, FlattenOptions{}); err != nil || info.Flipped != 0 {
			b.Fatal(err, info.Flipped)
		}
	}
}

// TestFlattenBoundaryEdgeStart: the top of the outer boundary crosses the
// mid-line on an edge, not at a vertex (the top mid-line vertex is removed
// and its two triangles merged into one around vertex (0, R-1)).
func TestFlattenBoundaryEdgeStart(t *testing.T) {
	s := newSymMesh(5, 6, false, 8)
	drop := int32(s.id(0, s.R))
	var tris [][3]int32
	for _, tri := range s.m.Triangles {
		if tri[0] != drop && tri[1] != drop && tri[2] != drop {
			tris = append(tris, tri)
		}
	}
	tris = append(tris, [3]int32{int32(s.id(0, s.R-1)), int32(s.id(1, s.R)), int32(s.id(-1, s.R))})
	remap := func(v int) int {
		if v > int(drop) {
			return v - 1
		}
		return v
	}
	for k := range tris {
		for j := range tris[k] {
			tris[k][j] = int32(remap(int(tris[k][j])))
		}
	}
	mean := append(append([]float64(nil), s.m.Mean[:3*drop]...), s.m.Mean[3*drop+3:]...)
	m := &Model{Name: "edge-start", Mean: mean, Triangles: tris}
	uv, info, err := FlattenDetailed(m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	flatCheckEmbedding(t, m, uv)
	if info.Orientation != 1 || info.Flipped != 0 {
		t.Errorf("orientation %d, flipped %d", info.Orientation, info.Flipped)
	}
	l, r := uv[remap(s.id(-1, s.R))], uv[remap(s.id(1, s.R))]
	if l[1] != 1 || r[1] != 1 || math.Abs(l[0]+r[0]-1) > 1e-12 || !(r[0] > 0.5) {
		t.Errorf("top edge ends at %v and %v, want (1-u, 1) and (u, 1) with u > 0.5", l, r)
	}
	for i, j := range info.Pairs {
		if math.Abs(uv[i][0]-(1-uv[j][0])) > 1e-9 || math.Abs(uv[i][1]-uv[j][1]) > 1e-9 {
			t.Fatalf("vertex %d at %v, mirror %d at %v", i, uv[i], j, uv[j])
		}
	}
}

// TestFlattenClockwiseMesh: the same mesh wound clockwise flattens to the
// same UVs with every triangle clockwise.
func TestFlattenClockwiseMesh(t *testing.T) {
	s := newSymMesh(5, 6, true, 2)
	want, err := Flatten(s.m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k := range s.m.Triangles {
		s.m.Triangles[k][1], s.m.Triangles[k][2] = s.m.Triangles[k][2], s.m.Triangles[k][1]
	}
	got, info, err := FlattenDetailed(s.m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != -1 || info.Flipped != 0 {
		t.Errorf("orientation %d, flipped %d, want -1 and 0", info.Orientation, info.Flipped)
	}
	for i := range want {
		if math.Abs(got[i][0]-want[i][0]) > 1e-9 || math.Abs(got[i][1]-want[i][1]) > 1e-9 {
			t.Fatalf("vertex %d: clockwise mesh at %v, counter-clockwise at %v", i, got[i], want[i])
		}
	}
}
