package run

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

// tinyGrid3 is a 3x3 grid whose centre vertex (4) is invalid. Every quad
// touches the centre, so of GridTriangles' 8 triangles only {1,5,2} (quad
// (0,1)) and {3,6,7} (quad (1,0)) survive; after dropping vertex 4 they are
// renumbered {1,4,2} and {3,5,6}.
func tinyGrid3() *bfm.GridModel {
	valid := make([]bool, 9)
	for i := range valid {
		valid[i] = i != 4
	}
	return &bfm.GridModel{Rows: 3, Cols: 3, Valid: valid}
}

func TestGridMeshOmitsInvalid(t *testing.T) {
	gm := tinyGrid3()
	verts := make([][3]float64, 9)
	tex := make([]float32, 27)
	for k := range verts {
		verts[k] = [3]float64{float64(k), float64(10 * k), -float64(k)}
		tex[k], tex[9+k], tex[18+k] = 0.5, float32(k)/8, 2 // 2 clamps to 255
	}
	m, err := GridMesh(gm, verts, tex)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Vertices) != 8 || len(m.UV) != 8 || len(m.Colors) != 8 {
		t.Fatalf("got %d vertices %d uvs %d colours, want 8", len(m.Vertices), len(m.UV), len(m.Colors))
	}
	want := [][3]int32{{1, 4, 2}, {3, 5, 6}}
	if len(m.Triangles) != 2 || m.Triangles[0] != want[0] || m.Triangles[1] != want[1] {
		t.Fatalf("triangles %v, want %v", m.Triangles, want)
	}
	// Exported vertex 4 is grid vertex 5 (row 1, col 2): uv (1, 0.5).
	if m.GridVertex[4] != 5 || m.Vertices[4] != verts[5] || m.UV[4] != [2]float64{1, 0.5} {
		t.Fatalf("vertex 4: grid %d pos %v uv %v, want 5 %v (1, 0.5)", m.GridVertex[4], m.Vertices[4], m.UV[4], verts[5])
	}
	// Grid vertex 8 (row 2, col 2): uv (1, 0); colour (128, 255, 255).
	if m.UV[7] != [2]float64{1, 0} || m.Colors[7] != [3]uint8{128, 255, 255} {
		t.Fatalf("vertex 7: uv %v colour %v", m.UV[7], m.Colors[7])
	}
	if m.Colors[0] != [3]uint8{128, 0, 255} {
		t.Fatalf("vertex 0 colour %v, want (128, 0, 255)", m.Colors[0])
	}

	m.FlipWinding()
	if m.Triangles[0] != [3]int32{1, 2, 4} || m.Triangles[1] != [3]int32{3, 6, 5} {
		t.Fatalf("flipped triangles %v", m.Triangles)
	}

	// Errors name what is wrong.
	if _, err := GridMesh(gm, verts[:8], tex); err == nil || !strings.Contains(err.Error(), "8 vertices, want 9") {
		t.Fatalf("short vertices: %v", err)
	}
	if _, err := GridMesh(gm, verts, tex[:20]); err == nil || !strings.Contains(err.Error(), "texture has 20 values") {
		t.Fatalf("short texture: %v", err)
	}
}

func TestEncodeOBJPLYExact(t *testing.T) {
	m := &ExportMesh{
		Vertices:  [][3]float64{{0, 0, 0}, {1.5, 0, 0}, {0, 2, -0.25}},
		UV:        [][2]float64{{0, 1}, {1, 1}, {0, 0}},
		Colors:    [][3]uint8{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}},
		Triangles: [][3]int32{{0, 2, 1}},
	}
	var b bytes.Buffer
	if err := EncodeOBJ(&b, m, "x.mtl"); err != nil {
		t.Fatal(err)
	}
	wantOBJ := "# stn3d fitted mesh: 3 vertices, 1 triangles\nmtllib x.mtl\nusemtl face\n" +
		"v 0 0 0\nv 1.5 0 0\nv 0 2 -0.25\nvt 0 1\nvt 1 1\nvt 0 0\nf 1/1 3/3 2/2\n"
	if b.String() != wantOBJ {
		t.Fatalf("OBJ:\n%s\nwant:\n%s", b.String(), wantOBJ)
	}
	b.Reset()
	if err := EncodePLY(&b, m); err != nil {
		t.Fatal(err)
	}
	wantPLY := "ply\nformat ascii 1.0\ncomment stn3d fitted mesh\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n" +
		"property uchar red\nproperty uchar green\nproperty uchar blue\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n" +
		"0 0 0 255 0 0\n1.5 0 0 0 255 0\n0 2 -0.25 0 0 255\n3 0 2 1\n"
	if b.String() != wantPLY {
		t.Fatalf("PLY:\n%s\nwant:\n%s", b.String(), wantPLY)
	}
	b.Reset()
	if err := EncodeMTL(&b, "tex.png"); err != nil || !strings.HasSuffix(b.String(), "map_Kd tex.png\n") {
		t.Fatalf("MTL %q, %v", b.String(), err)
	}

	bad := *m
	bad.Triangles = [][3]int32{{0, 1, 3}}
	if err := EncodeOBJ(&b, &bad, ""); err == nil || !strings.Contains(err.Error(), "triangle 0 index 3 outside 0..2") {
		t.Fatalf("bad index: %v", err)
	}
}

func TestFillFromMirror(t *testing.T) {
	// 2x3 grid, one channel. Mirror pairs per row: col 0 <-> 2, col 1 itself.
	gm := &bfm.GridModel{Rows: 2, Cols: 3}
	tex := []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6}
	mask := []float32{1, 0, 0, 0, 1, 0}
	filled, conf, err := FillFromMirror(gm, tex, mask)
	if err != nil {
		t.Fatal(err)
	}
	wantF := []float32{0.1, 0, 0.1, 0, 0.5, 0}
	wantC := []float32{1, 0, 0.5, 0, 1, 0}
	for i := range wantF {
		if filled[i] != wantF[i] || conf[i] != wantC[i] {
			t.Fatalf("texel %d: filled %v conf %v, want %v %v", i, filled[i], conf[i], wantF[i], wantC[i])
		}
	}
	if _, _, err := FillFromMirror(gm, tex, mask[:5]); err == nil {
		t.Fatal("short mask accepted")
	}
}

// BenchmarkMeshExport64 builds and encodes (OBJ and PLY) the mesh of a
// 64 x 64 geometry image, the default grid.
func BenchmarkMeshExport64(b *testing.B) {
	gm := &bfm.GridModel{Rows: 64, Cols: 64}
	n := gm.N()
	verts := make([][3]float64, n)
	tex := make([]float32, 3*n)
	for k := range verts {
		verts[k] = [3]float64{float64(k % 64), float64(k / 64), float64(k%7) * 0.25}
		tex[k], tex[n+k], tex[2*n+k] = float32(k%64)/64, 0.5, 0.25
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m, err := GridMesh(gm, verts, tex)
		if err != nil {
			b.Fatal(err)
		}
		buf.Reset()
		if err := EncodeOBJ(&buf, m, "x.mtl"); err != nil {
			b.Fatal(err)
		}
		if err := EncodePLY(&buf, m); err != nil {
			b.Fatal(err)
		}
	}
}
