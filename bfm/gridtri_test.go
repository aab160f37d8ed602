package bfm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// gridSizes covers odd and even column counts, including the grids the
// product uses (64 and 112 columns) and the default model (81).
var gridSizes = [][2]int{{2, 2}, {2, 3}, {3, 4}, {5, 5}, {4, 7}, {6, 8}, {9, 64}, {5, 81}, {4, 112}}

// flatGrid is the frontal grid vertex (r, c) at x = c, y = -r, z = 0 (row 0
// at the top, y up), followed by the centre vertices.
func flatGrid(t *GridTriangulation) [][3]float64 {
	pts := make([][3]float64, t.N())
	for k := range pts {
		pts[k] = [3]float64{float64(k % t.Cols), -float64(k / t.Cols), 0}
	}
	return t.AppendCentres(pts)
}

// area2 is the doubled signed area of (p, q, s) seen from +z:
// (q - p) x (s - p) . z.
func area2(p, q, s [3]float64) float64 {
	return (q[0]-p[0])*(s[1]-p[1]) - (q[1]-p[1])*(s[0]-p[0])
}

func TestGridTrianglesKnownAnswer(t *testing.T) {
	// 2 x 3 grid: vertices 0 1 2 / 3 4 5, quads 0 (left) and 1 (right).
	got := GridTriangles(2, 3)
	want := [][3]int32{{0, 3, 4}, {0, 4, 1}, {1, 4, 2}, {2, 4, 5}}
	if !reflect.DeepEqual(got.Triangles, want) || got.Centres != nil {
		t.Fatalf("2x3: %v, centres %v; want %v, none", got.Triangles, got.Centres, want)
	}
	// 2 x 4 grid: 0 1 2 3 / 4 5 6 7; the middle quad 1 (corners 1 2 5 6)
	// is a fan around centre vertex 8.
	got = GridTriangles(2, 4)
	want = [][3]int32{{0, 4, 5}, {0, 5, 1}, {8, 1, 5}, {8, 5, 6}, {8, 6, 2}, {8, 2, 1}, {2, 6, 3}, {3, 6, 7}}
	if !reflect.DeepEqual(got.Triangles, want) || !reflect.DeepEqual(got.Centres, [][4]int32{{1, 2, 5, 6}}) {
		t.Fatalf("2x4: %v, centres %v; want %v, [[1 2 5 6]]", got.Triangles, got.Centres, want)
	}
	if got.NumVertices() != 9 || !reflect.DeepEqual(got.Sources(8), []int32{1, 2, 5, 6}) || !reflect.DeepEqual(got.Sources(3), []int32{3}) {
		t.Fatalf("2x4: %d vertices, sources %v %v", got.NumVertices(), got.Sources(8), got.Sources(3))
	}
	for _, s := range []int{0, 1} {
		if g := GridTriangles(s, 5); len(g.Triangles) != 0 || len(g.Centres) != 0 {
			t.Fatalf("%d x 5 grid: %d triangles", s, len(g.Triangles))
		}
	}
}

// With an odd number of columns the triangulation is the rule the default
// model always used: a-e on the left half, b-d on the right half, two
// triangles per quad in quad order.
func TestGridTrianglesOddIsDiagonalRule(t *testing.T) {
	for _, sz := range [][2]int{{2, 3}, {5, 7}, {DefaultRows, DefaultCols}} {
		rows, cols := sz[0], sz[1]
		var want [][3]int32
		for r := 0; r < rows-1; r++ {
			for c := 0; c < cols-1; c++ {
				a := int32(r*cols + c)
				b, d := a+1, a+int32(cols)
				e := d + 1
				if c < (cols-1)/2 {
					want = append(want, [3]int32{a, d, e}, [3]int32{a, e, b})
				} else {
					want = append(want, [3]int32{a, d, b}, [3]int32{b, d, e})
				}
			}
		}
		g := GridTriangles(rows, cols)
		if !reflect.DeepEqual(g.Triangles, want) || len(g.Centres) != 0 {
			t.Fatalf("%d x %d: triangles differ from the diagonal rule", rows, cols)
		}
	}
	m, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Triangles, GridTriangles(DefaultRows, DefaultCols).Triangles) {
		t.Fatal("default model's triangles are not GridTriangles(DefaultRows, DefaultCols)")
	}
}

// canonical rotates a triangle so that its smallest index comes first
// (same winding).
func canonical(t [3]int32) [3]int32 {
	i := 0
	for j := 1; j < 3; j++ {
		if t[j] < t[i] {
			i = j
		}
	}
	return [3]int32{t[i], t[(i+1)%3], t[(i+2)%3]}
}

// The mirror image of every triangle, re-wound (a mirror reverses
// orientation), is a triangle of the set, and the set has no duplicates.
func TestGridTrianglesMirrorSymmetric(t *testing.T) {
	for _, sz := range gridSizes {
		rows, cols := sz[0], sz[1]
		g := GridTriangles(rows, cols)
		gm := &GridModel{Rows: rows, Cols: cols}
		n := int32(g.N())
		// The mirror of a centre vertex is itself: its quad is the middle
		// one, whose corners mirror onto each other.
		mirror := func(v int32) int32 {
			if v >= n {
				c := g.Centres[v-n]
				got := []int32{int32(gm.Mirror(int(c[0]))), int32(gm.Mirror(int(c[1]))), int32(gm.Mirror(int(c[2]))), int32(gm.Mirror(int(c[3])))}
				slices.Sort(got)
				own := slices.Clone(c[:])
				slices.Sort(own)
				if !slices.Equal(got, own) {
					t.Fatalf("%d x %d: centre %d's corners %v mirror to %v", rows, cols, v, c, got)
				}
				return v
			}
			return int32(gm.Mirror(int(v)))
		}
		set := map[[3]int32]bool{}
		for _, tr := range g.Triangles {
			c := canonical(tr)
			if set[c] {
				t.Fatalf("%d x %d: triangle %v twice", rows, cols, tr)
			}
			set[c] = true
		}
		for _, tr := range g.Triangles {
			m := canonical([3]int32{mirror(tr[0]), mirror(tr[2]), mirror(tr[1])})
			if !set[m] {
				t.Fatalf("%d x %d: mirror %v of triangle %v is missing", rows, cols, m, tr)
			}
		}
		if wantC := (rows - 1) * (1 - cols%2); len(g.Centres) != wantC {
			t.Fatalf("%d x %d: %d centre vertices, want %d", rows, cols, len(g.Centres), wantC)
		}
	}
}

// On a flat frontal grid every triangle is counter-clockwise seen from +z,
// lies in one quad, the triangles of each quad add up to its area exactly,
// and every edge inside the grid is shared by two triangles with opposite
// directions (boundary edges by one): the triangles tile the grid.
func TestGridTrianglesTileFrontalGrid(t *testing.T) {
	for _, sz := range gridSizes {
		rows, cols := sz[0], sz[1]
		g := GridTriangles(rows, cols)
		pts := flatGrid(g)
		quadArea := make([]float64, (rows-1)*(cols-1))
		edges := map[[2]int32]int{}
		for _, tr := range g.Triangles {
			a := area2(pts[tr[0]], pts[tr[1]], pts[tr[2]])
			if !(a > 0) {
				t.Fatalf("%d x %d: triangle %v has doubled area %g, want > 0 (counter-clockwise)", rows, cols, tr, a)
			}
			// The quad is the one whose top-left corner is the smallest
			// (x, -y) over the triangle's vertices, floored.
			qr, qc := math.Inf(1), math.Inf(1)
			for _, v := range tr {
				qr, qc = min(qr, math.Floor(-pts[v][1])), min(qc, math.Floor(pts[v][0]))
			}
			for _, v := range tr {
				if -pts[v][1] > qr+1 || pts[v][0] > qc+1 {
					t.Fatalf("%d x %d: triangle %v spans more than one quad", rows, cols, tr)
				}
			}
			quadArea[int(qr)*(cols-1)+int(qc)] += a / 2
			for i := range 3 {
				edges[[2]int32{tr[i], tr[(i+1)%3]}]++
			}
		}
		for q, a := range quadArea {
			if a != 1 {
				t.Fatalf("%d x %d: quad %d covered by area %g, want 1", rows, cols, q, a)
			}
		}
		for e, k := range edges {
			if k != 1 {
				t.Fatalf("%d x %d: directed edge %v used %d times", rows, cols, e, k)
			}
			if edges[[2]int32{e[1], e[0]}] == 0 && !onBoundary(pts[e[0]], pts[e[1]], rows, cols) {
				t.Fatalf("%d x %d: interior edge %v has one triangle", rows, cols, e)
			}
		}
	}
}

// onBoundary reports whether the segment p-q lies on the grid's border.
func onBoundary(p, q [3]float64, rows, cols int) bool {
	for _, v := range []float64{0, float64(cols - 1)} {
		if p[0] == v && q[0] == v {
			return true
		}
	}
	for _, v := range []float64{0, -float64(rows - 1)} {
		if p[1] == v && q[1] == v {
			return true
		}
	}
	return false
}

func TestGridQuadSplit(t *testing.T) {
	for _, tc := range []struct {
		cols int
		want string
	}{
		{2, "fan"}, {3, "a-e b-d"}, {4, "a-e fan b-d"}, {5, "a-e a-e b-d b-d"}, {6, "a-e a-e fan b-d b-d"},
	} {
		var got []string
		for c := 0; c <= tc.cols-2; c++ {
			got = append(got, GridQuadSplit(tc.cols, c).String())
		}
		if s := fmt.Sprint(got); s != "["+tc.want+"]" {
			t.Errorf("cols %d: splits %s, want [%s]", tc.cols, s, tc.want)
		}
	}
	if s := GridQuadSplit(64, 31); s != SplitFan {
		t.Errorf("64 columns: quad 31 is %v, want the fan", s)
	}
	if s := GridQuadSplit(112, 55); s != SplitFan {
		t.Errorf("112 columns: quad 55 is %v, want the fan", s)
	}
}

func TestAppendCentres(t *testing.T) {
	g := GridTriangles(3, 4)
	pts := make([][3]float64, g.N())
	for k := range pts {
		pts[k] = [3]float64{float64(k), float64(k * k), -1}
	}
	got := g.AppendCentres(pts)
	if len(got) != g.N()+2 || &got[0] == &pts[0] {
		t.Fatalf("%d points (want %d) in a new slice", len(got), g.N()+2)
	}
	// Centre of quad (0, 1): corners 1, 2, 5, 6; of quad (1, 1): 5, 6, 9, 10.
	want := [][3]float64{{3.5, (1 + 4 + 25 + 36) / 4.0, -1}, {7.5, (25 + 36 + 81 + 100) / 4.0, -1}}
	if !reflect.DeepEqual(got[g.N():], want) {
		t.Fatalf("centres %v, want %v", got[g.N():], want)
	}
}

// Every split of a (non-planar) quad has the same total normal: the sum of
// its triangles' cross products (p_j-p_i)x(p_k-p_i) is (e-a)x(b-d), twice
// the vector area of the boundary loop a-d-e-b (GridQuadSplit's doc).
func TestQuadSplitsShareVectorArea(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 20 {
		var p [5][3]float64
		for i := range 4 {
			p[i] = [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		}
		for i := range 3 {
			p[CornerM][i] = (p[0][i] + p[1][i] + p[2][i] + p[3][i]) / 4
		}
		sub := func(u, v [3]float64) [3]float64 { return [3]float64{u[0] - v[0], u[1] - v[1], u[2] - v[2]} }
		cross := func(u, v [3]float64) [3]float64 {
			return [3]float64{u[1]*v[2] - u[2]*v[1], u[2]*v[0] - u[0]*v[2], u[0]*v[1] - u[1]*v[0]}
		}
		want := cross(sub(p[CornerE], p[CornerA]), sub(p[CornerB], p[CornerD]))
		for _, s := range []QuadSplit{SplitAE, SplitBD, SplitFan} {
			var got [3]float64
			for _, tr := range s.Triangles() {
				c := cross(sub(p[tr[1]], p[tr[0]]), sub(p[tr[2]], p[tr[0]]))
				for i := range got {
					got[i] += c[i]
				}
			}
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-12 {
					t.Fatalf("split %v: total normal %v, want (e-a)x(b-d) = %v", s, got, want)
				}
			}
		}
	}
}
