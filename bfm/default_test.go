package bfm

import (
	"math"
	"reflect"
	"testing"
)

func mustDefault(t testing.TB) *Model {
	t.Helper()
	m, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return m
}

func TestDefaultSizes(t *testing.T) {
	m := mustDefault(t)
	const v = 97 * 81
	if DefaultRows != 97 || DefaultCols != 81 {
		t.Fatalf("grid %dx%d, want 97x81", DefaultRows, DefaultCols)
	}
	if m.NumVertices() != v || len(m.UV) != v || len(m.Albedo) != v {
		t.Fatalf("vertices %d, UV %d, albedo %d; want %d", m.NumVertices(), len(m.UV), len(m.Albedo), v)
	}
	if got, want := len(m.Triangles), 2*96*80; got != want {
		t.Fatalf("%d triangles, want %d", got, want)
	}
	if m.Name != "default" || m.Format != "generated" || m.Source != "embedded" || m.Units != "mm" {
		t.Errorf("metadata %q %q %q %q", m.Name, m.Format, m.Source, m.Units)
	}
	for _, tri := range m.Triangles {
		for _, k := range tri {
			if k < 0 || int(k) >= v {
				t.Fatalf("triangle %v index out of range", tri)
			}
		}
	}
	for k, uv := range m.UV {
		r, c := k/DefaultCols, k%DefaultCols
		if uv[0] != float64(c)/80 || uv[1] != 1-float64(r)/96 {
			t.Fatalf("UV[%d] = %v, want (%d/80, 1-%d/96)", k, uv, c, r)
		}
	}
	// Face extent after the warp to photographs' proportions: 146.8 mm
	// wide (at the silhouette), 189.9 mm tall, from the bottom of the chin
	// at y = -80.6 to the top of the forehead at y = 109.3 (the base
	// surface was 140 x 194 mm; the photographs' chin is 11 mm nearer the
	// nose tip and their eyes 7 mm further above it).
	minX, maxX, minY, maxY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for k := 0; k < v; k++ {
		minX, maxX = math.Min(minX, m.Mean[3*k]), math.Max(maxX, m.Mean[3*k])
		minY, maxY = math.Min(minY, m.Mean[3*k+1]), math.Max(maxY, m.Mean[3*k+1])
	}
	if w := maxX - minX; math.Abs(w-146.78) > 0.01 {
		t.Errorf("face width %.3f mm, want 146.78", w)
	}
	if math.Abs(minY+80.60) > 0.01 || math.Abs(maxY-109.32) > 0.01 {
		t.Errorf("face y from %.3f to %.3f mm, want -80.60 to 109.32", minY, maxY)
	}
}

// wantComponents is the table documented on Default.
var wantComponents = []struct {
	name  string
	kind  ComponentKind
	sigma float64 // peak displacement (mm)
	rms   float64 // RMS displacement over the vertices (mm)
}{
	{"face_width", Identity, 5, 2.803}, {"face_length", Identity, 6, 3.276}, {"jaw_width", Identity, 4, 1.289},
	{"nose_length", Identity, 2.5, 0.261}, {"nose_width", Identity, 2.5, 0.322}, {"eye_depth", Identity, 3, 0.455},
	{"brow_height", Identity, 3, 0.534}, {"chin", Identity, 4, 0.828}, {"cheek_fullness", Identity, 4, 0.905},
	{"mouth_open", Expression, 4, 1.809}, {"smile", Expression, 3, 0.457}, {"brows_up", Expression, 4, 0.960},
	{"eyes_closed", Expression, 2.25, 0.314},
}

// TestDefaultComponentScale checks the unit-variance scaling: at weight 1 the
// most-moved vertex of component d moves exactly sigma_d mm.
func TestDefaultComponentScale(t *testing.T) {
	m := mustDefault(t)
	if len(m.Basis) != len(wantComponents) || len(m.Components) != len(wantComponents) {
		t.Fatalf("%d components (%d described), want %d", len(m.Basis), len(m.Components), len(wantComponents))
	}
	for d, w := range wantComponents {
		if m.Components[d] != (Component{Name: w.name, Kind: w.kind}) {
			t.Errorf("component %d = %+v, want %s/%s", d, m.Components[d], w.name, w.kind)
		}
		if len(m.Basis[d]) != len(m.Mean) {
			t.Fatalf("basis %d has %d values, want %d", d, len(m.Basis[d]), len(m.Mean))
		}
		peak, sum := 0.0, 0.0
		for k := 0; k < m.NumVertices(); k++ {
			b := m.Basis[d][3*k : 3*k+3]
			n2 := b[0]*b[0] + b[1]*b[1] + b[2]*b[2]
			peak = math.Max(peak, math.Sqrt(n2))
			sum += n2
		}
		if math.Abs(peak-w.sigma) > 1e-12 {
			t.Errorf("%s: peak displacement %.15g mm, want %g", w.name, peak, w.sigma)
		}
		if rms := math.Sqrt(sum / float64(m.NumVertices())); math.Abs(rms-w.rms) > 0.0006 {
			t.Errorf("%s: RMS displacement %.4f mm, want %.3f", w.name, rms, w.rms)
		}
	}
	// Linear independence: Gram-Schmidt keeps > 10% of every vector's norm.
	var ortho [][]float64
	for d, b := range m.Basis {
		r := append([]float64(nil), b...)
		for _, q := range ortho {
			dot := 0.0
			for i := range r {
				dot += r[i] * q[i]
			}
			for i := range r {
				r[i] -= dot * q[i]
			}
		}
		n, n0 := 0.0, 0.0
		for i := range r {
			n += r[i] * r[i]
			n0 += b[i] * b[i]
		}
		if math.Sqrt(n/n0) < 0.1 {
			t.Errorf("component %s is nearly a combination of the previous ones (residual %.3f)", m.Components[d].Name, math.Sqrt(n/n0))
		}
		for i := range r {
			r[i] /= math.Sqrt(n)
		}
		ortho = append(ortho, r)
	}
}

// TestDefaultSymmetry checks exact bilateral symmetry: the vertex at
// (row, 80-col) is the mirror (-x, y, z) of (row, col), for the mean, every
// basis vector and the albedo, and the triangle set is mirror-symmetric.
func TestDefaultSymmetry(t *testing.T) {
	m := mustDefault(t)
	for k := 0; k < m.NumVertices(); k++ {
		j := mirrorVertex(k)
		if m.UV[j][1] != m.UV[k][1] || math.Abs(m.UV[j][0]-(1-m.UV[k][0])) > 1e-15 {
			t.Fatalf("UV of mirror %d = %v, want (1-u, v) of %v", j, m.UV[j], m.UV[k])
		}
		vecs := append([][]float64{m.Mean}, m.Basis...)
		for d, s := range vecs {
			if s[3*j] != -s[3*k] || s[3*j+1] != s[3*k+1] || s[3*j+2] != s[3*k+2] {
				t.Fatalf("vector %d: vertex %d = %v, mirror %d = %v", d, k, s[3*k:3*k+3], j, s[3*j:3*j+3])
			}
		}
		if m.Albedo[j] != m.Albedo[k] {
			t.Fatalf("albedo %d = %v, mirror %d = %v", k, m.Albedo[k], j, m.Albedo[j])
		}
	}
	mid := (DefaultCols - 1) / 2
	for r := 0; r < DefaultRows; r++ {
		if x := m.Mean[3*(r*DefaultCols+mid)]; x != 0 {
			t.Fatalf("mid-line vertex of row %d has x = %g", r, x)
		}
	}
	// A mirror reverses the winding: (a, b, c) -> (m(a), m(c), m(b)).
	set := map[[3]int32]bool{}
	canon := func(t [3]int32) [3]int32 { // rotate so the smallest index comes first
		for t[0] > t[1] || t[0] > t[2] {
			t = [3]int32{t[1], t[2], t[0]}
		}
		return t
	}
	for _, tri := range m.Triangles {
		set[canon(tri)] = true
	}
	for _, tri := range m.Triangles {
		mt := [3]int32{int32(mirrorVertex(int(tri[0]))), int32(mirrorVertex(int(tri[2]))), int32(mirrorVertex(int(tri[1])))}
		if !set[canon(mt)] {
			t.Fatalf("mirror of triangle %v (%v) is not in the mesh", tri, mt)
		}
	}
}

// facingCounts returns the number of triangles whose normal (from the CCW
// winding) has z <= 0, and the smallest 3D triangle area (mm^2).
func facingCounts(m *Model, shape []float64) (back []int, minArea float64) {
	minArea = math.Inf(1)
	for i, tri := range m.Triangles {
		a, b, c := shape[3*tri[0]:3*tri[0]+3], shape[3*tri[1]:3*tri[1]+3], shape[3*tri[2]:3*tri[2]+3]
		u := [3]float64{b[0] - a[0], b[1] - a[1], b[2] - a[2]}
		v := [3]float64{c[0] - a[0], c[1] - a[1], c[2] - a[2]}
		n := [3]float64{u[1]*v[2] - u[2]*v[1], u[2]*v[0] - u[0]*v[2], u[0]*v[1] - u[1]*v[0]}
		minArea = math.Min(minArea, 0.5*math.Sqrt(n[0]*n[0]+n[1]*n[1]+n[2]*n[2]))
		if n[2] <= 0 {
			back = append(back, i)
		}
	}
	return back, minArea
}

// TestDefaultTriangles checks that no triangle is degenerate and that at yaw
// 0 only the quads of the outermost columns (past 90 degrees) face away, for
// the mean and, for every component at +-3 standard deviations, only the
// quads of the two outermost columns.
func TestDefaultTriangles(t *testing.T) {
	m := mustDefault(t)
	back, minArea := facingCounts(m, m.Mean)
	if minArea < 0.2 {
		t.Errorf("smallest triangle area %.3g mm^2, want >= 0.2", minArea)
	}
	// Of the outermost quad column on each side (96 quads x 2 triangles)
	// 130 triangles lie past the silhouette, the 65 quads from the chin up
	// to the temples (the warp to photographs' proportions turned the
	// forehead's rim a little forward); nothing else faces away.
	if len(back) != 2*130 {
		t.Errorf("%d back-facing triangles at yaw 0, want %d (the rim columns)", len(back), 2*130)
	}
	for _, i := range back {
		if c := quadColumn(m.Triangles[i]); c != 0 && c != DefaultCols-2 {
			t.Fatalf("triangle %d (quad column %d) faces away at yaw 0", i, c)
		}
	}
	for d := range m.Basis {
		for _, a := range []float64{-3, 3} {
			alpha := make([]float64, d+1)
			alpha[d] = a
			b, area := facingCounts(m, m.Shape(alpha))
			if area < 0.05 {
				t.Errorf("%s at %+g: smallest triangle area %.3g mm^2", m.Components[d].Name, a, area)
			}
			// The quad column next to the rim lies within a few degrees
			// of the silhouette: the width components tilt it past.
			for _, i := range b {
				if c := quadColumn(m.Triangles[i]); c > 1 && c < DefaultCols-3 {
					t.Errorf("%s at %+g: triangle %d (quad column %d) faces away", m.Components[d].Name, a, i, c)
					break
				}
			}
		}
	}
}

// quadColumn is the grid column of the quad a triangle belongs to.
func quadColumn(tri [3]int32) int {
	c := DefaultCols
	for _, k := range tri {
		c = min(c, int(k)%DefaultCols)
	}
	return c
}

func vertex(m *Model, k int) [3]float64 {
	return [3]float64{m.Mean[3*k], m.Mean[3*k+1], m.Mean[3*k+2]}
}

func TestDefaultLandmarks(t *testing.T) {
	m := mustDefault(t)
	// Landmarks on the image-left (x < 0) side of a frontal face.
	imageLeft := map[string]map[int]bool{SchemeAFLW21: {}, SchemeIBUG68: {}}
	for _, i := range []int{0, 1, 2, 6, 7, 8, 12, 13, 17} {
		imageLeft[SchemeAFLW21][i] = true
	}
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 17, 18, 19, 20, 21, 31, 32,
		36, 37, 38, 39, 40, 41, 48, 49, 50, 58, 59, 60, 61, 67} {
		imageLeft[SchemeIBUG68][i] = true
	}
	for _, scheme := range Schemes() {
		lm := m.Landmarks[scheme]
		if len(lm) != SchemeSize(scheme) {
			t.Fatalf("%s: %d landmarks, want %d", scheme, len(lm), SchemeSize(scheme))
		}
		seen := map[int]int{}
		perm := MirrorPermutation(scheme)
		for i, k := range lm {
			if k < 0 || k >= m.NumVertices() {
				t.Fatalf("%s[%d] = %d out of range", scheme, i, k)
			}
			if j, dup := seen[k]; dup {
				t.Errorf("%s: landmarks %d and %d share vertex %d", scheme, j, i, k)
			}
			seen[k] = i
			// Mirror consistency, by grid index and by position.
			if mirrorVertex(k) != lm[perm[i]] {
				t.Errorf("%s: mirror of landmark %d (vertex %d) is %d, landmark %d is %d", scheme, i, k, mirrorVertex(k), perm[i], lm[perm[i]])
			}
			p, q := vertex(m, k), vertex(m, lm[perm[i]])
			if q != [3]float64{-p[0], p[1], p[2]} {
				t.Errorf("%s: landmark %d at %v, its mirror %d at %v", scheme, i, p, perm[i], q)
			}
			if imageLeft[scheme][i] && p[0] >= 0 {
				t.Errorf("%s: landmark %d (image-left) at x = %g, want < 0", scheme, i, p[0])
			}
		}
	}
	af, ib := m.Landmarks[SchemeAFLW21], m.Landmarks[SchemeIBUG68]
	for i, src := range IBUG68ToAFLW21() {
		if len(src) == 1 && af[i] != ib[src[0]] {
			t.Errorf("aflw21[%d] = %d, want ibug68[%d] = %d", i, af[i], src[0], ib[src[0]])
		}
	}
	// The nose tip is the max-z landmark, the max-z vertex and the origin.
	tip := vertex(m, af[14])
	if tip[0] != 0 || math.Abs(tip[1]) > 2 || tip[2] != 0 {
		t.Errorf("nose tip at %v, want the origin", tip)
	}
	for _, k := range append(append([]int(nil), af...), ib...) {
		if k != af[14] && vertex(m, k)[2] >= tip[2] {
			t.Errorf("landmark vertex %d at z = %g is not behind the nose tip", k, vertex(m, k)[2])
		}
	}
	for k := 0; k < m.NumVertices(); k++ {
		if m.Mean[3*k+2] > tip[2] {
			t.Fatalf("vertex %d at z = %g is in front of the nose tip", k, m.Mean[3*k+2])
		}
	}
	// Vertical order: brows > eyes > nose tip > mouth > chin.
	y := func(k int) float64 { return m.Mean[3*k+1] }
	order := []struct {
		name string
		k    int
	}{{"brow", af[1]}, {"eye", af[7]}, {"nose", af[14]}, {"mouth", af[18]}, {"chin", af[20]}}
	for i := 1; i < len(order); i++ {
		if !(y(order[i-1].k) > y(order[i].k)) {
			t.Errorf("%s (y %g) not above %s (y %g)", order[i-1].name, y(order[i-1].k), order[i].name, y(order[i].k))
		}
	}
	// Eye centres at (+-32, 35) within a grid step (the photographs'
	// inter-ocular distance 64 mm, the nose tip 35 mm below the eyes);
	// ears on the rim columns.
	if e := vertex(m, af[7]); math.Abs(e[0]+32) > 2 || math.Abs(e[1]-35) > 2 {
		t.Errorf("left eye centre at %v, want (-32, 35)", e)
	}
	if af[12]%DefaultCols != 0 || af[16]%DefaultCols != DefaultCols-1 {
		t.Errorf("ears at columns %d, %d, want 0, %d", af[12]%DefaultCols, af[16]%DefaultCols, DefaultCols-1)
	}
	// Jaw contour 0..8 runs down the boundary to the chin.
	for i := 1; i <= 8; i++ {
		if !(y(ib[i]) < y(ib[i-1])) {
			t.Errorf("jaw point %d (y %g) not below point %d (y %g)", i, y(ib[i]), i-1, y(ib[i-1]))
		}
	}
	for i := 0; i <= 16; i++ {
		r, c := ib[i]/DefaultCols, ib[i]%DefaultCols
		if c != 0 && c != DefaultCols-1 && r != DefaultRows-1 {
			t.Errorf("jaw point %d at grid (%d, %d) is not on the mesh boundary", i, r, c)
		}
	}
	if ib[8] != (DefaultRows-1)*DefaultCols+(DefaultCols-1)/2 {
		t.Errorf("ibug68[8] = %d, want the bottom mid-line vertex", ib[8])
	}
}

func TestDefaultDeterministic(t *testing.T) {
	a, b := mustDefault(t), mustDefault(t)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two calls of Default differ")
	}
	a.Mean[0], a.Basis[0][0], a.Landmarks[SchemeAFLW21][0] = 1e9, 1e9, -7
	c := mustDefault(t)
	if !reflect.DeepEqual(b, c) {
		t.Fatal("modifying one model changed the next call's result")
	}
}

func TestDefaultAlbedo(t *testing.T) {
	m := mustDefault(t)
	for k, c := range m.Albedo {
		for _, v := range c {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("albedo %d = %v outside [0, 1]", k, c)
			}
		}
	}
	if !reflect.DeepEqual(m.Albedo, DefaultAlbedo(DefaultSkinTone())) {
		t.Error("Model.Albedo != DefaultAlbedo(DefaultSkinTone())")
	}
	af, ib := m.Landmarks[SchemeAFLW21], m.Landmarks[SchemeIBUG68]
	skin := [3]float64{0.3, 0.2, 0.1}
	al := DefaultAlbedo(skin)
	// Forehead (row 8, mid-line): skin within the +-4% variation.
	fh := al[8*DefaultCols+(DefaultCols-1)/2]
	for c := range fh {
		if math.Abs(fh[c]/skin[c]-1) > 0.045 {
			t.Errorf("forehead albedo %v, want skin %v +-4%%", fh, skin)
			break
		}
	}
	lum := func(c [3]float64) float64 { return 0.2126*c[0] + 0.7152*c[1] + 0.0722*c[2] }
	if p := al[af[7]]; lum(p) > 0.03 {
		t.Errorf("pupil albedo %v, want near black", p)
	}
	if b := al[ib[19]]; lum(b) > 0.6*lum(skin) {
		t.Errorf("brow albedo %v not darker than skin %v", b, skin)
	}
	if l := al[ib[57]]; l[0]/l[1] < 1.5*skin[0]/skin[1] {
		t.Errorf("lower lip albedo %v not redder than skin %v", l, skin)
	}
	if s := al[ib[36]+2]; lum(s) < 0.4 { // just inside the outer eye corner: sclera
		t.Errorf("sclera albedo %v, want bright", s)
	}
	// Out-of-range skin is clamped.
	for k, c := range DefaultAlbedo([3]float64{2, math.NaN(), math.Inf(-1)}) {
		for _, v := range c {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("clamped albedo %d = %v outside [0, 1]", k, c)
			}
		}
	}
}

func BenchmarkDefault(b *testing.B) {
	for b.Loop() {
		if _, err := Default(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDefaultPhotoProportions checks the warp to real faces: every iBUG-68
// point of the mean, in the frame of ibug68Photo (origin the midpoint of
// the eye centroids, inter-ocular distance 64 mm), is within 0.2 mm of the
// photographs' mean, and the ratios that were off before it are now the
// photographs' (eye to mouth 1.08 inter-ocular distances, was 0.95; eye
// width 0.38, was 0.45; chin depth level with the eyes, was 20 mm behind).
func TestDefaultPhotoProportions(t *testing.T) {
	m := mustDefault(t)
	ib := m.Landmarks[SchemeIBUG68]
	p := make([][3]float64, 68)
	for i, k := range ib {
		p[i] = vertex(m, k)
	}
	var le, re [3]float64
	for i := 0; i < 6; i++ {
		for c := 0; c < 3; c++ {
			le[c] += p[36+i][c] / 6
			re[c] += p[42+i][c] / 6
		}
	}
	iod := math.Sqrt((le[0]-re[0])*(le[0]-re[0]) + (le[1]-re[1])*(le[1]-re[1]) + (le[2]-re[2])*(le[2]-re[2]))
	if math.Abs(iod-64) > 0.1 {
		t.Errorf("inter-ocular distance %.3f mm, want 64", iod)
	}
	for i := range p {
		var d float64
		for c := 0; c < 3; c++ {
			e := p[i][c] - (le[c]+re[c])/2 - ibug68Photo[i][c]
			d += e * e
		}
		if math.Sqrt(d) > 0.2 {
			t.Errorf("landmark %d at %v from the eye midpoint, want %v", i, p[i], ibug68Photo[i])
		}
	}
	var mouth [3]float64
	for i := 48; i < 60; i++ {
		for c := 0; c < 3; c++ {
			mouth[c] += p[i][c] / 12
		}
	}
	if r := ((le[1]+re[1])/2 - mouth[1]) / iod; math.Abs(r-1.08) > 0.01 {
		t.Errorf("eye to mouth %.3f inter-ocular distances, want 1.08", r)
	}
	if r := math.Hypot(p[39][0]-p[36][0], p[39][1]-p[36][1]) / iod; math.Abs(r-0.38) > 0.01 {
		t.Errorf("eye width %.3f inter-ocular distances, want 0.38", r)
	}
	if dz := p[8][2] - (le[2]+re[2])/2; math.Abs(dz-0.6) > 0.2 {
		t.Errorf("chin %.2f mm in front of the eyes, want 0.6", dz)
	}
}
