package bfm

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm/mat5"
)

type bfmExpect struct {
	Vertices   int         `json:"vertices"`
	Components int         `json:"components"`
	Triangles  int         `json:"triangles"`
	Mean       []float64   `json:"mean_mm"`
	Basis      [][]float64 `json:"basis_mm"`
	Tl0        [][3]int32  `json:"tl0"`
	Albedo0    []float64   `json:"albedo0"`
}

func TestReadBFM2009Fixtures(t *testing.T) {
	var e bfmExpect
	loadJSON(t, "mat_bfm2009.json", &e)
	for _, name := range []string{"mat_bfm2009_raw.mat", "mat_bfm2009_z.mat"} {
		m, err := ReadBFM2009(filepath.Join("testdata", name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.NumVertices() != 40 || m.NumComponents() != 6 || len(m.Triangles) != 56 || m.Units != "mm" || m.Format != "bfm2009" {
			t.Fatalf("%s: V %d D %d T %d units %s", name, m.NumVertices(), m.NumComponents(), len(m.Triangles), m.Units)
		}
		closeSlices(t, name+" mean", m.Mean, e.Mean, 1e-12)
		for d := range e.Basis {
			closeSlices(t, name+" basis", m.Basis[d], e.Basis[d], 1e-12)
			if m.Components[d].Kind != Identity {
				t.Errorf("kind %v", m.Components[d])
			}
		}
		for i, tri := range e.Tl0 {
			if m.Triangles[i] != tri {
				t.Errorf("%s: triangle %d = %v, want %v (0-based)", name, i, m.Triangles[i], tri)
			}
		}
		closeSlices(t, name+" albedo", m.Albedo[0][:], e.Albedo0, 1e-12)
		// The basis norm is the standard deviation in mm: shapeEV(1) = 5000 um.
		if n := norm(m.Basis[0]); n < 5-1e-5 || n > 5+1e-5 {
			t.Errorf("|Basis[0]| = %v mm, want 5", n)
		}
	}
}

func TestReadBFM2009Errors(t *testing.T) {
	_, err := ReadBFM2009("testdata/bad_bfm2009_noev.mat")
	want := `bfm: BFM 2009 model: mat5: testdata/bad_bfm2009_noev.mat has no variable "shapeEV" (it holds: segbin, shapeMU, shapePC, texEV, texMU, texPC, tl)`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	_, err = ReadBFM2009("testdata/bad_mat_truncated_z.mat")
	var fe *mat5.FormatError
	if !errors.As(err, &fe) || fe.Var != "shapePC" || fe.Offset != 374 || !strings.Contains(err.Error(), "bad_mat_truncated_z.mat") {
		t.Errorf("truncated: %v", err)
	}
}

func TestReadUVMATReal(t *testing.T) {
	uv, err := ReadUVMAT(filepath.Join(readersShared(t), "data", "3dmmstn", "BFM_UV.mat"))
	if err != nil {
		t.Fatal(err)
	}
	if len(uv) != BFM2009Vertices || uv[0] != [2]float64{0.23626612698954166, 0.7827212565014388} ||
		uv[53489] != [2]float64{1.0, 0.2689000070095062} {
		t.Errorf("len %d, first %v, last %v", len(uv), uv[0], uv[len(uv)-1])
	}
	if _, err := ReadUVMAT("testdata/mat_tddfa_map.mat"); err == nil ||
		err.Error() != `bfm: UV map: mat5: testdata/mat_tddfa_map.mat has no variable "UV" (it holds: map_tddfa_to_basel)` {
		t.Errorf("no UV: %v", err)
	}
}

type tddfaExpect struct {
	Vertices   int         `json:"vertices"`
	Components int         `json:"components"`
	Map        []int       `json:"map"`
	Mean       []float64   `json:"mean_mm"`
	Basis      [][]float64 `json:"basis_mm"`
}

func TestReadTDDFAExpressionFixture(t *testing.T) {
	var e tddfaExpect
	loadJSON(t, "mat_tddfa.json", &e)
	m, err := ReadTDDFAExpression("testdata/mat_tddfa_exp.mat", "testdata/mat_tddfa_map.mat", e.Vertices)
	if err != nil {
		t.Fatal(err)
	}
	if m.NumVertices() != 40 || m.NumComponents() != 4 || m.Components[3] != (Component{"expression_pc04", Expression}) {
		t.Fatalf("V %d D %d %v", m.NumVertices(), m.NumComponents(), m.Components)
	}
	closeSlices(t, "tddfa mean", m.Mean, e.Mean, 1e-12)
	for d := range e.Basis {
		closeSlices(t, "tddfa basis", m.Basis[d], e.Basis[d], 1e-12)
	}
	// A model with fewer vertices than the map addresses is rejected.
	_, err = ReadTDDFAExpression("testdata/mat_tddfa_exp.mat", "testdata/mat_tddfa_map.mat", 10)
	if err == nil || !strings.HasPrefix(err.Error(), "bfm: testdata/mat_tddfa_map.mat: map_tddfa_to_basel(") ||
		!strings.Contains(err.Error(), "expected a 0-based BFM vertex index in [0, 10)") {
		t.Errorf("small model: %v", err)
	}
	// The expression file is not a map.
	_, err = ReadTDDFAExpression("testdata/mat_tddfa_map.mat", "testdata/mat_tddfa_map.mat", 40)
	if err == nil || err.Error() != `bfm: 3DDFA expression model: mat5: testdata/mat_tddfa_map.mat has no variable "mu_exp" (it holds: map_tddfa_to_basel)` {
		t.Errorf("wrong file: %v", err)
	}
}

// TestTDDFAMapReal reads the reference's map onto the 53,490 BFM vertices.
func TestTDDFAMapReal(t *testing.T) {
	p := filepath.Join(readersShared(t), "data", "3dmmstn", "map_tddfa_to_basel.mat")
	f, err := mat5.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	mp, err := tddfaMap(f, p, BFM2009Vertices)
	if err != nil {
		t.Fatal(err)
	}
	if len(mp) != 53215 || mp[0] != 0 || mp[53214] != 53489 || mp[1000] != 1000 {
		t.Errorf("len %d, %d %d %d", len(mp), mp[0], mp[1000], mp[53214])
	}
}

func TestReadANL(t *testing.T) {
	idx, err := ReadANL("testdata/anl_small.anl")
	if err != nil || len(idx) != 3 || idx[0] != 0 || idx[1] != 39 || idx[2] != 6 {
		t.Errorf("%v %v", idx, err)
	}
	_, err = ReadANL("testdata/bad_anl_zero.anl")
	if err == nil || err.Error() != `bfm: testdata/bad_anl_zero.anl: line 3: expected a 1-based vertex index (integer >= 1), found "0"` {
		t.Errorf("zero: %v", err)
	}
	if _, _, err := ReadANLScheme("testdata/anl_small.anl"); err == nil ||
		err.Error() != "bfm: testdata/anl_small.anl: expected 21 (aflw21) or 68 (ibug68) indices, found 3" {
		t.Errorf("scheme: %v", err)
	}
}

func TestReadANLReal(t *testing.T) {
	dir := filepath.Join(readersShared(t), "data", "3dmmstn", "landmarks")
	cases := []struct {
		file, scheme string
		first, last  int
	}{
		{"Landmarks21_BFM.anl", SchemeAFLW21, 38791, -1},
		{"Landmarks21_112.anl", SchemeAFLW21, 2488, -1},
		{"Landmarks21_224.anl", SchemeAFLW21, 10129, -1},
		{"Landmarks68_BFM.anl", SchemeIBUG68, 22142, 7193},
	}
	for _, c := range cases {
		s, idx, err := ReadANLScheme(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if s != c.scheme || idx[0] != c.first || (c.last >= 0 && idx[len(idx)-1] != c.last) {
			t.Errorf("%s: %s first %d last %d", c.file, s, idx[0], idx[len(idx)-1])
		}
		for _, v := range idx {
			if v < 0 || v >= BFM2009Vertices {
				t.Errorf("%s: index %d outside the BFM", c.file, v)
			}
		}
	}
}
