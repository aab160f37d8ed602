package bfm

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm/hdf5"
)

// bfm2017Fixture holds what scripts/make_h5_fixtures.py stored.
type bfm2017Fixture struct {
	shapeMean, shapeBasis, shapeVar []float64
	exprMean, exprBasis, exprVar    []float64
	colorMean, points, cells        []float64
	lmVertices                      map[string]int
	lmCoords                        map[string][3]float64
}

func loadBFM2017Fixture(t *testing.T) *bfm2017Fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "h5_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		Contig map[string]struct {
			Values []float64 `json:"values"`
		} `json:"_model"`
		Meta struct {
			Vertices map[string]int        `json:"landmark_vertices"`
			Coords   map[string][3]float64 `json:"landmark_coords"`
		} `json:"_bfm2017"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	v := func(p string) []float64 {
		e, ok := all.Contig[p]
		if !ok {
			t.Fatalf("h5_expected.json lacks %s", p)
		}
		return e.Values
	}
	return &bfm2017Fixture{
		shapeMean: v("/shape/model/mean"), shapeBasis: v("/shape/model/pcaBasis"), shapeVar: v("/shape/model/pcaVariance"),
		exprMean: v("/expression/model/mean"), exprBasis: v("/expression/model/pcaBasis"), exprVar: v("/expression/model/pcaVariance"),
		colorMean: v("/color/model/mean"), points: v("/shape/representer/points"), cells: v("/shape/representer/cells"),
		lmVertices: all.Meta.Vertices, lmCoords: all.Meta.Coords,
	}
}

func TestReadBFM2017Layouts(t *testing.T) {
	fx := loadBFM2017Fixture(t)
	const n, ks, ke = 30, 4, 3
	for _, name := range []string{"h5_bfm2017_contig.h5", "h5_bfm2017_chunked.h5", "h5_bfm2017_latest.h5", "h5_bfm2017_dense.h5", "h5_bfm2017_prescaled.h5"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			m, err := ReadBFM2017(path)
			if err != nil {
				t.Fatal(err)
			}
			if m.Format != "bfm2017" || m.Units != "mm" || m.Source != path || m.Name != strings.TrimSuffix(name, ".h5") {
				t.Errorf("header: name %q format %q units %q source %q", m.Name, m.Format, m.Units, m.Source)
			}
			if m.NumVertices() != n || m.NumComponents() != ks+ke {
				t.Fatalf("%d vertices, %d components; want %d, %d", m.NumVertices(), m.NumComponents(), n, ks+ke)
			}
			// Mean = shape mean + expression mean (displacement), exactly.
			for i := range m.Mean {
				if want := fx.shapeMean[i] + fx.exprMean[i]; m.Mean[i] != want {
					t.Fatalf("Mean[%d] = %v, want %v", i, m.Mean[i], want)
				}
			}
			// Basis[d][i] = U[i][d] * sqrt(var[d]): exact for the orthonormal
			// files; the pre-scaled file stored the float32 product.
			tol := 0.0
			if name == "h5_bfm2017_prescaled.h5" {
				tol = 1e-6
			}
			for d := 0; d < ks+ke; d++ {
				u, k, dd, v := fx.shapeBasis, ks, d, fx.shapeVar
				kind, cname := Identity, "shape_pc0"+string(rune('1'+d))
				if d >= ks {
					u, k, dd, v = fx.exprBasis, ke, d-ks, fx.exprVar
					kind, cname = Expression, "expression_pc0"+string(rune('1'+d-ks))
				}
				if m.Components[d] != (Component{Name: cname, Kind: kind}) {
					t.Errorf("component %d = %+v, want %s/%s", d, m.Components[d], cname, kind)
				}
				for i := 0; i < 3*n; i++ {
					want := u[i*k+dd] * math.Sqrt(v[dd])
					if got := m.Basis[d][i]; math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
						t.Fatalf("Basis[%d][%d] = %v, want %v", d, i, got, want)
					}
				}
			}
			// Triangles: the fixture's cells wind counter-clockwise from +z;
			// the pre-scaled copy stores them clockwise and must be flipped back.
			mt := len(fx.cells) / 3
			if len(m.Triangles) != mt {
				t.Fatalf("%d triangles, want %d", len(m.Triangles), mt)
			}
			for i, tri := range m.Triangles {
				want := [3]int32{int32(fx.cells[i]), int32(fx.cells[mt+i]), int32(fx.cells[2*mt+i])}
				if tri != want {
					t.Fatalf("triangle %d = %v, want %v", i, tri, want)
				}
			}
			if len(m.Albedo) != n || m.Albedo[7] != [3]float64{fx.colorMean[21], fx.colorMean[22], fx.colorMean[23]} {
				t.Errorf("albedo: %d entries, [7] = %v", len(m.Albedo), m.Albedo)
			}
			checkBFM2017Landmarks(t, m, fx)
		})
	}
}

func checkBFM2017Landmarks(t *testing.T, m *Model, fx *bfm2017Fixture) {
	t.Helper()
	af, ib := m.Landmarks[SchemeAFLW21], m.Landmarks[SchemeIBUG68]
	if len(af) != 21 || len(ib) != 68 {
		t.Fatalf("landmark schemes: %d aflw21, %d ibug68 entries", len(af), len(ib))
	}
	wantAF := map[int]string{14: "center.nose.tip", 20: "center.chin.tip", 6: "right.eye.corner_outer", 8: "right.eye.corner_inner",
		9: "left.eye.corner_inner", 11: "left.eye.corner_outer", 13: "right.nose.wing_tip", 15: "left.nose.wing_tip",
		17: "right.lips.corner", 19: "left.lips.corner"}
	for i, v := range af {
		id, ok := wantAF[i]
		want := -1
		if ok {
			want = fx.lmVertices[id]
		}
		if v != want {
			t.Errorf("aflw21[%d] = %d, want %d (%s)", i, v, want, id)
		}
	}
	wantIB := map[int]string{30: "center.nose.tip", 8: "center.chin.tip", 36: "right.eye.corner_outer", 39: "right.eye.corner_inner",
		42: "left.eye.corner_inner", 45: "left.eye.corner_outer", 48: "right.lips.corner", 54: "left.lips.corner"}
	for i, v := range ib {
		id, ok := wantIB[i]
		want := -1
		if ok {
			want = fx.lmVertices[id]
		}
		if v != want {
			t.Errorf("ibug68[%d] = %d, want %d (%s)", i, v, want, id)
		}
	}
}

// TestReadBFM2017Sample checks the meaning of the scaling: alpha = e_0
// moves the mean by sigma_0 = sqrt(400) = 20 mm in norm (U is orthonormal).
func TestReadBFM2017Sample(t *testing.T) {
	m, err := ReadBFM2017(filepath.Join("testdata", "h5_bfm2017_contig.h5"))
	if err != nil {
		t.Fatal(err)
	}
	s := m.Shape([]float64{1})
	norm := 0.0
	for i := range s {
		norm += (s[i] - m.Mean[i]) * (s[i] - m.Mean[i])
	}
	if got := math.Sqrt(norm); math.Abs(got-20) > 1e-4 {
		t.Errorf("|S(e0) - mean| = %v mm, want 20", got)
	}
}

func TestReadBFM2017Options(t *testing.T) {
	fx := loadBFM2017Fixture(t)
	m, err := ReadBFM2017(filepath.Join("testdata", "h5_bfm2017_chunked.h5"), BFM2017Components(2, 0), BFM2017NoAlbedo())
	if err != nil {
		t.Fatal(err)
	}
	want := []Component{{"shape_pc01", Identity}, {"shape_pc02", Identity}}
	if !reflect.DeepEqual(m.Components, want) || len(m.Basis) != 2 || m.Albedo != nil {
		t.Errorf("components %v, %d basis vectors, albedo %v", m.Components, len(m.Basis), m.Albedo != nil)
	}
	if !reflect.DeepEqual(m.Mean, fx.shapeMean) {
		t.Errorf("without expressions the mean must be the shape mean")
	}
	m, err = ReadBFM2017(filepath.Join("testdata", "h5_bfm2017_latest.h5"), BFM2017Components(-1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if m.NumComponents() != 5 || m.Components[4] != (Component{"expression_pc01", Expression}) {
		t.Errorf("components %v", m.Components)
	}
}

func TestBFM2017Landmarks(t *testing.T) {
	fx := loadBFM2017Fixture(t)
	// JSON as a variable-length string, a byte array and a fixed-length string.
	for _, name := range []string{"h5_bfm2017_contig.h5", "h5_bfm2017_chunked.h5", "h5_bfm2017_latest.h5"} {
		got, err := BFM2017Landmarks(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fx.lmCoords) {
			t.Errorf("%s: landmarks %v\nwant %v", name, got, fx.lmCoords)
		}
	}
	got, err := BFM2017Landmarks(filepath.Join("testdata", "h5_types.h5"))
	if err != nil || len(got) != 0 {
		t.Errorf("file without metadata: %v, %v; want an empty map", got, err)
	}
}

func TestReadBFM2017Errors(t *testing.T) {
	_, err := ReadBFM2017(filepath.Join("testdata", "h5_bfm2017_badnorm.h5"))
	want := "bfm: testdata/h5_bfm2017_badnorm.h5: /shape/model/pcaBasis column 0: expected unit norm (orthonormal basis) or norm sqrt(pcaVariance) = 20, found norm 3"
	var fe *FormatError
	if err == nil || err.Error() != want || !errors.As(err, &fe) {
		t.Errorf("bad norm: got %v\nwant %s", err, want)
	}
	_, err = ReadBFM2017(filepath.Join("testdata", "h5_types.h5"))
	want = `bfm: reading BFM 2017 model: hdf5: testdata/h5_types.h5: no object "/shape/model/mean": group "/" has members [attrs compound floats growable ints layouts soft strings]`
	if err == nil || err.Error() != want {
		t.Errorf("not a model: got %v\nwant %s", err, want)
	}
	_, err = ReadBFM2017(filepath.Join("testdata", "h5_truncated.h5"))
	var he *hdf5.FormatError
	if err == nil || !errors.As(err, &he) || !strings.HasPrefix(err.Error(), "bfm: reading BFM 2017 model: hdf5: testdata/h5_truncated.h5: offset ") {
		t.Errorf("truncated: got %v", err)
	}
	// Every truncation of a model file is an error, never a panic.
	full, err := os.ReadFile(filepath.Join("testdata", "h5_bfm2017_dense.h5"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for cut := 0; cut < len(full); cut += 499 {
		p := filepath.Join(dir, "cut.h5")
		if err := os.WriteFile(p, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadBFM2017(p); err == nil {
			t.Errorf("cut at %d: no error", cut)
		}
	}
}

func TestOrientTriangles(t *testing.T) {
	mean := []float64{0, 0, 0, 1, 0, 0, 0, 1, 0}
	ccw := [][3]int32{{0, 1, 2}}
	orientTriangles(mean, ccw)
	if ccw[0] != [3]int32{0, 1, 2} {
		t.Errorf("counter-clockwise triangle changed to %v", ccw[0])
	}
	cw := [][3]int32{{0, 2, 1}}
	orientTriangles(mean, cw)
	if cw[0] != [3]int32{0, 1, 2} {
		t.Errorf("clockwise triangle became %v, want [0 1 2]", cw[0])
	}
}

// BenchmarkReadBFM2017 reads the model named by STN3D_BFM2017 (for example
// model2017-1_bfm_nomouth.h5); skipped when unset.
func BenchmarkReadBFM2017(b *testing.B) {
	p := os.Getenv("STN3D_BFM2017")
	if p == "" {
		b.Skip("set STN3D_BFM2017 to a BFM 2017 HDF5 file")
	}
	for i := 0; i < b.N; i++ {
		if _, err := ReadBFM2017(p, BFM2017NoAlbedo()); err != nil {
			b.Fatal(err)
		}
	}
}

// bfm2017RealPath finds a real BFM 2017 file: $STN3D_BFM2017, or
// <shared>/data/bfm2017/model2017-1_bfm_nomouth.h5 where <shared> is
// $STN3D_SHARED or <repo root>/../shared. It skips the test when absent
// (the model's licence forbids committing it).
func bfm2017RealPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STN3D_BFM2017"); p != "" {
		return p
	}
	shared := os.Getenv("STN3D_SHARED")
	if shared == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Skip(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Skip("go.mod not found above the test directory")
			}
			dir = parent
		}
		shared = filepath.Join(dir, "..", "shared")
	}
	p := filepath.Join(shared, "data", "bfm2017", "model2017-1_bfm_nomouth.h5")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no BFM 2017 model at %s (set STN3D_BFM2017 to a model2017-1_*.h5 file): %v", p, err)
	}
	return p
}

// TestReadBFM2017Real checks the published structure of the BFM 2017
// nomouth model: 199 shape and 100 expression components, colours in
// [0, 1], a landmark at the nose tip, valid triangles.
func TestReadBFM2017Real(t *testing.T) {
	p := bfm2017RealPath(t)
	m, err := ReadBFM2017(p)
	if err != nil {
		t.Fatal(err)
	}
	id, ex := 0, 0
	for _, c := range m.Components {
		switch c.Kind {
		case Identity:
			id++
		case Expression:
			ex++
		}
	}
	if id != 199 || ex != 100 {
		t.Errorf("%d identity and %d expression components, want 199 and 100", id, ex)
	}
	n := m.NumVertices()
	for i, tri := range m.Triangles {
		for _, v := range tri {
			if v < 0 || int(v) >= n {
				t.Fatalf("triangle %d = %v outside [0, %d)", i, tri, n)
			}
		}
	}
	lms, err := BFM2017Landmarks(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lms["center.nose.tip"]; !ok {
		t.Errorf("landmark ids %v lack center.nose.tip", lms)
	}
	t.Logf("%d vertices, %d triangles, %d landmarks, schemes %v", n, len(m.Triangles), len(lms), len(m.Landmarks))
}

func BenchmarkReadBFM2017Fixture(b *testing.B) {
	p := filepath.Join("testdata", "h5_bfm2017_chunked.h5")
	for i := 0; i < b.N; i++ {
		if _, err := ReadBFM2017(p); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzReadBFM2017 feeds mutated model files to the reader: errors are
// fine, panics and hangs are not.
func FuzzReadBFM2017(f *testing.F) {
	for _, name := range []string{"h5_bfm2017_latest.h5", "h5_bfm2017_contig.h5"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "fuzz.h5")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := ReadBFM2017(p)
		if err != nil {
			return
		}
		for _, tri := range m.Triangles {
			for _, v := range tri {
				if v < 0 || int(v) >= m.NumVertices() {
					t.Fatalf("triangle %v outside [0, %d)", tri, m.NumVertices())
				}
			}
		}
	})
}
