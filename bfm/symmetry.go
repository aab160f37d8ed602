package bfm

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// MirrorPairs returns pair[i], the vertex that mirrors vertex i about the
// plane x = 0 (pair[i] == i for vertices on the mid-line). The map is an
// involution: pair[pair[i]] == i.
//
// It first matches every vertex with the nearest vertex to its reflection
// (-x, y, z), within half the median edge length, and accepts the result if
// the matches are mutual. Otherwise, when the model has UVs, it matches each
// UV (u, v) with (1-u, v) (MirrorPairsUV with tolerance 1e-6). The Surrey
// model needs the second route: its mean face is asymmetric by about half a
// millimetre RMS, enough to break mutual nearest matches near the mid-line.
func MirrorPairs(m *Model) ([]int, error) {
	pairs, gerr := MirrorPairsGeometry(m, 0)
	if gerr == nil {
		return pairs, nil
	}
	if len(m.UV) == 0 {
		return nil, gerr
	}
	pairs, uerr := MirrorPairsUV(m, 1e-6)
	if uerr != nil {
		return nil, fmt.Errorf("%w; %w", gerr, uerr)
	}
	return pairs, nil
}

// MirrorPairsGeometry matches every vertex with the nearest vertex to its
// reflection (-x, y, z) of the mean shape, within tol model units
// (tol <= 0: half the median edge length). It fails when a vertex has no
// partner within tol or the matches are not mutual.
func MirrorPairsGeometry(m *Model, tol float64) ([]int, error) {
	v := m.NumVertices()
	if v == 0 || len(m.Mean) != 3*v {
		return nil, fmt.Errorf("bfm: mirror pairs of %q: mean has %d values, want 3 per vertex (> 0)", m.Name, len(m.Mean))
	}
	if tol <= 0 {
		med, err := medianEdgeLength(m)
		if err != nil {
			return nil, err
		}
		tol = 0.5 * med
	}
	pts := make([][3]float64, v)
	for i := range pts {
		pts[i] = [3]float64{m.Mean[3*i], m.Mean[3*i+1], m.Mean[3*i+2]}
	}
	h := newSymHash(pts, tol)
	pairs := make([]int, v)
	for i, p := range pts {
		j, d := h.nearest([3]float64{-p[0], p[1], p[2]})
		if j < 0 || d > tol {
			return nil, fmt.Errorf("bfm: mirror pairs of %q by geometry: vertex %d at (%.4g, %.4g, %.4g) has no mirrored vertex within %.3g %s",
				m.Name, i, p[0], p[1], p[2], tol, m.Units)
		}
		pairs[i] = j
	}
	if err := checkInvolution(pairs); err != nil {
		return nil, fmt.Errorf("bfm: mirror pairs of %q by geometry (tolerance %.3g %s): %w", m.Name, tol, m.Units, err)
	}
	return pairs, nil
}

// MirrorPairsUV matches every vertex's UV (u, v) with the vertex whose UV is
// nearest to (1-u, v), within tol, for models whose UV map is symmetric.
func MirrorPairsUV(m *Model, tol float64) ([]int, error) {
	v := m.NumVertices()
	if len(m.UV) != v || v == 0 {
		return nil, fmt.Errorf("bfm: mirror pairs of %q by UV: %d UVs for %d vertices", m.Name, len(m.UV), v)
	}
	if tol <= 0 {
		return nil, fmt.Errorf("bfm: mirror pairs of %q by UV: tolerance %v, want > 0", m.Name, tol)
	}
	pts := make([][3]float64, v)
	for i, uv := range m.UV {
		pts[i] = [3]float64{uv[0], uv[1], 0}
	}
	h := newSymHash(pts, tol)
	pairs := make([]int, v)
	for i, p := range pts {
		j, d := h.nearest([3]float64{1 - p[0], p[1], 0})
		if j < 0 || d > tol {
			return nil, fmt.Errorf("bfm: mirror pairs of %q by UV: vertex %d at uv (%.6g, %.6g) has no vertex at (1-u, v) within %.3g",
				m.Name, i, p[0], p[1], tol)
		}
		pairs[i] = j
	}
	if err := checkInvolution(pairs); err != nil {
		return nil, fmt.Errorf("bfm: mirror pairs of %q by UV: %w", m.Name, err)
	}
	return pairs, nil
}

// Asymmetry returns the model's own asymmetry: the RMS over vertices of
// |x_i - F x_pair(i)| with F = diag(-1, 1, 1), in model units.
func Asymmetry(m *Model, pairs []int) (float64, error) {
	v := m.NumVertices()
	if len(pairs) != v {
		return 0, fmt.Errorf("bfm: asymmetry of %q: %d pairs for %d vertices", m.Name, len(pairs), v)
	}
	if v == 0 {
		return 0, nil
	}
	s := 0.0
	for i, j := range pairs {
		if j < 0 || j >= v {
			return 0, fmt.Errorf("bfm: asymmetry of %q: pair[%d] = %d outside [0, %d)", m.Name, i, j, v)
		}
		dx := m.Mean[3*i] + m.Mean[3*j]
		dy := m.Mean[3*i+1] - m.Mean[3*j+1]
		dz := m.Mean[3*i+2] - m.Mean[3*j+2]
		s += dx*dx + dy*dy + dz*dz
	}
	return math.Sqrt(s / float64(v)), nil
}

func checkInvolution(pairs []int) error {
	bad, first := 0, -1
	for i, j := range pairs {
		if pairs[j] != i {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d vertices are not mutual matches (vertex %d -> %d -> %d)",
			bad, first, pairs[first], pairs[pairs[first]])
	}
	return nil
}

func medianEdgeLength(m *Model) (float64, error) {
	if len(m.Triangles) == 0 {
		return 0, fmt.Errorf("bfm: model %q has no triangles", m.Name)
	}
	v := int32(m.NumVertices())
	l := make([]float64, 0, 3*len(m.Triangles))
	for t, tri := range m.Triangles {
		for k := 0; k < 3; k++ {
			a, b := tri[k], tri[(k+1)%3]
			if a < 0 || a >= v || b < 0 || b >= v {
				return 0, fmt.Errorf("bfm: model %q: triangle %d = %v has an index outside [0, %d)", m.Name, t, tri, v)
			}
			dx := m.Mean[3*a] - m.Mean[3*b]
			dy := m.Mean[3*a+1] - m.Mean[3*b+1]
			dz := m.Mean[3*a+2] - m.Mean[3*b+2]
			l = append(l, math.Sqrt(dx*dx+dy*dy+dz*dz))
		}
	}
	slices.Sort(l)
	med := l[len(l)/2]
	if !(med > 0) {
		return 0, errors.New("bfm: median edge length is zero")
	}
	return med, nil
}

// symHash is a uniform spatial hash of points with cell size h: a query
// looks at the 27 cells around it, so it finds every point within h. Points
// are sorted by cell; a map from the packed cell key gives each cell's run.
type symHash struct {
	h     float64
	pts   [][3]float64
	order []int32
	cells map[uint64][2]int32
}

func newSymHash(pts [][3]float64, h float64) *symHash {
	s := &symHash{h: h, pts: pts, order: make([]int32, len(pts))}
	keys := make([]uint64, len(pts))
	for i, p := range pts {
		keys[i] = s.key(s.cell(p))
		s.order[i] = int32(i)
	}
	slices.SortFunc(s.order, func(a, b int32) int {
		if keys[a] != keys[b] {
			if keys[a] < keys[b] {
				return -1
			}
			return 1
		}
		return int(a) - int(b)
	})
	s.cells = make(map[uint64][2]int32, len(pts)/2+1)
	for lo := 0; lo < len(s.order); {
		k := keys[s.order[lo]]
		hi := lo + 1
		for hi < len(s.order) && keys[s.order[hi]] == k {
			hi++
		}
		s.cells[k] = [2]int32{int32(lo), int32(hi)}
		lo = hi
	}
	return s
}

func (s *symHash) cell(p [3]float64) [3]int64 {
	return [3]int64{int64(math.Floor(p[0] / s.h)), int64(math.Floor(p[1] / s.h)), int64(math.Floor(p[2] / s.h))}
}

// key packs a cell into 64 bits, 21 bits per axis. Cells more than 2^20
// apart may share a key; that only adds candidates, whose distances are
// still checked.
func (s *symHash) key(c [3]int64) uint64 {
	const m = 1<<21 - 1
	return uint64(c[0]&m)<<42 | uint64(c[1]&m)<<21 | uint64(c[2]&m)
}

// nearest returns the index of the nearest point within the 27 cells around
// q and its distance (-1, +Inf when none). Ties go to the lower index.
func (s *symHash) nearest(q [3]float64) (int, float64) {
	c := s.cell(q)
	best, bd := -1, math.Inf(1)
	for dx := int64(-1); dx <= 1; dx++ {
		for dy := int64(-1); dy <= 1; dy++ {
			for dz := int64(-1); dz <= 1; dz++ {
				run, ok := s.cells[s.key([3]int64{c[0] + dx, c[1] + dy, c[2] + dz})]
				if !ok {
					continue
				}
				for _, i := range s.order[run[0]:run[1]] {
					p := s.pts[i]
					d := (p[0]-q[0])*(p[0]-q[0]) + (p[1]-q[1])*(p[1]-q[1]) + (p[2]-q[2])*(p[2]-q[2])
					if d < bd || (d == bd && int(i) < best) {
						best, bd = int(i), d
					}
				}
			}
		}
	}
	return best, math.Sqrt(bd)
}
