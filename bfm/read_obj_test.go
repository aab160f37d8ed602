package bfm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadOBJFixture(t *testing.T) {
	m, err := ReadOBJ("testdata/obj_quads.obj")
	if err != nil {
		t.Fatal(err)
	}
	if m.NumVertices() != 6 || m.NumComponents() != 0 || m.Format != "obj" || m.Units != "unit" {
		t.Fatalf("V %d D %d %s %s", m.NumVertices(), m.NumComponents(), m.Format, m.Units)
	}
	// Quad 1 2 5 4 -> (0,1,4), (0,4,3); quad -5 -4 -1 -2 = 2 3 6 5 -> (1,2,5), (1,5,4);
	// triangle 1 2 4 -> (0,1,3).
	want := [][3]int32{{0, 1, 4}, {0, 4, 3}, {1, 2, 5}, {1, 5, 4}, {0, 1, 3}}
	if len(m.Triangles) != len(want) {
		t.Fatalf("triangles %v", m.Triangles)
	}
	for i := range want {
		if m.Triangles[i] != want[i] {
			t.Errorf("triangle %d = %v, want %v", i, m.Triangles[i], want[i])
		}
	}
	if m.Mean[3*4+2] != 0.5 || m.Mean[3*5] != 2 {
		t.Errorf("mean %v", m.Mean)
	}
	wantUV := [][2]float64{{0, 0}, {0.5, 0}, {1, 0}, {0, 1}, {0.5, 1}, {1, 1}}
	if len(m.UV) != 6 {
		t.Fatalf("UV %v", m.UV)
	}
	for i := range wantUV {
		if m.UV[i] != wantUV[i] {
			t.Errorf("UV[%d] = %v, want %v", i, m.UV[i], wantUV[i])
		}
	}
}

func TestReadOBJSeamAndColour(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "seam.obj")
	src := "v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1\nvt 0 0\nvt 1 0\nvt 0 1\nvt 0.5 0.5\n" +
		"f 1/1 2/2 3/3\nf 1/4 3/3 2/2\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := ReadOBJ(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.UV != nil {
		t.Errorf("vertex 1 has two UVs, want UV nil, got %v", m.UV)
	}
	if len(m.Albedo) != 3 || m.Albedo[2] != [3]float64{0, 0, 1} {
		t.Errorf("albedo %v", m.Albedo)
	}
}

func TestReadOBJErrors(t *testing.T) {
	_, err := ReadOBJ("testdata/bad_obj_index.obj")
	want := `bfm: testdata/bad_obj_index.obj: line 4: expected a vertex index in [1, 3] or [-3, -1], found "7"`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
	// NaN and Inf are refused with the file and line (a NaN vertex got
	// through and broke "model info"'s JSON without naming the file).
	for _, c := range []struct{ text, want string }{
		{"v 0 0 0\nv 1 NaN 0\n", `line 2: expected a finite number, found "NaN"`},
		{"v 0 0 0 1 1 inf\n", `line 1: expected a finite number, found "inf"`},
		{"v 0 0 0\nvt 0 -Inf\n", `line 2: expected vt u v with finite numbers, found "vt 0 -Inf"`},
	} {
		p := filepath.Join(t.TempDir(), "nan.obj")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadOBJ(p); err == nil || err.Error() != "bfm: "+p+": "+c.want {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
		if _, err := Info(p); err == nil || !strings.HasPrefix(err.Error(), "bfm: "+p+": line ") {
			t.Errorf("Info %q: %v", c.text, err)
		}
	}
	p := filepath.Join(t.TempDir(), "empty.obj")
	os.WriteFile(p, []byte("# nothing\n"), 0o644)
	if _, err := ReadOBJ(p); err == nil || err.Error() != "bfm: "+p+`: expected at least one "v" line, found none` {
		t.Errorf("empty: %v", err)
	}
}
