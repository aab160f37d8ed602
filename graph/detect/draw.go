package detect

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/stn3d/stn3d/dataset"
)

// Drawn returns a copy of img with each detection's box (green, 2 px) and
// score drawn on it.
func Drawn(img image.Image, dets []Detection) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	c := color.RGBA{40, 230, 60, 255}
	for _, d := range dets {
		x0, y0 := d.Box.X0-float64(b.Min.X), d.Box.Y0-float64(b.Min.Y)
		x1, y1 := d.Box.X1-float64(b.Min.X), d.Box.Y1-float64(b.Min.Y)
		for k := 0.0; k < 2; k++ {
			dataset.DrawLine(out, x0-k, y0-k, x1+k, y0-k, c)
			dataset.DrawLine(out, x1+k, y0-k, x1+k, y1+k, c)
			dataset.DrawLine(out, x1+k, y1+k, x0-k, y1+k, c)
			dataset.DrawLine(out, x0-k, y1+k, x0-k, y0-k, c)
		}
		dataset.DrawText(out, int(x0), int(y0)-8, fmt.Sprintf("%.2f", d.Score), 1, c)
	}
	return out
}
