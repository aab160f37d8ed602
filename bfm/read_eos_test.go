package bfm

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readersShared locates <repo root>/../shared (or $STN3D_SHARED) and skips
// the test when it is absent.
func readersShared(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("STN3D_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; cannot locate ../shared")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("shared data directory %s absent (set STN3D_SHARED): %v", s, err)
	}
	return s
}

func sfmPath(t testing.TB, name string) string {
	return filepath.Join(readersShared(t), "data", "sfm", name)
}

// loadJSON decodes a fixture's expected values.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func closeSlices(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func norm(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

func TestReadEOSSurrey(t *testing.T) {
	m, err := ReadEOS(sfmPath(t, "sfm_shape_3448.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if m.NumVertices() != 3448 || m.NumComponents() != 63 || len(m.Triangles) != 6736 || len(m.UV) != 3448 {
		t.Fatalf("V %d D %d T %d UV %d", m.NumVertices(), m.NumComponents(), len(m.Triangles), len(m.UV))
	}
	if m.Format != "eos" || m.Units != "mm" || m.Albedo != nil || m.Name != "sfm_shape_3448" {
		t.Errorf("format %q units %q name %q albedo %v", m.Format, m.Units, m.Name, m.Albedo != nil)
	}
	// First sqrt eigenvalue 237.70226584 (numpy on the raw file); the
	// stored basis column has norm 1 - 3.4e-10.
	if n := norm(m.Basis[0]); math.Abs(n-237.70226584427*0.999999999315318) > 1e-6 {
		t.Errorf("|Basis[0]| = %.10f", n)
	}
	if m.Mean[0] != -54.12632751464844 || m.Mean[301] != -13.63864517211914 {
		t.Errorf("mean %v %v", m.Mean[0], m.Mean[301])
	}
	if got := m.Basis[0][0]; math.Abs(got-(-2.0443697256465976)) > 1e-12 {
		t.Errorf("Basis[0][0] = %v", got)
	}
	if m.Triangles[0] != [3]int32{845, 1724, 346} {
		t.Errorf("triangle 0 %v", m.Triangles[0])
	}
	if m.Components[0] != (Component{"shape_pc01", Identity}) || m.Components[62].Name != "shape_pc63" {
		t.Errorf("components %v .. %v", m.Components[0], m.Components[62])
	}
	// eos stores v growing downwards; we store 1 - v.
	if m.UV[0] != [2]float64{0.1888081133365631, 0.17997092008590698} {
		t.Errorf("UV[0] = %v", m.UV[0])
	}
	// The face's top (max y vertex) must have a larger v than its bottom.
	top, bot := 0, 0
	for v := 1; v < m.NumVertices(); v++ {
		if m.Mean[3*v+1] > m.Mean[3*top+1] {
			top = v
		}
		if m.Mean[3*v+1] < m.Mean[3*bot+1] {
			bot = v
		}
	}
	if m.UV[top][1] <= m.UV[bot][1] {
		t.Errorf("v at top %v <= v at bottom %v", m.UV[top][1], m.UV[bot][1])
	}
}

func TestReadEOSBlendshapesSurrey(t *testing.T) {
	m, err := ReadEOSBlendshapes(sfmPath(t, "expression_blendshapes_3448.bin"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"anger", "disgust", "fear", "happiness", "sadness", "surprise"}
	if m.NumComponents() != 6 || m.NumVertices() != 3448 {
		t.Fatalf("D %d V %d", m.NumComponents(), m.NumVertices())
	}
	for i, n := range names {
		if m.Components[i] != (Component{n, Expression}) {
			t.Errorf("component %d = %v, want %s", i, m.Components[i], n)
		}
	}
	if m.Basis[0][0] != -1.3158799409866333 || m.Basis[0][1] != 3.150160074234009 {
		t.Errorf("anger[0:2] = %v", m.Basis[0][:2])
	}
	if norm(m.Mean) != 0 {
		t.Error("blendshape model mean is not zero")
	}
}

type eosExpect struct {
	Vertices   int            `json:"vertices"`
	Triangles  int            `json:"triangles"`
	Tris0      [][3]int32     `json:"tris0"`
	Mean       []float64      `json:"mean"`
	Basis      [][]float64    `json:"basis"`
	ExpBasis   [][]float64    `json:"exp_basis"`
	BlendNames []string       `json:"blend_names"`
	Blends     [][]float64    `json:"blends"`
	UV         [][2]float64   `json:"uv_ours"`
	Albedo     [][3]float64   `json:"albedo"`
	Landmarks  map[string]int `json:"landmarks"`
	V4Tex      int            `json:"v4_texture_triangles"`
}

func TestReadEOSFixtures(t *testing.T) {
	var e eosExpect
	loadJSON(t, "eos.json", &e)
	check := func(name string, wantD int) *Model {
		t.Helper()
		m, err := ReadEOS(filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.NumVertices() != e.Vertices || len(m.Triangles) != e.Triangles || m.NumComponents() != wantD {
			t.Fatalf("%s: V %d T %d D %d", name, m.NumVertices(), len(m.Triangles), m.NumComponents())
		}
		if m.Triangles[1] != e.Tris0[1] {
			t.Errorf("%s: triangle 1 %v want %v", name, m.Triangles[1], e.Tris0[1])
		}
		for d := range e.Basis {
			closeSlices(t, name+" basis", m.Basis[d], e.Basis[d], 1e-6)
		}
		for i := range e.UV {
			if m.UV[i] != e.UV[i] {
				t.Fatalf("%s: UV[%d] = %v, want %v", name, i, m.UV[i], e.UV[i])
			}
		}
		return m
	}
	v1 := check("eos_v1.bin", 3)
	closeSlices(t, "v1 mean", v1.Mean, e.Mean, 0)

	v2 := check("eos_v2_pca.bin", 5)
	for d := range e.ExpBasis {
		closeSlices(t, "v2 expression basis", v2.Basis[3+d], e.ExpBasis[d], 1e-6)
		if v2.Components[3+d].Kind != Expression {
			t.Errorf("v2 component %d kind %s", 3+d, v2.Components[3+d].Kind)
		}
	}
	if v2.Components[3].Name != "expression_pc01" {
		t.Errorf("v2 names %v", v2.Components)
	}

	v3 := check("eos_v3_blend.bin", 5)
	for d, n := range e.BlendNames {
		if v3.Components[3+d] != (Component{n, Expression}) {
			t.Errorf("v3 component %v", v3.Components[3+d])
		}
		closeSlices(t, "v3 blendshape", v3.Basis[3+d], e.Blends[d], 0)
	}
	if len(v3.Albedo) != e.Vertices {
		t.Fatalf("v3 albedo %d", len(v3.Albedo))
	}
	for i := range e.Albedo {
		closeSlices(t, "v3 albedo", v3.Albedo[i][:], e.Albedo[i][:], 1e-7)
	}
	lm := v3.Landmarks[SchemeIBUG68]
	if len(lm) != 68 {
		t.Fatalf("v3 landmarks %v", v3.Landmarks)
	}
	set := 0
	for i, v := range lm {
		if v >= 0 {
			set++
			if want, ok := e.Landmarks[itoa(i+1)]; !ok || want != v {
				t.Errorf("ibug %d -> %d", i+1, v)
			}
		}
	}
	if set != len(e.Landmarks) {
		t.Errorf("%d landmarks set, want %d", set, len(e.Landmarks))
	}

	v4 := check("eos_v4.bin", 3)
	if v4.Albedo != nil || v4.Landmarks != nil {
		t.Errorf("v4: albedo %v landmarks %v", v4.Albedo != nil, v4.Landmarks)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestReadEOSBlendshapesFixture(t *testing.T) {
	var e eosExpect
	loadJSON(t, "eos.json", &e)
	m, err := ReadEOSBlendshapes("testdata/eos_blendshapes.bin")
	if err != nil {
		t.Fatal(err)
	}
	if m.NumComponents() != 2 || m.Components[1] != (Component{"frown", Expression}) || m.Format != "eos-blendshapes" {
		t.Fatalf("%v %s", m.Components, m.Format)
	}
	closeSlices(t, "frown", m.Basis[1], e.Blends[1], 0)
}

func TestReadEOSErrors(t *testing.T) {
	cases := []struct{ file, want string }{
		{"testdata/bad_eos_truncated.bin", "bfm: testdata/bad_eos_truncated.bin: expression model mean cols: at byte 809: expected 4 more bytes, found only 1 (file truncated)"},
		{"testdata/bad_eos_version.bin", "bfm: testdata/bad_eos_version.bin: class version: at byte 0: expected an eos MorphableModel version 1..4, found 7"},
		{"testdata/eos_blendshapes.bin", "bfm: testdata/eos_blendshapes.bin: shape model mean rows: at byte 4: expected a non-empty shape model (3N > 0 rows), found 0 rows (an eos blendshapes file? read it with ReadEOSBlendshapes)"},
	}
	for _, c := range cases {
		_, err := ReadEOS(c.file)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.file, err, c.want)
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T is not a FormatError", c.file, err)
		}
	}
	if _, err := ReadEOS("testdata/no_such.bin"); err == nil || !strings.Contains(err.Error(), "no_such.bin") {
		t.Errorf("missing file: %v", err)
	}
}

// TestReadEOSTruncations cuts a v3 fixture everywhere: always an error
// naming the file and a byte offset, never a panic.
func TestReadEOSTruncations(t *testing.T) {
	b, err := os.ReadFile("testdata/eos_v3_blend.bin")
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(b); cut++ {
		_, err := decodeEOS(b[:cut], "cut.bin")
		if err == nil || !strings.HasPrefix(err.Error(), "bfm: cut.bin: ") || !strings.Contains(err.Error(), "at byte ") {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
	for i := 0; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 0xa5
		decodeEOS(c, "flip.bin") // must not panic
	}
}

func FuzzReadEOS(f *testing.F) {
	for _, n := range []string{"eos_v1.bin", "eos_v2_pca.bin", "eos_v3_blend.bin", "eos_v4.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeEOS(b, "fuzz.bin")
		if err != nil {
			return
		}
		for _, tri := range m.Triangles {
			for _, v := range tri {
				if v < 0 || int(v) >= m.NumVertices() {
					t.Fatalf("triangle %v out of range", tri)
				}
			}
		}
		for _, c := range m.Basis {
			if len(c) != len(m.Mean) {
				t.Fatal("basis length differs from mean")
			}
		}
	})
}

func TestReadIBUGMapping(t *testing.T) {
	mp, err := ReadIBUGMapping(sfmPath(t, "ibug_to_sfm.txt"))
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, v := range mp {
		if v < 0 {
			missing++
		}
	}
	// 1-8 and 10-17 (contour) and 61, 65 are undefined: 18 missing.
	if missing != 18 || mp[8] != 33 || mp[30] != 114 || mp[67] != 404 || mp[60] != -1 || mp[17] != 225 {
		t.Errorf("missing %d, 9->%d, 31->%d, 68->%d, 61->%d, 18->%d", missing, mp[8], mp[30], mp[67], mp[60], mp[17])
	}
	_, err = parseIBUGMapping([]byte("[landmark_mappings]\n9 = 33\n70 = 1\n"), "x.txt")
	if err == nil || err.Error() != `bfm: x.txt: line 3: expected an iBUG point number 1..68 as key, found "70"` {
		t.Errorf("bad key: %v", err)
	}
	_, err = parseIBUGMapping([]byte("[other]\n9 = 33\n"), "y.txt")
	if err == nil || err.Error() != "bfm: y.txt: [landmark_mappings]: expected a table of iBUG point = vertex lines, found none" {
		t.Errorf("no table: %v", err)
	}
	m := &Model{Name: "tiny", Mean: make([]float64, 3*100)}
	if err := SetIBUGLandmarks(m, mp, "ibug_to_sfm.txt"); err == nil || err.Error() != "bfm: ibug_to_sfm.txt: iBUG point 18: expected a vertex index below 100 (model tiny), found 225" {
		t.Errorf("SetIBUGLandmarks on a small model: %v", err)
	}
}

// TestEOSWinding checks the package convention on the real SFM mean: the
// triangles wind counter-clockwise seen from +z (6657 of 6736 front-facing,
// the rest on the steep sides of the face).
func TestEOSWinding(t *testing.T) {
	m, err := ReadEOS(sfmPath(t, "sfm_shape_3448.bin"))
	if err != nil {
		t.Fatal(err)
	}
	ccw := 0
	for _, tr := range m.Triangles {
		a, b, c := 3*int(tr[0]), 3*int(tr[1]), 3*int(tr[2])
		z := (m.Mean[b]-m.Mean[a])*(m.Mean[c+1]-m.Mean[a+1]) - (m.Mean[b+1]-m.Mean[a+1])*(m.Mean[c]-m.Mean[a])
		if z > 0 {
			ccw++
		}
	}
	if ccw != 6657 {
		t.Errorf("%d counter-clockwise triangles, want 6657", ccw)
	}
}

func BenchmarkReadEOS(b *testing.B) {
	data, err := os.ReadFile(sfmPath(b, "sfm_shape_3448.bin"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := decodeEOS(data, "sfm_shape_3448.bin"); err != nil {
			b.Fatal(err)
		}
	}
}
