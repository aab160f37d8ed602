package bfm

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func previewRead(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestWriteUVPreview(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uv.png")
	uv := [][2]float64{{0, 0}, {1, 0}, {1, 1}, {0, 1}}
	tris := [][3]int32{{0, 1, 2}, {0, 2, 3}}
	if err := WriteUVPreview(path, uv, tris, 64); err != nil {
		t.Fatal(err)
	}
	img := previewRead(t, path)
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Fatalf("size %v, want 64 x 64", b)
	}
	dark := func(x, y int) bool { r, _, _, _ := img.At(x, y).RGBA(); return r < 0x8000 }
	// The border of the square and the diagonal from uv (0,0) (bottom-left
	// pixel) to (1,1) (top-right pixel) are drawn; x + y = 63 on it.
	for _, p := range [][2]int{{0, 0}, {63, 63}, {0, 30}, {30, 0}, {63, 30}, {30, 63}, {10, 53}, {53, 10}} {
		if !dark(p[0], p[1]) {
			t.Errorf("pixel %v is not drawn", p)
		}
	}
	for _, p := range [][2]int{{40, 40}, {10, 10}, {20, 30}} {
		if dark(p[0], p[1]) {
			t.Errorf("pixel %v is drawn, want background", p)
		}
	}
	if err := WriteUVPreview(path, uv, [][3]int32{{0, 1, 4}}, 64); err == nil || !strings.Contains(err.Error(), "triangle 0") {
		t.Errorf("bad index: err = %v", err)
	}
	if err := WriteUVPreview(path, uv, tris, 0); err == nil || !strings.Contains(err.Error(), "size 0") {
		t.Errorf("size 0: err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("%d files in the directory, want 1", len(ents))
	}
}

func TestWriteGeometryImagePNG(t *testing.T) {
	g := &GridModel{Rows: 2, Cols: 3, Mean: []float64{
		0, 10, -5, 1, 10, -5, 2, 10, -5,
		0, 20, 5, 1, 20, 5, 99, 99, 99,
	}, Valid: []bool{true, true, true, true, true, false}}
	path := filepath.Join(t.TempDir(), "geom.png")
	if err := WriteGeometryImagePNG(path, g); err != nil {
		t.Fatal(err)
	}
	img := previewRead(t, path)
	want := [][3]uint32{{0, 0, 0}, {128, 0, 0}, {255, 0, 0}, {0, 255, 255}, {128, 255, 255}, {0, 0, 0}}
	for k, w := range want {
		r, gg, b, _ := img.At(k%3, k/3).RGBA()
		if got := [3]uint32{r >> 8, gg >> 8, b >> 8}; got != w {
			t.Errorf("pixel (%d,%d) = %v, want %v", k/3, k%3, got, w)
		}
	}
	g.Mean = g.Mean[:5]
	if err := WriteGeometryImagePNG(path, g); err == nil {
		t.Error("inconsistent grid: want an error")
	}
}

// TestWritePreviewsSFM writes the Surrey model's Tutte wireframe and its
// geometry image when STN3D_PREVIEW_DIR is set (for looking at them).
func TestWritePreviewsSFM(t *testing.T) {
	out := os.Getenv("STN3D_PREVIEW_DIR")
	if out == "" {
		t.Skip("set STN3D_PREVIEW_DIR to write the SFM previews")
	}
	m := gridSFM(t)
	uv, err := Flatten(m, FlattenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteUVPreview(filepath.Join(out, "sfm_tutte_uv.png"), uv, m.Triangles, 1024); err != nil {
		t.Fatal(err)
	}
	g, err := BuildGrid(m, GridOptions{Rows: 112, Cols: 112})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteGeometryImagePNG(filepath.Join(out, "sfm_geometry_112.png"), g); err != nil {
		t.Fatal(err)
	}
}
