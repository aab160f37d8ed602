package dataset

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderCED(t *testing.T) {
	flat := CEDCurve{Label: "flat", Points: []CEDPoint{{0, 0.5}, {10, 0.5}}}
	ramp := CEDCurve{Label: "ramp", Points: []CEDPoint{{0, 0}, {10, 1}}}
	const w, h = 400, 300
	img, err := RenderCED([]CEDCurve{flat, ramp}, w, h)
	if err != nil {
		t.Fatal(err)
	}
	pw, ph := float64(w-cedLeft-cedRight), float64(h-cedTop-cedBottom)
	px := func(nme, frac float64) (int, int) {
		return int(cedLeft + nme/10*pw + 0.5), int(cedTop + (1-frac)*ph + 0.5)
	}
	// The flat curve at fraction 0.5, x = 2.5 %.
	x, y := px(2.5, 0.5)
	if got := img.RGBAAt(x, y); got != cedColours[0] {
		t.Errorf("flat curve pixel (%d,%d) = %v, want %v", x, y, got, cedColours[0])
	}
	// The ramp through (7.5 %, 0.75).
	x, y = px(7.5, 0.75)
	if got := img.RGBAAt(x, y); got != cedColours[1] && img.RGBAAt(x, y-1) != cedColours[1] {
		t.Errorf("ramp pixel (%d,%d) = %v, want %v", x, y, got, cedColours[1])
	}
	// Grid line at 3 %, fraction 0.9 (no curve there).
	x, y = px(3, 0.95)
	if got := img.RGBAAt(x, y); got != (color.RGBA{225, 225, 225, 255}) {
		t.Errorf("grid pixel (%d,%d) = %v", x, y, got)
	}
	// The y axis is black, the top-right corner white.
	if got := img.RGBAAt(cedLeft, cedTop+5); got != (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("axis pixel %v", got)
	}
	if got := img.RGBAAt(w-1, 0); got != (color.RGBA{255, 255, 255, 255}) {
		t.Errorf("corner %v", got)
	}
	p := filepath.Join(t.TempDir(), "ced.png")
	if err := WriteCEDPlot(p, []CEDCurve{flat, ramp}, w, h); err != nil {
		t.Fatal(err)
	}
	back, err := LoadImage(p)
	if err != nil || back.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("reload: %v", err)
	}
	if os.Getenv("STN3D_KEEP_PLOT") != "" {
		if err := os.WriteFile(os.Getenv("STN3D_KEEP_PLOT"), mustRead(t, p), 0o644); err != nil {
			t.Error(err)
		}
	}
}

func mustRead(t *testing.T, p string) []byte {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRenderCEDErrors(t *testing.T) {
	ok := CEDCurve{Label: "a", Points: []CEDPoint{{0, 0}, {1, 1}}}
	cases := []struct {
		curves []CEDCurve
		w, h   int
		want   string
	}{
		{[]CEDCurve{ok}, 10, 300, "dataset: CED plot size 10x300, want 112..8192 x 100..8192"},
		{nil, 300, 300, "dataset: CED plot: no curves"},
		{[]CEDCurve{{Label: "b", Points: []CEDPoint{{0, 0}}}}, 300, 300, `curve 0 ("b") has 1 points, want at least 2`},
		{[]CEDCurve{ok, {Label: "c", Points: []CEDPoint{{1, 0}, {1, 1}}}}, 300, 300, `curve 1 ("c") point 1 = {NME:1 Fraction:1}: want increasing NME`},
		{[]CEDCurve{{Label: "d", Points: []CEDPoint{{0, 0}, {1, 1.5}}}}, 300, 300, `curve 0 ("d") point 1`},
	}
	for _, c := range cases {
		_, err := RenderCED(c.curves, c.w, c.h)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want %q", err, c.want)
		}
	}
}
