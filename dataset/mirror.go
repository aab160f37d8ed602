package dataset

import (
	"fmt"
	"image"
	"image/draw"

	"github.com/stn3d/stn3d/bfm"
)

// Mirror returns the horizontal mirror image of s, the flip augmentation the
// siamese loss of Bas et al. (2017, Sec. 3.3) compares against:
//
//   - the image is flipped left to right: the pixel in column c moves to
//     column Min.X + Max.X - 1 - c (for bounds starting at 0, c' = W-1-c);
//   - every landmark (x, y) becomes (x', y) with x' = Min.X + Max.X - 1 - x,
//     the same map in our 0-based pixel-centre convention (the reference's
//     1-based x' = W+1-x), and the points of each scheme are permuted with
//     bfm.MirrorPermutation so that point i of the result is point perm[i] of
//     the input (the subject's left eye stays the "left eye" label);
//   - the Box becomes [x'(X1), x'(X0)] x [Y0, Y1];
//   - the Pose has yaw and roll negated, pitch unchanged: with F = diag(-1,1,1)
//     the mirrored rotation is F R F, and F Rz(r) Ry(y) Rx(p) F =
//     Rz(-r) Ry(-y) Rx(p);
//   - Shape and Name are kept (the shape weights are not mirrored).
//
// The returned sample shares nothing mutable with s except Shape. Mirror
// fails if s has no image, a landmark scheme is unknown to bfm, or a scheme's
// point or visibility count does not match its size.
func Mirror(s Sample) (Sample, error) {
	if s.Image == nil {
		return Sample{}, fmt.Errorf("dataset: mirror %q: sample has no image", s.Name)
	}
	b := s.Image.Bounds()
	flipX := float64(b.Min.X + b.Max.X - 1)
	out := Sample{Name: s.Name, Shape: s.Shape}
	if s.Landmarks != nil {
		out.Landmarks = make(map[string]Landmarks, len(s.Landmarks))
		for scheme, lm := range s.Landmarks {
			m, err := MirrorLandmarks(lm, scheme, flipX)
			if err != nil {
				return Sample{}, fmt.Errorf("dataset: mirror %q: %w", s.Name, err)
			}
			out.Landmarks[scheme] = m
		}
	}
	if s.Box != nil {
		out.Box = &Box{X0: flipX - s.Box.X1, Y0: s.Box.Y0, X1: flipX - s.Box.X0, Y1: s.Box.Y1}
	}
	if s.Pose != nil {
		out.Pose = &Pose{Yaw: -s.Pose.Yaw, Pitch: s.Pose.Pitch, Roll: -s.Pose.Roll}
	}
	out.Image = FlipImage(s.Image)
	return out, nil
}

// MirrorSample is Mirror for samples already validated by a reader or the
// synthetic source (known schemes, consistent counts, an image). It panics
// with a "dataset: ..." message if Mirror would fail: that is a programming
// error, not a data error; call Mirror for unvalidated samples.
func MirrorSample(s Sample) Sample {
	m, err := Mirror(s)
	if err != nil {
		panic(err.Error())
	}
	return m
}

// MirrorLandmarks mirrors one scheme's landmarks about the vertical line
// x = flipX/2: point i of the result is point perm[i] of lm with x replaced by
// flipX - x (flipX = W-1 for an image W pixels wide whose bounds start at 0),
// perm = bfm.MirrorPermutation(scheme).
func MirrorLandmarks(lm Landmarks, scheme string, flipX float64) (Landmarks, error) {
	perm := bfm.MirrorPermutation(scheme)
	if perm == nil {
		return Landmarks{}, fmt.Errorf("landmarks: unknown scheme %q (want one of %v)", scheme, bfm.Schemes())
	}
	if len(lm.Points) != len(perm) {
		return Landmarks{}, fmt.Errorf("landmarks %q: %d points, want %d", scheme, len(lm.Points), len(perm))
	}
	if lm.Visible != nil && len(lm.Visible) != len(perm) {
		return Landmarks{}, fmt.Errorf("landmarks %q: %d visibility flags, want %d", scheme, len(lm.Visible), len(perm))
	}
	if lm.Hidden != nil && len(lm.Hidden) != len(perm) {
		return Landmarks{}, fmt.Errorf("landmarks %q: %d hidden flags, want %d", scheme, len(lm.Hidden), len(perm))
	}
	out := Landmarks{Points: make([][2]float64, len(perm))}
	if lm.Visible != nil {
		out.Visible = make([]bool, len(perm))
	}
	if lm.Hidden != nil {
		out.Hidden = make([]bool, len(perm))
	}
	for i, j := range perm {
		p := lm.Points[j]
		out.Points[i] = [2]float64{flipX - p[0], p[1]}
		if lm.Visible != nil {
			out.Visible[i] = lm.Visible[j]
		}
		if lm.Hidden != nil {
			out.Hidden[i] = lm.Hidden[j]
		}
	}
	return out, nil
}

// FlipImage returns a new image that is img flipped left to right, with the
// same bounds. *image.RGBA, *image.NRGBA and *image.Gray keep their type;
// any other image is converted to *image.RGBA first.
func FlipImage(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.RGBA:
		out := image.NewRGBA(m.Rect)
		flipRows(out.Pix, out.Stride, m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), 4)
		return out
	case *image.NRGBA:
		out := image.NewNRGBA(m.Rect)
		flipRows(out.Pix, out.Stride, m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), 4)
		return out
	case *image.Gray:
		out := image.NewGray(m.Rect)
		flipRows(out.Pix, out.Stride, m.Pix, m.Stride, m.Rect.Dx(), m.Rect.Dy(), 1)
		return out
	}
	b := img.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, img, b.Min, draw.Src)
	flipRowsInPlace(rgba.Pix, rgba.Stride, b.Dx(), b.Dy(), 4)
	return rgba
}

// flipRows writes the mirror of src into dst, w x h pixels of bpp bytes.
func flipRows(dst []byte, dstStride int, src []byte, srcStride, w, h, bpp int) {
	for y := 0; y < h; y++ {
		s := src[y*srcStride : y*srcStride+w*bpp]
		d := dst[y*dstStride : y*dstStride+w*bpp]
		if bpp == 4 {
			for x, j := 0, 4*(w-1); x < 4*w; x, j = x+4, j-4 {
				d[j], d[j+1], d[j+2], d[j+3] = s[x], s[x+1], s[x+2], s[x+3]
			}
			continue
		}
		for x := 0; x < w; x++ {
			copy(d[(w-1-x)*bpp:(w-x)*bpp], s[x*bpp:(x+1)*bpp])
		}
	}
}

// flipRowsInPlace mirrors each row of pix in place.
func flipRowsInPlace(pix []byte, stride, w, h, bpp int) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+w*bpp]
		for a, b := 0, w-1; a < b; a, b = a+1, b-1 {
			for k := 0; k < bpp; k++ {
				row[a*bpp+k], row[b*bpp+k] = row[b*bpp+k], row[a*bpp+k]
			}
		}
	}
}
