package dataset

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenAFLW2000Fixture(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"image00002.jpg", "image00002.mat", "image00004.jpg", "image00004.mat", "image00006.jpg", "image00006.mat", "image00006.jpg"} {
		data, err := os.ReadFile(filepath.Join("testdata", "aflw2000", n))
		if err != nil {
			t.Fatal(err)
		}
		writeTestFileIn(t, dir, n, data)
	}
	writeTestFileIn(t, dir, "image00008.jpg", mustRead(t, filepath.Join("testdata", "aflw2000", "image00002.jpg")))
	writeTestFileIn(t, dir, "image00010.mat", []byte("MATLAB 5.0 MAT-file, truncated"))
	writeTestFileIn(t, dir, "image00010.jpg", mustRead(t, filepath.Join("testdata", "aflw2000", "image00002.jpg")))
	src, err := OpenAFLW2000(dir, AFLW2000Options{})
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 2 || src.Items[0].Name != "image00002.jpg" || src.Items[1].Name != "image00006.jpg" {
		t.Fatalf("items %d: %v; skipped %v", src.Len(), src.Items, src.Problems())
	}
	it := src.Items[0]
	// pt2d point k is (11 + k, 21 + 2k) 1-based -> (10 + k, 20 + 2k).
	a := it.Landmarks["aflw21"]
	if a.Points[0] != [2]float64{10, 20} || a.Points[20] != [2]float64{30, 60} || a.Visible[12] || a.Visible[16] || !a.Visible[13] || a.Points[12] != [2]float64{} {
		t.Errorf("pt2d: %v %v %v", a.Points[0], a.Points[20], a.Visible)
	}
	// pt3d_68 point k is (101 + k, 201 - k) 1-based -> (100 + k, 200 - k).
	b := it.Landmarks["ibug68"]
	if b.Points[0] != [2]float64{100, 200} || b.Points[67] != [2]float64{167, 133} || !b.Visible[67] {
		t.Errorf("pt3d_68: %v %v", b.Points[0], b.Points[67])
	}
	deg := 180 / math.Pi
	if it.Pose == nil || !near(it.Pose.Pitch, 0.1*deg, 1e-12) || !near(it.Pose.Yaw, -0.5*deg, 1e-12) || !near(it.Pose.Roll, 0.25*deg, 1e-12) {
		t.Errorf("pose %+v", it.Pose)
	}
	if src.Items[1].Pose != nil {
		t.Error("image00006 has no Pose_Para but got a pose")
	}
	want := []string{
		"image00004.mat: variable pt2d has size [2 20], want [2 21]",
		"image00008.jpg: no image00008.mat beside the image",
		"image00010.mat: mat5: ",
	}
	if len(src.Skipped) != len(want) {
		t.Fatalf("skipped %v", src.Problems())
	}
	for i, w := range want {
		if e := src.Skipped[i].Error(); !strings.HasPrefix(e, "dataset: "+dir+string(filepath.Separator)+w) {
			t.Errorf("skipped[%d] = %q, want %q", i, e, w)
		}
	}
	s, err := src.Sample(0)
	if err != nil || s.Image.Bounds() != image.Rect(0, 0, 45, 45) {
		t.Errorf("sample: %v", err)
	}
	z, err := OpenAFLW2000(dir, AFLW2000Options{ZeroBased: true})
	if err != nil || z.Items[0].Landmarks["aflw21"].Points[0] != [2]float64{11, 21} {
		t.Errorf("zero-based: %v", err)
	}
	if _, err := OpenAFLW2000(filepath.Join(dir, "nope"), AFLW2000Options{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing dir: %v", err)
	}
}
