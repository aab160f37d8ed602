package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // registers JPEG (baseline, progressive, grey, CMYK/YCCK)
	_ "image/png"  // registers PNG (1..16 bit, grey, palette, alpha)
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxPixels is the largest image LoadImage accepts (40 megapixels,
// e.g. 7746x5164); a larger width x height in the header is refused with an
// ErrImageTooLarge error before any pixel memory is allocated. Decoding
// holds about 8 bytes a pixel (the decoder's image and its RGBA copy), so
// one image at the limit takes about 320 MB; see DecodeBudgetPixels for
// how many decode at once.
const DefaultMaxPixels = 40_000_000

// ErrImageTooLarge is matched (errors.Is) by the error of an image whose
// header declares more pixels than the limit.
var ErrImageTooLarge = errors.New("image exceeds the pixel limit")

// TooLargeError is an image refused for its size before decoding.
type TooLargeError struct {
	Format string
	// W and H are the declared width and height, Limit the pixel limit.
	W, H, Limit int64
}

func (e *TooLargeError) Error() string {
	if e.H > 0 && e.W <= math.MaxInt64/e.H {
		return fmt.Sprintf("%s image is %dx%d = %d pixels, more than the limit %d", e.Format, e.W, e.H, e.W*e.H, e.Limit)
	}
	return fmt.Sprintf("%s image is %dx%d pixels, more than the limit %d", e.Format, e.W, e.H, e.Limit)
}

// Is makes errors.Is(err, ErrImageTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrImageTooLarge }

// tooLarge reports whether a w x h image has more than limit pixels,
// without overflowing.
func tooLarge(w, h, limit int64) bool {
	return w > limit || h > limit || (h > 0 && w > limit/h)
}

// imageExtensions are the file extensions (lower case) of the formats
// DecodeImage reads: JPEG, PNG and Netpbm (.pnm may hold any of P2, P3, P5
// and P6; the format is taken from the content, never the name).
var imageExtensions = []string{".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pnm"}

// ImageExtensions returns the file extensions, lower case with the leading
// dot, that the package takes for images when it scans folders: those of
// the formats LoadImage decodes (.jpg, .jpeg, .png, .ppm, .pgm, .pnm). The
// slice is a fresh copy.
func ImageExtensions() []string {
	return slices.Clone(imageExtensions)
}

// IsImageFile reports whether path's extension is, in any case, one of
// ImageExtensions. It looks at the name only.
func IsImageFile(path string) bool {
	ext := filepath.Ext(path)
	for _, e := range imageExtensions {
		if strings.EqualFold(ext, e) {
			return true
		}
	}
	return false
}

// LoadImage reads a JPEG, PNG or binary/ASCII PPM/PGM (P2, P3, P5, P6) file
// and returns it as an *image.RGBA whose bounds start at (0, 0), refusing
// images of more than DefaultMaxPixels pixels. Errors name the file.
func LoadImage(path string) (image.Image, error) {
	return LoadImageMax(path, DefaultMaxPixels)
}

// LoadImageMax is LoadImage with a pixel limit; maxPixels <= 0 means
// DefaultMaxPixels.
func LoadImageMax(path string, maxPixels int64) (image.Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: load image: %w", err)
	}
	img, err := DecodeImage(data, maxPixels)
	if err != nil {
		return nil, fmt.Errorf("dataset: load image %s: %w", path, err)
	}
	return img, nil
}

// DecodeImage decodes an encoded image held in memory (see LoadImage) into
// an *image.RGBA with bounds starting at (0, 0). The header is decoded first
// and images with width*height > maxPixels (DefaultMaxPixels if maxPixels
// <= 0) or a non-positive size are refused. Truncated or corrupt data is an
// error, never a partial image.
func DecodeImage(data []byte, maxPixels int64) (*image.RGBA, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	isPNM := len(data) >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7'
	var (
		w, h   int
		format string
	)
	if isPNM {
		hdr, err := parsePNMHeader(data)
		if err != nil {
			return nil, err
		}
		w, h, format = hdr.w, hdr.h, "pnm"
	} else {
		cfg, f, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("reading header: %w", err)
		}
		w, h, format = cfg.Width, cfg.Height, f
	}
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("%s image has size %dx%d, want positive", format, w, h)
	}
	if tooLarge(int64(w), int64(h), maxPixels) {
		return nil, &TooLargeError{Format: format, W: int64(w), H: int64(h), Limit: maxPixels}
	}
	release := decodeBudget.acquire(int64(w) * int64(h))
	defer release()
	var (
		img image.Image
		err error
	)
	if isPNM {
		img, err = decodePNM(data)
	} else {
		img, _, err = image.Decode(bytes.NewReader(data))
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", format, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return nil, fmt.Errorf("decoding %s: image is %dx%d, header says %dx%d", format, b.Dx(), b.Dy(), w, h)
	}
	return asRGBA(img), nil
}

// asRGBA returns img as an *image.RGBA with bounds at the origin, copying
// (and converting colour models: grey, 16-bit, palette, CMYK, YCbCr) unless
// img already is one.
func asRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	if m, ok := img.(*image.RGBA); ok && b.Min == (image.Point{}) {
		return m
	}
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if g, ok := img.(*image.Gray); ok {
		// Common for grey JPEGs; draw.Draw has no fast path for it.
		for y := 0; y < b.Dy(); y++ {
			src := g.Pix[y*g.Stride : y*g.Stride+b.Dx()]
			dst := out.Pix[y*out.Stride : y*out.Stride+4*b.Dx()]
			for x, v := range src {
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = v, v, v, 255
			}
		}
		return out
	}
	draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	return out
}

// pnmHeader is the parsed header of a Netpbm file.
type pnmHeader struct {
	magic  byte // '2', '3', '5' or '6'
	w, h   int
	maxval int
	offset int // first raster byte (binary) or first sample token (ASCII)
}

// parsePNMHeader parses "P<n> <width> <height> <maxval>" with '#' comments
// and the single whitespace byte that ends the header.
func parsePNMHeader(data []byte) (pnmHeader, error) {
	h := pnmHeader{magic: data[1]}
	switch h.magic {
	case '2', '3', '5', '6':
	default:
		return h, fmt.Errorf("netpbm P%c not supported (want P2, P3, P5 or P6)", h.magic)
	}
	pos := 2
	var vals [3]int
	names := [3]string{"width", "height", "maxval"}
	for k := range vals {
		tok, next, err := pnmToken(data, pos)
		if err != nil {
			return h, fmt.Errorf("netpbm header %s: %w", names[k], err)
		}
		v, err := strconv.Atoi(string(tok))
		if err != nil || v <= 0 {
			return h, fmt.Errorf("netpbm header %s %q: want a positive integer", names[k], tok)
		}
		vals[k] = v
		pos = next
	}
	h.w, h.h, h.maxval = vals[0], vals[1], vals[2]
	if h.maxval > 65535 {
		return h, fmt.Errorf("netpbm maxval %d: want 1..65535", h.maxval)
	}
	if pos >= len(data) || !isPNMSpace(data[pos]) {
		return h, fmt.Errorf("netpbm header: want one whitespace byte after maxval: %w", io.ErrUnexpectedEOF)
	}
	h.offset = pos + 1
	return h, nil
}

func isPNMSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// pnmToken returns the next whitespace-separated token at or after pos,
// skipping '#' comments to the end of the line.
func pnmToken(data []byte, pos int) (tok []byte, next int, err error) {
	for pos < len(data) {
		c := data[pos]
		if c == '#' {
			for pos < len(data) && data[pos] != '\n' && data[pos] != '\r' {
				pos++
			}
			continue
		}
		if !isPNMSpace(c) {
			break
		}
		pos++
	}
	start := pos
	for pos < len(data) && !isPNMSpace(data[pos]) && data[pos] != '#' {
		pos++
	}
	if start == pos {
		return nil, pos, io.ErrUnexpectedEOF
	}
	return data[start:pos], pos, nil
}

// decodePNM decodes P2/P5 (grey) and P3/P6 (RGB) Netpbm images with any
// maxval, scaling samples to 8 bits as round(v * 255 / maxval).
func decodePNM(data []byte) (*image.RGBA, error) {
	h, err := parsePNMHeader(data)
	if err != nil {
		return nil, err
	}
	ch := 1
	if h.magic == '3' || h.magic == '6' {
		ch = 3
	}
	n := h.w * h.h * ch
	samples := make([]uint16, n)
	switch h.magic {
	case '5', '6':
		bps := 1
		if h.maxval > 255 {
			bps = 2
		}
		raster := data[h.offset:]
		if len(raster) < n*bps {
			return nil, fmt.Errorf("netpbm raster has %d bytes, want %d: %w", len(raster), n*bps, io.ErrUnexpectedEOF)
		}
		for i := range samples {
			if bps == 1 {
				samples[i] = uint16(raster[i])
			} else {
				samples[i] = uint16(raster[2*i])<<8 | uint16(raster[2*i+1])
			}
		}
	default:
		pos := h.offset
		for i := range samples {
			tok, next, err := pnmToken(data, pos)
			if err != nil {
				return nil, fmt.Errorf("netpbm sample %d of %d: %w", i, n, err)
			}
			v, err := strconv.Atoi(string(tok))
			if err != nil || v < 0 {
				return nil, fmt.Errorf("netpbm sample %d %q: want a non-negative integer", i, tok)
			}
			samples[i] = uint16(min(v, 65535))
			pos = next
		}
	}
	for i, v := range samples {
		if int(v) > h.maxval {
			return nil, fmt.Errorf("netpbm sample %d = %d exceeds maxval %d", i, v, h.maxval)
		}
	}
	scale := func(v uint16) uint8 {
		if h.maxval == 255 {
			return uint8(v)
		}
		return uint8((uint32(v)*255 + uint32(h.maxval)/2) / uint32(h.maxval))
	}
	img := image.NewRGBA(image.Rect(0, 0, h.w, h.h))
	for p := 0; p < h.w*h.h; p++ {
		var r, g, b uint8
		if ch == 1 {
			r = scale(samples[p])
			g, b = r, r
		} else {
			r, g, b = scale(samples[3*p]), scale(samples[3*p+1]), scale(samples[3*p+2])
		}
		img.Pix[4*p], img.Pix[4*p+1], img.Pix[4*p+2], img.Pix[4*p+3] = r, g, b, 255
	}
	return img, nil
}
