package bfm

import (
	"errors"
	"fmt"
	"math"

	"github.com/stn3d/stn3d/internal/workpool"
)

// FlattenOptions controls Flatten.
type FlattenOptions struct {
	// UseModelUV returns the model's own UVs instead of computing a Tutte
	// embedding (the Surrey model's UVs are already symmetric).
	UseModelUV bool
	// MinWeight is the floor of the cotangent weights relative to their mean
	// positive value: w_ij < MinWeight*mean(w) is raised to it. 0 means 1e-3.
	MinWeight float64
	// Tol is the relative residual of the conjugate-gradient solves; 0 means
	// 1e-11.
	Tol float64
	// Precond selects the CG preconditioner (default IC(0)).
	Precond Preconditioner
}

// FlattenInfo reports what FlattenDetailed did.
type FlattenInfo struct {
	// Method is "tutte-cotangent-symmetric" or "model-uv".
	Method string
	// Pairs is the mirror map used (nil for model UVs when the model has no
	// detectable symmetry).
	Pairs []int
	// Asymmetry is the RMS distance of mirrored vertex pairs (Asymmetry).
	Asymmetry float64
	// MidlineVertices counts vertices that are their own mirror.
	MidlineVertices int
	// HolesFilled counts inner boundary loops (the Surrey model's mouth)
	// closed by a fan around a virtual centre vertex before flattening.
	HolesFilled int
	// BoundaryVertices counts vertices of the outer boundary loop.
	BoundaryVertices int
	// MinWeight is the relative weight floor used.
	MinWeight float64
	// ClampedWeights counts edges whose cotangent weight was raised to the
	// floor; DegenerateTriangles counts zero-area triangles skipped when
	// computing the weights.
	ClampedWeights, DegenerateTriangles int
	// UnknownsU, UnknownsV, IterationsU, IterationsV, ResidualU and
	// ResidualV describe the two reduced CG solves.
	UnknownsU, UnknownsV     int
	IterationsU, IterationsV int
	ResidualU, ResidualV     float64
	// Orientation is +1 when most flattened triangles are counter-clockwise
	// in (u, v) (the convention: counter-clockwise seen from +z), -1 when
	// most are clockwise (a mesh wound the other way).
	Orientation int
	// Flipped counts triangles whose flattened signed area is zero or has
	// the minority sign; 0 for a valid embedding.
	Flipped int
}

// Flatten returns one (u, v) per vertex of m: the symmetric Tutte embedding
// of Bas et al. 2017, Sec. 3.1 (see FlattenDetailed), or the model's own UVs
// when opt.UseModelUV is set.
func Flatten(m *Model, opt FlattenOptions) ([][2]float64, error) {
	uv, _, err := FlattenDetailed(m, opt)
	return uv, err
}

// FlattenDetailed computes the symmetric Tutte embedding of the mesh of m
// and reports how it went.
//
// The method (Tutte 1963; Floater 1997; Bas et al. 2017, Sec. 3.1):
//
//   - Weights: conformal (cotangent) weights w_ij = (cot a_ij + cot b_ij)/2,
//     a_ij and b_ij the angles opposite edge ij in its two triangles (one on
//     the boundary), from the mean shape. Obtuse configurations make w_ij
//     negative; Tutte's theorem needs positive weights, so every weight below
//     MinWeight times the mean positive weight is raised to that floor. The
//     Laplacian is then an M-matrix, every interior vertex is a convex
//     combination of its neighbours and, with a convex boundary, no triangle
//     flips (Floater 1997).
//   - Holes: every boundary loop but the longest (in 3D) is closed by a fan
//     of triangles around a virtual vertex at the loop's centroid, so the
//     mesh is a disc.
//   - Boundary: the outer loop is mapped to the perimeter of [0,1]^2 by arc
//     length, starting at its top mid-line point (largest y) mapped to
//     (0.5, 1) and running towards +x, so u grows with x and v = 1 is the top
//     of the face. The arc-length parameters t of a vertex and its mirror are
//     averaged (t, 1-t) and the right-side boundary vertices nearest to the
//     corners are moved onto them (piecewise-linear reparametrisation), so the
//     embedding covers the whole square.
//   - Symmetry: with L the weighted Laplacian and F the mirror permutation,
//     the symmetric embedding is u - 1/2 = Q y_u, v = P y_v, where P copies a
//     right-half (x >= 0) value to the vertex and its mirror and Q copies it
//     with a sign change (zero on the mid-line, so u = 0.5 there). Only the
//     right half is solved: (Q^T L_II Q) y_u = -Q^T L_IB (u_B - 1/2) and
//     (P^T L_II P) y_v = -P^T L_IB v_B, both symmetric positive definite, by
//     preconditioned conjugate gradients. Folding is the same as averaging L
//     with F L F, so the weights are symmetrised for free. The left half is
//     the reflection (1-u, v) of the right, exactly.
func FlattenDetailed(m *Model, opt FlattenOptions) ([][2]float64, FlattenInfo, error) {
	var info FlattenInfo
	if err := flatCheckMesh(m); err != nil {
		return nil, info, err
	}
	if opt.UseModelUV {
		return flatModelUV(m)
	}
	info.Method = "tutte-cotangent-symmetric"
	minW, tol, err := flatResolveOptions(m, opt)
	if err != nil {
		return nil, info, err
	}
	info.MinWeight = minW
	pairs, err := MirrorPairs(m)
	if err != nil {
		return nil, info, fmt.Errorf("bfm: flatten %q: %w", m.Name, err)
	}
	info.Pairs = pairs
	if info.Asymmetry, err = Asymmetry(m, pairs); err != nil {
		return nil, info, err
	}

	d, err := flatMakeDisc(m, pairs, &info)
	if err != nil {
		return nil, info, err
	}
	adj, err := flatCotanWeights(d.pos, d.tris, minW, &info)
	if err != nil {
		return nil, info, fmt.Errorf("bfm: flatten %q: %w", m.Name, err)
	}
	ol := d.loops[d.outer]
	info.BoundaryVertices = len(ol)
	uvB, err := flatBoundaryUV(d.pos, ol, d.ext, d.side)
	if err != nil {
		return nil, info, fmt.Errorf("bfm: flatten %q: %w", m.Name, err)
	}
	sys := flatReducedSystems(d, adj, uvB)
	info.UnknownsU, info.UnknownsV = sys.nu, sys.nv
	if err := sys.solve(CGOptions{Tol: tol, Precond: opt.Precond}, &info); err != nil {
		return nil, info, fmt.Errorf("bfm: flatten %q: %w", m.Name, err)
	}
	uv := flatAssemble(d, sys, uvB)
	info.Orientation, info.Flipped = flatCountFlipped(uv, m.Triangles)
	return uv, info, nil
}

// flatResolveOptions returns the cotangent weight floor (relative to the
// mean positive weight, default 1e-3, must be in (0, 1)) and the CG
// relative residual (default 1e-11) that opt asks for.
func flatResolveOptions(m *Model, opt FlattenOptions) (minW, tol float64, err error) {
	minW = opt.MinWeight
	if minW == 0 {
		minW = 1e-3
	}
	if !(minW > 0 && minW < 1) {
		return 0, 0, fmt.Errorf("bfm: flatten %q: MinWeight %v, want in (0, 1)", m.Name, opt.MinWeight)
	}
	tol = opt.Tol
	if tol == 0 {
		tol = 1e-11
	}
	return minW, tol, nil
}

// flatDisc is the mesh of a model made a symmetric topological disc for
// flattening: its inner boundary loops (holes) closed by fans around
// virtual vertices, the mirror map extended to those vertices, and every
// vertex assigned to a half.
type flatDisc struct {
	// nv is the model's vertex count; pos[nv:] are the virtual vertices.
	nv int
	// pos holds the mean-shape positions (model units), then one virtual
	// vertex per closed hole at the centroid of the hole's loop.
	pos [][3]float64
	// tris are the model's triangles, then the hole fans.
	tris [][3]int32
	// loops are the model's boundary loops (mesh on the left of each
	// half-edge); loops[outer] is the longest in 3D, the outer boundary.
	loops [][]int32
	outer int
	// ext is the mirror map over pos: the model's mirror pairs, and for a
	// virtual vertex the virtual vertex of the mirror loop.
	ext []int
	// side is +1 on the right half (x greater than the mirror's x, ties to
	// the lower index), 0 on the mid-line (own mirror), -1 on the left half.
	side []int8
	// isB marks the vertices of the outer loop.
	isB []bool
}

// flatMakeDisc finds the boundary loops of m, closes every loop but the
// longest with a fan (info.HolesFilled), checks that the mirror map pairs
// maps boundary loops onto boundary loops and the outer loop onto itself,
// and splits the vertices into halves (info.MidlineVertices).
func flatMakeDisc(m *Model, pairs []int, info *FlattenInfo) (*flatDisc, error) {
	loops, err := flatBoundaryLoops(m)
	if err != nil {
		return nil, err
	}
	if len(loops) == 0 {
		return nil, fmt.Errorf("bfm: flatten %q: the mesh has no boundary (closed surface), cannot map it to a square", m.Name)
	}
	nv := m.NumVertices()
	d := &flatDisc{nv: nv, loops: loops, pos: make([][3]float64, nv, nv+len(loops))}
	for i := range d.pos {
		d.pos[i] = [3]float64{m.Mean[3*i], m.Mean[3*i+1], m.Mean[3*i+2]}
	}
	best := -1.0
	for li, l := range loops {
		if s := flatLoopLength(d.pos, l); s > best {
			d.outer, best = li, s
		}
	}
	loopOf := make([]int32, nv) // vertex -> its boundary loop, -1 inside
	for i := range loopOf {
		loopOf[i] = -1
	}
	for li, l := range loops {
		for _, v := range l {
			loopOf[v] = int32(li)
		}
	}
	virt := d.closeHoles(m.Triangles, info)
	if err := d.mirrorLoops(m.Name, pairs, loopOf, virt); err != nil {
		return nil, err
	}
	d.classifySides(info)
	d.isB = make([]bool, len(d.pos))
	for _, v := range loops[d.outer] {
		d.isB[v] = true
	}
	return d, nil
}

// closeHoles appends to the disc, for every boundary loop but the outer
// one, a virtual vertex at the loop's centroid and a fan of triangles
// (b, a, centre) over its half-edges a->b (the mesh is on the left of a->b,
// so the fan keeps the winding consistent). It returns, per loop, its
// virtual vertex (-1 for the outer loop).
func (d *flatDisc) closeHoles(tris [][3]int32, info *FlattenInfo) []int {
	d.tris = append([][3]int32(nil), tris...)
	virt := make([]int, len(d.loops))
	for li, l := range d.loops {
		virt[li] = -1
		if li == d.outer {
			continue
		}
		var c [3]float64
		for _, v := range l {
			for k := range c {
				c[k] += d.pos[v][k]
			}
		}
		for k := range c {
			c[k] /= float64(len(l))
		}
		virt[li] = len(d.pos)
		d.pos = append(d.pos, c)
		for k, a := range l {
			b := l[(k+1)%len(l)]
			d.tris = append(d.tris, [3]int32{b, a, int32(virt[li])})
		}
		info.HolesFilled++
	}
	return virt
}

// mirrorLoops checks that pairs maps every boundary loop onto one boundary
// loop and the outer loop onto itself (a symmetric topology), and sets
// d.ext: pairs, and the virtual vertex of the mirror loop for each virtual
// vertex.
func (d *flatDisc) mirrorLoops(name string, pairs []int, loopOf []int32, virt []int) error {
	for li, l := range d.loops {
		lj := loopOf[pairs[l[0]]]
		if lj < 0 {
			return fmt.Errorf("bfm: flatten %q: boundary vertex %d mirrors to interior vertex %d (topology not symmetric)", name, l[0], pairs[l[0]])
		}
		for _, v := range l {
			if loopOf[pairs[v]] != lj {
				return fmt.Errorf("bfm: flatten %q: boundary vertex %d mirrors to %d, which is not on the mirror boundary loop (topology not symmetric)", name, v, pairs[v])
			}
		}
		if (li == d.outer) != (int(lj) == d.outer) {
			return fmt.Errorf("bfm: flatten %q: the outer boundary loop does not mirror onto itself", name)
		}
	}
	d.ext = make([]int, len(d.pos))
	copy(d.ext, pairs)
	for li, l := range d.loops {
		if li != d.outer {
			d.ext[virt[li]] = virt[loopOf[pairs[l[0]]]]
		}
	}
	return nil
}

// classifySides sets d.side from d.ext and the x coordinates and counts the
// model's mid-line vertices in info.MidlineVertices.
func (d *flatDisc) classifySides(info *FlattenInfo) {
	d.side = make([]int8, len(d.pos))
	for i := range d.side {
		j := d.ext[i]
		switch {
		case j == i:
			d.side[i] = 0
			if i < d.nv {
				info.MidlineVertices++
			}
		case d.pos[i][0] > d.pos[j][0] || (d.pos[i][0] == d.pos[j][0] && i < j):
			d.side[i] = 1
		default:
			d.side[i] = -1
		}
	}
}

// flatReduced holds the two reduced linear systems of the symmetric
// embedding (FlattenDetailed): (Q^T L_II Q) y_u = -Q^T L_IB (u_B - 1/2) over
// the nu interior right-half vertices (x > 0) and (P^T L_II P) y_v =
// -P^T L_IB v_B over the nv interior right-half and mid-line vertices, as
// triplets, with their solutions.
type flatReduced struct {
	// idxU and idxV map a disc vertex to its unknown, -1 where it has none.
	idxU, idxV []int32
	nu, nv     int
	tu, tv     []Triplet
	rhsU, rhsV []float64
	// yu = u - 1/2 and yv = v after solve (yv starts at 0.5).
	yu, yv []float64
}

// flatReducedSystems assembles the reduced systems from the weighted
// adjacency adj and the boundary UVs uvB: row i of L is
// d_i x_i - sum_j w_ij x_j with d_i = sum_j w_ij, a left-half vertex's row
// is folded onto its mirror's unknown (with the sign change of Q for u),
// and boundary neighbours move to the right-hand side.
func flatReducedSystems(d *flatDisc, adj *flatAdj, uvB [][2]float64) *flatReduced {
	ne := len(d.pos)
	s := &flatReduced{idxU: make([]int32, ne), idxV: make([]int32, ne)}
	for i := 0; i < ne; i++ {
		s.idxU[i], s.idxV[i] = -1, -1
		if d.isB[i] || d.side[i] < 0 {
			continue
		}
		s.idxV[i] = int32(s.nv)
		s.nv++
		if d.side[i] > 0 {
			s.idxU[i] = int32(s.nu)
			s.nu++
		}
	}
	rep := func(i int) int { // the right-half or mid-line representative
		if d.side[i] < 0 {
			return d.ext[i]
		}
		return i
	}
	s.rhsU = make([]float64, s.nu)
	s.rhsV = make([]float64, s.nv)
	for i := 0; i < ne; i++ {
		if d.isB[i] {
			continue
		}
		ri := rep(i)
		rv := s.idxV[ri]
		ci := float64(d.side[i])
		ru := s.idxU[ri]
		diag := 0.0
		for p := adj.ptr[i]; p < adj.ptr[i+1]; p++ {
			j, w := int(adj.nbr[p]), adj.w[p]
			diag += w
			if d.isB[j] {
				s.rhsV[rv] += w * uvB[j][1]
				if ci != 0 {
					s.rhsU[ru] += ci * w * (uvB[j][0] - 0.5)
				}
				continue
			}
			rj := rep(j)
			s.tv = append(s.tv, Triplet{rv, s.idxV[rj], -w})
			if ci != 0 && d.side[j] != 0 {
				s.tu = append(s.tu, Triplet{ru, s.idxU[rj], -ci * float64(d.side[j]) * w})
			}
		}
		s.tv = append(s.tv, Triplet{rv, rv, diag})
		if ci != 0 {
			s.tu = append(s.tu, Triplet{ru, ru, diag})
		}
	}
	return s
}

// solve runs the two preconditioned CG solves (yu from 0, yv from 0.5) on
// the worker pool, concurrently where there are two CPUs, and records their
// iterations and residuals in info; the errors of both are joined, u's
// first. Each solve is deterministic, whichever goroutine runs it.
func (s *flatReduced) solve(cg CGOptions, info *FlattenInfo) error {
	s.yu = make([]float64, s.nu)
	s.yv = make([]float64, s.nv)
	for i := range s.yv {
		s.yv[i] = 0.5
	}
	type system struct {
		n      int
		t      []Triplet
		rhs, y []float64
		it     *int
		res    *float64
		err    error
	}
	sys := [2]system{
		{s.nu, s.tu, s.rhsU, s.yu, &info.IterationsU, &info.ResidualU, nil},
		{s.nv, s.tv, s.rhsV, s.yv, &info.IterationsV, &info.ResidualV, nil},
	}
	workpool.For(len(sys), workpool.Heavy, func(i int) {
		q := &sys[i]
		if q.n == 0 {
			return
		}
		a, err := NewCSR(q.n, q.t)
		if err != nil {
			q.err = err
			return
		}
		r, err := SolveCG(a, q.rhs, q.y, cg)
		*q.it, *q.res, q.err = r.Iterations, r.Residual, err
	})
	return errors.Join(sys[0].err, sys[1].err)
}

// flatAssemble returns the UV of every model vertex: the boundary UVs on
// the outer loop, (0.5, v) on the mid-line, (0.5 + y_u, y_v) on the right
// half, and on the left half the reflection (1-u, v) of the mirror's UV.
func flatAssemble(d *flatDisc, s *flatReduced, uvB [][2]float64) [][2]float64 {
	uv := make([][2]float64, d.nv)
	for i := 0; i < d.nv; i++ {
		switch {
		case d.side[i] < 0:
			continue
		case d.isB[i]:
			uv[i] = uvB[i]
		case d.side[i] == 0:
			uv[i] = [2]float64{0.5, s.yv[s.idxV[i]]}
		default:
			uv[i] = [2]float64{0.5 + s.yu[s.idxU[i]], s.yv[s.idxV[i]]}
		}
	}
	for i := 0; i < d.nv; i++ {
		if d.side[i] < 0 {
			p := uv[d.ext[i]]
			uv[i] = [2]float64{1 - p[0], p[1]}
		}
	}
	return uv
}

func flatModelUV(m *Model) ([][2]float64, FlattenInfo, error) {
	info := FlattenInfo{Method: "model-uv"}
	if len(m.UV) != m.NumVertices() {
		return nil, info, fmt.Errorf("bfm: flatten %q with model UVs: model has %d UVs for %d vertices", m.Name, len(m.UV), m.NumVertices())
	}
	for i, p := range m.UV {
		if !(p[0] >= 0 && p[0] <= 1 && p[1] >= 0 && p[1] <= 1) {
			return nil, info, fmt.Errorf("bfm: flatten %q with model UVs: UV %d = (%v, %v), want in [0,1]^2", m.Name, i, p[0], p[1])
		}
	}
	if pairs, err := MirrorPairs(m); err == nil {
		info.Pairs = pairs
		if info.Asymmetry, err = Asymmetry(m, pairs); err != nil {
			return nil, info, err
		}
		for i, j := range pairs {
			if i == j {
				info.MidlineVertices++
			}
		}
	}
	uv := append([][2]float64(nil), m.UV...)
	info.Orientation, info.Flipped = flatCountFlipped(uv, m.Triangles)
	return uv, info, nil
}

// flatCheckMesh checks sizes, finiteness and triangle indices.
func flatCheckMesh(m *Model) error {
	if m == nil {
		return errors.New("bfm: nil model")
	}
	nv := m.NumVertices()
	if nv < 3 || len(m.Mean) != 3*nv {
		return fmt.Errorf("bfm: model %q: mean has %d values, want 3 per vertex and >= 3 vertices", m.Name, len(m.Mean))
	}
	if nv > math.MaxInt32-1024 {
		return fmt.Errorf("bfm: model %q: %d vertices exceed int32 indices", m.Name, nv)
	}
	for i, x := range m.Mean {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("bfm: model %q: mean value %d is %v, want finite", m.Name, i, x)
		}
	}
	if len(m.Triangles) == 0 {
		return fmt.Errorf("bfm: model %q has no triangles", m.Name)
	}
	used := make([]bool, nv)
	for t, tri := range m.Triangles {
		for _, v := range tri {
			if v < 0 || int(v) >= nv {
				return fmt.Errorf("bfm: model %q: triangle %d = %v has an index outside [0, %d)", m.Name, t, tri, nv)
			}
			used[v] = true
		}
		if tri[0] == tri[1] || tri[1] == tri[2] || tri[0] == tri[2] {
			return fmt.Errorf("bfm: model %q: triangle %d = %v repeats a vertex", m.Name, t, tri)
		}
	}
	for v, ok := range used {
		if !ok {
			return fmt.Errorf("bfm: model %q: vertex %d is in no triangle (isolated vertices cannot be flattened)", m.Name, v)
		}
	}
	return nil
}

// flatBoundaryLoops returns the boundary loops of a consistently wound
// manifold mesh, each in the direction of its half-edges (mesh on the left).
func flatBoundaryLoops(m *Model) ([][]int32, error) {
	he := make(map[uint64]int32, 3*len(m.Triangles))
	for t, tri := range m.Triangles {
		for k := 0; k < 3; k++ {
			a, b := tri[k], tri[(k+1)%3]
			key := uint64(a)<<32 | uint64(b)
			if t0, ok := he[key]; ok {
				return nil, fmt.Errorf("bfm: model %q: edge %d->%d appears in triangles %d and %d with the same direction (inconsistent winding or non-manifold edge)", m.Name, a, b, t0, t)
			}
			he[key] = int32(t)
		}
	}
	nv := m.NumVertices()
	next := make([]int32, nv)
	for i := range next {
		next[i] = -1
	}
	nb := 0
	for t, tri := range m.Triangles {
		for k := 0; k < 3; k++ {
			a, b := tri[k], tri[(k+1)%3]
			if _, ok := he[uint64(b)<<32|uint64(a)]; ok {
				continue
			}
			if next[a] >= 0 {
				return nil, fmt.Errorf("bfm: model %q: vertex %d starts two boundary edges (non-manifold vertex, triangle %d)", m.Name, a, t)
			}
			next[a] = b
			nb++
		}
	}
	seen := make([]bool, nv)
	var loops [][]int32
	for s := 0; s < nv; s++ {
		if next[s] < 0 || seen[s] {
			continue
		}
		var l []int32
		for v := int32(s); !seen[v]; v = next[v] {
			if next[v] < 0 {
				return nil, fmt.Errorf("bfm: model %q: boundary chain from vertex %d ends at %d without closing", m.Name, s, v)
			}
			seen[v] = true
			l = append(l, v)
		}
		loops = append(loops, l)
	}
	return loops, nil
}

func flatDist(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

func flatLoopLength(pos [][3]float64, l []int32) float64 {
	s := 0.0
	for k, a := range l {
		s += flatDist(pos[a], pos[l[(k+1)%len(l)]])
	}
	return s
}

// flatAdj is a symmetric weighted adjacency in CSR form.
type flatAdj struct {
	ptr []int
	nbr []int32
	w   []float64
}

// flatCotanWeights computes the clamped cotangent weights of every edge.
// Edges are numbered in order of first appearance so that the sums, and so
// the embedding, are bit-for-bit deterministic.
func flatCotanWeights(pos [][3]float64, tris [][3]int32, minW float64, info *FlattenInfo) (*flatAdj, error) {
	edgeID := make(map[uint64]int32, 3*len(tris)/2+16)
	var ea, eb []int32
	var ew []float64
	edge := func(a, b int32) int32 {
		if a > b {
			a, b = b, a
		}
		key := uint64(a)<<32 | uint64(b)
		id, ok := edgeID[key]
		if !ok {
			id = int32(len(ea))
			edgeID[key] = id
			ea, eb, ew = append(ea, a), append(eb, b), append(ew, 0)
		}
		return id
	}
	for _, tri := range tris {
		for k := 0; k < 3; k++ {
			i, j, l := tri[k], tri[(k+1)%3], tri[(k+2)%3]
			id := edge(j, l)
			pi, pj, pl := pos[i], pos[j], pos[l]
			e1 := [3]float64{pj[0] - pi[0], pj[1] - pi[1], pj[2] - pi[2]}
			e2 := [3]float64{pl[0] - pi[0], pl[1] - pi[1], pl[2] - pi[2]}
			d := e1[0]*e2[0] + e1[1]*e2[1] + e1[2]*e2[2]
			cx := e1[1]*e2[2] - e1[2]*e2[1]
			cy := e1[2]*e2[0] - e1[0]*e2[2]
			cz := e1[0]*e2[1] - e1[1]*e2[0]
			c := math.Sqrt(cx*cx + cy*cy + cz*cz)
			n1 := math.Sqrt(e1[0]*e1[0] + e1[1]*e1[1] + e1[2]*e1[2])
			n2 := math.Sqrt(e2[0]*e2[0] + e2[1]*e2[1] + e2[2]*e2[2])
			if !(c > 1e-12*n1*n2) {
				if k == 0 {
					info.DegenerateTriangles++
				}
				continue
			}
			ew[id] += 0.5 * d / c
		}
	}
	mean, npos := 0.0, 0
	for _, w := range ew {
		if w > 0 {
			mean += w
			npos++
		}
	}
	if npos == 0 {
		return nil, errors.New("no positive cotangent weight (degenerate mesh)")
	}
	floor := minW * mean / float64(npos)
	for k, w := range ew {
		if w < floor {
			ew[k] = floor
			info.ClampedWeights++
		}
	}
	n := len(pos)
	adj := &flatAdj{ptr: make([]int, n+1), nbr: make([]int32, 2*len(ea)), w: make([]float64, 2*len(ea))}
	for k := range ea {
		adj.ptr[ea[k]+1]++
		adj.ptr[eb[k]+1]++
	}
	for i := 0; i < n; i++ {
		adj.ptr[i+1] += adj.ptr[i]
	}
	fill := append([]int(nil), adj.ptr[:n]...)
	for k := range ea {
		a, b := ea[k], eb[k]
		adj.nbr[fill[a]], adj.w[fill[a]] = b, ew[k]
		fill[a]++
		adj.nbr[fill[b]], adj.w[fill[b]] = a, ew[k]
		fill[b]++
	}
	return adj, nil
}

// flatBoundaryUV places the outer loop on the unit square (see
// FlattenDetailed); it returns a slice indexed by vertex, filled for the
// loop's vertices only.
func flatBoundaryUV(pos [][3]float64, ol []int32, pairs []int, side []int8) ([][2]float64, error) {
	n := len(ol)
	if n < 4 {
		return nil, fmt.Errorf("outer boundary has %d vertices, want >= 4", n)
	}
	// Start: the highest mid-line vertex or mid-line crossing edge.
	start, startEdge, bestY := -1, false, math.Inf(-1)
	for k, a := range ol {
		b := ol[(k+1)%n]
		if pairs[a] == int(a) && pos[a][1] > bestY {
			start, startEdge, bestY = k, false, pos[a][1]
		}
		if pairs[a] == int(b) {
			if y := 0.5 * (pos[a][1] + pos[b][1]); y > bestY {
				start, startEdge, bestY = k, true, y
			}
		}
	}
	if start < 0 {
		return nil, errors.New("the outer boundary never crosses the mid-line x = 0")
	}
	at := func(k int) int32 { return ol[((k%n)+n)%n] }
	seq := make([]int32, n)
	offset := 0.0
	if !startEdge {
		dir := 1
		if pos[at(start+1)][0] < pos[at(start-1)][0] {
			dir = -1
		}
		for k := range seq {
			seq[k] = at(start + dir*k)
		}
	} else {
		a, b := at(start), at(start+1)
		offset = 0.5 * flatDist(pos[a], pos[b])
		if pos[b][0] > pos[a][0] {
			for k := range seq {
				seq[k] = at(start + 1 + k)
			}
		} else {
			for k := range seq {
				seq[k] = at(start - k)
			}
		}
	}
	s := make([]float64, n)
	s[0] = offset
	for k := 1; k < n; k++ {
		s[k] = s[k-1] + flatDist(pos[seq[k]], pos[seq[k-1]])
	}
	total := s[n-1] + flatDist(pos[seq[0]], pos[seq[n-1]])
	if startEdge {
		total = s[n-1] + 2*offset
	}
	t := make(map[int32]float64, n)
	for k, v := range seq {
		t[v] = s[k] / total
	}
	// Symmetrised parameter of the right half and the mid-line.
	ts := make(map[int32]float64, n/2+2)
	var right []int32
	for k, v := range seq {
		switch {
		case side[v] < 0:
			continue
		case side[v] == 0 && k == 0 && !startEdge:
			ts[v] = 0
		case side[v] == 0:
			ts[v] = 0.5
		default:
			tv := 0.5 * (t[v] + 1 - t[int32(pairs[v])])
			if !(tv > 0 && tv < 0.5) {
				return nil, fmt.Errorf("boundary vertex %d (x = %.4g) has symmetrised arc-length parameter %.4g, want in (0, 0.5) for the x > 0 half", v, pos[v][0], tv)
			}
			ts[v] = tv
			right = append(right, v)
		}
	}
	// Corner anchors: right-half vertices nearest to t = 1/8 and 3/8.
	near := func(target float64) (int32, float64) {
		bv, bt := int32(-1), math.Inf(1)
		for _, v := range right {
			if math.Abs(ts[v]-target) < math.Abs(bt-target) {
				bv, bt = v, ts[v]
			}
		}
		return bv, bt
	}
	knots := [][2]float64{{0, 0}, {0.5, 0.5}}
	if va, ta := near(0.125); va >= 0 {
		if vb, tb := near(0.375); vb >= 0 && vb != va && ta < tb {
			knots = [][2]float64{{0, 0}, {ta, 0.125}, {tb, 0.375}, {0.5, 0.5}}
		}
	}
	remap := func(x float64) float64 {
		for k := 1; k < len(knots); k++ {
			if x <= knots[k][0] || k == len(knots)-1 {
				a, b := knots[k-1], knots[k]
				return a[1] + (x-a[0])*(b[1]-a[1])/(b[0]-a[0])
			}
		}
		return x
	}
	uv := make([][2]float64, len(pos))
	for v, tv := range ts {
		tau := remap(tv)
		switch {
		case tv == 0:
			uv[v] = [2]float64{0.5, 1}
		case tv == 0.5:
			uv[v] = [2]float64{0.5, 0}
		case tau <= 0.125:
			uv[v] = [2]float64{0.5 + 4*tau, 1}
		case tau <= 0.375:
			uv[v] = [2]float64{1, 1 - 4*(tau-0.125)}
		default:
			uv[v] = [2]float64{1 - 4*(tau-0.375), 0}
		}
	}
	for _, v := range seq {
		if side[v] < 0 {
			p := uv[pairs[v]]
			uv[v] = [2]float64{1 - p[0], p[1]}
		}
	}
	return uv, nil
}

// flatCountFlipped returns the majority orientation of the flattened
// triangles (+1 counter-clockwise, -1 clockwise) and the number of
// triangles that are degenerate or against it.
func flatCountFlipped(uv [][2]float64, tris [][3]int32) (orientation, flipped int) {
	pos, neg := 0, 0
	for _, t := range tris {
		switch a := flatArea2(uv[t[0]], uv[t[1]], uv[t[2]]); {
		case a > 0:
			pos++
		case a < 0:
			neg++
		}
	}
	if neg > pos {
		return -1, len(tris) - neg
	}
	return 1, len(tris) - pos
}

// flatArea2 returns twice the signed area of the 2D triangle abc (positive
// when counter-clockwise).
func flatArea2(a, b, c [2]float64) float64 {
	return (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
}
