package bfm

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// gridSFM reads the Surrey Face Model from the shared data.
func gridSFM(t testing.TB) *Model {
	t.Helper()
	p := filepath.Join(readersShared(t), "data", "sfm", "sfm_shape_3448.bin")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("Surrey model %s absent: %v", p, err)
	}
	m, err := ReadEOS(p)
	if err != nil {
		t.Fatal(err)
	}
	mp := filepath.Join(filepath.Dir(p), "ibug_to_sfm.txt")
	mapping, err := ReadIBUGMapping(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := SetIBUGLandmarks(m, mapping, mp); err != nil {
		t.Fatal(err)
	}
	return m
}

// withGridFields adds D smooth basis vectors and an albedo to a generated
// mesh. Basis 0 is mirror-symmetric: b(-x, y, z) = F b(x, y, z).
func withGridFields(m *Model, d int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	nv := m.NumVertices()
	m.Basis = make([][]float64, d)
	m.Components = make([]Component, d)
	for k := 0; k < d; k++ {
		a, b, c := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		v := make([]float64, 3*nv)
		for i := 0; i < nv; i++ {
			x, y, z := m.Mean[3*i], m.Mean[3*i+1], m.Mean[3*i+2]
			if k == 0 {
				v[3*i], v[3*i+1], v[3*i+2] = 0.1*x, math.Sin(y/20), 0.01*x*x
			} else {
				v[3*i], v[3*i+1], v[3*i+2] = a*math.Sin(x/30+y/50), b*z/10, c*math.Cos(x*y/900)
			}
		}
		m.Basis[k] = v
		m.Components[k] = Component{Name: "c" + string(rune('0'+k%10)), Kind: Identity}
	}
	m.Albedo = make([][3]float64, nv)
	for i := range m.Albedo {
		m.Albedo[i] = [3]float64{0.5 + m.Mean[3*i]/200, 0.5 + m.Mean[3*i+1]/200, 0.3}
	}
}

// gridCheckSamples checks sampled valid texels against the source surface:
// each texel's UV is located by a linear scan over the flattened triangles
// (independent of the bucket grid) and the barycentric point of the mean,
// basis 0 and albedo must equal the texel's values.
func gridCheckSamples(t *testing.T, m *Model, uv [][2]float64, g *GridModel, step int) {
	t.Helper()
	checked := 0
	for k := 0; k < g.N(); k += step {
		if g.Valid != nil && !g.Valid[k] {
			continue
		}
		r, c := k/g.Cols, k%g.Cols
		p := [2]float64{float64(c) / float64(g.Cols-1), 1 - float64(r)/float64(g.Rows-1)}
		found := false
		for _, tri := range m.Triangles {
			a, b, cc := uv[tri[0]], uv[tri[1]], uv[tri[2]]
			d := flatArea2(a, b, cc)
			l1, l2 := flatArea2(a, p, cc)/d, flatArea2(a, b, p)/d
			l := [3]float64{1 - l1 - l2, l1, l2}
			if min(l[0], l[1], l[2]) < -1e-9 {
				continue
			}
			found = true
			for j := 0; j < 3; j++ {
				want := 0.0
				wb := 0.0
				for q := 0; q < 3; q++ {
					want += l[q] * m.Mean[3*int(tri[q])+j]
					if len(m.Basis) > 0 {
						wb += l[q] * m.Basis[0][3*int(tri[q])+j]
					}
				}
				if d := math.Abs(g.Mean[3*k+j] - want); d > 1e-7 {
					t.Fatalf("texel (%d,%d) mean[%d] = %v, source surface %v (diff %g)", r, c, j, g.Mean[3*k+j], want, d)
				}
				if len(m.Basis) > 0 && math.Abs(g.Basis[0][3*k+j]-wb) > 1e-7 {
					t.Fatalf("texel (%d,%d) basis0[%d] = %v, source %v", r, c, j, g.Basis[0][3*k+j], wb)
				}
				if len(m.Albedo) > 0 {
					wa := l[0]*m.Albedo[tri[0]][j] + l[1]*m.Albedo[tri[1]][j] + l[2]*m.Albedo[tri[2]][j]
					if math.Abs(g.Albedo[k][j]-wa) > 1e-9 {
						t.Fatalf("texel (%d,%d) albedo[%d] = %v, source %v", r, c, j, g.Albedo[k][j], wa)
					}
				}
			}
			break
		}
		if !found {
			t.Fatalf("valid texel (%d,%d) at uv %v lies in no flattened triangle", r, c, p)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d texels checked", checked)
	}
}

// gridCheckSmooth asserts that neighbouring texels are never further apart
// than maxStep (model units).
func gridCheckSmooth(t *testing.T, g *GridModel, maxStep float64) {
	t.Helper()
	worst := 0.0
	for k := 0; k < g.N(); k++ {
		r, c := k/g.Cols, k%g.Cols
		for _, q := range []int{k + 1, k + g.Cols} {
			if (q == k+1 && c == g.Cols-1) || (q == k+g.Cols && r == g.Rows-1) {
				continue
			}
			d := math.Sqrt(gridSq(g.Mean[3*k]-g.Mean[3*q]) + gridSq(g.Mean[3*k+1]-g.Mean[3*q+1]) + gridSq(g.Mean[3*k+2]-g.Mean[3*q+2]))
			worst = max(worst, d)
		}
	}
	if !(worst <= maxStep) {
		t.Errorf("largest step between neighbouring texels %.3g, want <= %.3g", worst, maxStep)
	}
	t.Logf("largest step between neighbouring texels %.3g (bound %.3g)", worst, maxStep)
}

// gridInPolygon reports whether p is inside the polygon (even-odd rule) and
// whether it is within 1e-9 of an edge.
func gridInPolygon(p [2]float64, poly [][2]float64) (in, edge bool) {
	for i := range poly {
		a, b := poly[i], poly[(i+1)%len(poly)]
		ab := [2]float64{b[0] - a[0], b[1] - a[1]}
		tt := ((p[0]-a[0])*ab[0] + (p[1]-a[1])*ab[1]) / (ab[0]*ab[0] + ab[1]*ab[1])
		tt = min(max(tt, 0), 1)
		if math.Hypot(a[0]+tt*ab[0]-p[0], a[1]+tt*ab[1]-p[1]) < 1e-9 {
			edge = true
		}
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < a[0]+(p[1]-a[1])*ab[0]/ab[1] {
			in = !in
		}
	}
	return in, edge
}

func gridSq(x float64) float64 { return x * x }

// gridMirrorError returns the largest and RMS |X_k - F X_k'| over texels
// valid in both, F = diag(-1, 1, 1).
func gridMirrorError(g *GridModel, field []float64) (worst, rms float64) {
	n := 0
	for k := 0; k < g.N(); k++ {
		q := g.Mirror(k)
		d := gridSq(field[3*k]+field[3*q]) + gridSq(field[3*k+1]-field[3*q+1]) + gridSq(field[3*k+2]-field[3*q+2])
		worst = max(worst, math.Sqrt(d))
		rms += d
		n++
	}
	return worst, math.Sqrt(rms / float64(n))
}

func TestBuildGridGenerated(t *testing.T) {
	s := newSymMesh(10, 13, true, 1)
	withGridFields(s.m, 3, 2)
	g, err := BuildGrid(s.m, GridOptions{Rows: 41, Cols: 33})
	if err != nil {
		t.Fatal(err)
	}
	uv, err := Flatten(s.m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The mouth hole is no part of the surface: exactly the texels inside
	// its flattened outline are invalid (texels within 1e-9 of it are
	// skipped).
	r0 := -s.R / 2
	var hole [][2]float64
	for c := -2; c <= 2; c++ {
		hole = append(hole, uv[s.id(c, r0)])
	}
	for c := 2; c >= -2; c-- {
		hole = append(hole, uv[s.id(c, r0+1)])
	}
	nHole := 0
	for k := 0; k < g.N(); k++ {
		p := [2]float64{float64(k%g.Cols) / float64(g.Cols-1), 1 - float64(k/g.Cols)/float64(g.Rows-1)}
		in, edge := gridInPolygon(p, hole)
		if edge {
			continue
		}
		if in {
			nHole++
		}
		if valid := g.Valid == nil || g.Valid[k]; valid == in {
			t.Errorf("texel %d at uv %v: valid = %v, inside the mouth hole = %v", k, p, valid, in)
		}
	}
	if nHole == 0 || g.Params["invalid_texels"] != strconv.Itoa(nHole) {
		t.Errorf("%d texels inside the hole, Params invalid_texels = %s", nHole, g.Params["invalid_texels"])
	}
	gNoHole, err := BuildGrid(newSymMesh(10, 13, false, 1).m, GridOptions{Rows: 41, Cols: 33})
	if err != nil {
		t.Fatal(err)
	}
	if gNoHole.Valid != nil {
		t.Errorf("Tutte grid of a disc has %s invalid texels, want Valid == nil", gNoHole.Params["invalid_texels"])
	}
	if len(g.Mean) != 3*41*33 || len(g.Basis) != 3 || len(g.Basis[2]) != 3*41*33 || len(g.Albedo) != 41*33 || len(g.Components) != 3 {
		t.Fatalf("grid sizes: mean %d, basis %d, albedo %d", len(g.Mean), len(g.Basis), len(g.Albedo))
	}
	gridCheckSamples(t, s.m, uv, g, 1)
	maxEdge := 0.0
	for _, tri := range s.m.Triangles {
		for k := 0; k < 3; k++ {
			a, b := 3*int(tri[k]), 3*int(tri[(k+1)%3])
			maxEdge = max(maxEdge, math.Sqrt(gridSq(s.m.Mean[a]-s.m.Mean[b])+gridSq(s.m.Mean[a+1]-s.m.Mean[b+1])+gridSq(s.m.Mean[a+2]-s.m.Mean[b+2])))
		}
	}
	gridCheckSmooth(t, g, maxEdge)
	if w, _ := gridMirrorError(g, g.Mean); w > 1e-9 {
		t.Errorf("mean of a symmetric mesh: mirror texels differ by %g, want ~0", w)
	}
	if w, _ := gridMirrorError(g, g.Basis[0]); w > 1e-9 {
		t.Errorf("symmetric basis vector: mirror texels differ by %g, want ~0", w)
	}
	// Landmarks: the centre vertex (0,0) is on the mid-line, so it maps to
	// the middle column; the others land within a texel step of their vertex.
	lm := g.Landmarks[SchemeAFLW21]
	if len(lm) != 4 || lm[3] != -1 || lm[2]%g.Cols != (g.Cols-1)/2 {
		t.Fatalf("landmarks %v, want 4 with the last missing and the third in column %d", lm, (g.Cols-1)/2)
	}
	for l, v := range s.m.Landmarks[SchemeAFLW21][:3] {
		k := lm[l]
		d := math.Sqrt(gridSq(g.Mean[3*k]-s.m.Mean[3*v]) + gridSq(g.Mean[3*k+1]-s.m.Mean[3*v+1]) + gridSq(g.Mean[3*k+2]-s.m.Mean[3*v+2]))
		if d > maxEdge {
			t.Errorf("landmark %d: texel %d is %.3g from vertex %d, want < %.3g", l, k, d, v, maxEdge)
		}
	}
	if lm[0] != g.Mirror(lm[1]) {
		t.Errorf("mirror landmarks map to texels %d and %d, want mirrors", lm[0], lm[1])
	}
	for key, want := range map[string]string{"method": "tutte-cotangent-symmetric", "rows": "41", "cols": "33", "holes_filled": "1", "format": "generated"} {
		if g.Params[key] != want {
			t.Errorf("Params[%q] = %q, want %q", key, g.Params[key], want)
		}
	}
}

func TestBuildGridModelUVInvalid(t *testing.T) {
	s := newSymMesh(6, 8, false, 4)
	withGridFields(s.m, 2, 3)
	s.m.UV = make([][2]float64, s.m.NumVertices())
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			s.m.UV[s.id(c, r)] = [2]float64{0.5 + 0.3*float64(c)/float64(s.C), 0.5 + 0.4*float64(r)/float64(s.R)}
		}
	}
	g, err := BuildGrid(s.m, GridOptions{Rows: 30, Cols: 31, UseModelUV: true})
	if err != nil {
		t.Fatal(err)
	}
	if g.Valid == nil {
		t.Fatal("model UVs cover [0.2,0.8] x [0.1,0.9], want invalid texels")
	}
	for k := range g.Valid {
		r, c := k/g.Cols, k%g.Cols
		u, v := float64(c)/30, 1-float64(r)/29
		inside := u > 0.2+1e-9 && u < 0.8-1e-9 && v > 0.1+1e-9 && v < 0.9-1e-9
		outside := u < 0.2-1e-9 || u > 0.8+1e-9 || v < 0.1-1e-9 || v > 0.9+1e-9
		if (inside && !g.Valid[k]) || (outside && g.Valid[k]) {
			t.Errorf("texel (%d,%d) uv (%.3f,%.3f): valid = %v", r, c, u, v, g.Valid[k])
		}
		if g.Valid[k] != g.Valid[g.Mirror(k)] {
			t.Errorf("Valid not symmetric at (%d,%d)", r, c)
		}
	}
	gridCheckSamples(t, s.m, s.m.UV, g, 1)
	// Every invalid texel holds the average of its nearest valid texels,
	// found here by brute force over all valid texels.
	for k, ok := range g.Valid {
		if ok {
			continue
		}
		r, c := k/g.Cols, k%g.Cols
		best := math.MaxInt
		var want [3]float64
		cnt := 0
		for q, okq := range g.Valid {
			if !okq {
				continue
			}
			d := gridSq(float64(q/g.Cols-r)) + gridSq(float64(q%g.Cols-c))
			if int(d) < best {
				best, want, cnt = int(d), [3]float64{}, 0
			}
			if int(d) == best {
				for j := range want {
					want[j] += g.Mean[3*q+j]
				}
				cnt++
			}
		}
		for j := range want {
			if math.Abs(g.Mean[3*k+j]-want[j]/float64(cnt)) > 1e-9 {
				t.Fatalf("invalid texel (%d,%d) mean %v, want average of %d nearest valid texels %v", r, c, g.Mean[3*k:3*k+3], cnt, want[j]/float64(cnt))
			}
		}
	}
	if w, _ := gridMirrorError(g, g.Mean); w > 1e-9 {
		t.Errorf("mirror texels differ by %g, want ~0 (filled texels included)", w)
	}
	if g.Params["method"] != "model-uv" {
		t.Errorf("method %q, want model-uv", g.Params["method"])
	}
}

func TestBuildGridErrors(t *testing.T) {
	s := newSymMesh(3, 3, false, 1)
	if _, err := BuildGrid(s.m, GridOptions{Rows: 1, Cols: 10}); err == nil || !strings.Contains(err.Error(), "size 1 x 10") {
		t.Errorf("rows 1: err = %v", err)
	}
	s.m.Basis = [][]float64{make([]float64, 5)}
	if _, err := BuildGrid(s.m, GridOptions{Rows: 8, Cols: 8}); err == nil || !strings.Contains(err.Error(), "basis vector 0 has 5 values, want 147") {
		t.Errorf("short basis: err = %v", err)
	}
	s.m.Basis = nil
	s.m.Landmarks = map[string][]int{SchemeAFLW21: {1000}}
	if _, err := BuildGrid(s.m, GridOptions{Rows: 8, Cols: 8}); err == nil || !strings.Contains(err.Error(), "landmark aflw21[0] = vertex 1000") {
		t.Errorf("bad landmark: err = %v", err)
	}
}

// TestFlattenSFM flattens the Surrey model with the Tutte method (not its
// UVs): no flipped triangles, exact mirror pairs, boundary on the square.
func TestFlattenSFM(t *testing.T) {
	m := gridSFM(t)
	uv, info, err := FlattenDetailed(m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SFM Tutte: %d mid-line vertices, %d holes filled, %d of the weights clamped, CG %d/%d iterations, asymmetry %.3f mm",
		info.MidlineVertices, info.HolesFilled, info.ClampedWeights, info.IterationsU, info.IterationsV, info.Asymmetry)
	flatCheckEmbedding(t, m, uv)
	if info.HolesFilled != 1 {
		t.Errorf("holes filled %d, want 1 (the mouth)", info.HolesFilled)
	}
	onSquare := 0
	for i, j := range info.Pairs {
		if math.Abs(uv[i][0]-(1-uv[j][0])) > 1e-9 || math.Abs(uv[i][1]-uv[j][1]) > 1e-9 {
			t.Fatalf("vertex %d at %v, mirror %d at %v, want (1-u, v)", i, uv[i], j, uv[j])
		}
		if min(uv[i][0], 1-uv[i][0], uv[i][1], 1-uv[i][1]) < 1e-12 {
			onSquare++
		}
	}
	if onSquare != info.BoundaryVertices {
		t.Errorf("%d vertices on the square's border, want the %d outer boundary vertices", onSquare, info.BoundaryVertices)
	}
	// v = 1 at the top: the highest vertex's v exceeds the lowest's.
	top, bot := 0, 0
	for i := 0; i < m.NumVertices(); i++ {
		if m.Mean[3*i+1] > m.Mean[3*top+1] {
			top = i
		}
		if m.Mean[3*i+1] < m.Mean[3*bot+1] {
			bot = i
		}
	}
	if !(uv[top][1] > 0.9 && uv[bot][1] < 0.1) {
		t.Errorf("top vertex v = %v, bottom vertex v = %v, want near 1 and 0", uv[top][1], uv[bot][1])
	}
}

// TestBuildGridSFM re-meshes the Surrey model at 112 x 112 with the Tutte
// method and with its own UVs: texels match the source surface, and the
// geometry image is symmetric to within the model's own asymmetry (a texel
// and its mirror mix the same barycentric weights of mirrored vertices, so
// their mirror error can never exceed the largest vertex-pair error).
func TestBuildGridSFM(t *testing.T) {
	m := gridSFM(t)
	m.Basis, m.Components = m.Basis[:10], m.Components[:10]
	pairs, err := MirrorPairs(m)
	if err != nil {
		t.Fatal(err)
	}
	asym, err := Asymmetry(m, pairs)
	if err != nil {
		t.Fatal(err)
	}
	worstVertex := 0.0
	for i, j := range pairs {
		worstVertex = max(worstVertex, math.Sqrt(gridSq(m.Mean[3*i]+m.Mean[3*j])+gridSq(m.Mean[3*i+1]-m.Mean[3*j+1])+gridSq(m.Mean[3*i+2]-m.Mean[3*j+2])))
	}
	for _, useUV := range []bool{false, true} {
		g, err := BuildGrid(m, GridOptions{Rows: 112, Cols: 112, UseModelUV: useUV})
		if err != nil {
			t.Fatal(err)
		}
		uv, err := Flatten(m, FlattenOptions{UseModelUV: useUV})
		if err != nil {
			t.Fatal(err)
		}
		gridCheckSamples(t, m, uv, g, 37)
		gridCheckSmooth(t, g, 15)
		worst, rms := gridMirrorError(g, g.Mean)
		t.Logf("model UV %v: %s invalid texels; texel mirror error max %.3f mm, RMS %.3f mm; vertex asymmetry max %.3f mm, RMS %.3f mm",
			useUV, g.Params["invalid_texels"], worst, rms, worstVertex, asym)
		if worst > worstVertex+1e-6 || rms > 2*asym {
			t.Errorf("model UV %v: geometry image mirror error max %.3f / RMS %.3f mm exceeds the model's own asymmetry (max %.3f, RMS %.3f)",
				useUV, worst, rms, worstVertex, asym)
		}
		// Landmarks land on valid texels near their vertices.
		worstLm, nLm := 0.0, 0
		for l, v := range m.Landmarks[SchemeIBUG68] {
			if v < 0 {
				continue
			}
			k := g.Landmarks[SchemeIBUG68][l]
			if g.Valid != nil && !g.Valid[k] {
				t.Errorf("model UV %v: iBUG point %d on invalid texel %d", useUV, l+1, k)
			}
			worstLm = max(worstLm, math.Sqrt(gridSq(g.Mean[3*k]-m.Mean[3*v])+gridSq(g.Mean[3*k+1]-m.Mean[3*v+1])+gridSq(g.Mean[3*k+2]-m.Mean[3*v+2])))
			nLm++
		}
		t.Logf("model UV %v: %d landmarks, largest texel-to-vertex distance %.2f mm", useUV, nLm, worstLm)
		if nLm < 40 || worstLm > 5 {
			t.Errorf("model UV %v: %d landmarks, largest texel-to-vertex distance %.2f mm, want <= 5", useUV, nLm, worstLm)
		}
		// Tutte: only the mouth is invalid; model UVs leave the corners empty.
		if inv, _ := strconv.Atoi(g.Params["invalid_texels"]); g.Valid == nil || (!useUV && inv > 200) || (useUV && inv < 1000) {
			t.Errorf("model UV %v: %d invalid texels", useUV, inv)
		}
		for k := range g.Valid {
			if g.Valid[k] != g.Valid[g.Mirror(k)] {
				t.Fatalf("Valid not symmetric at texel %d", k)
			}
		}
	}
}

func BenchmarkBuildGrid112(b *testing.B) {
	s := newSymMesh(115, 115, true, 1)
	withGridFields(s.m, 10, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := BuildGrid(s.m, GridOptions{Rows: 112, Cols: 112}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildGrid112ModelUV times the re-meshing alone (no Tutte solve):
// the generated mesh's grid coordinates serve as its UVs.
func BenchmarkBuildGrid112ModelUV(b *testing.B) {
	s := newSymMesh(115, 115, true, 1)
	withGridFields(s.m, 10, 1)
	s.m.UV = make([][2]float64, s.m.NumVertices())
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			s.m.UV[s.id(c, r)] = [2]float64{0.5 + 0.5*float64(c)/float64(s.C), 0.5 + 0.5*float64(r)/float64(s.R)}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := BuildGrid(s.m, GridOptions{Rows: 112, Cols: 112, UseModelUV: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildGridSFM112 re-meshes the Surrey model (3,448 vertices, 10
// components) at 112 x 112 with the Tutte flattening.
func BenchmarkBuildGridSFM112(b *testing.B) {
	m := gridSFM(b)
	m.Basis, m.Components = m.Basis[:10], m.Components[:10]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := BuildGrid(m, GridOptions{Rows: 112, Cols: 112}); err != nil {
			b.Fatal(err)
		}
	}
}
