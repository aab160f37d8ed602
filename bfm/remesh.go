package bfm

import (
	"fmt"
	"math"
	"strconv"

	"github.com/stn3d/stn3d/internal/workpool"
)

// GridOptions controls BuildGrid.
type GridOptions struct {
	// Rows and Cols are the geometry image size (the reference uses 112 x 112).
	Rows, Cols int
	// UseModelUV re-meshes over the model's own UVs instead of the Tutte
	// embedding (same as Flatten.UseModelUV).
	UseModelUV bool
	// Flatten controls the Tutte embedding.
	Flatten FlattenOptions
}

// maxGridSide bounds Rows and Cols.
const maxGridSide = 8192

// BuildGrid re-meshes m as a geometry image (Bas et al. 2017, Sec. 3.1):
// the mesh is flattened (Flatten), grid vertex k = row*Cols + col is placed
// at u = col/(Cols-1), v = 1 - row/(Rows-1), located in the flattened
// triangles through a uniform bucket grid, and the mean, every basis vector
// and the albedo are interpolated there with the barycentric coordinates
// (l0, l1, l2) of the containing triangle: X_k = l0 X_a + l1 X_b + l2 X_c.
//
// Grid points outside every triangle (model UVs need not fill the square)
// are marked false in Valid and take the average of their nearest valid
// texels (Euclidean distance in grid steps, all ties averaged, so the fill
// is mirror-symmetric). A point counts as inside only if its mirror
// (row, Cols-1-col) is inside too, so Valid is symmetric under
// col <-> Cols-1-col. Valid is nil when every texel is inside.
//
// Landmark vertices map to the grid vertex nearest to their UV (the nearest
// valid one when that texel is invalid). Source is
// m.Source; Params records the model, the method and the flattening
// figures.
func BuildGrid(m *Model, opt GridOptions) (*GridModel, error) {
	if opt.Rows < 2 || opt.Cols < 2 || opt.Rows > maxGridSide || opt.Cols > maxGridSide {
		return nil, fmt.Errorf("bfm: build grid: size %d x %d, want rows and cols in [2, %d]", opt.Rows, opt.Cols, maxGridSide)
	}
	if err := flatCheckMesh(m); err != nil {
		return nil, fmt.Errorf("bfm: build grid: %w", err)
	}
	nv := m.NumVertices()
	for d, b := range m.Basis {
		if len(b) != 3*nv {
			return nil, fmt.Errorf("bfm: build grid from %q: basis vector %d has %d values, want %d", m.Name, d, len(b), 3*nv)
		}
	}
	if len(m.Components) != 0 && len(m.Components) != len(m.Basis) {
		return nil, fmt.Errorf("bfm: build grid from %q: %d components described for %d basis vectors", m.Name, len(m.Components), len(m.Basis))
	}
	if len(m.Albedo) != 0 && len(m.Albedo) != nv {
		return nil, fmt.Errorf("bfm: build grid from %q: %d albedo colours for %d vertices", m.Name, len(m.Albedo), nv)
	}
	fo := opt.Flatten
	fo.UseModelUV = fo.UseModelUV || opt.UseModelUV
	uv, info, err := FlattenDetailed(m, fo)
	if err != nil {
		return nil, fmt.Errorf("bfm: build grid: %w", err)
	}

	rows, cols := opt.Rows, opt.Cols
	n := rows * cols
	loc := gridLocate(uv, m.Triangles, rows, cols)
	valid := make([]bool, n)
	nValid := 0
	for k := range valid {
		r, c := k/cols, k%cols
		valid[k] = loc[k].tri >= 0 && loc[r*cols+cols-1-c].tri >= 0
		if valid[k] {
			nValid++
		}
	}
	if nValid == 0 {
		return nil, fmt.Errorf("bfm: build grid from %q: no grid point lies inside the flattened mesh", m.Name)
	}
	fill := gridNearestValid(valid, rows, cols)

	g := &GridModel{
		Rows: rows, Cols: cols, Units: m.Units,
		Mean:       make([]float64, 3*n),
		Basis:      make([][]float64, len(m.Basis)),
		Components: append([]Component(nil), m.Components...),
		Source:     m.Source,
	}
	// Interpolate the mean and the basis vectors, fields spread over workers.
	fields := make([][2][]float64, 0, 1+len(m.Basis)) // (source, destination)
	fields = append(fields, [2][]float64{m.Mean, g.Mean})
	for d, b := range m.Basis {
		g.Basis[d] = make([]float64, 3*n)
		fields = append(fields, [2][]float64{b, g.Basis[d]})
	}
	// Each field costs about 9 operations per grid vertex (3 coordinates x
	// 3 barycentric terms).
	workpool.For(len(fields), 9*n, func(f int) {
		gridInterp3(fields[f][0], fields[f][1], m.Triangles, loc, valid, fill)
	})
	if len(m.Albedo) > 0 {
		src := make([]float64, 3*nv)
		for i, c := range m.Albedo {
			src[3*i], src[3*i+1], src[3*i+2] = c[0], c[1], c[2]
		}
		dst := make([]float64, 3*n)
		gridInterp3(src, dst, m.Triangles, loc, valid, fill)
		g.Albedo = make([][3]float64, n)
		for k := range g.Albedo {
			g.Albedo[k] = [3]float64{dst[3*k], dst[3*k+1], dst[3*k+2]}
		}
	}

	if nValid < n {
		g.Valid = valid
	}
	if len(m.Landmarks) > 0 {
		g.Landmarks = make(map[string][]int, len(m.Landmarks))
		for scheme, idx := range m.Landmarks {
			out := make([]int, len(idx))
			for l, v := range idx {
				if v < 0 {
					out[l] = -1
					continue
				}
				if v >= nv {
					return nil, fmt.Errorf("bfm: build grid from %q: landmark %s[%d] = vertex %d, outside [0, %d)", m.Name, scheme, l, v, nv)
				}
				out[l] = gridNearestTexel(uv[v], rows, cols, g.Valid)
			}
			g.Landmarks[scheme] = out
		}
	}

	g.Params = map[string]string{
		"model":            m.Name,
		"format":           m.Format,
		"method":           info.Method,
		"rows":             strconv.Itoa(rows),
		"cols":             strconv.Itoa(cols),
		"vertices":         strconv.Itoa(nv),
		"triangles":        strconv.Itoa(len(m.Triangles)),
		"components":       strconv.Itoa(len(m.Basis)),
		"invalid_texels":   strconv.Itoa(n - nValid),
		"flipped":          strconv.Itoa(info.Flipped),
		"midline_vertices": strconv.Itoa(info.MidlineVertices),
	}
	if info.Pairs != nil {
		g.Params["asymmetry_rms"] = strconv.FormatFloat(info.Asymmetry, 'g', 6, 64)
	}
	if info.Method != "model-uv" {
		g.Params["holes_filled"] = strconv.Itoa(info.HolesFilled)
		g.Params["clamped_weights"] = strconv.Itoa(info.ClampedWeights)
		g.Params["min_weight"] = strconv.FormatFloat(info.MinWeight, 'g', -1, 64)
		g.Params["cg_iterations"] = strconv.Itoa(info.IterationsU) + "," + strconv.Itoa(info.IterationsV)
	}
	return g, nil
}

// gridNearestTexel returns the grid vertex nearest to p = (u, v) (grid
// coordinates col = u (Cols-1), row = (1-v)(Rows-1)), or, when that texel
// is invalid (a landmark on the rim of a hole), the nearest valid one.
func gridNearestTexel(p [2]float64, rows, cols int, valid []bool) int {
	x, y := p[0]*float64(cols-1), (1-p[1])*float64(rows-1)
	c := min(max(int(math.Round(x)), 0), cols-1)
	r := min(max(int(math.Round(y)), 0), rows-1)
	k := r*cols + c
	if valid == nil || valid[k] {
		return k
	}
	best, bd := k, math.Inf(1)
	for q, ok := range valid {
		if !ok {
			continue
		}
		dx, dy := float64(q%cols)-x, float64(q/cols)-y
		if d := dx*dx + dy*dy; d < bd {
			best, bd = q, d
		}
	}
	return best
}

// gridLoc is where a grid point fell: a triangle (-1 if none) and its
// barycentric coordinates.
type gridLoc struct {
	tri int32
	l   [3]float64
}

// gridLocate finds, for every grid point, the flattened triangle that
// contains it. Triangles are binned by their UV bounding boxes into a
// uniform bucket grid of about two triangles per bucket; a point is tested
// against its bucket only. A point inside several triangles (on shared
// edges, or where the map overlaps) takes the one where its smallest
// barycentric coordinate is largest; points outside every triangle by more
// than 1e-9 in barycentric terms are not located.
func gridLocate(uv [][2]float64, tris [][3]int32, rows, cols int) []gridLoc {
	nb := int(math.Ceil(math.Sqrt(float64(len(tris)) / 2)))
	nb = min(max(nb, 1), 2048)
	bucket := func(x float64) int { return min(max(int(x*float64(nb)), 0), nb-1) }
	// Two passes: count, then fill (CSR layout, no per-bucket slices).
	ptr := make([]int32, nb*nb+1)
	box := func(t [3]int32) (int, int, int, int) {
		a, b, c := uv[t[0]], uv[t[1]], uv[t[2]]
		return bucket(min(a[0], b[0], c[0])), bucket(max(a[0], b[0], c[0])),
			bucket(min(a[1], b[1], c[1])), bucket(max(a[1], b[1], c[1]))
	}
	for _, t := range tris {
		x0, x1, y0, y1 := box(t)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				ptr[y*nb+x+1]++
			}
		}
	}
	for i := 0; i < nb*nb; i++ {
		ptr[i+1] += ptr[i]
	}
	items := make([]int32, ptr[nb*nb])
	next := append([]int32(nil), ptr[:nb*nb]...)
	for ti, t := range tris {
		x0, x1, y0, y1 := box(t)
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				items[next[y*nb+x]] = int32(ti)
				next[y*nb+x]++
			}
		}
	}
	const eps = 1e-9
	loc := make([]gridLoc, rows*cols)
	for k := range loc {
		r, c := k/cols, k%cols
		p := [2]float64{float64(c) / float64(cols-1), 1 - float64(r)/float64(rows-1)}
		bi := bucket(p[1])*nb + bucket(p[0])
		best := gridLoc{tri: -1}
		bestMin := math.Inf(-1)
		for _, ti := range items[ptr[bi]:ptr[bi+1]] {
			t := tris[ti]
			a, b, cc := uv[t[0]], uv[t[1]], uv[t[2]]
			d := flatArea2(a, b, cc)
			if d == 0 {
				continue
			}
			l1 := flatArea2(a, p, cc) / d
			l2 := flatArea2(a, b, p) / d
			l0 := 1 - l1 - l2
			if mn := min(l0, l1, l2); mn >= -eps && mn > bestMin {
				bestMin = mn
				best = gridLoc{tri: ti, l: [3]float64{l0, l1, l2}}
			}
		}
		loc[k] = best
	}
	return loc
}

// gridFill lists, for every invalid texel, the valid texels it copies
// (averaged): fill.src[fill.ptr[k]:fill.ptr[k+1]].
type gridFill struct {
	ptr []int32
	src []int32
}

// gridNearestValid finds, for every invalid texel, all valid texels at the
// smallest Euclidean grid distance. The nearest valid texel always has an
// invalid 4-neighbour (a step towards the query would otherwise be a closer
// valid texel), so only that frontier is searched.
func gridNearestValid(valid []bool, rows, cols int) gridFill {
	n := rows * cols
	var frontier []int32
	for k, ok := range valid {
		if !ok {
			continue
		}
		r, c := k/cols, k%cols
		if (r > 0 && !valid[k-cols]) || (r < rows-1 && !valid[k+cols]) ||
			(c > 0 && !valid[k-1]) || (c < cols-1 && !valid[k+1]) {
			frontier = append(frontier, int32(k))
		}
	}
	f := gridFill{ptr: make([]int32, n+1)}
	for k, ok := range valid {
		f.ptr[k+1] = f.ptr[k]
		if ok {
			continue
		}
		r, c := k/cols, k%cols
		best := math.MaxInt
		start := len(f.src)
		for _, q := range frontier {
			dr, dc := int(q)/cols-r, int(q)%cols-c
			d := dr*dr + dc*dc
			if d < best {
				best = d
				f.src = f.src[:start]
			}
			if d == best {
				f.src = append(f.src, q)
			}
		}
		f.ptr[k+1] = int32(len(f.src))
	}
	return f
}

// gridInterp3 interpolates a 3-values-per-vertex field onto the grid and
// fills invalid texels from their nearest valid ones.
func gridInterp3(src, dst []float64, tris [][3]int32, loc []gridLoc, valid []bool, fill gridFill) {
	for k, lc := range loc {
		if !valid[k] {
			continue
		}
		t := tris[lc.tri]
		a, b, c := 3*int(t[0]), 3*int(t[1]), 3*int(t[2])
		for j := 0; j < 3; j++ {
			dst[3*k+j] = lc.l[0]*src[a+j] + lc.l[1]*src[b+j] + lc.l[2]*src[c+j]
		}
	}
	for k := range loc {
		lo, hi := fill.ptr[k], fill.ptr[k+1]
		if lo == hi {
			continue
		}
		var s [3]float64
		for _, q := range fill.src[lo:hi] {
			for j := 0; j < 3; j++ {
				s[j] += dst[3*int(q)+j]
			}
		}
		w := 1 / float64(hi-lo)
		for j := 0; j < 3; j++ {
			dst[3*k+j] = s[j] * w
		}
	}
}
