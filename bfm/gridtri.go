package bfm

import "fmt"

// QuadCorner names a vertex of one grid quad: its four corners and, for
// SplitFan, its centre. The quad with top-left vertex (r, c) has corners
//
//	a = (r, c)      b = (r, c+1)
//	d = (r+1, c)    e = (r+1, c+1)
//
// (row r above row r+1, as row 0 is the top of the face; col grows with
// model x) and centre m = (a + b + d + e) / 4.
type QuadCorner uint8

// Quad corners, in the order of GridTriangulation.Centres.
const (
	CornerA QuadCorner = iota // (r, c), top left
	CornerB                   // (r, c+1), top right
	CornerD                   // (r+1, c), bottom left
	CornerE                   // (r+1, c+1), bottom right
	CornerM                   // centre, the mean of a, b, d and e (SplitFan only)
)

// QuadSplit is how one grid quad is cut into triangles.
type QuadSplit uint8

// Quad splits. Every triangle winds counter-clockwise seen from +z on a
// frontal quad (a top left, e bottom right in a y-up frame).
const (
	// SplitAE cuts along the diagonal a-e: (a,d,e), (a,e,b).
	SplitAE QuadSplit = iota
	// SplitBD cuts along the diagonal b-d: (a,d,b), (b,d,e). It is the
	// mirror image of SplitAE.
	SplitBD
	// SplitFan is a fan of four triangles around the centre m:
	// (m,a,d), (m,d,e), (m,e,b), (m,b,a). It is its own mirror image.
	SplitFan
)

var quadSplitTriangles = [...][][3]QuadCorner{
	SplitAE:  {{CornerA, CornerD, CornerE}, {CornerA, CornerE, CornerB}},
	SplitBD:  {{CornerA, CornerD, CornerB}, {CornerB, CornerD, CornerE}},
	SplitFan: {{CornerM, CornerA, CornerD}, {CornerM, CornerD, CornerE}, {CornerM, CornerE, CornerB}, {CornerM, CornerB, CornerA}},
}

// Triangles returns the triangles of split s as quad corners, in the order
// GridTriangulation lists them. The slice is shared: do not modify it.
func (s QuadSplit) Triangles() [][3]QuadCorner { return quadSplitTriangles[s] }

// String returns "a-e", "b-d" or "fan".
func (s QuadSplit) String() string {
	switch s {
	case SplitAE:
		return "a-e"
	case SplitBD:
		return "b-d"
	case SplitFan:
		return "fan"
	}
	return fmt.Sprintf("QuadSplit(%d)", uint8(s))
}

// GridQuadSplit returns the split of the quads in quad column c
// (0 <= c <= cols-2) of a grid with cols columns; it is the same in every
// row.
//
// The mirror about the face's vertical mid-line maps grid column col to
// cols-1-col, so it maps quad column c to c' = cols-2-c and the corners
// a, b, d, e of quad c to b', a', e', d' of quad c'. A mirror reverses the
// winding, so the triangle (a,d,e) maps to (b',e',d'), counter-clockwise
// (b',d',e'), and (a,e,b) to (a',d',b'): the mirror of SplitAE is SplitBD.
// Hence
//
//	c <  cols-2-c (left half, 2c < cols-2):  SplitAE
//	c >  cols-2-c (right half, 2c > cols-2): SplitBD
//	c == cols-2-c (2c = cols-2):             SplitFan
//
// The last case occurs only for an even number of columns, in the middle
// quad column c = cols/2-1, which is its own mirror image: no single
// diagonal of it is symmetric (one diagonal mirrors to the other). Its
// fan of four triangles around the centre m, the mean of its corners, is:
// the mirror fixes m and maps (m,a,d) to (m,b,e) reversed = (m,e,b) and
// (m,d,e) to (m,e,d) reversed = (m,d,e). The fan keeps what the quad
// contributes to the surface: its boundary loop a-d-e-b is that of either
// diagonal split, so its total (area-weighted) normal is the same vector
// area (1/2)(e-a)x(b-d) (the vector area of a surface depends on its
// boundary alone); only how that normal is shared among the four corners
// differs, symmetrically. m is also where the bilinear patch through the
// corners has its centre, so the fan follows that patch at one more point.
//
// It panics if c is outside [0, cols-2].
func GridQuadSplit(cols, c int) QuadSplit {
	if c < 0 || c > cols-2 {
		panic(fmt.Sprintf("bfm: quad column %d outside 0..%d", c, cols-2))
	}
	switch m := cols - 2 - c; {
	case c < m:
		return SplitAE
	case c > m:
		return SplitBD
	}
	return SplitFan
}

// GridTriangulation is the one triangulation of a Rows x Cols geometry
// image (grid vertex k = row*Cols + col, row 0 = top of the face, col
// growing with model x), shared by the backface mask (ops.BackfaceMask),
// the embedded default model's mesh and the exported meshes. It is
// mirror-symmetric about the vertical mid-line (col -> Cols-1-col): the
// mirror image of every triangle, re-wound counter-clockwise, is again one
// of its triangles. Each quad is cut as GridQuadSplit says.
//
// Its vertices are the N = Rows*Cols grid vertices followed by one centre
// vertex per SplitFan quad (only with an even Cols: one per quad row, in
// the middle quad column): vertex N+i has Centres[i] as corners and sits at
// their mean. Any per-vertex quantity that is linear on the quad (position,
// texture coordinate, and the bilinear interpolation of a texture, whose
// value at a quad centre is the mean of the four corners) extends to a
// centre vertex as that mean; Sources lists what to average.
type GridTriangulation struct {
	Rows, Cols int
	// Triangles index the vertices: 0..N-1 are grid vertices, N+i is the
	// centre vertex of Centres[i]. Listed quad by quad (row-major over the
	// quads' top-left vertices), each quad's triangles in the order of
	// QuadSplit.Triangles; counter-clockwise seen from +z on a frontal grid
	// (y up).
	Triangles [][3]int32
	// Centres holds the grid vertices a, b, d, e (CornerA..CornerE) of each
	// centre vertex, in the order of the quads.
	Centres [][4]int32
}

// GridTriangles returns the triangulation of a rows x cols grid: two
// triangles per quad, four (a fan around a centre vertex) in the middle
// quad column when cols is even. A grid with rows < 2 or cols < 2 has no
// triangles. It panics if rows or cols is negative.
func GridTriangles(rows, cols int) *GridTriangulation {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("bfm: grid %d x %d has a negative size", rows, cols))
	}
	t := &GridTriangulation{Rows: rows, Cols: cols}
	if rows < 2 || cols < 2 {
		return t
	}
	n := int32(rows * cols)
	t.Triangles = make([][3]int32, 0, 2*(rows-1)*(cols-1)+2*(rows-1)*(1-cols%2))
	for r := 0; r < rows-1; r++ {
		for c := 0; c < cols-1; c++ {
			a := int32(r*cols + c)
			v := [5]int32{a, a + 1, a + int32(cols), a + int32(cols) + 1, -1}
			s := GridQuadSplit(cols, c)
			if s == SplitFan {
				v[CornerM] = n + int32(len(t.Centres))
				t.Centres = append(t.Centres, [4]int32{v[0], v[1], v[2], v[3]})
			}
			for _, tri := range s.Triangles() {
				t.Triangles = append(t.Triangles, [3]int32{v[tri[0]], v[tri[1]], v[tri[2]]})
			}
		}
	}
	return t
}

// N returns the number of grid vertices, Rows*Cols.
func (t *GridTriangulation) N() int { return t.Rows * t.Cols }

// NumVertices returns the number of vertices the triangles index: the grid
// vertices and the centre vertices, N + len(Centres).
func (t *GridTriangulation) NumVertices() int { return t.N() + len(t.Centres) }

// Sources returns the grid vertices whose mean is vertex v of the
// triangulation: {v} for a grid vertex (v < N), the corners a, b, d, e for
// a centre vertex. A centre vertex is valid (GridModel.Valid) only when all
// four corners are. It panics if v is not a vertex.
func (t *GridTriangulation) Sources(v int) []int32 {
	n := t.N()
	if v < 0 || v >= t.NumVertices() {
		panic(fmt.Sprintf("bfm: vertex %d outside 0..%d", v, t.NumVertices()-1))
	}
	if v < n {
		return []int32{int32(v)}
	}
	c := t.Centres[v-n]
	return c[:]
}

// AppendCentres returns pts (one point per grid vertex, len N) followed by
// the position of every centre vertex, the mean (a+b+d+e)/4 of its
// corners: the vertex list the triangles index. pts itself is not
// modified. It panics if len(pts) != N.
func (t *GridTriangulation) AppendCentres(pts [][3]float64) [][3]float64 {
	if len(pts) != t.N() {
		panic(fmt.Sprintf("bfm: %d points for a %d x %d grid, want %d", len(pts), t.Rows, t.Cols, t.N()))
	}
	out := make([][3]float64, len(pts), t.NumVertices())
	copy(out, pts)
	for _, c := range t.Centres {
		var m [3]float64
		for i := range m {
			m[i] = (pts[c[0]][i] + pts[c[1]][i] + pts[c[2]][i] + pts[c[3]][i]) / 4
		}
		out = append(out, m)
	}
	return out
}
