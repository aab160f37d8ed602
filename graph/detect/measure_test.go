package detect

import (
	"math"
	"testing"
)

func TestIoUAndNMS(t *testing.T) {
	a := Box{0, 0, 10, 10}
	b := Box{5, 0, 15, 10}
	if v := IoU(a, b); math.Abs(v-1.0/3) > 1e-12 {
		t.Errorf("IoU = %v, want 1/3", v)
	}
	if IoU(a, Box{20, 20, 30, 30}) != 0 || IoU(a, Box{0, 0, 0, 0}) != 0 {
		t.Error("disjoint or empty boxes overlap")
	}
	cands := []Detection{
		{Box: Box{0, 0, 10, 10}, Score: 0.6},
		{Box: Box{1, 0, 11, 10}, Score: 0.9},   // suppresses the first (IoU 0.82)
		{Box: Box{50, 50, 60, 60}, Score: 0.7}, // apart: kept
		{Box: Box{52, 52, 57, 57}, Score: 0.8}, // inside the previous: suppresses it
	}
	got := nms(cands, 0.3)
	if len(got) != 2 || got[0].Score != 0.9 || got[1].Score != 0.8 {
		t.Errorf("nms kept %+v, want scores 0.9 and 0.8", got)
	}
}

func TestEvaluateMatching(t *testing.T) {
	yaw := 70.0
	faces := []Truth{
		{Box: Box{0, 0, 40, 40}},
		{Box: Box{100, 100, 150, 150}, Yaw: &yaw},
		{Box: Box{200, 0, 220, 20}}, // 20 px wide: not counted
	}
	dets := []Detection{
		{Box: Box{2, 2, 42, 42}, Score: 0.9},       // face 0
		{Box: Box{1, 1, 41, 41}, Score: 0.8},       // face 0 again: false positive
		{Box: Box{201, 1, 221, 21}, Score: 0.7},    // the small face: neither
		{Box: Box{300, 300, 340, 340}, Score: 0.6}, // false positive
	}
	ms, fp, small := Evaluate(dets, faces, 32)
	if fp != 2 || small != 1 || len(ms) != 2 {
		t.Fatalf("fp %d small %d matches %d, want 2, 1, 2", fp, small, len(ms))
	}
	if ms[0].Det == nil || ms[0].Det.Score != 0.9 || math.Abs(ms[0].IoU-1444.0/1756) > 1e-9 {
		t.Errorf("face 0 matched %+v IoU %v, want the 0.9 detection, IoU %v", ms[0].Det, ms[0].IoU, 1444.0/1756)
	}
	if ms[1].Det != nil {
		t.Errorf("face 1 matched %+v, want none", ms[1].Det)
	}
}

func TestFitCalibrationKnownAnswer(t *testing.T) {
	want := Calibration{DX: 0.05, DY: -0.1, SW: 0.8, SH: 1.2}
	var pairs [][2]Box
	for i := 0; i < 20; i++ {
		d := Box{X0: float64(10 * i), Y0: 5, X1: float64(10*i + 30 + i), Y1: float64(45 + 2*i)}
		pairs = append(pairs, [2]Box{d, want.Apply(d)})
	}
	c, res, err := fitCalibration(pairs)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.DX-want.DX) > 1e-12 || math.Abs(c.DY-want.DY) > 1e-12 || math.Abs(c.SW-want.SW) > 1e-12 || math.Abs(c.SH-want.SH) > 1e-12 || res > 1e-12 {
		t.Errorf("fit %+v residual %v, want %+v and 0", c, res, want)
	}
	if _, _, err := fitCalibration(pairs[:3]); err == nil {
		t.Error("3 pairs accepted")
	}
}

func TestLabelsKnownAnswer(t *testing.T) {
	// One 24 px face centred at (20, 28) in a 32 px patch (4 x 4 cells):
	// its home cell (2, 3) ... row 3, column 2 is positive with targets
	// relative to the cell centre (19.5, 27.5).
	g := 4
	n := g * g
	pos, neg := make([]float32, n), make([]float32, n)
	rw, rt := make([]float32, 4*n), make([]float32, 4*n)
	faces := []face{{box: Box{8, 16, 32, 40}}, {box: Box{0, 0, 100, 100}}}
	np := labels(faces, g, pos, neg, rw, rt)
	c := 3*g + 2
	if pos[c] != 1 || neg[c] != 0 || rw[c] != 1 {
		t.Fatalf("home cell: pos %v neg %v rw %v", pos[c], neg[c], rw[c])
	}
	if math.Abs(float64(rt[c])-0.5/8) > 1e-6 || math.Abs(float64(rt[n+c])-0.5/8) > 1e-6 ||
		math.Abs(float64(rt[2*n+c])-math.Log(24/RefSize)) > 1e-6 {
		t.Errorf("targets %v %v %v", rt[c], rt[n+c], rt[2*n+c])
	}
	// Cells within 6 px (a quarter of 24) are positive, others within
	// 16.8 px ignored, the rest negative; the 100 px face adds nothing.
	if np < 1 || pos[0] != 0 || neg[0] != 1 {
		t.Errorf("positives %d, corner cell pos %v neg %v", np, pos[0], neg[0])
	}
	ign := 0
	for i := range pos {
		if pos[i] == 0 && neg[i] == 0 {
			ign++
		}
	}
	if ign == 0 {
		t.Error("no ignored cells around the face")
	}
}

// TestPickLevelFace: the smallest a whose window [a, sqrt 2 a) has a mean
// rate within tol of the best window's, within [LevelFaceMin, LevelFaceMax].
func TestPickLevelFace(t *testing.T) {
	curve := func(rate func(s float64) float64) []SizeRate {
		var c []SizeRate
		for _, s := range sensitivitySizes() {
			c = append(c, SizeRate{Size: s, Rate: rate(s)})
		}
		return c
	}
	for _, c := range []struct {
		name string
		rate func(s float64) float64
		tol  float64
		want float64
	}{
		// Perfect from 20 to 28 px: only a = 20 keeps the window [20, 28.3) inside.
		{"plateau 20-28", func(s float64) float64 { return b2f(s >= 20 && s <= 28) }, 0, 20},
		// Flat: every window ties, the smallest a wins.
		{"flat", func(float64) float64 { return 0.9 }, 0, LevelFaceMin},
		// Rising to the largest sizes: the largest a allowed.
		{"rising", func(s float64) float64 { return s / 34 }, 0, LevelFaceMax},
		// 0.99 from 18 px, 1 from 22: the best window starts at 22, but
		// a = 18's mean (4 of its 8 sizes at 1, 4 at 0.99) is within 0.01.
		{"near-flat top, tolerance", nearFlatTop, 0.01, 18},
		{"near-flat top, no tolerance", nearFlatTop, 0, 22},
	} {
		if got := pickLevelFace(curve(c.rate), math.Sqrt2, c.tol); got != c.want {
			t.Errorf("%s: level face %v, want %v", c.name, got, c.want)
		}
	}
}

// nearFlatTop is 0.5 below 18 px, 0.99 from 18 and 1 from 22.
func nearFlatTop(s float64) float64 {
	switch {
	case s >= 22:
		return 1
	case s >= 18:
		return 0.99
	}
	return 0.5
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
