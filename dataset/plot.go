package dataset

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// CEDCurve is one labelled cumulative error distribution.
type CEDCurve struct {
	Label  string
	Points []CEDPoint
}

// CED plot layout in pixels.
const (
	cedLeft, cedRight, cedTop, cedBottom = 56, 16, 16, 44
)

// cedColours are the curve colours, in order.
var cedColours = [...]color.RGBA{
	{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255},
	{255, 127, 14, 255}, {148, 103, 189, 255}, {23, 190, 207, 255},
}

// RenderCED draws cumulative error distribution curves on a w x h white
// image: x is the NME in percent from 0 to the largest threshold of any
// curve (ticks and vertical grid lines every 1 %, labelled every 2 %), y the
// fraction of images from 0 to 1 (ticks and grid every 0.1, labelled every
// 0.2), one colour per curve, a legend at the lower right. Each curve is
// drawn as straight segments between its points, which must have
// increasing NME.
func RenderCED(curves []CEDCurve, w, h int) (*image.RGBA, error) {
	if w < cedLeft+cedRight+40 || h < cedTop+cedBottom+40 || w > 8192 || h > 8192 {
		return nil, fmt.Errorf("dataset: CED plot size %dx%d, want %d..8192 x %d..8192", w, h, cedLeft+cedRight+40, cedTop+cedBottom+40)
	}
	if len(curves) == 0 {
		return nil, fmt.Errorf("dataset: CED plot: no curves")
	}
	xMax := 0.0
	for ci, c := range curves {
		if len(c.Points) < 2 {
			return nil, fmt.Errorf("dataset: CED plot: curve %d (%q) has %d points, want at least 2", ci, c.Label, len(c.Points))
		}
		for i, p := range c.Points {
			if !isFinite(p.NME) || !isFinite(p.Fraction) || p.NME < 0 || p.Fraction < 0 || p.Fraction > 1 || (i > 0 && p.NME <= c.Points[i-1].NME) {
				return nil, fmt.Errorf("dataset: CED plot: curve %d (%q) point %d = %+v: want increasing NME >= 0 and fraction in [0, 1]", ci, c.Label, i, p)
			}
			xMax = max(xMax, p.NME)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	pw, ph := float64(w-cedLeft-cedRight), float64(h-cedTop-cedBottom)
	toPx := func(nme, frac float64) (float64, float64) {
		return cedLeft + nme/xMax*pw, cedTop + (1-frac)*ph
	}
	grid := color.RGBA{225, 225, 225, 255}
	ink := color.RGBA{0, 0, 0, 255}
	// Vertical grid and x ticks every 1 %, labels every 2 %.
	for v := 0.0; v <= xMax+1e-9; v++ {
		x, _ := toPx(v, 0)
		DrawLine(img, x, cedTop, x, cedTop+ph, grid)
		DrawLine(img, x, cedTop+ph, x, cedTop+ph+4, ink)
		if int(v)%2 == 0 {
			s := strconv.Itoa(int(v))
			DrawText(img, int(x)-TextWidth(s, 2)/2, int(cedTop+ph)+8, s, 2, ink)
		}
	}
	for k := 0; k <= 10; k++ {
		_, y := toPx(0, float64(k)/10)
		DrawLine(img, cedLeft, y, cedLeft+pw, y, grid)
		DrawLine(img, cedLeft-4, y, cedLeft, y, ink)
		if k%2 == 0 {
			s := strconv.FormatFloat(float64(k)/10, 'f', 1, 64)
			DrawText(img, cedLeft-6-TextWidth(s, 2), int(y)-5, s, 2, ink)
		}
	}
	// Axes.
	DrawLine(img, cedLeft, cedTop, cedLeft, cedTop+ph, ink)
	DrawLine(img, cedLeft, cedTop+ph, cedLeft+pw, cedTop+ph, ink)
	label := "NME (%)"
	DrawText(img, cedLeft+int(pw)/2-TextWidth(label, 2)/2, h-14, label, 2, ink)
	// Curves, two pixels thick.
	for ci, c := range curves {
		col := cedColours[ci%len(cedColours)]
		for i := 1; i < len(c.Points); i++ {
			x0, y0 := toPx(c.Points[i-1].NME, c.Points[i-1].Fraction)
			x1, y1 := toPx(c.Points[i].NME, c.Points[i].Fraction)
			DrawLine(img, x0, y0, x1, y1, col)
			DrawLine(img, x0, y0-1, x1, y1-1, col)
		}
		// Legend entry.
		ly := int(cedTop+ph) - 16*(len(curves)-ci)
		lx := int(cedLeft+pw) - 8 - TextWidth(c.Label, 2) - 24
		FillRect(img, float64(lx), float64(ly+3), float64(lx+16), float64(ly+5), col)
		DrawText(img, lx+22, ly, c.Label, 2, ink)
	}
	return img, nil
}

// WriteCEDPlot renders the curves (RenderCED) at w x h and writes a PNG to
// path atomically (internal/atomicfile).
func WriteCEDPlot(path string, curves []CEDCurve, w, h int) error {
	img, err := RenderCED(curves, w, h)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("dataset: CED plot: %w", err)
	}
	return nil
}
