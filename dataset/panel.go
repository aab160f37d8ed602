package dataset

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// Colours of Panel's landmark marks.
var (
	red   = color.RGBA{230, 30, 30, 255}
	green = color.RGBA{30, 220, 30, 255}
	blue  = color.RGBA{40, 80, 240, 255}
)

// PanelInput is one image's worth of STN output for a Figure-6-style panel
// (Bas et al. 2017, Fig. 6): the input with predicted and true landmarks, the
// fitted shape, the sampled texture, the visibility mask and the masked
// output. Optional parts left nil leave their tile out.
type PanelInput struct {
	// Image is the network input.
	Image image.Image
	// Predicted landmarks are drawn green, Truth red, in Image's pixel
	// coordinates relative to its bounds origin. TruthVisible, if not nil,
	// hides true points whose flag is false.
	Predicted, Truth [][2]float64
	TruthVisible     []bool

	// Vertices (image space of Image: x, y pixels, z depth larger = nearer)
	// and Triangles of the fitted shape, rendered grey-shaded in its pose.
	Vertices  [][3]float64
	Triangles [][3]int32

	// Texture is the sampled texture, Channels x Rows x Cols (channel-major,
	// as the STN's output), Channels 1 or 3; values in TexRange map to
	// [0, 255] (TexRange zero means [0, 1]).
	Texture              []float32
	Channels, Rows, Cols int
	TexRange             [2]float32
	// Mask is the Rows x Cols visibility mask in [0, 1].
	Mask []float32

	// Captions writes a short upper-case caption above each tile.
	Captions bool
}

// Panel lays the tiles of in side by side on a dark background, every tile
// scaled (nearest neighbour) to the input's height: input with landmarks,
// shape, texture, mask, masked output.
func Panel(in PanelInput) (*image.RGBA, error) {
	lo, hi, err := in.check()
	if err != nil {
		return nil, fmt.Errorf("dataset: panel: %w", err)
	}
	tiles, err := in.tiles(lo, hi)
	if err != nil {
		return nil, fmt.Errorf("dataset: panel: %w", err)
	}
	return composePanel(tiles, in.Captions), nil
}

// panelTile is one captioned tile of a panel.
type panelTile struct {
	img     *image.RGBA
	caption string
}

// check validates in and returns the texture range (TexRange, [0, 1] if
// zero).
func (in PanelInput) check() (lo, hi float32, err error) {
	if in.Image == nil {
		return 0, 0, errors.New("no input image")
	}
	ib := in.Image.Bounds()
	if ib.Dy() == 0 || ib.Dx() == 0 {
		return 0, 0, fmt.Errorf("input image is %dx%d", ib.Dx(), ib.Dy())
	}
	if in.TruthVisible != nil && len(in.TruthVisible) != len(in.Truth) {
		return 0, 0, fmt.Errorf("%d visibility flags for %d true landmarks", len(in.TruthVisible), len(in.Truth))
	}
	n := in.Rows * in.Cols
	if in.Texture != nil {
		if in.Channels != 1 && in.Channels != 3 {
			return 0, 0, fmt.Errorf("texture has %d channels, want 1 or 3", in.Channels)
		}
		if in.Rows <= 0 || in.Cols <= 0 || len(in.Texture) != in.Channels*n {
			return 0, 0, fmt.Errorf("texture has %d values, want %d x %d x %d", len(in.Texture), in.Channels, in.Rows, in.Cols)
		}
	}
	if in.Mask != nil && (in.Rows <= 0 || in.Cols <= 0 || len(in.Mask) != n) {
		return 0, 0, fmt.Errorf("mask has %d values, want %d x %d", len(in.Mask), in.Rows, in.Cols)
	}
	lo, hi = in.TexRange[0], in.TexRange[1]
	if lo == 0 && hi == 0 {
		hi = 1
	}
	if !(hi > lo) {
		return 0, 0, fmt.Errorf("texture range [%v, %v] is empty", lo, hi)
	}
	return lo, hi, nil
}

// tiles draws the tiles of a checked in; texture values in [lo, hi] map to
// [0, 255].
func (in PanelInput) tiles(lo, hi float32) ([]panelTile, error) {
	ib := in.Image.Bounds()
	h, w := ib.Dy(), ib.Dx()
	var tiles []panelTile

	// Input with landmarks.
	inp := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(inp, inp.Rect, in.Image, ib.Min, draw.Src)
	rad := max(1, h/112)
	for i, p := range in.Truth {
		if in.TruthVisible == nil || in.TruthVisible[i] {
			DrawMark(inp, p[0], p[1], rad, red)
		}
	}
	for _, p := range in.Predicted {
		DrawMark(inp, p[0], p[1], rad, green)
	}
	tiles = append(tiles, panelTile{inp, "input"})

	if in.Vertices != nil {
		shp := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(shp, shp.Rect, image.NewUniform(color.RGBA{0, 0, 0, 255}), image.Point{}, draw.Src)
		r, err := NewRenderer(w, h)
		if err != nil {
			return nil, err
		}
		sh := Shading{Light: [3]float64{0.3, 0.4, 1}, Ambient: 0.15, Diffuse: 0.85}
		if err := r.Render(shp, in.Vertices, in.Triangles, nil, sh); err != nil {
			return nil, fmt.Errorf("shape: %w", err)
		}
		tiles = append(tiles, panelTile{shp, "shape"})
	}

	// Texture-space tiles at the input's height; val(k, c) is channel c of
	// texel k, mapped from [lo, hi].
	n := in.Rows * in.Cols
	tw := max(1, int(math.Round(float64(in.Cols)*float64(h)/float64(max(in.Rows, 1)))))
	texTile := func(val func(k, c int) float32, channels int, lo, hi float32) *image.RGBA {
		t := image.NewRGBA(image.Rect(0, 0, tw, h))
		for y := 0; y < h; y++ {
			row := min(y*in.Rows/h, in.Rows-1)
			for x := 0; x < tw; x++ {
				col := min(x*in.Cols/tw, in.Cols-1)
				k := row*in.Cols + col
				i := y*t.Stride + 4*x
				for c := 0; c < 3; c++ {
					v := val(k, min(c, channels-1))
					t.Pix[i+c] = uint8(min(max((v-lo)/(hi-lo), 0), 1)*255 + 0.5)
				}
				t.Pix[i+3] = 255
			}
		}
		return t
	}
	if in.Texture != nil {
		tex := func(k, c int) float32 { return in.Texture[c*n+k] }
		tiles = append(tiles, panelTile{texTile(tex, in.Channels, lo, hi), "texture"})
	}
	if in.Mask != nil {
		tiles = append(tiles, panelTile{texTile(func(k, _ int) float32 { return in.Mask[k] }, 1, 0, 1), "mask"})
		if in.Texture != nil {
			out := func(k, c int) float32 { return lo + (in.Texture[c*n+k]-lo)*in.Mask[k] }
			tiles = append(tiles, panelTile{texTile(out, in.Channels, lo, hi), "output"})
		}
	}
	return tiles, nil
}

// composePanel lays tiles (all of one height) side by side on a dark
// background, with captions above them if asked.
func composePanel(tiles []panelTile, captions bool) *image.RGBA {
	const gap = 4
	top := 0
	if captions {
		top = 14
	}
	total, h := gap, 0
	for _, t := range tiles {
		total += t.img.Rect.Dx() + gap
		h = max(h, t.img.Rect.Dy())
	}
	out := image.NewRGBA(image.Rect(0, 0, total, top+h+2*gap))
	draw.Draw(out, out.Rect, image.NewUniform(color.RGBA{24, 24, 24, 255}), image.Point{}, draw.Src)
	x := gap
	for _, t := range tiles {
		r := t.img.Rect.Add(image.Pt(x, top+gap))
		draw.Draw(out, r, t.img, image.Point{}, draw.Src)
		if captions {
			scale := 2
			if TextWidth(t.caption, scale) > t.img.Rect.Dx() {
				scale = 1
			}
			DrawText(out, x, 3, t.caption, scale, color.RGBA{230, 230, 230, 255})
		}
		x += t.img.Rect.Dx() + gap
	}
	return out
}

// WritePNG encodes img as PNG to path atomically (internal/atomicfile):
// readers never see a partial file, and the file has mode 0644 subject to
// the umask. Errors name path.
func WritePNG(path string, img image.Image) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
		return fmt.Errorf("dataset: png: %w", err)
	}
	return nil
}
