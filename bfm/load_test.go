package bfm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDispatch(t *testing.T) {
	cases := []struct {
		path, format string
		vertices     int
		components   int
	}{
		{"testdata/mat_bfm2009_raw.mat", "bfm2009", 40, 6},
		{"testdata/mat_bfm2009_z.mat", "bfm2009", 40, 6},
		{"testdata/eos_v3_blend.bin", "eos", 12, 5},
		{"testdata/eos_blendshapes.bin", "eos-blendshapes", 12, 2},
		{"testdata/obj_quads.obj", "obj", 6, 0},
	}
	for _, c := range cases {
		m, err := Load(c.path)
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if m.Format != c.format || m.NumVertices() != c.vertices || m.NumComponents() != c.components || m.Source != c.path {
			t.Errorf("%s: %s V %d D %d source %s", c.path, m.Format, m.NumVertices(), m.NumComponents(), m.Source)
		}
	}
}

// TestLoadSniffs copies fixtures under misleading names: the magic bytes win.
func TestLoadSniffs(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/mat_bfm2009_z.mat")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "model.dat")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := Load(p); err != nil || m.Format != "bfm2009" {
		t.Errorf("MAT under .dat: %v", err)
	}
	q := filepath.Join(dir, "notes.txt")
	os.WriteFile(q, []byte("hello"), 0o644)
	_, err = Load(q)
	var fe *FormatError
	if !errors.As(err, &fe) || err.Error() != `bfm: `+q+`: at byte 0: expected a model file (.h5 BFM 2017, .mat BFM 2009 / 3DDFA, .bin eos, .obj) or "default", found extension ".txt" and first bytes "hello"` {
		t.Errorf("text file: %v", err)
	}
	_, err = Load("testdata/mat_tddfa_map.mat")
	if err == nil || err.Error() != "bfm: testdata/mat_tddfa_map.mat: expected BFM 2009 variables (shapeMU, shapePC, shapeEV, tl) or 3DDFA ones (mu_exp, w_exp, sigma_exp), found variables [map_tddfa_to_basel]" {
		t.Errorf("map only: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "absent.bin")); err == nil || !strings.Contains(err.Error(), "absent.bin") {
		t.Errorf("absent: %v", err)
	}
}

func TestLoadTDDFAWithMapBeside(t *testing.T) {
	dir := t.TempDir()
	for _, f := range [][2]string{{"mat_tddfa_exp.mat", "Model_Expression.mat"}, {"mat_tddfa_map.mat", "map_tddfa_to_basel.mat"}} {
		b, err := os.ReadFile(filepath.Join("testdata", f[0]))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f[1]), b, 0o644)
	}
	m, err := Load(filepath.Join(dir, "Model_Expression.mat"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != "tddfa" || m.NumVertices() != BFM2009Vertices || m.NumComponents() != 4 {
		t.Errorf("%s V %d D %d", m.Format, m.NumVertices(), m.NumComponents())
	}
}

func TestLoadSurreyWithIBUG(t *testing.T) {
	m, err := Load(sfmPath(t, "sfm_shape_3448.bin"))
	if err != nil {
		t.Fatal(err)
	}
	lm := m.Landmarks[SchemeIBUG68]
	if len(lm) != 68 || lm[30] != 114 || lm[8] != 33 || lm[0] != -1 {
		t.Fatalf("ibug68 %v", lm)
	}
	s := Summarize(m)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	keys := []string{"format", "path", "vertices", "triangles", "components", "num_components", "has_uv", "landmark_schemes", "units", "bbox"}
	if len(back) != len(keys) {
		t.Errorf("summary keys %v", back)
	}
	for _, k := range keys {
		if _, ok := back[k]; !ok {
			t.Errorf("summary lacks %q: %s", k, b)
		}
	}
	if s.Vertices != 3448 || s.Triangles != 6736 || s.NumComponents != 63 || !s.HasUV || s.Units != "mm" ||
		len(s.LandmarkSchemes) != 1 || s.LandmarkSchemes[0] != "ibug68" || s.Format != "eos" {
		t.Errorf("summary %+v", s)
	}
	// Bounding box from numpy on the raw mean (float32 values).
	want := BBox{Min: [3]float64{-74.50122833251953, -82.64710235595703, -103.58782958984375},
		Max: [3]float64{74.0687484741211, 105.27133178710938, 3.365739345550537}}
	if s.BBox != want {
		t.Errorf("bbox %+v, want %+v", s.BBox, want)
	}
}

func TestInfoFixture(t *testing.T) {
	s, err := Info("testdata/obj_quads.obj")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(s)
	want := `{"format":"obj","path":"testdata/obj_quads.obj","vertices":6,"triangles":5,"components":[],"num_components":0,"has_uv":true,"landmark_schemes":[],"units":"unit","bbox":{"min":[0,0,0],"max":[2,1,0.5]}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if _, err := Info("testdata/bad_eos_version.bin"); err == nil || !strings.Contains(err.Error(), "bad_eos_version.bin: class version") {
		t.Errorf("bad: %v", err)
	}
}

func TestFormatErrorText(t *testing.T) {
	e := &FormatError{File: "a.bin", Offset: 12, Field: "mean", Expected: "3N values", Found: "7"}
	if e.Error() != "bfm: a.bin: mean: at byte 12: expected 3N values, found 7" {
		t.Error(e.Error())
	}
	e = &FormatError{File: "b.anl", Offset: -1, Expected: "an index"}
	if e.Error() != "bfm: b.anl: expected an index" {
		t.Error(e.Error())
	}
}

func TestLoadBFM2017(t *testing.T) {
	p := "testdata/h5_bfm2017_contig.h5"
	if _, err := os.Stat(p); err != nil {
		t.Skipf("HDF5 fixture %s absent (written by scripts/make_h5_fixtures.py)", p)
	}
	m, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != "bfm2017" || m.NumVertices() == 0 || m.Units != "mm" {
		t.Errorf("%s V %d units %s", m.Format, m.NumVertices(), m.Units)
	}
}

func TestLoadDefault(t *testing.T) {
	want, werr := Default()
	got, gerr := Load("default")
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Default() error %v, Load(\"default\") error %v", werr, gerr)
	}
	if werr == nil && (got.NumVertices() != want.NumVertices() || got.NumComponents() != want.NumComponents()) {
		t.Errorf("Load(\"default\"): V %d D %d, Default(): V %d D %d", got.NumVertices(), got.NumComponents(), want.NumVertices(), want.NumComponents())
	}
}

// An ibug_to_sfm.txt beside an eos model is stored when its indices fit the
// model and left out (the model still loads) when they do not.
func TestLoadEOSIBUGMappingBeside(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "eos_v4.bin"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		vertex int // of iBUG point 31; the model has fewer than 100 vertices
		want   bool
	}{{"fits", 2, true}, {"too large", 100000, false}} {
		dir := t.TempDir()
		path := filepath.Join(dir, "model.bin")
		mapping := fmt.Sprintf("[landmark_mappings]\n9 = 1\n31 = %d\n", tc.vertex)
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ibug_to_sfm.txt"), []byte(mapping), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		lm, ok := m.Landmarks[SchemeIBUG68]
		if ok != tc.want || (ok && (lm[30] != tc.vertex || lm[8] != 1 || lm[0] != -1)) {
			t.Fatalf("%s: ibug68 = %v (set %v), want set %v", tc.name, lm, ok, tc.want)
		}
	}
}
