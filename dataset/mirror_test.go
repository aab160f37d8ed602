package dataset

import (
	"image"
	"image/color"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

// mirrorTestSample builds a W x H RGBA image where every landmark of both
// schemes sits on an integer pixel painted with a colour that encodes the
// landmark's index, so the test can check that pixels and labels move
// together.
func mirrorTestSample(w, h int) Sample {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	lm21 := Landmarks{Points: make([][2]float64, 21), Visible: make([]bool, 21)}
	for i := range lm21.Points {
		x, y := 3+2*i, 5+i
		lm21.Points[i] = [2]float64{float64(x), float64(y)}
		lm21.Visible[i] = i%3 != 0
		img.SetRGBA(x, y, color.RGBA{R: 255, G: byte(i), B: 0, A: 255})
	}
	lm68 := Landmarks{Points: make([][2]float64, 68), Visible: make([]bool, 68)}
	for i := range lm68.Points {
		lm68.Points[i] = [2]float64{float64(i) + 0.25, float64(h - 1 - i%h)}
		lm68.Visible[i] = i%5 != 0
	}
	return Sample{
		Name:      "test/0001",
		Image:     img,
		Landmarks: map[string]Landmarks{bfm.SchemeAFLW21: lm21, bfm.SchemeIBUG68: lm68},
		Box:       &Box{X0: 2, Y0: 4, X1: 50, Y1: 40},
		Pose:      &Pose{Yaw: 35, Pitch: -12, Roll: 7},
		Shape:     []float64{0.5, -1},
	}
}

func TestMirrorKnownAnswer(t *testing.T) {
	const w, h = 90, 70
	s := mirrorTestSample(w, h)
	m, err := Mirror(s)
	if err != nil {
		t.Fatal(err)
	}
	// Point 0 (LeftBrowLeftCorner) of the mirror is point 5 of the
	// original, x' = W-1-x = 89-13 = 76.
	got := m.Landmarks[bfm.SchemeAFLW21]
	if want := [2]float64{76, 10}; got.Points[0] != want {
		t.Errorf("aflw21 point 0 = %v, want %v", got.Points[0], want)
	}
	// Chin (20) maps to itself: x = 3+40 = 43 -> 46.
	if want := [2]float64{46, 25}; got.Points[20] != want {
		t.Errorf("aflw21 chin = %v, want %v", got.Points[20], want)
	}
	// Visible flags follow the permutation: point 0 <- 5 (5%3 != 0: visible),
	// point 3 <- 2 (visible), point 2 <- 3 (hidden).
	if !got.Visible[0] || got.Visible[2] || !got.Visible[3] {
		t.Errorf("aflw21 visibility %v not permuted", got.Visible[:6])
	}
	g68 := m.Landmarks[bfm.SchemeIBUG68]
	// iBUG jaw point 0 <- 16: (16.25, 53) -> (89-16.25, 53).
	if want := [2]float64{72.75, 53}; g68.Points[0] != want {
		t.Errorf("ibug68 point 0 = %v, want %v", g68.Points[0], want)
	}
	if want := (Box{X0: 39, Y0: 4, X1: 87, Y1: 40}); *m.Box != want {
		t.Errorf("box = %+v, want %+v", *m.Box, want)
	}
	if want := (Pose{Yaw: -35, Pitch: -12, Roll: -7}); *m.Pose != want {
		t.Errorf("pose = %+v, want %+v", *m.Pose, want)
	}
	if m.Name != s.Name || !reflect.DeepEqual(m.Shape, s.Shape) {
		t.Errorf("name/shape changed: %q %v", m.Name, m.Shape)
	}
	// The painted pixel of every landmark is found under the mirrored label.
	mi := m.Image.(*image.RGBA)
	for i, p := range got.Points {
		c := mi.RGBAAt(int(p[0]), int(p[1]))
		src := bfm.MirrorPermutation(bfm.SchemeAFLW21)[i]
		if c.R != 255 || c.G != byte(src) {
			t.Errorf("mirrored landmark %d at %v: pixel %v, want marker of original %d", i, p, c, src)
		}
	}
	// Every pixel: out(x, y) = in(W-1-x, y).
	in := s.Image.(*image.RGBA)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mi.RGBAAt(x, y) != in.RGBAAt(w-1-x, y) {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, mi.RGBAAt(x, y), in.RGBAAt(w-1-x, y))
			}
		}
	}
}

func TestMirrorTwiceIsIdentity(t *testing.T) {
	s := mirrorTestSample(64, 48)
	m2 := MirrorSample(MirrorSample(s))
	if !reflect.DeepEqual(m2.Landmarks, s.Landmarks) {
		t.Error("landmarks changed by two mirrors")
	}
	if *m2.Box != *s.Box || *m2.Pose != *s.Pose {
		t.Errorf("box/pose after two mirrors: %+v %+v", *m2.Box, *m2.Pose)
	}
	if !reflect.DeepEqual(m2.Image, s.Image) {
		t.Error("image changed by two mirrors")
	}
	// The input is not modified.
	if s.Landmarks[bfm.SchemeAFLW21].Points[0] != [2]float64{3, 5} {
		t.Error("Mirror modified its input")
	}
}

func TestMirrorPoseIsConjugatedRotation(t *testing.T) {
	for _, p := range []Pose{{Yaw: 35, Pitch: -12, Roll: 7}, {Yaw: -70, Pitch: 20, Roll: -30}, {}} {
		r := p.Rotation()
		m := MirrorSample(Sample{Image: image.NewGray(image.Rect(0, 0, 2, 2)), Pose: &p}).Pose
		rm := m.Rotation()
		// F R F with F = diag(-1, 1, 1) negates entries whose row xor column is x.
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				want := r[3*i+j]
				if (i == 0) != (j == 0) {
					want = -want
				}
				if math.Abs(rm[3*i+j]-want) > 1e-12 {
					t.Errorf("pose %+v: mirrored R[%d][%d] = %g, want %g", p, i, j, rm[3*i+j], want)
				}
			}
		}
	}
}

func TestFlipImageTypesAndBounds(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 3, 1))
	copy(g.Pix, []byte{1, 2, 3})
	if got := FlipImage(g).(*image.Gray).Pix; !reflect.DeepEqual(got, []byte{3, 2, 1}) {
		t.Errorf("gray flip = %v", got)
	}
	n := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	copy(n.Pix, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	if got := FlipImage(n).(*image.NRGBA).Pix; !reflect.DeepEqual(got, []byte{5, 6, 7, 8, 1, 2, 3, 4}) {
		t.Errorf("nrgba flip = %v", got)
	}
	// A paletted image (no fast path) becomes RGBA.
	p := image.NewPaletted(image.Rect(0, 0, 3, 1), color.Palette{color.Black, color.White})
	p.Pix[0] = 1
	fr, ok := FlipImage(p).(*image.RGBA)
	if !ok {
		t.Fatalf("paletted flip type %T, want *image.RGBA", FlipImage(p))
	}
	if fr.RGBAAt(2, 0) != (color.RGBA{255, 255, 255, 255}) || fr.RGBAAt(0, 0) != (color.RGBA{0, 0, 0, 255}) {
		t.Errorf("paletted flip pixels %v", fr.Pix)
	}
	// A sub-image keeps its bounds and mirrors about its own centre.
	big := image.NewRGBA(image.Rect(0, 0, 10, 4))
	big.SetRGBA(4, 1, color.RGBA{9, 9, 9, 9})
	sub := big.SubImage(image.Rect(3, 1, 7, 3)).(*image.RGBA)
	s := Sample{Image: sub, Landmarks: map[string]Landmarks{}, Box: &Box{X0: 4, X1: 5, Y0: 1, Y1: 2}}
	m := MirrorSample(s)
	mb := m.Image.(*image.RGBA)
	if mb.Rect != sub.Rect || mb.RGBAAt(5, 1) != (color.RGBA{9, 9, 9, 9}) {
		t.Errorf("sub-image flip: rect %v, pixel (5,1) %v", mb.Rect, mb.RGBAAt(5, 1))
	}
	if want := (Box{X0: 4, X1: 5, Y0: 1, Y1: 2}); *m.Box != want { // 9-5=4, 9-4=5
		t.Errorf("sub-image box %+v, want %+v", *m.Box, want)
	}
}

func TestMirrorErrors(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	cases := []struct {
		s    Sample
		want string
	}{
		{Sample{Name: "a"}, `dataset: mirror "a": sample has no image`},
		{Sample{Name: "b", Image: img, Landmarks: map[string]Landmarks{"foo": {}}},
			`dataset: mirror "b": landmarks: unknown scheme "foo" (want one of [aflw21 ibug68])`},
		{Sample{Name: "c", Image: img, Landmarks: map[string]Landmarks{"aflw21": {Points: make([][2]float64, 20)}}},
			`dataset: mirror "c": landmarks "aflw21": 20 points, want 21`},
		{Sample{Name: "d", Image: img, Landmarks: map[string]Landmarks{"ibug68": {Points: make([][2]float64, 68), Visible: make([]bool, 3)}}},
			`dataset: mirror "d": landmarks "ibug68": 3 visibility flags, want 68`},
	}
	for _, c := range cases {
		_, err := Mirror(c.s)
		if err == nil || err.Error() != c.want {
			t.Errorf("Mirror(%q) error = %v, want %q", c.s.Name, err, c.want)
		}
	}
	defer func() {
		r := recover()
		if msg, _ := r.(string); !strings.Contains(msg, "sample has no image") {
			t.Errorf("MirrorSample panic = %v", r)
		}
	}()
	MirrorSample(Sample{Name: "a"})
}

func BenchmarkFlipImage224(b *testing.B) {
	img := image.NewRGBA(image.Rect(0, 0, 224, 224))
	b.SetBytes(int64(len(img.Pix)))
	for i := 0; i < b.N; i++ {
		FlipImage(img)
	}
}
