package dataset

import (
	"fmt"
	"image"
	"image/draw"
	"math"

	"github.com/nfnt/resize"
	"github.com/stn3d/stn3d/bfm"
)

// MaxCropSide is the largest side of the square CropSample cuts (before
// resizing): 16384 px, 1 GiB of RGBA.
const MaxCropSide = 16384

// CropOptions configures CropSample.
type CropOptions struct {
	// Size is the side of the output image in pixels (the localiser's input,
	// 224 in the paper).
	Size int
	// Margin is added on every side of the square, as a fraction of the
	// face box's larger side: the square's side is L * (1 + 2*Margin).
	Margin float64
	// UseBox centres the crop on the sample's face rectangle (Box) even when
	// landmarks are visible. By default the box of all visible landmarks is
	// used and the face rectangle only when no landmark is visible.
	UseBox bool
	// LandmarkOffsetY places the centre of a landmark box LandmarkOffsetY*L
	// pixels below the centre of the square (negative = above) instead of
	// at it, L the box's larger side. It applies only when the crop is
	// centred on landmarks: a localiser trained on renderings, whose
	// frontal iBUG box sits 0.15 box sides below the image centre, then
	// sees a photograph's face where it saw the rendered ones. In [-1, 1].
	LandmarkOffsetY float64
	// ShiftX and ShiftY move the square's centre by ShiftX*L and ShiftY*L
	// pixels (right and down), L the box's larger side: the crop jitter of
	// training augmentation. In [-1, 1].
	ShiftX, ShiftY float64
}

// CropTransform maps original pixel coordinates to crop pixel coordinates:
// u = Scale*x + OffX, v = Scale*y + OffY (pixel centres at integers in both,
// see the package doc). Apply and Invert are exact inverses.
type CropTransform struct {
	Scale, OffX, OffY float64
	// Region is the square of original pixels that was cropped (it may
	// extend outside the image; those pixels are black).
	Region image.Rectangle
}

// Apply maps an original-image point into the crop.
func (t CropTransform) Apply(p [2]float64) [2]float64 {
	return [2]float64{t.Scale*p[0] + t.OffX, t.Scale*p[1] + t.OffY}
}

// Invert maps a crop point (a prediction) back to original pixels.
func (t CropTransform) Invert(p [2]float64) [2]float64 {
	return [2]float64{(p[0] - t.OffX) / t.Scale, (p[1] - t.OffY) / t.Scale}
}

// InvertLandmarks maps every point of lm back to original pixels.
func (t CropTransform) InvertLandmarks(lm Landmarks) Landmarks { return lm.mapPoints(t.Invert) }

// mapPoints returns a copy of lm (flags included) with f applied to every
// point.
func (lm Landmarks) mapPoints(f func([2]float64) [2]float64) Landmarks {
	out := Landmarks{Points: make([][2]float64, len(lm.Points)), Visible: append([]bool(nil), lm.Visible...), Hidden: append([]bool(nil), lm.Hidden...)}
	for i, p := range lm.Points {
		out.Points[i] = f(p)
	}
	return out
}

// FaceBox returns the box CropSample centres on: the bounding box of the
// visible iBUG-68 points when the sample has at least two (the
// AFLW2000-3D protocol's box of the 68 points), else of all visible
// landmarks of every scheme, or s.Box when useBox is set or no landmark is
// visible. It fails if neither exists.
func FaceBox(s Sample, useBox bool) (Box, error) {
	b, _, err := faceBox(s, useBox)
	return b, err
}

// faceBox is FaceBox, also reporting whether the box came from landmarks.
func faceBox(s Sample, useBox bool) (Box, bool, error) {
	b := Box{X0: math.Inf(1), Y0: math.Inf(1), X1: math.Inf(-1), Y1: math.Inf(-1)}
	n := 0
	schemes := s.Landmarks
	if lm, ok := s.Landmarks[bfm.SchemeIBUG68]; ok && visibleCount(lm) >= 2 {
		// The box of the 68 points, as the AFLW2000-3D protocol crops
		// (AFLW's 21 points add the ears).
		schemes = map[string]Landmarks{bfm.SchemeIBUG68: lm}
	}
	for _, lm := range schemes {
		for i, p := range lm.Points {
			if lm.Visible != nil && (i >= len(lm.Visible) || !lm.Visible[i]) {
				continue
			}
			b.X0, b.Y0 = min(b.X0, p[0]), min(b.Y0, p[1])
			b.X1, b.Y1 = max(b.X1, p[0]), max(b.Y1, p[1])
			n++
		}
	}
	if n > 0 && !useBox {
		return b, true, nil
	}
	if s.Box != nil {
		return *s.Box, false, nil
	}
	if useBox {
		return Box{}, false, fmt.Errorf("dataset: crop %q: UseBox set but the sample has no face box", s.Name)
	}
	return Box{}, false, fmt.Errorf("dataset: crop %q: no visible landmark and no face box", s.Name)
}

// CropSample cuts a square around the face (FaceBox) out of s.Image,
// enlarged by opt.Margin on every side, pads it with black where it leaves
// the image, and resizes it to opt.Size x opt.Size with bilinear filtering
// (github.com/nfnt/resize, pixel-centre aligned, antialiased when
// shrinking). The square has an integer side S = ceil(L (1 + 2 Margin))
// (L = the box's larger side + 1 pixel, so that a box of pixel centres
// spans whole pixels) and integer top-left pixel (x0, y0), centred on the
// box; with s = Size/S the crop maps x to u = s (x - x0 + 0.5) - 0.5.
// Landmarks (all points, visible or not) and the box are transformed;
// Pose and Shape are kept. The transform is returned so predictions in the
// crop can be mapped back (CropTransform.Invert).
func CropSample(s Sample, opt CropOptions) (Sample, CropTransform, error) {
	if opt.Size <= 0 || opt.Size > 16384 {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: size %d, want 1..16384", s.Name, opt.Size)
	}
	if !(opt.Margin >= 0) || opt.Margin > 10 {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: margin %g, want 0..10", s.Name, opt.Margin)
	}
	if s.Image == nil {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: sample has no image", s.Name)
	}
	if !(opt.LandmarkOffsetY >= -1 && opt.LandmarkOffsetY <= 1) {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: landmark offset %g, want -1..1", s.Name, opt.LandmarkOffsetY)
	}
	if !(opt.ShiftX >= -1 && opt.ShiftX <= 1 && opt.ShiftY >= -1 && opt.ShiftY <= 1) {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: shift %g, %g, want -1..1", s.Name, opt.ShiftX, opt.ShiftY)
	}
	fb, fromLandmarks, err := faceBox(s, opt.UseBox)
	if err != nil {
		return Sample{}, CropTransform{}, err
	}
	if !isFinite(fb.X0) || !isFinite(fb.X1) || !isFinite(fb.Y0) || !isFinite(fb.Y1) {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: face box %+v is not finite", s.Name, fb)
	}
	bounds := s.Image.Bounds()
	// Sizes and positions are checked as floats, before any conversion to
	// int: a coordinate of 1e19 would overflow it.
	l := max(fb.W(), fb.H()) + 1
	sideF := math.Ceil(l * (1 + 2*opt.Margin))
	maxSide := min(4*max(bounds.Dx(), bounds.Dy()), MaxCropSide)
	if !(sideF <= float64(maxSide)) {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: face box %.6g,%.6g,%.6g,%.6g needs a square of side %.6g px, more than %d (4 times the %dx%d image, at most %d)",
			s.Name, fb.X0, fb.Y0, fb.X1, fb.Y1, sideF, maxSide, bounds.Dx(), bounds.Dy(), MaxCropSide)
	}
	side := int(sideF)
	cx, cy := (fb.X0+fb.X1)/2, (fb.Y0+fb.Y1)/2
	if fromLandmarks {
		cy -= opt.LandmarkOffsetY * l
	}
	cx += opt.ShiftX * l
	cy += opt.ShiftY * l
	// Pixel x covers [x-0.5, x+0.5]; centre the square's edges on (cx, cy).
	fx0 := math.Round(cx + 0.5 - float64(side)/2)
	fy0 := math.Round(cy + 0.5 - float64(side)/2)
	if !(fx0 < float64(bounds.Max.X) && fx0+float64(side) > float64(bounds.Min.X) &&
		fy0 < float64(bounds.Max.Y) && fy0+float64(side) > float64(bounds.Min.Y)) {
		return Sample{}, CropTransform{}, fmt.Errorf("dataset: crop %q: face box %.6g,%.6g,%.6g,%.6g lies outside the %dx%d image",
			s.Name, fb.X0, fb.Y0, fb.X1, fb.Y1, bounds.Dx(), bounds.Dy())
	}
	x0, y0 := int(fx0), int(fy0)
	region := image.Rect(x0, y0, x0+side, y0+side)

	release := decodeBudget.acquire(int64(side) * int64(side))
	defer release()
	sq := image.NewRGBA(image.Rect(0, 0, side, side))
	for i := 3; i < len(sq.Pix); i += 4 {
		sq.Pix[i] = 255 // opaque black padding
	}
	if inter := region.Intersect(bounds); !inter.Empty() {
		draw.Draw(sq, inter.Sub(region.Min), s.Image, inter.Min, draw.Src)
	}
	var out image.Image = sq
	if side != opt.Size {
		out = resize.Resize(uint(opt.Size), uint(opt.Size), sq, resize.Bilinear)
	}
	sc := float64(opt.Size) / float64(side)
	tr := CropTransform{
		Scale:  sc,
		OffX:   sc*(0.5-float64(x0)) - 0.5,
		OffY:   sc*(0.5-float64(y0)) - 0.5,
		Region: region,
	}
	res := Sample{Name: s.Name, Image: asRGBA(out), Pose: s.Pose, Shape: s.Shape}
	if s.Pose != nil {
		p := *s.Pose
		res.Pose = &p
	}
	if s.Landmarks != nil {
		res.Landmarks = make(map[string]Landmarks, len(s.Landmarks))
		for k, lm := range s.Landmarks {
			res.Landmarks[k] = lm.mapPoints(tr.Apply)
		}
	}
	if s.Box != nil {
		a := tr.Apply([2]float64{s.Box.X0, s.Box.Y0})
		b := tr.Apply([2]float64{s.Box.X1, s.Box.Y1})
		res.Box = &Box{X0: a[0], Y0: a[1], X1: b[0], Y1: b[1]}
	}
	return res, tr, nil
}

// visibleCount is the number of visible points of lm (all of them when
// Visible is nil).
func visibleCount(lm Landmarks) int {
	if lm.Visible == nil {
		return len(lm.Points)
	}
	n := 0
	for i := range lm.Points {
		if i < len(lm.Visible) && lm.Visible[i] {
			n++
		}
	}
	return n
}
