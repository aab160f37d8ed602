package dataset

import (
	"bytes"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

// testFaceModel is a small morphable "face": the front half of an ellipsoid
// (semi-axes 80, 80, 64 model units) sampled on a 41 x 41 grid in x, y, with
// triangles counter-clockwise seen from +z, two basis vectors (a 10% x
// stretch and a Gaussian bump on the nose) and landmarks of both schemes at
// the nearest grid vertices of hand-placed positions (ears missing).
func testFaceModel() *bfm.Model {
	const n, rad = 40, 80.0
	m := &bfm.Model{Name: "testface", Format: "generated", Units: "mm"}
	id := make([]int32, (n+1)*(n+1))
	for j := 0; j <= n; j++ {
		for i := 0; i <= n; i++ {
			x := -rad + 2*rad*float64(i)/n
			y := -rad + 2*rad*float64(j)/n
			q := rad*rad - x*x - y*y
			if q < 0 {
				id[j*(n+1)+i] = -1
				continue
			}
			id[j*(n+1)+i] = int32(m.NumVertices())
			m.Mean = append(m.Mean, x, y, 0.8*math.Sqrt(q))
		}
	}
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			a, b := id[j*(n+1)+i], id[j*(n+1)+i+1]
			c, d := id[(j+1)*(n+1)+i], id[(j+1)*(n+1)+i+1]
			if a >= 0 && b >= 0 && d >= 0 {
				m.Triangles = append(m.Triangles, [3]int32{a, b, d})
			}
			if a >= 0 && d >= 0 && c >= 0 {
				m.Triangles = append(m.Triangles, [3]int32{a, d, c})
			}
		}
	}
	nv := m.NumVertices()
	stretch, bump := make([]float64, 3*nv), make([]float64, 3*nv)
	for v := 0; v < nv; v++ {
		x, y := m.Mean[3*v], m.Mean[3*v+1]
		stretch[3*v] = 0.1 * x
		bump[3*v+2] = 6 * math.Exp(-(x*x+(y+5)*(y+5))/200)
	}
	m.Basis = [][]float64{stretch, bump}
	m.Components = []bfm.Component{{Name: "stretch", Kind: bfm.Identity}, {Name: "nose", Kind: bfm.Expression}}
	nearest := func(x, y float64) int {
		best, bd := -1, math.Inf(1)
		for v := 0; v < nv; v++ {
			d := math.Hypot(m.Mean[3*v]-x, m.Mean[3*v+1]-y)
			if d < bd {
				best, bd = v, d
			}
		}
		return best
	}
	aflw := [][2]float64{
		{-45, 35}, {-30, 40}, {-15, 35}, {15, 35}, {30, 40}, {45, 35},
		{-40, 20}, {-28, 20}, {-16, 20}, {16, 20}, {28, 20}, {40, 20},
		{math.NaN(), 0}, {-12, -10}, {0, -5}, {12, -10}, {math.NaN(), 0},
		{-22, -35}, {0, -35}, {22, -35}, {0, -65},
	}
	var ibug [68][2]float64
	for i := 0; i <= 16; i++ { // jaw from image-left temple to the right one
		th := math.Pi * (1 + float64(i)/16)
		ibug[i] = [2]float64{68 * math.Cos(th), 10 + 75*math.Sin(th)}
	}
	for i := 0; i < 5; i++ {
		ibug[17+i] = [2]float64{-50 + 10*float64(i), 35 + 3*math.Sin(math.Pi*float64(i)/4)}
		ibug[26-i] = [2]float64{50 - 10*float64(i), ibug[17+i][1]}
	}
	for i := 0; i < 4; i++ {
		ibug[27+i] = [2]float64{0, 15 - 7*float64(i)}
	}
	for i := 0; i < 5; i++ {
		ibug[31+i] = [2]float64{-12 + 6*float64(i), -12}
	}
	eye := func(first int, cx float64) {
		for i := 0; i < 6; i++ {
			th := math.Pi * (1 - float64(i)/3)
			ibug[first+i] = [2]float64{cx + 12*math.Cos(th), 20 + 5*math.Sin(th)}
		}
	}
	eye(36, -28)
	eye(42, 28)
	for i := 0; i < 12; i++ {
		th := math.Pi * (1 - float64(i)/6)
		ibug[48+i] = [2]float64{22 * math.Cos(th), -35 + 8*math.Sin(th)}
	}
	for i := 0; i < 8; i++ {
		th := math.Pi * (1 - float64(i)/4)
		ibug[60+i] = [2]float64{15 * math.Cos(th), -35 + 3*math.Sin(th)}
	}
	m.Landmarks = map[string][]int{}
	for _, p := range aflw {
		v := -1
		if !math.IsNaN(p[0]) {
			v = nearest(p[0], p[1])
		}
		m.Landmarks[bfm.SchemeAFLW21] = append(m.Landmarks[bfm.SchemeAFLW21], v)
	}
	for _, p := range ibug {
		m.Landmarks[bfm.SchemeIBUG68] = append(m.Landmarks[bfm.SchemeIBUG68], nearest(p[0], p[1]))
	}
	return m
}

func testSynthConfig() SyntheticConfig {
	c := DefaultSyntheticConfig()
	c.Count = 300
	c.Size = 64
	return c
}

func TestSyntheticLandmarksEqualProjection(t *testing.T) {
	m := testFaceModel()
	s, err := NewSynthetic(m, testSynthConfig(), "train")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		smp, err := s.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		alpha, cam, err := s.SampleCamera(i)
		if err != nil {
			t.Fatal(err)
		}
		if *smp.Pose != cam.Pose {
			t.Fatalf("sample %d: pose %+v, camera pose %+v", i, *smp.Pose, cam.Pose)
		}
		if len(smp.Shape) != 2 || smp.Shape[0] != alpha[0] || smp.Shape[1] != alpha[1] {
			t.Fatalf("sample %d: shape %v, want %v", i, smp.Shape, alpha)
		}
		shape := m.Shape(alpha)
		r := cam.Pose.Rotation()
		box := Box{X0: math.Inf(1), Y0: math.Inf(1), X1: math.Inf(-1), Y1: math.Inf(-1)}
		for _, scheme := range bfm.Schemes() {
			lm, ok := smp.Landmarks[scheme]
			if !ok {
				t.Fatalf("sample %d: no %s landmarks", i, scheme)
			}
			for j, v := range m.Landmarks[scheme] {
				if v < 0 {
					if lm.Visible[j] || lm.Points[j] != [2]float64{} {
						t.Errorf("sample %d %s %d: missing vertex gave %v visible=%v", i, scheme, j, lm.Points[j], lm.Visible[j])
					}
					continue
				}
				X := shape[3*v : 3*v+3]
				// Sec. 3.2: rotate, keep x and y, scale, translate; y flips
				// because image rows grow downwards.
				xr := r[0]*X[0] + r[1]*X[1] + r[2]*X[2]
				yr := r[3]*X[0] + r[4]*X[1] + r[5]*X[2]
				want := [2]float64{cam.T[0] + cam.S*xr, cam.T[1] - cam.S*yr}
				got := lm.Points[j]
				if math.Abs(got[0]-want[0]) > 1e-9 || math.Abs(got[1]-want[1]) > 1e-9 {
					t.Fatalf("sample %d %s %d: point %v, want %v", i, scheme, j, got, want)
				}
				box.X0, box.Y0 = min(box.X0, want[0]), min(box.Y0, want[1])
				box.X1, box.Y1 = max(box.X1, want[0]), max(box.Y1, want[1])
			}
		}
		if d := math.Abs(smp.Box.X0-box.X0) + math.Abs(smp.Box.Y0-box.Y0) + math.Abs(smp.Box.X1-box.X1) + math.Abs(smp.Box.Y1-box.Y1); d > 1e-9 {
			t.Errorf("sample %d: box %+v, want %+v", i, *smp.Box, box)
		}
		// Scale: the mean face width (160 units) spans ScaleMin..ScaleMax of
		// the image.
		if f := cam.S * 160 / 64; f < 0.4-1e-9 || f > 0.6+1e-9 {
			t.Errorf("sample %d: face spans %.3f of the image, want [0.4, 0.6]", i, f)
		}
		if b := smp.Image.Bounds(); b != image.Rect(0, 0, 64, 64) {
			t.Errorf("sample %d: image bounds %v", i, b)
		}
		if want := "synthetic/train/0000" + string(rune('0'+i/10)) + string(rune('0'+i%10)); smp.Name != want {
			t.Errorf("sample name %q, want %q", smp.Name, want)
		}
	}
}

// renderPose renders the test face at a fixed pose with zero shape weights,
// centred, the face 60% of a 96-pixel image.
func renderPose(t *testing.T, s *Synthetic, p Pose) Sample {
	t.Helper()
	c := s.Config()
	sc := 0.6 * float64(c.Size) / s.meanWidth
	r := p.Rotation()
	mid := float64(c.Size-1) / 2
	rc := [2]float64{r[0]*s.centre[0] + r[1]*s.centre[1] + r[2]*s.centre[2], r[3]*s.centre[0] + r[4]*s.centre[1] + r[5]*s.centre[2]}
	cam := Camera{Pose: p, S: sc, T: [2]float64{mid - sc*rc[0], mid + sc*rc[1]}}
	smp, err := s.sampleWith(0, make([]float64, s.d), cam, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return smp
}

func TestSyntheticVisibilityByYaw(t *testing.T) {
	m := testFaceModel()
	cfg := testSynthConfig()
	cfg.Size, cfg.OccluderProb = 96, 0
	s, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	for _, yaw := range []float64{0, 90, -90} {
		smp := renderPose(t, s, Pose{Yaw: yaw})
		for _, scheme := range bfm.Schemes() {
			lm := smp.Landmarks[scheme]
			nvis := 0
			for j, v := range m.Landmarks[scheme] {
				if v < 0 {
					continue
				}
				x := m.Mean[3*v]
				var want bool
				switch {
				case yaw == 0:
					want = true
				case math.Abs(x) < 10:
					// Within ~8 degrees of the silhouette at +-90 degrees:
					// grazing, the pixel z-buffer cannot decide.
					continue
				case yaw > 0: // turned to its own right, nose to image-left: the model's +x side faces the camera
					want = x > 0
				default:
					want = x < 0
				}
				if lm.Visible[j] != want {
					t.Errorf("yaw %v %s landmark %d (model x %.0f): visible = %v, want %v", yaw, scheme, j, x, lm.Visible[j], want)
				}
				if lm.Hidden[j] != !lm.Visible[j] {
					t.Errorf("yaw %v %s landmark %d: hidden = %v with visible = %v (rendered points are always known)", yaw, scheme, j, lm.Hidden[j], lm.Visible[j])
				}
				if lm.Visible[j] {
					nvis++
				}
			}
			if nvis == 0 {
				t.Errorf("yaw %v %s: no visible landmark", yaw, scheme)
			}
		}
	}
}

func TestSyntheticDeterministicAndSplitsDisjoint(t *testing.T) {
	m := testFaceModel()
	cfg := testSynthConfig()
	train, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	train2, _ := NewSynthetic(m, cfg, "train")
	val, _ := NewSynthetic(m, cfg, "val")
	pix := func(s Sample) []byte { return s.Image.(*image.RGBA).Pix }
	for _, i := range []int{0, 7, 299} {
		a, _ := train.Sample(i)
		b, _ := train.Sample(i)
		c, _ := train2.Sample(i)
		if !bytes.Equal(pix(a), pix(b)) || !bytes.Equal(pix(a), pix(c)) {
			t.Errorf("train sample %d is not reproducible", i)
		}
		if *a.Pose != *c.Pose || a.Landmarks[bfm.SchemeAFLW21].Points[0] != c.Landmarks[bfm.SchemeAFLW21].Points[0] {
			t.Errorf("train sample %d ground truth is not reproducible", i)
		}
	}
	v0, _ := val.Sample(0)
	for k := 0; k < cfg.Count; k++ {
		tk, _ := train.Sample(k)
		if bytes.Equal(pix(v0), pix(tk)) || *v0.Pose == *tk.Pose {
			t.Fatalf("val image 0 equals train image %d", k)
		}
	}
	// Different seeds give different images.
	cfg.Seed++
	other, _ := NewSynthetic(m, cfg, "train")
	a, _ := train.Sample(0)
	b, _ := other.Sample(0)
	if bytes.Equal(pix(a), pix(b)) {
		t.Error("seed change left image 0 unchanged")
	}
	// Concurrent use gives the same bytes as serial use.
	var wg sync.WaitGroup
	got := make([][]byte, 16)
	for i := range got {
		wg.Go(func() {
			s, err := train.Sample(i)
			if err == nil {
				got[i] = pix(s)
			}
		})
	}
	wg.Wait()
	for i := range got {
		want, _ := train.Sample(i)
		if !bytes.Equal(got[i], pix(want)) {
			t.Errorf("concurrent sample %d differs from serial", i)
		}
	}
}

func TestSyntheticErrors(t *testing.T) {
	m := testFaceModel()
	mod := func(f func(*SyntheticConfig)) SyntheticConfig {
		c := testSynthConfig()
		f(&c)
		return c
	}
	cases := []struct {
		cfg  SyntheticConfig
		want string
	}{
		{mod(func(c *SyntheticConfig) { c.Size = 4 }), "dataset: synthetic config: size = 4, want in [8, 8192]"},
		{mod(func(c *SyntheticConfig) { c.Count = -1 }), "dataset: synthetic config: count = -1, want >= 0"},
		{mod(func(c *SyntheticConfig) { c.ScaleMax = 0.1 }), "dataset: synthetic config: scale_max = 0.1, want >= scale_min (0.4)"},
		{mod(func(c *SyntheticConfig) { c.YawDeg = math.NaN() }), "dataset: synthetic config: yaw_deg = NaN, want in [0, 180]"},
		{mod(func(c *SyntheticConfig) { c.OccluderProb = 2 }), "dataset: synthetic config: occluder_prob = 2, want in [0, 1]"},
		{mod(func(c *SyntheticConfig) { c.Background = "plaid" }), `dataset: synthetic config: background = "plaid", want one of "noise", "gradient", "blobs", "mixed", "natural"`},
	}
	for _, c := range cases {
		if _, err := NewSynthetic(m, c.cfg, "train"); err == nil || err.Error() != c.want {
			t.Errorf("error = %v, want %q", err, c.want)
		}
	}
	if _, err := NewSynthetic(m, testSynthConfig(), ""); err == nil || err.Error() != "dataset: synthetic: empty split name" {
		t.Errorf("empty split: %v", err)
	}
	if _, err := NewSynthetic(nil, testSynthConfig(), "train"); err == nil || err.Error() != "dataset: synthetic: nil model" {
		t.Errorf("nil model: %v", err)
	}
	bad := testFaceModel()
	bad.Triangles[3] = [3]int32{0, 1, 1 << 20}
	if _, err := NewSynthetic(bad, testSynthConfig(), "train"); err == nil || err.Error() != `dataset: synthetic: model "testface": triangle 3 = [0 1 1048576] indexes outside [0, 1257)` {
		t.Errorf("bad triangle: %v", err)
	}
	bad = testFaceModel()
	bad.Landmarks[bfm.SchemeAFLW21] = bad.Landmarks[bfm.SchemeAFLW21][:20]
	if _, err := NewSynthetic(bad, testSynthConfig(), "train"); err == nil || err.Error() != `dataset: synthetic: model "testface": scheme "aflw21" has 20 landmarks, want 21` {
		t.Errorf("short scheme: %v", err)
	}
	s, _ := NewSynthetic(m, testSynthConfig(), "val")
	if _, err := s.Sample(300); err == nil || err.Error() != "dataset: synthetic val: index 300 out of range [0, 300)" {
		t.Errorf("Sample(300): %v", err)
	}
}

// TestSyntheticDefaultModel renders with bfm.Default(): a
// frontal face shows every iBUG landmark, and at 70 degrees yaw the far-side
// eye corner is hidden.
func TestSyntheticDefaultModel(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatalf("bfm.Default(): %v", err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Count = 8
	s, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	lmIdx, ok := m.Landmarks[bfm.SchemeIBUG68]
	if !ok {
		t.Skip("default model has no ibug68 landmarks")
	}
	front := renderPose(t, s, Pose{})
	lm := front.Landmarks[bfm.SchemeIBUG68]
	for j, v := range lmIdx {
		// The jaw contour lies on the mesh rim just past 90 degrees; it
		// counts as visible through GrazeDeg.
		if v >= 0 && !lm.Visible[j] {
			t.Errorf("frontal default face: ibug landmark %d (vertex %d) hidden", j+1, v)
		}
	}
	// Yaw -70: turned to its own left, nose to image-right, the subject's
	// left eye (iBUG 46, the image-right outer corner) turns away.
	side := renderPose(t, s, Pose{Yaw: -70})
	if side.Landmarks[bfm.SchemeIBUG68].Visible[45] {
		t.Error("yaw -70: far outer eye corner (iBUG 46) reported visible")
	}
	if !side.Landmarks[bfm.SchemeIBUG68].Visible[36] {
		t.Error("yaw -70: near outer eye corner (iBUG 37) reported hidden")
	}
	writeSamplePNGs(t, s, "default")
}

// TestSyntheticPNGs writes a few samples of the test face to
// $STN3D_PNG_DIR for a look.
func TestSyntheticPNGs(t *testing.T) {
	s, err := NewSynthetic(testFaceModel(), testSynthConfig(), "train")
	if err != nil {
		t.Fatal(err)
	}
	writeSamplePNGs(t, s, "testface")
}

func writeSamplePNGs(t *testing.T, s *Synthetic, prefix string) {
	dir := os.Getenv("STN3D_PNG_DIR")
	if dir == "" {
		t.Log("set STN3D_PNG_DIR to write sample PNGs")
		return
	}
	for i := 0; i < min(8, s.Len()); i++ {
		smp, err := s.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		img := smp.Image.(*image.RGBA)
		out := image.NewRGBA(img.Rect)
		copy(out.Pix, img.Pix)
		for _, sc := range []string{bfm.SchemeIBUG68, bfm.SchemeAFLW21} {
			lm := smp.Landmarks[sc]
			for j, p := range lm.Points {
				c := red
				if !lm.Visible[j] {
					c = blue
				}
				if sc == bfm.SchemeIBUG68 {
					setPix(out, int(math.Round(p[0])), int(math.Round(p[1])), c)
				}
			}
		}
		name := filepath.Join(dir, prefix+"_"+strings.ReplaceAll(smp.Name, "/", "_")+".png")
		if err := WritePNG(name, out); err != nil {
			t.Fatal(err)
		}
	}
}
