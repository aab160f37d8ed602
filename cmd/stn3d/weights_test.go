package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/graph/run"
)

func TestVersionNamesTheEmbeddedWeights(t *testing.T) {
	meta, err := run.EmbeddedMeta()
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"version", "--version"} {
		code, so, se := runCLI(arg)
		want := fmt.Sprintf("embedded default model: %d parameters (float16), step %d", meta.Params, meta.Step)
		if code != 0 || !strings.HasPrefix(so, "stn3d ") || !strings.Contains(so, want) ||
			!strings.Contains(so, "weights sha256 "+meta.WeightsSHA256[:16]) || se != "" {
			t.Errorf("%s: exit %d\nstdout %q\nstderr %q\nwant %q", arg, code, so, se, want)
		}
	}
	code, so, _ := runCLI("weights", "info")
	var got run.PretrainedMeta
	if err := json.Unmarshal([]byte(so), &got); code != 0 || err != nil || got.WeightsSHA256 != meta.WeightsSHA256 || got.Config != meta.Config {
		t.Errorf("weights info: exit %d, %v: %.200s", code, err, so)
	}
	bad := filepath.Join(t.TempDir(), "bad.weights")
	os.WriteFile(bad, []byte("STN3DPRE and then nothing"), 0o644)
	if code, _, se := runCLI("weights", "info", bad); code != 1 || !strings.Contains(se, bad) || !strings.Contains(se, "bad pretrained model file") {
		t.Errorf("weights info on a bad file: exit %d, %q", code, se)
	}
	if code, _, se := runCLI("weights", "export", "--run", "x"); code != 2 || !strings.Contains(se, "--run DIR and --out FILE are required") {
		t.Errorf("weights export without --out: exit %d, %q", code, se)
	}
	// A bad pretrained file given as --checkpoint is named in the error.
	if code, _, se := runCLI("normalize", "--checkpoint", bad, "--out", t.TempDir(), bad); code != 1 || !strings.Contains(se, bad+": bad pretrained model file") {
		t.Errorf("normalize --checkpoint BAD: exit %d, %q", code, se)
	}
}

// TestNoCheckpointUsesEmbedded: normalize and eval run with no
// --checkpoint (and eval with no --config) on the embedded model.
func TestNoCheckpointUsesEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the default network; skipped with -short")
	}
	in := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(2 * x), uint8(2 * y), 128, 255})
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join(in, "photo.jpg")
	os.WriteFile(photo, jb.Bytes(), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	code, so, se := runCLI("normalize", "--out", out, "--quiet", "--box", "10,10,80,80", photo)
	if code != 0 || !strings.Contains(so, "normalize: 1 processed, 0 skipped") {
		t.Fatalf("normalize: exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	var rec run.NormalizeRecord
	data, _ := os.ReadFile(filepath.Join(out, "photo.json"))
	if err := json.Unmarshal(data, &rec); err != nil || rec.Checkpoint != run.EmbeddedName {
		t.Fatalf("photo.json: %v, checkpoint %q", err, rec.Checkpoint)
	}

	code, so, se = runCLI("eval", "--max", "4")
	if code != 0 || !strings.Contains(so, "images 4\n") || strings.Contains(so, "written to") ||
		!strings.Contains(se, `checkpoint="embedded default model"`) {
		t.Fatalf("eval: exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	dir := t.TempDir()
	code, so, se = runCLI("eval", "--max", "2", "--out", dir)
	if code != 0 || !strings.Contains(so, "written to "+dir) {
		t.Fatalf("eval --out: exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics.json")); err != nil {
		t.Error(err)
	}
}
