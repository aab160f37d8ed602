package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/graph/run"
)

// normalizeRunDir builds a run directory (config.yaml, model.grid,
// best.ckpt) from configs/tiny.yaml with an untrained, seeded model.
func normalizeRunDir(t *testing.T) string {
	t.Helper()
	cfg, err := run.LoadConfig(filepath.Join("..", "..", "configs", "tiny.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, gm, err := run.LoadModels(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("default model: %v", err)
	}
	mc, err := run.NetworkConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := graph.NewNetwork(mc, gm, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ck, err := m.Checkpoint(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := graph.SaveCheckpoint(filepath.Join(dir, run.RunBestFile), ck); err != nil {
		t.Fatal(err)
	}
	if err := bfm.SaveGrid(filepath.Join(dir, run.RunGridFile), gm); err != nil {
		t.Fatal(err)
	}
	y, _ := yaml.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, run.RunConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestNormalizeCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a model; skipped with -short")
	}
	runDir := normalizeRunDir(t)
	in := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 120, 90))
	for y := 0; y < 90; y++ {
		for x := 0; x < 120; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(2 * x), uint8(2 * y), 128, 255})
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, nil); err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(in, "good.jpg"), filepath.Join(in, "corrupt.jpg")
	os.WriteFile(good, jb.Bytes(), 0o644)
	os.WriteFile(bad, jb.Bytes()[:jb.Len()/3], 0o644)
	out := filepath.Join(t.TempDir(), "out")

	exec := func(args ...string) (int, string, string) {
		var so, se bytes.Buffer
		// The whole-image crop (its fixture is no face); detection is
		// tested in detect_test.go and graph/run.
		code := execute(append([]string{"normalize", "--detect", "never"}, args...), &so, &se)
		return code, so.String(), se.String()
	}

	// One good and one corrupt image: exit 1, the summary counts both,
	// stderr names the corrupt file; flags after the inputs are honoured.
	code, so, se := exec("--checkpoint", runDir, "--out", out, good, bad, "--fill", "--batch", "2")
	if code != 1 || !strings.Contains(so, "normalize: 1 processed, 1 skipped") ||
		!strings.Contains(se, "skipped "+bad+": dataset: load image "+bad) || !strings.Contains(se, "1 of 2 inputs failed") ||
		!strings.Contains(se, "normalize 2/2") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	for _, f := range []string{"good_texture.png", "good_mask.png", "good_texture_filled.png", "good_confidence.png",
		"good_panel.png", "good.json", "good.obj", "good.mtl", "good.ply"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var rec run.NormalizeRecord
	data, _ := os.ReadFile(filepath.Join(out, "good.json"))
	if err := json.Unmarshal(data, &rec); err != nil || rec.Crop.Source != "image" || rec.Crop.Region != [4]int{0, -15, 120, 105} {
		t.Fatalf("json %v: %+v", err, rec.Crop)
	}

	// Again: the outputs exist, so the image is refused without --force.
	code, so, se = exec("--checkpoint", runDir, "--out", out, "--fill", good)
	if code != 1 || !strings.Contains(se, filepath.Join(out, "good_texture.png")+" already exists (pass --force to overwrite)") ||
		!strings.Contains(so, "0 processed, 1 skipped") {
		t.Fatalf("no --force: exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	code, so, se = exec("--checkpoint", filepath.Join(runDir, run.RunBestFile), "--out", out, "--force", "--quiet",
		"--box", "10,10,100,80", "--margin", "0.1", good)
	if code != 0 || strings.TrimSpace(so) != "normalize: 1 processed, 0 skipped" || strings.Contains(se, "normalize 1/1") {
		t.Fatalf("--force: exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	data, _ = os.ReadFile(filepath.Join(out, "good.json"))
	if err := json.Unmarshal(data, &rec); err != nil || rec.Crop.Source != "box" || rec.Crop.Margin != 0.1 {
		t.Fatalf("json %v: %+v", err, rec.Crop)
	}

	// Usage errors exit 2 with a message.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--checkpoint", runDir, good}, "--out DIR is required"},
		{[]string{"--checkpoint", runDir, "--out", out}, "no INPUT images or folders given"},
		{[]string{"--checkpoint", runDir, "--out", out, "--box", "1,2,3", good}, `--box "1,2,3": want four numbers x0,y0,x1,y1`},
		{[]string{"--checkpoint", runDir, "--out", out, "--box", "1,2,x,4", good}, `value 3 "x" is not a finite number`},
		{[]string{"--checkpoint", runDir, "--out", out, "--box", "5,2,3,4", good}, "want x0 < x1 and y0 < y1"},
		{[]string{"--checkpoint", runDir, "--out", out, "--batch", "-1", good}, "--batch -1: want >= 0"},
		{[]string{"--checkpoint", runDir, "--out", out, "--nope", good}, "flag provided but not defined: -nope"},
	} {
		code, _, se := exec(c.args...)
		if code != 2 || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, se, c.want)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a := fs.Bool("a", false, "")
	n := fs.Int("n", 0, "")
	pos, err := parseInterleaved(fs, []string{"p1", "-a", "p2", "-n", "3", "p3", "--", "-p4"})
	if err != nil || strings.Join(pos, " ") != "p1 p2 p3 -p4" || !*a || *n != 3 {
		t.Fatalf("pos %v a %v n %v err %v", pos, *a, *n, err)
	}
	b, err := parseBox(" 1.5, 2,3 ,4")
	if err != nil || b != (dataset.Box{X0: 1.5, Y0: 2, X1: 3, Y1: 4}) {
		t.Fatalf("box %+v %v", b, err)
	}
}
