package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/internal/testenv"
)

// TestDetectCommand runs "stn3d detect --json --out" on a shared VOC
// photograph (several faces), a blank picture and a corrupt file: the
// corrupt one is reported, the others written, exit code 1.
func TestDetectCommand(t *testing.T) {
	photo := testenv.Shared(t, "data/faces/dlib/2008_002470.jpg")
	in, out := t.TempDir(), t.TempDir()
	blank := image.NewRGBA(image.Rect(0, 0, 120, 90))
	for i := range blank.Pix {
		blank.Pix[i] = 200
	}
	var b bytes.Buffer
	if err := png.Encode(&b, blank); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "blank.png"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "corrupt.jpg"), []byte("\xff\xd8\xff\xe0 not a jpeg"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := execute([]string{"detect", "--json", "--out", out, photo, in}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "corrupt.jpg") || !strings.Contains(stderr.String(), "1 of 3 inputs skipped") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	var recs []detectRecord
	if err := json.Unmarshal(stdout.Bytes(), &recs); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if len(recs) != 3 || recs[0].Width != 500 || recs[0].Height != 332 {
		t.Fatalf("records %+v", recs)
	}
	// The photograph's annotated faces (dlib testing XML) are all found.
	if n := len(recs[0].Faces); n < 3 {
		t.Errorf("%d faces in %s, want at least 3", n, photo)
	}
	if len(recs[1].Faces) != 0 || recs[2].Error == "" {
		t.Errorf("blank: %+v; corrupt: %+v", recs[1], recs[2])
	}
	pic, err := dataset.LoadImage(filepath.Join(out, "2008_002470_detect.png"))
	if err != nil {
		t.Fatal(err)
	}
	// The box outline is drawn in green on the first face.
	f := recs[0].Faces[0].Box
	if c := color.RGBAModel.Convert(pic.At(int(f.X0)+3, int(f.Y0))).(color.RGBA); c.G < 200 || c.R > 100 {
		t.Errorf("pixel on the first box's top edge is %v, want green", c)
	}
	if _, err := os.Stat(filepath.Join(out, "blank_detect.json")); err != nil {
		t.Error(err)
	}
	// Outputs are not overwritten without --force.
	stdout.Reset()
	stderr.Reset()
	if code := execute([]string{"detect", "--out", out, photo}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "already exists") {
		t.Errorf("rerun: exit %d, stderr %s", code, stderr.String())
	}
}
