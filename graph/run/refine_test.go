package run

import (
	"context"
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// memSource is a Source over samples held in memory.
type memSource []dataset.Sample

func (m memSource) Len() int                             { return len(m) }
func (m memSource) Sample(i int) (dataset.Sample, error) { return m[i], nil }

// refineFixture is a 200 x 160 image with a 68-point face whose box spans
// (60, 40)..(130, 120), and its source cropped to 112 with the default
// margin and offset.
func refineFixture() (croppedSource, dataset.Sample) {
	img := image.NewRGBA(image.Rect(0, 0, 200, 160))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	lm := dataset.Landmarks{Points: make([][2]float64, 68), Visible: make([]bool, 68)}
	for i := range lm.Points {
		a := 2 * math.Pi * float64(i) / 68
		lm.Points[i] = [2]float64{95 + 35*math.Cos(a), 80 + 40*math.Sin(a)}
		lm.Visible[i] = true
	}
	pose := dataset.Pose{Yaw: 20}
	s := dataset.Sample{Name: "face", Image: img, Pose: &pose, Landmarks: map[string]dataset.Landmarks{bfm.SchemeIBUG68: lm}}
	opt := dataset.CropOptions{Size: 112, Margin: 0.45, LandmarkOffsetY: 0.1}
	return croppedSource{src: memSource{s}, opt: opt}, s
}

// TestRecropIdempotent: cropping again around the annotated points (as a
// perfect first pass predicts them) gives back the first crop exactly.
func TestRecropIdempotent(t *testing.T) {
	src, orig := refineFixture()
	first, tr, err := dataset.CropSample(orig, src.opt)
	if err != nil {
		t.Fatal(err)
	}
	again, tr2, err := recrop(orig, tr, first.Landmarks[bfm.SchemeIBUG68].Points, src.opt)
	if err != nil {
		t.Fatal(err)
	}
	if tr2 != tr {
		t.Fatalf("transform %+v, want the first crop's %+v", tr2, tr)
	}
	a, b := first.Image.(*image.RGBA), again.Image.(*image.RGBA)
	for i := range a.Pix {
		if a.Pix[i] != b.Pix[i] {
			t.Fatalf("byte %d of the crop differs", i)
		}
	}
	if again.Pose == nil || again.Pose.Yaw != 20 {
		t.Errorf("pose %v, want the original's", again.Pose)
	}
}

// TestRefineBatchFollowsPrediction: a first pass that predicts the face 8
// input pixels to the right of where it is moves the second crop's square
// by 8 input pixels (8 / scale original pixels) to the right, and the
// annotations are mapped into the new crop.
func TestRefineBatchFollowsPrediction(t *testing.T) {
	src, orig := refineFixture()
	first, err := src.Sample(0)
	if err != nil {
		t.Fatal(err)
	}
	shift := func(s dataset.Sample, dx float64) graph.Fit {
		var f graph.Fit
		pts := s.Landmarks[bfm.SchemeIBUG68].Points
		f.Schemes = map[string][][2]float64{bfm.SchemeIBUG68: make([][2]float64, len(pts))}
		for i, p := range pts {
			f.Schemes[bfm.SchemeIBUG68][i] = [2]float64{p[0] + dx, p[1]}
		}
		return f
	}
	calls := 0
	predict := func(in []float32) ([]graph.Fit, error) {
		calls++
		return []graph.Fit{{}}, nil
	}
	buf := make([]float32, 3*112*112)
	samples, fits, err := refineBatch(src, []int{0}, []dataset.Sample{first}, []graph.Fit{shift(first, 8)}, 1, buf, 112, predict)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(samples) != 1 || len(fits) != 1 {
		t.Fatalf("%d predictions, %d samples, %d fits; want 1 each", calls, len(samples), len(fits))
	}
	// The square moves by round(8 / scale) whole original pixels; every
	// annotated point moves left by that times the scale in the new crop.
	_, tr1, _ := dataset.CropSample(orig, src.opt)
	dx := math.Round(8/tr1.Scale) * tr1.Scale
	for i, p := range first.Landmarks[bfm.SchemeIBUG68].Points {
		q := samples[0].Landmarks[bfm.SchemeIBUG68].Points[i]
		if math.Abs(q[0]-(p[0]-dx)) > 1e-9 || math.Abs(q[1]-p[1]) > 1e-9 {
			t.Fatalf("landmark %d at %v in the second crop, want (%.4f, %.4f)", i, q, p[0]-dx, p[1])
		}
	}
	// A source that cannot re-crop, or no passes: unchanged, no prediction.
	for _, c := range []struct {
		src    dataset.Source
		passes int
	}{{memSource{orig}, 1}, {src, 0}} {
		s, _, err := refineBatch(c.src, []int{0}, []dataset.Sample{first}, []graph.Fit{shift(first, 8)}, c.passes, buf, 112, predict)
		if err != nil || calls != 1 || s[0].Image != first.Image {
			t.Errorf("passes %d: refined (err %v, %d predictions)", c.passes, err, calls)
		}
	}
}

// TestNormalizeRefine: with eval.refine 1, normalize crops the whole image,
// fits, then crops again around the first fit's 68 points (the points the
// one-pass run reports, in original pixels) with data.margin and
// data.landmark_offset_y, and records it; two runs agree byte for byte.
func TestNormalizeRefine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a model; skipped with -short")
	}
	run, cfg, _ := normRun(t)
	in := t.TempDir()
	writePNGFile(t, filepath.Join(in, "whole.png"), noiseImage(160, 100, 2))
	one := filepath.Join(t.TempDir(), "one")
	res, err := Normalize(context.Background(), NormalizeOptions{Checkpoint: run, Out: one, Batch: 2, Margin: -1, Detect: DetectNever, Inputs: []string{filepath.Join(in, "whole.png")}})
	if err != nil {
		t.Fatal(err)
	}
	first := readRecord(t, res.Processed[0])
	cfg.Eval.Refine = 1
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "refine.yaml")
	if err := os.WriteFile(cfgPath, y, 0o644); err != nil {
		t.Fatal(err)
	}
	var recs []NormalizeRecord
	for k := 0; k < 2; k++ {
		out := filepath.Join(t.TempDir(), "two")
		res, err := Normalize(context.Background(), NormalizeOptions{Checkpoint: run, Config: cfgPath, Out: out, Batch: 2, Margin: -1, Detect: DetectNever, Inputs: []string{filepath.Join(in, "whole.png")}})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, readRecord(t, res.Processed[0]))
	}
	lm := dataset.Landmarks{}
	for _, p := range first.Landmarks[bfm.SchemeIBUG68].Points {
		lm.Points = append(lm.Points, *p)
		lm.Visible = append(lm.Visible, true)
	}
	s := dataset.Sample{Name: "whole", Image: noiseImage(160, 100, 2), Landmarks: map[string]dataset.Landmarks{bfm.SchemeIBUG68: lm}}
	_, tr, err := dataset.CropSample(s, dataset.CropOptions{Size: 112, Margin: cfg.Data.Margin, LandmarkOffsetY: cfg.Data.LandmarkOffsetY})
	if err != nil {
		t.Fatal(err)
	}
	r := recs[0].Crop
	want := [4]int{tr.Region.Min.X, tr.Region.Min.Y, tr.Region.Max.X, tr.Region.Max.Y}
	if first.Crop.Source != "image" || r.Source != "image+refined" || r.Region != want || r.Margin != cfg.Data.Margin || r.Scale != tr.Scale {
		t.Errorf("refined crop %+v, want source image+refined, region %v, margin %g, scale %g (first crop %+v)", r, want, cfg.Data.Margin, tr.Scale, first.Crop)
	}
	if !reflect.DeepEqual(recs[0], recs[1]) {
		t.Error("two refined runs differ")
	}
}
