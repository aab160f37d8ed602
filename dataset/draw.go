package dataset

import (
	"image"
	"image/color"
	"math"
)

// Drawing primitives on *image.RGBA used by the synthetic source (occluders)
// and by Panel (landmark marks, captions). Coordinates are pixels relative to
// the image's bounds origin, with (0, 0) the centre of the top-left pixel;
// everything is clipped to the bounds and nothing allocates.

// setPix writes c at (x, y) relative to dst's bounds origin, ignoring pixels
// outside the bounds.
func setPix(dst *image.RGBA, x, y int, c color.RGBA) {
	b := dst.Rect
	if x < 0 || y < 0 || x >= b.Dx() || y >= b.Dy() {
		return
	}
	i := y*dst.Stride + 4*x
	dst.Pix[i], dst.Pix[i+1], dst.Pix[i+2], dst.Pix[i+3] = c.R, c.G, c.B, c.A
}

// FillRect paints the pixels whose centres lie in [x0, x1] x [y0, y1].
func FillRect(dst *image.RGBA, x0, y0, x1, y1 float64, c color.RGBA) {
	ix0, iy0 := int(math.Ceil(x0)), int(math.Ceil(y0))
	ix1, iy1 := int(math.Floor(x1)), int(math.Floor(y1))
	ix0, iy0 = max(ix0, 0), max(iy0, 0)
	ix1, iy1 = min(ix1, dst.Rect.Dx()-1), min(iy1, dst.Rect.Dy()-1)
	for y := iy0; y <= iy1; y++ {
		for x := ix0; x <= ix1; x++ {
			setPix(dst, x, y, c)
		}
	}
}

// FillEllipse paints the pixels whose centres satisfy
// ((x-cx)/rx)^2 + ((y-cy)/ry)^2 <= 1.
func FillEllipse(dst *image.RGBA, cx, cy, rx, ry float64, c color.RGBA) {
	if rx <= 0 || ry <= 0 {
		return
	}
	y0 := max(int(math.Ceil(cy-ry)), 0)
	y1 := min(int(math.Floor(cy+ry)), dst.Rect.Dy()-1)
	for y := y0; y <= y1; y++ {
		dy := (float64(y) - cy) / ry
		h := 1 - dy*dy
		if h < 0 {
			continue
		}
		half := rx * math.Sqrt(h)
		x0 := max(int(math.Ceil(cx-half)), 0)
		x1 := min(int(math.Floor(cx+half)), dst.Rect.Dx()-1)
		for x := x0; x <= x1; x++ {
			setPix(dst, x, y, c)
		}
	}
}

// DrawLine draws a 1-pixel line from (x0, y0) to (x1, y1) (DDA on pixel
// centres).
func DrawLine(dst *image.RGBA, x0, y0, x1, y1 float64, c color.RGBA) {
	n := int(math.Ceil(max(math.Abs(x1-x0), math.Abs(y1-y0))))
	if n == 0 {
		setPix(dst, int(math.Round(x0)), int(math.Round(y0)), c)
		return
	}
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		setPix(dst, int(math.Round(x0+t*(x1-x0))), int(math.Round(y0+t*(y1-y0))), c)
	}
}

// DrawMark draws a landmark: a filled disc of radius r pixels centred on the
// nearest pixel to (x, y). NaN coordinates draw nothing.
func DrawMark(dst *image.RGBA, x, y float64, r int, c color.RGBA) {
	if math.IsNaN(x) || math.IsNaN(y) {
		return
	}
	cx, cy := int(math.Round(x)), int(math.Round(y))
	for dy := -r; dy <= r; dy++ {
		for dx := -r; dx <= r; dx++ {
			if dx*dx+dy*dy <= r*r+r/2 {
				setPix(dst, cx+dx, cy+dy, c)
			}
		}
	}
}

// font3x5 holds 3x5 bitmap glyphs, one uint16 per glyph, row-major from the
// top, bit 14 = top-left. Only what captions need.
var font3x5 = map[rune]uint16{
	'A': 0b010101111101101, 'B': 0b110101110101110, 'C': 0b011100100100011,
	'D': 0b110101101101110, 'E': 0b111100110100111, 'F': 0b111100110100100,
	'G': 0b011100101101011, 'H': 0b101101111101101, 'I': 0b111010010010111,
	'J': 0b001001001101010, 'K': 0b101101110101101, 'L': 0b100100100100111,
	'M': 0b101111111101101, 'N': 0b110101101101101, 'O': 0b010101101101010,
	'P': 0b110101110100100, 'Q': 0b010101101110011, 'R': 0b110101110101101,
	'S': 0b011100010001110, 'T': 0b111010010010010, 'U': 0b101101101101111,
	'V': 0b101101101101010, 'W': 0b101101111111101, 'X': 0b101101010101101,
	'Y': 0b101101010010010, 'Z': 0b111001010100111,
	'0': 0b111101101101111, '1': 0b010110010010111, '2': 0b110001010100111,
	'3': 0b110001010001110, '4': 0b101101111001001, '5': 0b111100110001110,
	'6': 0b011100111101111, '7': 0b111001010010010, '8': 0b111101111101111,
	'9': 0b111101111001110, '.': 0b000000000000010, '-': 0b000000111000000,
	':': 0b000010000010000, '/': 0b001001010100100, '%': 0b101001010100101,
	'(': 0b010100100100010, ')': 0b010001001001010, '=': 0b000111000111000,
}

// DrawText writes s with its top-left corner at pixel (x, y) in a 3x5 bitmap
// font magnified by scale (>= 1), 4*scale pixels per character. Lower case is
// drawn as upper case; characters without a glyph leave a blank.
func DrawText(dst *image.RGBA, x, y int, s string, scale int, c color.RGBA) {
	scale = max(scale, 1)
	for _, ch := range s {
		if ch >= 'a' && ch <= 'z' {
			ch -= 'a' - 'A'
		}
		g := font3x5[ch]
		for row := 0; row < 5; row++ {
			for col := 0; col < 3; col++ {
				if g&(1<<(14-(row*3+col))) == 0 {
					continue
				}
				for dy := 0; dy < scale; dy++ {
					for dx := 0; dx < scale; dx++ {
						setPix(dst, x+col*scale+dx, y+row*scale+dy, c)
					}
				}
			}
		}
		x += 4 * scale
	}
}

// TextWidth returns the width in pixels DrawText uses for s.
func TextWidth(s string, scale int) int {
	return 4 * max(scale, 1) * len([]rune(s))
}
