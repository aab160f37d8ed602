package run

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tinyGrid3 is a 3x3 grid whose centre vertex (4) is invalid. Quad column
// 0 is split along a-e, column 1 along b-d (bfm.GridQuadSplit), and every
// quad touches the centre, so of the 8 triangles only {3,6,7} (quad (1,0))
// and {5,7,8} (quad (1,1), its mirror image) survive; after dropping vertex
// 4 they are renumbered {3,5,6} and {4,6,7}.
func tinyGrid3() *bfm.GridModel {
	valid := make([]bool, 9)
	for i := range valid {
		valid[i] = i != 4
	}
	return &bfm.GridModel{Rows: 3, Cols: 3, Mean: make([]float64, 27), Valid: valid}
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
	want := [][3]int32{{3, 5, 6}, {4, 6, 7}}
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
	if m.Triangles[0] != [3]int32{3, 6, 5} || m.Triangles[1] != [3]int32{4, 7, 6} {
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
	_, gm, err := LoadModels(DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if gm.Rows != 64 || gm.Cols != 64 {
		b.Fatalf("default grid %d x %d, want 64 x 64", gm.Rows, gm.Cols)
	}
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

// TestGridMeshCentreVertex: a 2 x 4 grid has an even number of columns, so
// its middle quad is a fan around a centre vertex, exported last at the
// mean position, texture coordinate and colour of its corners 1, 2, 5, 6.
func TestGridMeshCentreVertex(t *testing.T) {
	gm := &bfm.GridModel{Rows: 2, Cols: 4, Mean: make([]float64, 24)}
	verts := make([][3]float64, 8)
	tex := make([]float32, 8)
	for k := range verts {
		verts[k] = [3]float64{float64(k % 4), -float64(k / 4), float64(k)}
		tex[k] = float32(k) / 10
	}
	m, err := GridMesh(gm, verts, tex)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Vertices) != 9 || len(m.Triangles) != 8 {
		t.Fatalf("%d vertices, %d triangles; want 9 (8 + 1 centre) and 8 (2 + 4 fan + 2)", len(m.Vertices), len(m.Triangles))
	}
	if m.GridVertex[8] != 8 || m.Vertices[8] != [3]float64{1.5, -0.5, 3.5} {
		t.Errorf("centre vertex: grid index %d at %v, want 8 at (1.5, -0.5, 3.5)", m.GridVertex[8], m.Vertices[8])
	}
	if m.UV[8] != [2]float64{0.5, 0.5} {
		t.Errorf("centre uv %v, want (0.5, 0.5)", m.UV[8])
	}
	if want := toByte(0.35); m.Colors[8] != [3]uint8{want, want, want} {
		t.Errorf("centre colour %v, want grey %d (mean of 0.1, 0.2, 0.5, 0.6)", m.Colors[8], want)
	}
	fan := 0
	for _, tr := range m.Triangles {
		if tr[0] == 8 || tr[1] == 8 || tr[2] == 8 {
			fan++
		}
	}
	if fan != 4 {
		t.Errorf("%d triangles use the centre, want the 4 of the fan", fan)
	}
}

// TestGridMeshAgreesWithMask: the exported mesh's triangles are the ones
// whose normals decide the visibility mask. For a turned default face,
// summing the z components of the exported triangles' normals (model frame,
// y up, before FlipWinding) at each grid vertex gives exactly the mask of
// ops.BackfaceMask.
func TestGridMeshAgreesWithMask(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	gm, err := bfm.BuildGrid(m, bfm.GridOptions{Rows: 24, Cols: 24, UseModelUV: true})
	if err != nil {
		t.Fatal(err)
	}
	gm.Valid = nil // every vertex exported, so mesh and mask cover the same set
	n := gm.N()
	for _, yaw := range []float64{0, 0.6, -1.1, 1.4} {
		c, s := math.Cos(yaw), math.Sin(yaw)
		verts := make([][3]float64, n)
		planar := make([]float64, 3*n)
		for k := 0; k < n; k++ {
			x, y, z := gm.Mean[3*k], gm.Mean[3*k+1], gm.Mean[3*k+2]
			verts[k] = [3]float64{c*x + s*z, y, -s*x + c*z}
			planar[k], planar[n+k], planar[2*n+k] = verts[k][0], verts[k][1], verts[k][2]
		}
		mesh, err := GridMesh(gm, verts, make([]float32, n))
		if err != nil {
			t.Fatal(err)
		}
		nz := make([]float64, len(mesh.Vertices))
		for _, tr := range mesh.Triangles {
			a, b, d := mesh.Vertices[tr[0]], mesh.Vertices[tr[1]], mesh.Vertices[tr[2]]
			z := (b[0]-a[0])*(d[1]-a[1]) - (b[1]-a[1])*(d[0]-a[0])
			for _, k := range tr {
				nz[k] += z
			}
		}
		mask := backfaceMask(t, planar, gm.Rows, gm.Cols)
		hidden := 0
		for k := 0; k < n; k++ {
			want := 0.0
			if nz[k] > 0 {
				want = 1
			}
			if mask[k] != want {
				t.Errorf("yaw %.1f: vertex %d: mask %v, exported triangles' normal z %v", yaw, k, mask[k], nz[k])
			}
			if want == 0 {
				hidden++
			}
		}
		if yaw > 1 || yaw < -1 {
			if hidden == 0 {
				t.Errorf("yaw %.1f: no vertex hidden, want the far side hidden", yaw)
			}
		}
	}
}

// backfaceMask runs ops.BackfaceMask on one planar (3, N) point set.
func backfaceMask(t *testing.T, planar []float64, rows, cols int) []float64 {
	t.Helper()
	g := gorgonia.NewGraph()
	x := gorgonia.NewTensor(g, tensor.Float64, 3, gorgonia.WithShape(1, 3, rows*cols), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(1, 3, rows*cols), tensor.WithBacking(planar))))
	mask, err := ops.BackfaceMask(x, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer func() {
		if err := vm.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return append([]float64(nil), mask.Value().Data().([]float64)...)
}

// TestLoadModelsNilLog: LoadModels takes a nil logger, also when it has
// something to say (the default config asks for 5 expression components
// of the default model's 4).
func TestLoadModelsNilLog(t *testing.T) {
	_, gm, err := LoadModels(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if gm.Rows != 64 || gm.Cols != 64 || len(gm.Mean) != 3*64*64 {
		t.Errorf("grid %d x %d with %d mean values, want 64 x 64 and 12288", gm.Rows, gm.Cols, len(gm.Mean))
	}
}
