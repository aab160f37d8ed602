package run

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/internal/testenv"
)

// twoFaces draws two rendered default-model faces (128 px renders pasted
// at 1:1 and scaled to 96 px) on a grey 480 x 320 picture and returns it
// with their 68-landmark boxes.
func twoFaces(t *testing.T) (*image.RGBA, [2]detect.Box) {
	t.Helper()
	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg := dataset.DefaultSyntheticConfig()
	cfg.Seed, cfg.Count, cfg.Size = 5, 2, 128
	cfg.YawDeg, cfg.PitchDeg, cfg.RollDeg = 20, 5, 5
	cfg.ScaleMin, cfg.ScaleMax, cfg.TransJitter = 0.55, 0.55, 0
	cfg.OccluderProb, cfg.ShapeStd, cfg.Background = 0, 0.5, dataset.BackgroundGradient
	syn, err := dataset.NewSynthetic(m, cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 480, 320))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{120, 120, 120, 255}), image.Point{}, draw.Src)
	var boxes [2]detect.Box
	for k, at := range []image.Point{{40, 80}, {300, 150}} {
		s, err := syn.Sample(k)
		if err != nil {
			t.Fatal(err)
		}
		draw.Draw(img, image.Rectangle{Min: at, Max: at.Add(image.Pt(128, 128))}, s.Image, image.Point{}, draw.Src)
		b, ok := detect.LandmarkBox(s)
		if !ok {
			t.Fatal("no landmark box")
		}
		boxes[k] = detect.Box{X0: b.X0 + float64(at.X), Y0: b.Y0 + float64(at.Y), X1: b.X1 + float64(at.X), Y1: b.Y1 + float64(at.Y)}
	}
	return img, boxes
}

func TestNormalizeDetectsEveryFace(t *testing.T) {
	run, _, _ := normRun(t)
	in, out := t.TempDir(), t.TempDir()
	img, boxes := twoFaces(t)
	writePNGFile(t, filepath.Join(in, "group.png"), img)
	blank := image.NewRGBA(image.Rect(0, 0, 200, 150))
	draw.Draw(blank, blank.Bounds(), image.NewUniform(color.RGBA{90, 90, 90, 255}), image.Point{}, draw.Src)
	writePNGFile(t, filepath.Join(in, "empty.png"), blank)
	res, err := Normalize(context.Background(), NormalizeOptions{Checkpoint: run, Out: out, Batch: 2, Margin: -1,
		Inputs: []string{filepath.Join(in, "group.png"), filepath.Join(in, "empty.png")}})
	if err == nil || len(res.Failed) != 1 || !errors.Is(res.Failed[0].Err, ErrNoFace) || !strings.HasSuffix(res.Failed[0].Input, "empty.png") {
		t.Fatalf("want empty.png reported as without face, got %v (failed %+v)", err, res)
	}
	if len(res.Processed) != 2 {
		t.Fatalf("processed %v, want group_face0 and group_face1", res.Processed)
	}
	found := [2]bool{}
	for k, p := range res.Processed {
		if want := filepath.Join(out, "group_face"+string(rune('0'+k))+".json"); p != want {
			t.Errorf("output %s, want %s", p, want)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var rec NormalizeRecord
		if err := json.Unmarshal(data, &rec); err != nil {
			t.Fatal(err)
		}
		d := rec.Crop.Detection
		if rec.Crop.Source != "detector" || d == nil || d.Face != k || !(d.Score >= 0.5 && d.Score < 1) {
			t.Fatalf("%s: crop %+v", p, rec.Crop)
		}
		db := detect.Box{X0: d.Box[0], Y0: d.Box[1], X1: d.Box[2], Y1: d.Box[3]}
		for i, b := range boxes {
			if detect.IoU(db, b) >= 0.5 {
				found[i] = true
			}
		}
		if _, err := os.Stat(filepath.Join(out, "group_face"+string(rune('0'+k))+"_texture.png")); err != nil {
			t.Error(err)
		}
	}
	if !found[0] || !found[1] {
		t.Errorf("faces found %v, want both", found)
	}
}

func TestDetectJobsModes(t *testing.T) {
	in := t.TempDir()
	img, _ := twoFaces(t)
	writePNGFile(t, filepath.Join(in, "a.png"), img)
	writePNGFile(t, filepath.Join(in, "b.png"), img)
	if err := os.WriteFile(filepath.Join(in, "b.pts"), []byte("version: 1\nn_points: 2\n{\n1 2\n3 4\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	det, err := detect.Default()
	if err != nil {
		t.Fatal(err)
	}
	files := []string{filepath.Join(in, "a.png"), filepath.Join(in, "b.png"), filepath.Join(in, "missing.png")}
	stems := OutputStems(files)
	for _, c := range []struct {
		mode  string
		box   bool
		stems string
	}{
		{DetectAuto, false, "a_face0 a_face1 b"},
		{DetectAlways, false, "a_face0 a_face1 b_face0 b_face1"},
		{DetectAuto, true, "a b missing"},
		{DetectNever, false, "a b missing"},
	} {
		jobs, bad := detectJobs(files, stems, c.mode, c.box, det, detect.Options{}, 0)
		var got []string
		for _, j := range jobs {
			got = append(got, j.stem)
		}
		if strings.Join(got, " ") != c.stems {
			t.Errorf("%s (box %v): jobs %v, want %s", c.mode, c.box, got, c.stems)
		}
		if wantBad := !strings.Contains(c.stems, "missing"); wantBad != (len(bad) == 1) {
			t.Errorf("%s: failures %v", c.mode, bad)
		}
	}
	if _, err := checkDetectMode("sometimes"); !errors.Is(err, ErrDetectMode) {
		t.Errorf("mode sometimes: %v", err)
	}
}

// TestEvaluateDetectAlways evaluates on the shared dlib VOC test
// photographs with crops from the detector: every face it finds is
// scored (16 of the 25 annotated faces at the embedded weights'
// threshold; 18 of the 25 have dlib boxes under 45 px), and the crops match the
// landmark crops closely, so the NME differs little.
func TestEvaluateDetectAlways(t *testing.T) {
	xml := testenv.Shared(t, "data/faces/dlib/testing_with_face_landmarks.xml")
	run, cfg, _ := normRun(t)
	ctx := context.Background()
	lm, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: run, Data: xml})
	if err != nil {
		t.Fatal(err)
	}
	dt, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: run, Data: xml, Detect: DetectAlways})
	if err != nil {
		t.Fatal(err)
	}
	if lm.Images != 25 || dt.Images < 15 || dt.Images > 25 {
		t.Errorf("images scored: %d from landmarks (want 25), %d from detections (want 15..25)", lm.Images, dt.Images)
	}
	t.Logf("NME %.2f%% from landmark crops, %.2f%% from detector crops", lm.NMEAll, dt.NMEAll)
	if d := dt.NMEAll - lm.NMEAll; d > 0.25*lm.NMEAll || d < -0.25*lm.NMEAll {
		t.Errorf("NME from detector crops %.2f%%, from landmark crops %.2f%%: want within 25%%", dt.NMEAll, lm.NMEAll)
	}
}
