package bfm

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadOBJ: any bytes give a model whose triangles and UVs fit its
// vertices and whose coordinates are finite, or an error; never a panic.
func FuzzReadOBJ(f *testing.F) {
	for _, n := range []string{"obj_quads.obj", "bad_obj_index.obj"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 0 1 0 0 0 1\nvt 0 0\nvt 1 0\nvt 0 1\nvt 0.5 0.5\nf 1/1 2/2 3/3\nf 1/4 3/3 2/2\n"))
	f.Add([]byte("v 0 0 0\nv 1 0 0\nv 0 1 0\nvn 0 0 1\nf -3//1 -2//1 -1//1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseOBJ(b, "fuzz.obj")
		if err != nil {
			return
		}
		nv := m.NumVertices()
		if nv == 0 || len(m.Mean) != 3*nv {
			t.Fatalf("%d vertices from %d values", nv, len(m.Mean))
		}
		for _, x := range m.Mean {
			if !finite(x) {
				t.Fatalf("coordinate %v", x)
			}
		}
		for _, tri := range m.Triangles {
			for _, v := range tri {
				if v < 0 || int(v) >= nv {
					t.Fatalf("triangle %v outside [0, %d)", tri, nv)
				}
			}
		}
		if m.UV != nil && len(m.UV) != nv {
			t.Fatalf("%d UVs for %d vertices", len(m.UV), nv)
		}
		if m.Albedo != nil && len(m.Albedo) != nv {
			t.Fatalf("%d colours for %d vertices", len(m.Albedo), nv)
		}
	})
}

// FuzzReadANL: any bytes give at least one non-negative index or an error.
func FuzzReadANL(f *testing.F) {
	for _, n := range []string{"anl_small.anl", "bad_anl_zero.anl"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("% comment\n\n  12\n7\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := parseANL(b, "fuzz.anl")
		if err != nil {
			return
		}
		if len(idx) == 0 {
			t.Fatal("no index and no error")
		}
		for _, v := range idx {
			if v < 0 {
				t.Fatalf("index %d", v)
			}
		}
	})
}

// FuzzLoadGrid feeds grid files to LoadGrid, once as mutated and once
// with the SHA-256 trailer recomputed (so that mutations of the header
// and payload get past the checksum): a loaded grid has consistent
// sizes; errors are fine, panics and hangs are not.
func FuzzLoadGrid(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "grid_small.stn3dgrid"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b, false)
	f.Add(b, true)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte, fixSum bool) {
		if fixSum && len(b) >= 16+sha256.Size {
			b = append([]byte(nil), b...)
			sum := sha256.Sum256(b[:len(b)-sha256.Size])
			copy(b[len(b)-sha256.Size:], sum[:])
		}
		p := filepath.Join(dir, "fuzz.grid")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := LoadGrid(p)
		if err != nil {
			return
		}
		n := g.Rows * g.Cols
		if g.Rows < 1 || g.Cols < 1 || len(g.Mean) != 3*n {
			t.Fatalf("%dx%d grid with %d mean values", g.Rows, g.Cols, len(g.Mean))
		}
		for d, c := range append([][]float64{g.Mean}, g.Basis...) {
			if len(c) != 3*n {
				t.Fatalf("basis %d has %d values, want %d", d-1, len(c), 3*n)
			}
			for _, x := range c {
				if !finite(x) {
					t.Fatalf("value %v loaded", x)
				}
			}
		}
		if (g.Valid != nil && len(g.Valid) != n) || (g.Albedo != nil && len(g.Albedo) != n) {
			t.Fatalf("valid %d, albedo %d, want %d", len(g.Valid), len(g.Albedo), n)
		}
		for s, idx := range g.Landmarks {
			for _, k := range idx {
				if k < -1 || k >= n {
					t.Fatalf("landmark %s vertex %d outside [-1, %d)", s, k, n)
				}
			}
		}
	})
}
