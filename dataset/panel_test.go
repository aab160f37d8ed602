package dataset

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

func panelInput() PanelInput {
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	FillRect(img, 0, 0, 31, 31, color.RGBA{100, 100, 100, 255})
	verts, tris := hemisphere(16, 16, 10, 20)
	const rows, cols = 8, 8
	tex := make([]float32, 3*rows*cols)
	mask := make([]float32, rows*cols)
	for k := 0; k < rows*cols; k++ {
		tex[k] = float32(k) / 64              // red ramp
		tex[rows*cols+k] = 0.5                // green constant
		tex[2*rows*cols+k] = float32(k%8) / 8 // blue by column
		if k%8 < 4 {
			mask[k] = 1 // left half visible
		}
	}
	return PanelInput{
		Image: img, Truth: [][2]float64{{5, 5}, {20, 8}}, TruthVisible: []bool{true, false},
		Predicted: [][2]float64{{25, 25}},
		Vertices:  verts, Triangles: tris,
		Texture: tex, Channels: 3, Rows: rows, Cols: cols, Mask: mask,
	}
}

func TestPanelTiles(t *testing.T) {
	in := panelInput()
	p, err := Panel(in)
	if err != nil {
		t.Fatal(err)
	}
	// Five 32-pixel tiles with 4-pixel gaps around them.
	if got, want := p.Bounds(), image.Rect(0, 0, 4+5*36, 32+8); got != want {
		t.Fatalf("panel bounds %v, want %v", got, want)
	}
	tileX := func(i int) int { return 4 + 36*i }
	at := func(tile, x, y int) [3]uint8 { return rgbaAt(p, tileX(tile)+x, 4+y) }
	if got := at(0, 5, 5); got != [3]uint8{red.R, red.G, red.B} {
		t.Errorf("true landmark pixel = %v, want red", got)
	}
	if got := at(0, 20, 8); got != [3]uint8{100, 100, 100} {
		t.Errorf("hidden true landmark drawn: %v", got)
	}
	if got := at(0, 25, 25); got != [3]uint8{green.R, green.G, green.B} {
		t.Errorf("predicted landmark pixel = %v, want green", got)
	}
	if got := at(0, 12, 20); got != [3]uint8{100, 100, 100} {
		t.Errorf("input pixel = %v, want the image's grey", got)
	}
	// Shape: grey-shaded sphere in the middle, black outside.
	if c := at(1, 16, 16); c[0] < 100 || c[0] != c[1] || c[1] != c[2] {
		t.Errorf("shape centre = %v, want a bright grey", c)
	}
	if c := at(1, 1, 1); c != [3]uint8{} {
		t.Errorf("shape background = %v, want black", c)
	}
	// Texture, 4x magnified: texel (row 2, col 5) at tile pixel (21, 9).
	k := 2*8 + 5
	wantTex := [3]uint8{uint8(float32(k)/64*255 + 0.5), 128, 159}
	if got := at(2, 21, 9); got != wantTex {
		t.Errorf("texture texel = %v, want %v", got, wantTex)
	}
	if got := at(3, 21, 9); got != [3]uint8{} {
		t.Errorf("mask at a hidden texel = %v, want black", got)
	}
	if got := at(3, 9, 9); got != [3]uint8{255, 255, 255} {
		t.Errorf("mask at a visible texel = %v, want white", got)
	}
	if got := at(4, 21, 9); got != [3]uint8{} {
		t.Errorf("masked output at a hidden texel = %v, want black", got)
	}
	k = 2*8 + 2
	wantOut := [3]uint8{uint8(float32(k)/64*255 + 0.5), 128, 64}
	if got := at(4, 9, 9); got != wantOut {
		t.Errorf("masked output at a visible texel = %v, want %v", got, wantOut)
	}

	// Captions add a strip on top; optional tiles drop out.
	in.Captions = true
	in.Vertices, in.Mask = nil, nil
	p, err = Panel(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.Bounds(), image.Rect(0, 0, 4+2*36, 14+32+8); got != want {
		t.Errorf("captioned panel bounds %v, want %v", got, want)
	}
	lit := 0
	for x := 0; x < p.Bounds().Dx(); x++ {
		for y := 0; y < 14; y++ {
			if rgbaAt(p, x, y) == [3]uint8{230, 230, 230} {
				lit++
			}
		}
	}
	if lit == 0 {
		t.Error("no caption pixels")
	}
}

func TestPanelErrors(t *testing.T) {
	for _, c := range []struct {
		mod  func(*PanelInput)
		want string
	}{
		{func(in *PanelInput) { in.Image = nil }, "dataset: panel: no input image"},
		{func(in *PanelInput) { in.Texture = in.Texture[1:] }, "dataset: panel: texture has 191 values, want 3 x 8 x 8"},
		{func(in *PanelInput) { in.Channels = 2 }, "dataset: panel: texture has 2 channels, want 1 or 3"},
		{func(in *PanelInput) { in.Mask = in.Mask[:10] }, "dataset: panel: mask has 10 values, want 8 x 8"},
		{func(in *PanelInput) { in.TruthVisible = []bool{true} }, "dataset: panel: 1 visibility flags for 2 true landmarks"},
		{func(in *PanelInput) { in.TexRange = [2]float32{1, 1} }, "dataset: panel: texture range [1, 1] is empty"},
		{func(in *PanelInput) { in.Triangles = append(in.Triangles, [3]int32{0, 1, 99999}) }, "dataset: panel: shape: dataset: render: triangle"},
	} {
		in := panelInput()
		c.mod(&in)
		if _, err := Panel(in); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error = %v, want %q", err, c.want)
		}
	}
}

func TestWritePNGAtomic(t *testing.T) {
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.SetRGBA(2, 1, color.RGBA{1, 2, 3, 255})
	path := filepath.Join(dir, "a.png")
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, _ := got.At(2, 1).RGBA(); r>>8 != 1 || g>>8 != 2 || b>>8 != 3 || got.Bounds() != img.Bounds() {
		t.Errorf("round trip: bounds %v, pixel (%d,%d,%d)", got.Bounds(), r>>8, g>>8, b>>8)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after the write, want 1 (no temp files)", len(entries))
	}
	bad := filepath.Join(dir, "missing", "b.png")
	if err := WritePNG(bad, img); err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "dataset: png: write "+bad+": ") {
		t.Errorf("missing directory: %v", err)
	}
}

// TestPanelDefaultModel samples the texture of a rendered default face at
// its own (grid) vertices, as the STN does with a perfect fit, and checks the
// visibility mask: nearly all of a frontal face is visible, and at yaw +60
// the subject's left half (high grid columns) is mostly hidden while the
// right half is mostly visible. Writes the panels to $STN3D_PNG_DIR if set.
func TestPanelDefaultModel(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatalf("bfm.Default(): %v", err)
	}
	const rows, cols = 97, 81
	if m.NumVertices() != rows*cols {
		t.Skipf("default model has %d vertices, not a %dx%d grid", m.NumVertices(), rows, cols)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Size, cfg.Count, cfg.OccluderProb = 160, 4, 0
	s, err := NewSynthetic(m, cfg, "val")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := NewRenderer(cfg.Size, cfg.Size)
	for _, yaw := range []float64{0, -60} { // -60: turned to its own left, nose to image-right
		smp := renderPose(t, s, Pose{Yaw: yaw, Pitch: -5})
		cam := Camera{Pose: *smp.Pose}
		// Recover the camera renderPose used: scale 0.6 and centred.
		cam.S = 0.6 * float64(cfg.Size) / s.meanWidth
		rot := cam.Pose.Rotation()
		mid := float64(cfg.Size-1) / 2
		cam.T = [2]float64{mid - cam.S*(rot[0]*s.centre[0]+rot[1]*s.centre[1]+rot[2]*s.centre[2]), mid + cam.S*(rot[3]*s.centre[0]+rot[4]*s.centre[1]+rot[5]*s.centre[2])}
		verts, err := s.Vertices(make([]float64, s.d), cam)
		if err != nil {
			t.Fatal(err)
		}
		scratch := image.NewRGBA(image.Rect(0, 0, cfg.Size, cfg.Size))
		if err := r.Render(scratch, verts, m.Triangles, nil, DefaultShading()); err != nil {
			t.Fatal(err)
		}
		img := smp.Image.(*image.RGBA)
		tex := make([]float32, 3*rows*cols)
		mask := make([]float32, rows*cols)
		var visL, visR, nL, nR float64
		for k, p := range verts {
			x, y := int(math.Round(p[0])), int(math.Round(p[1]))
			if x >= 0 && y >= 0 && x < cfg.Size && y < cfg.Size {
				c := img.RGBAAt(x, y)
				tex[k], tex[rows*cols+k], tex[2*rows*cols+k] = float32(c.R)/255, float32(c.G)/255, float32(c.B)/255
			}
			if r.VertexVisible(k, 1, 0) {
				mask[k] = 1
			}
			switch col := k % cols; {
			case col < cols/2:
				visL, nL = visL+float64(mask[k]), nL+1
			case col > cols/2:
				visR, nR = visR+float64(mask[k]), nR+1
			}
		}
		fl, fr := visL/nL, visR/nR
		if yaw == 0 && (fl < 0.9 || fr < 0.9) {
			t.Errorf("frontal: visible fractions %.2f (right half of the subject) and %.2f (left), want > 0.9", fl, fr)
		}
		if yaw == -60 && (fr > 0.6 || fl < 0.9) {
			t.Errorf("yaw -60: visible fractions %.2f (near side) and %.2f (far side), want > 0.9 and < 0.6", fl, fr)
		}
		var pred [][2]float64
		for _, p := range smp.Landmarks[bfm.SchemeIBUG68].Points {
			pred = append(pred, [2]float64{p[0] + 1.5, p[1] - 1})
		}
		lm := smp.Landmarks[bfm.SchemeIBUG68]
		pn, err := Panel(PanelInput{
			Image: img, Truth: lm.Points, TruthVisible: lm.Visible, Predicted: pred,
			Vertices: verts, Triangles: m.Triangles,
			Texture: tex, Channels: 3, Rows: rows, Cols: cols, Mask: mask, Captions: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("STN3D_PNG_DIR"); dir != "" {
			if err := WritePNG(filepath.Join(dir, "panel_yaw"+strconv.Itoa(int(yaw))+".png"), pn); err != nil {
				t.Fatal(err)
			}
		}
	}
}
