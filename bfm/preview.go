package bfm

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// maxPreviewSize bounds the side of a UV preview in pixels.
const maxPreviewSize = 16384

// WriteUVPreview draws the wireframe of a flattened mesh as a size x size
// PNG: white background, triangle edges in dark blue, (u, v) = (0, 1) at the
// top-left pixel and (1, 0) at the bottom-right one, so the face is upright
// (v = 1 at the top) and u grows to the right. Pixel centres sit at
// (u (size-1), (1-v)(size-1)). The file is written atomically.
func WriteUVPreview(path string, uv [][2]float64, tris [][3]int32, size int) error {
	if size < 2 || size > maxPreviewSize {
		return fmt.Errorf("bfm: UV preview %s: size %d, want in [2, %d]", path, size, maxPreviewSize)
	}
	for i, p := range uv {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
			return fmt.Errorf("bfm: UV preview %s: uv[%d] = %v, want finite", path, i, p)
		}
	}
	for t, tri := range tris {
		for _, v := range tri {
			if v < 0 || int(v) >= len(uv) {
				return fmt.Errorf("bfm: UV preview %s: triangle %d = %v has an index outside [0, %d)", path, t, tri, len(uv))
			}
		}
	}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	ink := color.NRGBA{R: 20, G: 40, B: 120, A: 255}
	s := float64(size - 1)
	px := func(p [2]float64) (int, int) {
		return int(math.Round(p[0] * s)), int(math.Round((1 - p[1]) * s))
	}
	for _, tri := range tris {
		for k := 0; k < 3; k++ {
			x0, y0 := px(uv[tri[k]])
			x1, y1 := px(uv[tri[(k+1)%3]])
			previewLine(img, x0, y0, x1, y1, ink)
		}
	}
	return previewWritePNG(path, img)
}

// previewLine draws the segment (x0,y0)-(x1,y1) with Bresenham's algorithm,
// clipped to the image.
func previewLine(img *image.NRGBA, x0, y0, x1, y1 int, c color.NRGBA) {
	dx, dy := x1-x0, y1-y0
	if dx < 0 {
		dx = -dx
	}
	if dy < 0 {
		dy = -dy
	}
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	b := img.Bounds()
	e := dx - dy
	for {
		if x0 >= b.Min.X && x0 < b.Max.X && y0 >= b.Min.Y && y0 < b.Max.Y {
			img.SetNRGBA(x0, y0, c)
		}
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 > -dy {
			e -= dy
			x0 += sx
		}
		if e2 < dx {
			e += dx
			y0 += sy
		}
	}
}

// WriteGeometryImagePNG writes the mean shape of g as a Rows x Cols RGB
// image (the geometry image of Bas et al. 2017, Fig. 3): pixel (row, col)
// is grid vertex k = row*Cols + col and its R, G, B are x, y, z mapped
// linearly from their [min, max] over the valid texels to [0, 255]
// (round((c - min) / (max - min) * 255), 128 for a constant channel).
// Invalid texels are black. The file is written atomically.
func WriteGeometryImagePNG(path string, g *GridModel) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("bfm: geometry image %s: %w", path, err)
	}
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for k := 0; k < g.N(); k++ {
		if g.Valid != nil && !g.Valid[k] {
			continue
		}
		for j := 0; j < 3; j++ {
			x := g.Mean[3*k+j] // finite: Validate
			lo[j], hi[j] = min(lo[j], x), max(hi[j], x)
		}
	}
	if math.IsInf(lo[0], 1) {
		return fmt.Errorf("bfm: geometry image %s: no valid texel", path)
	}
	img := image.NewNRGBA(image.Rect(0, 0, g.Cols, g.Rows))
	for k := 0; k < g.N(); k++ {
		o := 4 * k
		img.Pix[o+3] = 255
		if g.Valid != nil && !g.Valid[k] {
			continue
		}
		for j := 0; j < 3; j++ {
			v := 128.0
			if hi[j] > lo[j] {
				v = math.Round((g.Mean[3*k+j] - lo[j]) / (hi[j] - lo[j]) * 255)
			}
			img.Pix[o+j] = uint8(v)
		}
	}
	return previewWritePNG(path, img)
}

func previewWritePNG(path string, img image.Image) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("bfm: preview: %w", err)
	}
	return nil
}
