package dataset

import (
	"bytes"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

// TestSyntheticPlaceLandmarks checks PlaceLandmarks: with no jitter and one
// scale, the box of every sample's iBUG-68 points (hidden ones included)
// has its larger side at exactly ScaleMin of the image and its centre at
// the image centre moved BoxOffsetY box sides down, whatever the pose and
// shape, as a photograph's 68 points sit after CropSample with margin m
// (1/(1+2m) of the side) and LandmarkOffsetY.
func TestSyntheticPlaceLandmarks(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Count, cfg.YawDeg = 20, 90
	cfg.Placement, cfg.ScaleMin, cfg.ScaleMax, cfg.TransJitter, cfg.BoxOffsetY = PlaceLandmarks, 0.5, 0.5, 0, 0.1
	s, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	mid := float64(cfg.Size-1) / 2
	for i := 0; i < cfg.Count; i++ {
		smp, err := s.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		p := smp.Landmarks[bfm.SchemeIBUG68].Points
		x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, q := range p {
			x0, y0, x1, y1 = min(x0, q[0]), min(y0, q[1]), max(x1, q[0]), max(y1, q[1])
		}
		l := max(x1-x0, y1-y0)
		if math.Abs(l-56) > 1e-9 || math.Abs((x0+x1)/2-mid) > 1e-9 || math.Abs((y0+y1)/2-(mid+5.6)) > 1e-9 {
			t.Errorf("sample %d (pose %+v): box side %.6f centre (%.6f, %.6f), want 56 at (%.1f, %.1f)", i, *smp.Pose, l, (x0+x1)/2, (y0+y1)/2, mid, mid+5.6)
		}
	}
	// The same with the default placement spreads the box's side.
	cfg.Placement = PlaceFace
	s, err = NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i < cfg.Count; i++ {
		smp, _ := s.Sample(i)
		b := smp.Box
		l := max(b.W(), b.H())
		lo, hi = min(lo, l), max(hi, l)
	}
	if hi-lo < 5 {
		t.Errorf("face placement: iBUG box sides %.1f..%.1f, expected them to vary with pose", lo, hi)
	}
	cfg.Placement, cfg.BoxOffsetY = "box", 0
	if err := cfg.Validate(); err == nil || err.Error() != `dataset: synthetic config: placement = "box", want "face" or "landmarks"` {
		t.Errorf("placement box: %v", err)
	}
}

// TestSyntheticHead checks HeadProb: the head changes the pixels around the
// face and only there, keeps the ground truth (landmark points, pose) and
// the frontal face's landmarks visible, and hides the far ones of a
// profile as before; with HeadProb 0 the stream is untouched.
func TestSyntheticHead(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Count, cfg.OccluderProb, cfg.Background = 4, 0, BackgroundGradient
	plain, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HeadProb = 1
	head, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	for _, pose := range []Pose{{}, {Yaw: -75}} {
		a, b := renderPose(t, plain, pose), renderPose(t, head, pose)
		la, lb := a.Landmarks[bfm.SchemeIBUG68], b.Landmarks[bfm.SchemeIBUG68]
		for j := range la.Points {
			if la.Points[j] != lb.Points[j] {
				t.Fatalf("yaw %g: landmark %d moved with the head: %v vs %v", pose.Yaw, j, la.Points[j], lb.Points[j])
			}
		}
		changed, total := 0, 0
		for i := 0; i < len(a.Image.(*image.RGBA).Pix); i += 4 {
			total++
			if a.Image.(*image.RGBA).Pix[i] != b.Image.(*image.RGBA).Pix[i] {
				changed++
			}
		}
		// The head covers a good part of the background; the appearance
		// draws differ after the head's, so the face may change too.
		if changed < total/10 {
			t.Errorf("yaw %g: the head changed %d of %d pixels", pose.Yaw, changed, total)
		}
		if pose.Yaw == 0 {
			// Above the forehead, on the mid-line: background without the
			// head, skull (hair or skin) with it: not the gradient's colour.
			x, y := plain.cfg.Size/2, int(math.Round(min(la.Points[19][1], la.Points[24][1])))-40
			if y >= 0 && a.Image.At(x, y) == b.Image.At(x, y) {
				t.Errorf("pixel (%d, %d) above the forehead is the background with the head too", x, y)
			}
			for j, v := range lb.Visible {
				if !v {
					t.Errorf("frontal face with a head: landmark %d hidden", j)
				}
			}
		} else if lb.Visible[45] || !lb.Visible[36] {
			t.Errorf("yaw -75 with a head: outer eye corners visible %v (far) %v (near), want false, true", lb.Visible[45], lb.Visible[36])
		}
	}
}

// TestPhotometricCameraEffects checks LowResProb, JPEGProb and PadProb on
// known images.
func TestPhotometricCameraEffects(t *testing.T) {
	// Low resolution removes a 1-pixel checkerboard (shrunk by at least
	// 1.5, it averages to grey) but keeps the mean.
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			v := uint8(40)
			if (x+y)%2 == 0 {
				v = 200
			}
			img.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
	Photometric{LowResProb: 1}.Apply(img, rand.New(rand.NewPCG(1, 2)))
	var sum, dev float64
	for y := 4; y < 28; y++ {
		for x := 4; x < 28; x++ {
			v := float64(img.RGBAAt(x, y).R)
			sum += v
			dev += math.Abs(v - 120)
		}
	}
	if mean := sum / (24 * 24); math.Abs(mean-120) > 4 || dev/(24*24) > 20 {
		t.Errorf("low resolution checkerboard: mean %.1f (want 120), mean deviation %.1f (want < 20; 80 before)", mean, dev/(24*24))
	}
	// JPEG at quality 30..90 keeps a smooth ramp within a few levels.
	img = image.NewRGBA(image.Rect(0, 0, 32, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 32; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(4 * x), uint8(4 * y), 100, 255})
		}
	}
	want := append([]uint8(nil), img.Pix...)
	Photometric{JPEGProb: 1}.Apply(img, rand.New(rand.NewPCG(3, 4)))
	var maxd, changed int
	for i, v := range img.Pix {
		d := int(v) - int(want[i])
		if d < 0 {
			d = -d
		}
		maxd = max(maxd, d)
		if d != 0 {
			changed++
		}
	}
	if changed == 0 || maxd > 16 {
		t.Errorf("JPEG of a ramp: %d bytes changed, largest change %d (want some, at most 16)", changed, maxd)
	}
	// Padding blacks out whole rows or columns at the edges, at most a
	// quarter of the side each, and nothing in the middle.
	for seed := uint64(0); seed < 20; seed++ {
		img = greyImage(40, 40, 128)
		Photometric{PadProb: 1}.Apply(img, rand.New(rand.NewPCG(seed, 9)))
		black := 0
		for y := 0; y < 40; y++ {
			for x := 0; x < 40; x++ {
				c := img.RGBAAt(x, y)
				if c.R == 0 {
					black++
					if x >= 10 && x < 30 && y >= 10 && y < 30 {
						t.Fatalf("seed %d: pixel (%d, %d) in the middle padded", seed, x, y)
					}
				} else if c != (color.RGBA{128, 128, 128, 255}) {
					t.Fatalf("seed %d: pixel (%d, %d) = %v", seed, x, y, c)
				}
			}
		}
		// Every black pixel lies in a black row or a black column.
		line := func(x0, y0, dx, dy int) bool {
			for i := 0; i < 40; i++ {
				if img.RGBAAt(x0+i*dx, y0+i*dy).R != 0 {
					return false
				}
			}
			return true
		}
		for y := 0; y < 40; y++ {
			for x := 0; x < 40; x++ {
				if img.RGBAAt(x, y).R == 0 && !line(0, y, 1, 0) && !line(x, 0, 0, 1) {
					t.Fatalf("seed %d: black pixel (%d, %d) outside a whole band", seed, x, y)
				}
			}
		}
		if black == 0 {
			t.Errorf("seed %d: no padding", seed)
		}
	}
	for _, p := range []Photometric{{LowResProb: 1.5}, {JPEGProb: -1}, {PadProb: math.NaN()}} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}

// TestNaturalBackground checks the muted colours of BackgroundNatural: a
// grey level mixed with a hue by at most 40% leaves at most 0.4*255 = 102
// levels between a pixel's channels (plus the studio backdrop's grain),
// where the other kinds' random colours reach 200 and more.
func TestNaturalBackground(t *testing.T) {
	for seed := uint64(0); seed < 40; seed++ {
		img := image.NewRGBA(image.Rect(0, 0, 48, 48))
		paintBackground(img, BackgroundNatural, rand.New(rand.NewPCG(seed, 1)))
		for i := 0; i < len(img.Pix); i += 4 {
			p := img.Pix[i : i+4]
			spread := int(max(p[0], p[1], p[2])) - int(min(p[0], p[1], p[2]))
			if spread > 106 || p[3] != 255 {
				t.Fatalf("seed %d: pixel %d = %v: channel spread %d, want <= 106, opaque", seed, i/4, p, spread)
			}
		}
	}
}

// TestRenderSpecular checks the highlight: on a hemisphere lit from the
// viewer the brightest point is the centre, where n = H, and it gains
// exactly the specular weight; at zero weight the image is unchanged.
func TestRenderSpecular(t *testing.T) {
	const size, rad = 101, 40.0
	r, _ := NewRenderer(size, size)
	verts, tris := hemisphere(50, 50, rad, 120)
	col := fillColours(len(verts), [3]float64{0.5, 0.5, 0.5})
	base := image.NewRGBA(image.Rect(0, 0, size, size))
	if err := r.Render(base, verts, tris, col, Shading{Diffuse: 0.5, Linear: true}); err != nil {
		t.Fatal(err)
	}
	zero := image.NewRGBA(image.Rect(0, 0, size, size))
	if err := r.Render(zero, verts, tris, col, Shading{Diffuse: 0.5, Shininess: 20, Linear: true}); err != nil {
		t.Fatal(err)
	}
	for i := range base.Pix {
		if base.Pix[i] != zero.Pix[i] {
			t.Fatalf("Specular 0 changed byte %d", i)
		}
	}
	shiny := image.NewRGBA(image.Rect(0, 0, size, size))
	if err := r.Render(shiny, verts, tris, col, Shading{Diffuse: 0.5, Specular: 0.3, Shininess: 20, Linear: true}); err != nil {
		t.Fatal(err)
	}
	// Centre: 0.5*0.5 + 0.3 = 0.55 -> 140; without: 0.25 -> 64.
	if c, b := shiny.RGBAAt(50, 50).R, base.RGBAAt(50, 50).R; c != 140 || b != 64 {
		t.Errorf("centre %d with the highlight, %d without; want 140, 64", c, b)
	}
	// 30 px off centre the normal is 48.6 degrees from H: cos^20 ~ 1e-4.
	if c, b := shiny.RGBAAt(80, 50).R, base.RGBAAt(80, 50).R; c != b {
		t.Errorf("30 px off centre: %d with the highlight, %d without", c, b)
	}
}

// TestAmbientOcclusion: a convex shape (the test face, half an ellipsoid)
// is unoccluded everywhere; on the default face the inner eye corner
// (iBUG 40) gets 0.81 of the sky, the nose tip and the forehead all of it.
func TestAmbientOcclusion(t *testing.T) {
	ao, err := ambientOcclusion(testFaceModel(), 32, 256)
	if err != nil {
		t.Fatal(err)
	}
	lo := 1.0
	for _, a := range ao {
		lo = min(lo, a)
	}
	// Rim vertices, seen edge-on, may miss one grazing direction.
	if lo < 0.995 {
		t.Errorf("convex test face: a vertex gets %.4f of the sky, want 1 (0.995 at the rim)", lo)
	}
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	if ao, err = ambientOcclusion(m, 48, 256); err != nil {
		t.Fatal(err)
	}
	ib := m.Landmarks[bfm.SchemeIBUG68]
	if a := ao[ib[39]]; math.Abs(a-0.81) > 0.01 {
		t.Errorf("inner eye corner: %.3f of the sky, want 0.81", a)
	}
	if a, b := ao[ib[30]], ao[10*bfm.DefaultCols+bfm.DefaultCols/2]; a != 1 || b != 1 {
		t.Errorf("nose tip %.3f, forehead %.3f of the sky, want 1", a, b)
	}
}

// TestAlbedoVariety: the beard region covers the chin below the lower lip
// and the upper lip's skin, not the lips, the nose or the forehead; at
// strength 0 the albedo is unchanged; at 1 the forehead skin stays within
// the blotch and grain bounds (+-21%) and the brows change with the
// features' contrast.
func TestAlbedoVariety(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSynthetic(m, SyntheticConfig{Seed: 1, Count: 1, Size: 112, ScaleMin: 0.5, ScaleMax: 0.5, Background: BackgroundNoise, AlbedoVariety: 1}, "train")
	if err != nil {
		t.Fatal(err)
	}
	f := s.albedo
	ib := m.Landmarks[bfm.SchemeIBUG68]
	mid := func(a, b int) int { // the vertex halfway between two landmarks' rows on the mid-line
		ra, rb := ib[a]/bfm.DefaultCols, ib[b]/bfm.DefaultCols
		return (ra+rb)/2*bfm.DefaultCols + bfm.DefaultCols/2
	}
	for _, c := range []struct {
		name   string
		v      int
		lo, hi float64
	}{
		{"chin (between lower lip and chin)", mid(57, 8), 0.9, 1},
		{"upper lip skin (between nose and lip)", mid(33, 51), 0.5, 1},
		{"lower lip", ib[57], 0, 0.1},
		{"nose tip", ib[30], 0, 0},
		{"forehead", 10*bfm.DefaultCols + bfm.DefaultCols/2, 0, 0},
	} {
		if b := f.beard[c.v]; b < c.lo || b > c.hi {
			t.Errorf("%s: beard weight %.3f, want in [%g, %g]", c.name, b, c.lo, c.hi)
		}
	}
	tone := [3]float64{0.5, 0.3, 0.2}
	base := make([][3]float64, m.NumVertices())
	for v := range base {
		base[v] = tone
	}
	brow := ib[19]
	base[brow] = [3]float64{0.05, 0.03, 0.02}
	col := append([][3]float64(nil), base...)
	f.vary(col, tone, 0, rand.New(rand.NewPCG(1, 2)))
	for v := range col {
		if col[v] != base[v] {
			t.Fatalf("strength 0 changed vertex %d: %v -> %v", v, base[v], col[v])
		}
	}
	changed := 0
	for seed := uint64(0); seed < 20; seed++ {
		col = append(col[:0], base...)
		f.vary(col, tone, 1, rand.New(rand.NewPCG(seed, 2)))
		fh := col[10*bfm.DefaultCols+bfm.DefaultCols/2]
		for k := range fh {
			if r := fh[k] / tone[k]; r < 0.79 || r > 1.21 {
				t.Errorf("seed %d: forehead channel %d at %.3f of the skin, want within 21%%", seed, k, r)
			}
		}
		if col[brow] != base[brow] {
			changed++
		}
	}
	if changed < 18 {
		t.Errorf("the brow's albedo changed in %d of 20 images", changed)
	}
}

// TestSupersample: a render at 3x box-filtered down keeps the background
// pixels and the landmarks of the plain render, changes only pixels on
// the face's edges (anti-aliasing), and its visibility agrees on the
// points well inside the silhouette.
func TestSupersample(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := SyntheticConfig{Seed: 3, Count: 4, Size: 96, YawDeg: 40, ScaleMin: 0.5, ScaleMax: 0.5,
		Background: BackgroundNatural, HeadProb: 0.5, LightJitter: 0.8, VisibilityTol: 0.03, GrazeDeg: 5}
	plain, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Supersample = 3
	super, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < cfg.Count; i++ {
		a, err := plain.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := super.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		la, lb := a.Landmarks[bfm.SchemeIBUG68], b.Landmarks[bfm.SchemeIBUG68]
		agree := 0
		for j := range la.Points {
			if la.Points[j] != lb.Points[j] {
				t.Fatalf("sample %d landmark %d: %v plain, %v supersampled", i, j, la.Points[j], lb.Points[j])
			}
			if la.Visible[j] == lb.Visible[j] {
				agree++
			}
		}
		if agree < len(la.Points)-4 {
			t.Errorf("sample %d: visibility agrees on %d of %d landmarks, want all but at most 4", i, agree, len(la.Points))
		}
		pa, pb := a.Image.(*image.RGBA), b.Image.(*image.RGBA)
		same, differ := 0, 0
		for k := 0; k < len(pa.Pix); k += 4 {
			d := 0
			for c := 0; c < 3; c++ {
				d = max(d, int(pa.Pix[k+c])-int(pb.Pix[k+c]), int(pb.Pix[k+c])-int(pa.Pix[k+c]))
			}
			if d == 0 {
				same++
			} else if d > 2 {
				differ++
			}
		}
		n := len(pa.Pix) / 4
		// Most pixels are background or face interior; the rest are edges.
		if same < n/2 || differ == 0 || differ > n/4 {
			t.Errorf("sample %d: %d of %d pixels identical and %d differ by more than 2 levels; want at least half identical and some, at most a quarter, changed", i, same, n, differ)
		}
	}
	bad := cfg
	bad.Supersample = 5
	if _, err := NewSynthetic(m, bad, "train"); err == nil || !strings.Contains(err.Error(), "supersample = 5") {
		t.Errorf("supersample 5: error %v, want one naming supersample = 5", err)
	}
}

// TestBoxResample: upsampling by blocks and box-filtering back is the
// identity, and the box filter averages with rounding.
func TestBoxResample(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 5, 3))
	for k := range src.Pix {
		src.Pix[k] = uint8(37 * k)
	}
	big := image.NewRGBA(image.Rect(0, 0, 10, 6))
	boxUpsample(big, src, 2)
	back := image.NewRGBA(src.Rect)
	boxDownsample(back, big, 2)
	if !bytes.Equal(back.Pix, src.Pix) {
		t.Fatalf("down(up(x)) != x:\n%v\n%v", back.Pix, src.Pix)
	}
	one := image.NewRGBA(image.Rect(0, 0, 1, 1))
	blk := image.NewRGBA(image.Rect(0, 0, 2, 2))
	copy(blk.Pix, []uint8{0, 0, 0, 255, 1, 0, 0, 255, 1, 0, 0, 255, 255, 0, 0, 255})
	boxDownsample(one, blk, 2)
	if one.Pix[0] != 64 || one.Pix[3] != 255 { // (0 + 1 + 1 + 255) / 4 = 64.25
		t.Errorf("box filter of 0, 1, 1, 255: %v, want 64 (alpha 255)", one.Pix)
	}
}
