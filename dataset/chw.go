package dataset

import (
	"errors"
	"fmt"
	"image"
	"image/color"
)

// ImageToCHW converts img, which must be w x h pixels, to the network input
// layout: three float32 planes R, G, B (C x H x W, each plane row-major from
// img.Bounds().Min) of v*(1/255) - mean[c] in dst, which must hold exactly
// 3*w*h values. It is the one conversion used for training (Batcher) and
// inference; zero mean gives plain [0, 1] input.
//
// v is the 8-bit channel value c>>8, where c is what img.At(x, y).RGBA()
// returns, for every image type: colours are read premultiplied by alpha,
// which is otherwise ignored. *image.RGBA, *image.NRGBA, *image.Gray and
// *image.YCbCr take fast paths with exactly the same results; any bounds
// (sub-images, a non-zero Min) are handled. 1/255 is rounded to float32
// before the product (so v*(1/255) may differ from the correctly rounded
// v/255 by one unit in the last place); the product and the mean are
// combined in one expression.
//
// Errors (wrong image size, wrong dst length, nil image) do not name the
// image; callers wrap them.
func ImageToCHW(dst []float32, img image.Image, w, h int, mean [3]float32) error {
	if img == nil {
		return errors.New("no image")
	}
	b := img.Bounds()
	if w <= 0 || h <= 0 {
		return fmt.Errorf("image size %dx%d requested, want positive sizes", w, h)
	}
	if b.Dx() != w || b.Dy() != h {
		return fmt.Errorf("image is %dx%d, want %dx%d", b.Dx(), b.Dy(), w, h)
	}
	plane := w * h
	if len(dst) != 3*plane {
		return fmt.Errorf("destination holds %d values, want 3 x %d x %d = %d", len(dst), h, w, 3*plane)
	}
	r, g, bl := dst[:plane], dst[plane:2*plane], dst[2*plane:]
	const inv = 1.0 / 255
	switch m := img.(type) {
	case *image.RGBA:
		for y := 0; y < h; y++ {
			i0 := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[i0 : i0+4*w]
			o := y * w
			for x := 0; x < w; x++ {
				r[o+x] = float32(row[4*x])*inv - mean[0]
				g[o+x] = float32(row[4*x+1])*inv - mean[1]
				bl[o+x] = float32(row[4*x+2])*inv - mean[2]
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			i0 := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[i0 : i0+4*w]
			o := y * w
			for x := 0; x < w; x++ {
				p := row[4*x : 4*x+4 : 4*x+4]
				cr, cg, cb := uint32(p[0]), uint32(p[1]), uint32(p[2])
				if p[3] != 255 { // premultiply exactly as color.NRGBA.RGBA does
					cr, cg, cb, _ = color.NRGBA{p[0], p[1], p[2], p[3]}.RGBA()
					cr, cg, cb = cr>>8, cg>>8, cb>>8
				}
				r[o+x] = float32(cr)*inv - mean[0]
				g[o+x] = float32(cg)*inv - mean[1]
				bl[o+x] = float32(cb)*inv - mean[2]
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			i0 := m.PixOffset(b.Min.X, b.Min.Y+y)
			row := m.Pix[i0 : i0+w]
			o := y * w
			for x := 0; x < w; x++ {
				v := float32(row[x]) * inv
				r[o+x], g[o+x], bl[o+x] = v-mean[0], v-mean[1], v-mean[2]
			}
		}
	case *image.YCbCr:
		// color.YCbCrToRGB equals YCbCr.RGBA()>>8 for all 2^24 inputs.
		for y := 0; y < h; y++ {
			o := y * w
			for x := 0; x < w; x++ {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				r[o+x] = float32(cr)*inv - mean[0]
				g[o+x] = float32(cg)*inv - mean[1]
				bl[o+x] = float32(cb)*inv - mean[2]
			}
		}
	default:
		for y := 0; y < h; y++ {
			o := y * w
			for x := 0; x < w; x++ {
				cr, cg, cb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				r[o+x] = float32(cr>>8)*inv - mean[0]
				g[o+x] = float32(cg>>8)*inv - mean[1]
				bl[o+x] = float32(cb>>8)*inv - mean[2]
			}
		}
	}
	return nil
}
