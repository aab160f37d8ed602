package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/run"
)

func runCLI(args ...string) (int, string, string) {
	var so, se bytes.Buffer
	code := execute(args, &so, &se)
	return code, so.String(), se.String()
}

// TestHelpExitsZero: "COMMAND -h" and "--help" print the flags and exit 0
// (they exited 2 with "flag: help requested").
func TestHelpExitsZero(t *testing.T) {
	for _, cmd := range [][]string{{"train"}, {"eval"}, {"normalize"}, {"embed"}, {"model", "info"}, {"model", "grid"}, {"weights", "export"}, {"weights", "info"}} {
		for _, h := range []string{"-h", "--help"} {
			code, _, se := runCLI(append(cmd, h)...)
			if code != 0 || strings.Contains(se, "help requested") || !strings.Contains(se, "sage") {
				t.Errorf("%v %s: exit %d, stderr %q", cmd, h, code, se)
			}
		}
	}
}

// TestFlagHints: the package sentinels get the flag that resolves them.
func TestFlagHints(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{run.ErrRunExists, "--force to start it again"},
		{run.ErrNothingToResume, "drop --resume"},
		{run.ErrConfigChanged, "pass --force with --resume"},
		{run.ErrOutputExists, "pass --force to overwrite"},
		{run.ErrNoRunConfig, "pass --config FILE"},
		{&dataset.TooLargeError{Format: "png", W: 10, H: 10, Limit: 99}, "raise --max-pixels"},
	} {
		if h := flagHint(fmt.Errorf("x: %w", c.err)); !strings.Contains(h, c.want) {
			t.Errorf("%v: hint %q, want %q", c.err, h, c.want)
		}
	}
}

func TestModelInfoNaNNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nan.obj")
	if err := os.WriteFile(p, []byte("v 0 0 0\nv 1 NaN 0\nv 0 1 0\nf 1 2 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, so, se := runCLI("model", "info", p)
	if code != 1 || so != "" || !strings.Contains(se, p+": line 2: expected a finite number, found \"NaN\"") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, so, se)
	}
}

// TestTrainRefusals: a pruned run folder is refused with the flags that
// resolve it, and an impossible batch with a message instead of "fatal
// error: out of memory".
func TestTrainRefusals(t *testing.T) {
	cfg := filepath.Join("..", "..", "configs", "tiny.yaml")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, run.RunBestFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, se := runCLI("train", "--config", cfg, "--out", dir, "--quiet")
	if code != 1 || !strings.Contains(se, dir+" holds best.ckpt: run directory already holds a run (pass --resume to continue it, --force to start it again") {
		t.Errorf("exit %d, stderr %q", code, se)
	}
	code, _, se = runCLI("train", "--config", cfg, "--out", t.TempDir(), "--quiet", "--set", "train.batch=1e8")
	if code != 1 || !strings.Contains(se, "train.batch = 100000000: a training step needs about") {
		t.Errorf("batch 1e8: exit %d, stderr %q", code, se)
	}
	code, _, se = runCLI("train", "--config", cfg, "--max-pixels", "0")
	if code != 2 || !strings.Contains(se, "--max-pixels 0: want a positive number of pixels") {
		t.Errorf("--max-pixels 0: exit %d, stderr %q", code, se)
	}
}

func writePNG(t *testing.T, p string, w, h int) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	img.SetRGBA(0, 0, color.RGBA{1, 2, 3, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEvalDataSkips: eval --data on a manifest with 3 bad lines of 5
// scores 2, says so on stderr and in metrics.json, and does not overwrite
// its outputs without --force.
func TestEvalDataSkips(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a model; skipped with -short")
	}
	runDir := normalizeRunDir(t)
	data := t.TempDir()
	writePNG(t, filepath.Join(data, "a.png"), 120, 100)
	writePNG(t, filepath.Join(data, "big.png"), 200, 100)
	pts := make([]string, 21)
	for k := range pts {
		pts[k] = fmt.Sprintf("[%d, %d]", 30+(k%7)*10, 20+(k/7)*25)
	}
	lm := `"scheme": "aflw21", "landmarks": [` + strings.Join(pts, ", ") + `]`
	manifest := filepath.Join(data, "faces.jsonl")
	text := `{"image": "a.png", ` + lm + "}\n" + `{"image": "gone.png", ` + lm + "}\n" + `{"image": "a.png", ` + lm + ", \"tilt\": 1}\n" +
		`{"image": "big.png", ` + lm + "}\n" + "{oops\n"
	if err := os.WriteFile(manifest, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(runDir, run.RunConfigFile)
	code, so, se := runCLI("eval", "--config", cfg, "--checkpoint", runDir, "--data", manifest, "--max-pixels", "15000")
	if code != 0 || !strings.Contains(so, "images 1\n") || !strings.Contains(se, "eval: 4 of 5 inputs skipped (scored 1):\n") ||
		!strings.Contains(se, "faces.jsonl:2: image: stat ") || !strings.Contains(se, `faces.jsonl:3: json: unknown field "tilt"`) ||
		!strings.Contains(se, "png image is 200x100 = 20000 pixels, more than the limit 15000 (raise --max-pixels to read it)") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, so, se)
	}
	out := filepath.Join(runDir, "eval-faces_jsonl")
	var met dataset.Metrics
	b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &met); err != nil || met.Skipped != 4 || len(met.SkippedReasons) != 4 || met.Images != 1 {
		t.Errorf("metrics.json: %d images, skipped %d %q (%v)", met.Images, met.Skipped, met.SkippedReasons, err)
	}
	code, _, se = runCLI("eval", "--config", cfg, "--checkpoint", runDir, "--data", manifest)
	if code != 1 || !strings.Contains(se, filepath.Join(out, "metrics.json")+" already exists (pass --force to overwrite)") {
		t.Errorf("again: exit %d, stderr %q", code, se)
	}
	code, _, se = runCLI("eval", "--config", cfg, "--checkpoint", runDir, "--data", manifest, "--force")
	if code != 0 || !strings.Contains(se, "eval: 3 of 5 inputs skipped (scored 2)") {
		t.Errorf("--force: exit %d, stderr %q", code, se)
	}
	// normalize takes --max-pixels too.
	code, _, se = runCLI("normalize", "--checkpoint", runDir, "--out", t.TempDir(), "--max-pixels", "100", filepath.Join(data, "a.png"))
	if code != 1 || !strings.Contains(se, "png image is 120x100 = 12000 pixels, more than the limit 100 (raise --max-pixels to read it)") {
		t.Errorf("normalize --max-pixels 100: exit %d, stderr %q", code, se)
	}
}

// TestEmbedUsage: embed's command-line mistakes exit 2 naming the flag.
func TestEmbedUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"embed", "a.png"}, "--checkpoint FILE|DIR is required"},
		{[]string{"embed", "--checkpoint", "r"}, "no INPUT images"},
		{[]string{"embed", "--checkpoint", "r", "--out", "e.csv", "a.png"}, "--out e.csv: want a .jsonl, .json or .npy file"},
		{[]string{"embed", "--checkpoint", "r", "--batch", "-1", "a.png"}, "--batch -1"},
	} {
		code, _, se := runCLI(c.args...)
		if code != 2 || !strings.Contains(se, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, se, c.want)
		}
	}
}
