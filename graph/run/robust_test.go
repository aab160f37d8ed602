package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/atomicfile"
	"github.com/stn3d/stn3d/internal/testenv"
)

// tinyConfig is configs/tiny.yaml with overrides.
func tinyConfig(t *testing.T, sets ...string) Config {
	t.Helper()
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), sets)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// shortRun is a 6-step tiny run whose log lines (every 3 steps) straddle
// its checkpoints (every 2), validating at the end.
var shortRun = []string{"train.steps=6", "train.checkpoint_every=2", "train.log_every=3", "train.val_every=6",
	"data.train_count=64", "data.val_count=8", "train.val_images=8"}

// metricsRecords reads a metrics log without its wall-clock fields.
func metricsRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%s: %v in %q", path, err, line)
		}
		delete(r, "images_per_s")
		delete(r, "elapsed_s")
		recs = append(recs, r)
	}
	return recs
}

// logBuffer returns a logger writing text into the buffer.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

// sameParams fails unless two checkpoints hold identical parameters and
// optimiser state.
func sameParams(t *testing.T, a, b string) {
	t.Helper()
	ca, err := graph.LoadCheckpoint(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := graph.LoadCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Step != cb.Step || len(ca.Params) == 0 || !reflect.DeepEqual(ca.Params, cb.Params) || !reflect.DeepEqual(ca.Opt, cb.Opt) {
		t.Fatalf("%s (step %d) and %s (step %d) differ", a, ca.Step, b, cb.Step)
	}
}

// TestResumeRepairsAKilledRun makes a finished run look like one killed
// while writing step 6's checkpoint (ckpt-00000006.ckpt fails its CRC, a
// temporary file is left, metrics.jsonl holds step 6's records and half a
// line) and resumes it: the run goes back to step 4 with a warning, drops
// the records after it, removes the temporary file, and ends with the
// weights and the metrics of an uninterrupted run (its first log line
// after the resume averages steps 4 to 6, as the uninterrupted one does).
// Then the config checks of a resume.
func TestResumeRepairsAKilledRun(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice; skipped with -short")
	}
	cfg := tinyConfig(t, shortRun...)
	ctx := context.Background()
	dir := t.TempDir()
	whole, killed := filepath.Join(dir, "whole"), filepath.Join(dir, "killed")
	for _, out := range []string{whole, killed} {
		if _, err := Train(ctx, cfg, TrainOptions{Out: out}); err != nil {
			t.Fatal(err)
		}
	}
	rd := RunDir(killed)
	ck6 := rd.Checkpoint(6)
	raw, err := os.ReadFile(ck6)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x40
	if err := os.WriteFile(ck6, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(killed, ".ckpt-00000008.ckpt.tmp1234567")
	if err := os.WriteFile(tmp, make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(rd.Metrics(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"step": 7, "loss": 0.`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	log, logs := logBuffer()
	res, err := Train(ctx, cfg, TrainOptions{Out: killed, Resume: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"msg=\"checkpoint does not load; trying the one before\" checkpoint=" + ck6,
		"CRC32 mismatch", "msg=\"removed the temporary files of interrupted writes\"", "files=.ckpt-00000008.ckpt.tmp1234567",
		"msg=resumed checkpoint=" + rd.Checkpoint(4) + " step=4", "msg=\"metrics log: dropped the records after the resumed step\" step=4 records=3"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if res.Steps != 6 {
		t.Errorf("resumed run ends at step %d, want 6", res.Steps)
	}
	sameParams(t, rd.Checkpoint(6), RunDir(whole).Checkpoint(6))
	sameParams(t, rd.Best(), RunDir(whole).Best())
	got, want := metricsRecords(t, rd.Metrics()), metricsRecords(t, RunDir(whole).Metrics())
	if len(want) != 3 || !reflect.DeepEqual(got, want) {
		t.Errorf("metrics after the resume:\n%v\nuninterrupted (3 records):\n%v", got, want)
	}
	if left, err := atomicfile.Leftovers(killed, "*"); err != nil || len(left) != 0 {
		t.Errorf("temporary files left: %v %v", left, err)
	}
	if all, _ := rd.Checkpoints(); len(all) != cfg.Train.KeepLast {
		t.Errorf("checkpoints %v, want the last %d", all, cfg.Train.KeepLast)
	}

	// A resume that changes what the run computes is refused, naming the
	// keys, and leaves config.yaml alone.
	before, err := os.ReadFile(rd.Config())
	if err != nil {
		t.Fatal(err)
	}
	lr := tinyConfig(t, append(slices.Clone(shortRun), "optim.lr=0.001", "loss.prior=0.5")...)
	_, err = Train(ctx, lr, TrainOptions{Out: killed, Resume: true})
	if !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), "loss.prior 0.01 -> 0.5, optim.lr 0.002 -> 0.001") {
		t.Errorf("changed lr: %v", err)
	}
	if after, _ := os.ReadFile(rd.Config()); !bytes.Equal(after, before) {
		t.Error("a refused resume rewrote config.yaml")
	}
	// Bookkeeping keys may change: logged and recorded. With Force,
	// any key may, also recorded. A resume at the last step prunes the
	// checkpoints a kill left beyond train.keep_last.
	extra, err := os.ReadFile(rd.Checkpoint(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rd.Checkpoint(2), extra, 0o644); err != nil {
		t.Fatal(err)
	}
	log, logs = logBuffer()
	more := tinyConfig(t, append(slices.Clone(shortRun), "train.log_every=2", "data.workers=2")...)
	res, err = Train(ctx, more, TrainOptions{Out: killed, Resume: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if all, _ := rd.Checkpoints(); len(all) != 2 || res.Steps != 6 {
		t.Errorf("after a resume at the last step: checkpoints %v, steps %d", all, res.Steps)
	}
	if !strings.Contains(logs.String(), `msg="config changed on resume" key=data.workers old=1 new=2`) {
		t.Errorf("log lacks the change of data.workers:\n%s", logs)
	}
	if _, err := Train(ctx, lr, TrainOptions{Out: killed, Resume: true, Force: true}); err != nil {
		t.Fatal(err)
	}
	recs := metricsRecords(t, rd.Metrics())
	if len(recs) != 5 {
		t.Fatalf("%d records, want 3 and two config changes", len(recs))
	}
	for i, want := range []string{`{"data.workers":["1","2"],"train.log_every":["3","2"]}`,
		`{"data.workers":["2","1"],"loss.prior":["0.01","0.5"],"optim.lr":["0.002","0.001"],"train.log_every":["2","3"]}`} {
		b, _ := json.Marshal(recs[3+i]["config_changed"])
		if string(b) != want || recs[3+i]["step"] != 6.0 {
			t.Errorf("record %d: %v, want step 6 and %s", 3+i, recs[3+i], want)
		}
	}
	if c, err := LoadConfig(rd.Config(), nil); err != nil || c.Optim.LR != 0.001 {
		t.Errorf("config.yaml after the forced resume: lr %v, %v", c.Optim.LR, err)
	}
}

// cancelAt cancels a context when the progress lines reach a step.
type cancelAt struct {
	line   string
	cancel context.CancelFunc
}

func (c cancelAt) Write(p []byte) (int, error) {
	if strings.HasPrefix(string(p), c.line) {
		c.cancel()
	}
	return len(p), nil
}

// TestInterruptSavesAndResumes: an interrupted run (Ctrl-C) saves a
// checkpoint of the steps done, and resumed from it ends as an
// uninterrupted run does.
func TestInterruptSavesAndResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains twice; skipped with -short")
	}
	cfg := tinyConfig(t, append(slices.Clone(shortRun), "train.checkpoint_every=100", "train.log_every=2")...)
	dir := t.TempDir()
	whole, cut := filepath.Join(dir, "whole"), filepath.Join(dir, "cut")
	if _, err := Train(context.Background(), cfg, TrainOptions{Out: whole}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := Train(ctx, cfg, TrainOptions{Out: cut, Progress: cancelAt{"step 2/6", cancel}})
	ck := RunDir(cut).Checkpoint(2)
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "interrupted at step 2: context canceled (resume from "+ck+")") {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := Train(context.Background(), cfg, TrainOptions{Out: cut, Resume: true}); err != nil {
		t.Fatal(err)
	}
	sameParams(t, RunDir(cut).Checkpoint(6), RunDir(whole).Checkpoint(6))
	if got, want := metricsRecords(t, RunDir(cut).Metrics()), metricsRecords(t, RunDir(whole).Metrics()); len(want) != 4 || !reflect.DeepEqual(got, want) {
		t.Errorf("metrics after the interrupt:\n%v\nuninterrupted:\n%v", got, want)
	}
}

// TestRunFolderGuard: a folder holding any file of a run is refused
// without Resume or Force (before anything is written), Force starts it
// again, and Resume needs a run. Files are written 0644 minus the umask.
func TestRunFolderGuard(t *testing.T) {
	if testing.Short() {
		t.Skip("trains; skipped with -short")
	}
	cfg := tinyConfig(t, "train.steps=2", "train.checkpoint_every=2", "train.val_every=2", "train.log_every=1",
		"data.train_count=16", "data.val_count=4", "train.val_images=4")
	ctx := context.Background()
	for _, name := range []string{RunBestFile, RunConfigFile, RunMetricsFile, RunGridFile, "ckpt-00000010.ckpt", ".best.ckpt.tmp123"} {
		dir := t.TempDir()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("old run"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Train(ctx, cfg, TrainOptions{Out: dir})
		if !errors.Is(err, ErrRunExists) || !strings.Contains(err.Error(), dir+" holds "+name) {
			t.Errorf("%s: %v, want ErrRunExists naming it", name, err)
		}
		ents, _ := os.ReadDir(dir)
		if data, _ := os.ReadFile(p); len(ents) != 1 || string(data) != "old run" {
			t.Errorf("%s: the refused run changed the folder (%d entries)", name, len(ents))
		}
	}
	// A folder without a run is fine to train into, but not to resume.
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(ctx, cfg, TrainOptions{Out: empty, Resume: true}); !errors.Is(err, ErrNothingToResume) {
		t.Errorf("resume of a folder without a run: %v", err)
	}

	// A pruned run (best.ckpt only) is started again with Force, with the
	// umask applied to every file.
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RunBestFile), []byte("old run"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, logs := logBuffer()
	if _, err := Train(ctx, cfg, TrainOptions{Out: dir, Force: true, Log: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `msg="removed the previous run's files to start again"`) {
		t.Errorf("log: %s", logs)
	}
	if _, err := graph.LoadCheckpoint(filepath.Join(dir, RunBestFile)); err != nil {
		t.Errorf("best.ckpt not replaced: %v", err)
	}
	if recs := metricsRecords(t, RunDir(dir).Metrics()); len(recs) != 3 {
		t.Errorf("metrics: %d records, want 3 (two steps, one validation)", len(recs))
	}
	evalDir := filepath.Join(dir, "eval-val")
	if _, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: dir, Out: evalDir}); err != nil {
		t.Fatal(err)
	}
	checkModes(t, dir, 0o640, 0o750, RunGridFile) // bfm's grid writer is not atomicfile's (yet)
	// A run killed before its first checkpoint resumes from step 0.
	dir0 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir0, RunMetricsFile), []byte("{\"step\": 1, \"loss\": 3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log, logs = logBuffer()
	if _, err := Train(ctx, cfg, TrainOptions{Out: dir0, Resume: true, Log: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "the run has no checkpoint yet; starting it at step 0") {
		t.Errorf("log: %s", logs)
	}
	if recs := metricsRecords(t, RunDir(dir0).Metrics()); len(recs) != 3 || recs[0]["loss"] == 3.0 {
		t.Errorf("metrics %v, want the 3 records of the new run only", recs)
	}
}

// checkModes fails unless every file under dir (but skip) has mode file
// and every folder mode folder.
func checkModes(t *testing.T, dir string, file, folder fs.FileMode, skip string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() == skip {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		want := file
		if d.IsDir() {
			want = folder
		}
		if p != dir && st.Mode().Perm() != want {
			t.Errorf("%s: mode %o, want %o", p, st.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if err != nil || n < 8 {
		t.Errorf("walked %d entries: %v", n, err)
	}
}

// badImageManifest writes 20 annotated 64x64 photographs and a manifest of
// them; the images at indices bad are truncated PNGs.
func badImageManifest(t *testing.T, bad map[int]bool) string {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("face%02d.png", i)
		p := filepath.Join(dir, name)
		writePNGFile(t, p, noiseImage(64, 64, uint64(i)))
		if bad[i] {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data[:len(data)/2], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pts := make([]string, 21)
		for k := range pts {
			pts[k] = fmt.Sprintf("[%d, %d]", 16+(k%7)*5, 14+(k/7)*12)
		}
		lines = append(lines, `{"image": "`+name+`", "scheme": "aflw21", "landmarks": [`+strings.Join(pts, ", ")+`]}`)
	}
	m := filepath.Join(dir, "faces.jsonl")
	if err := os.WriteFile(m, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTrainSkipsBadSamples: truncated photographs (three in the training
// split, one in the validation split) are skipped, logged and counted, in
// training and validation, and the run completes; with a lower
// data.max_bad_fraction it stops, saving a checkpoint of the steps done.
func TestTrainSkipsBadSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("trains; skipped with -short")
	}
	tr, va := dataset.SplitIndices(20, 0.25, 3) // tiny.yaml's seed
	bad := map[int]bool{tr[0]: true, tr[5]: true, tr[9]: true, va[1]: true}
	manifest := badImageManifest(t, bad)
	sets := []string{"data.kind=manifest", "data.path=" + manifest, "data.val_fraction=0.25", "data.margin=0.2",
		"train.steps=8", "train.log_every=4", "train.val_every=8", "train.checkpoint_every=8", "train.val_images=5",
		"data.max_bad_fraction=0.25"}
	cfg := tinyConfig(t, sets...)
	ctx := context.Background()
	out := t.TempDir()
	log, logs := logBuffer()
	if _, err := Train(ctx, cfg, TrainOptions{Out: out, Log: log}); err != nil {
		t.Fatal(err)
	}
	recs := metricsRecords(t, RunDir(out).Metrics())
	if len(recs) != 3 {
		t.Fatalf("records %v", recs)
	}
	skipped := recs[0]["skipped_samples"].(float64) + recs[1]["skipped_samples"].(float64)
	if recs[1]["bad_samples"] != 3.0 || skipped < 3 {
		t.Errorf("bad samples %v, skipped %v: want all 3 bad training images met", recs[1]["bad_samples"], skipped)
	}
	if n := strings.Count(logs.String(), `msg="bad training sample skipped"`); float64(n) != skipped {
		t.Errorf("%d skips logged, %v counted", n, skipped)
	}
	val := recs[2]["val"].(map[string]any)
	reasons, _ := val["skipped_reasons"].([]any)
	if val["skipped"] != 1.0 || val["images"] != 4.0 || len(reasons) != 1 ||
		!strings.Contains(reasons[0].(string), fmt.Sprintf("face%02d.png: decoding png: ", va[1])) {
		t.Errorf("validation %v: want 4 images scored, face%02d.png skipped", val, va[1])
	}

	// Above the limit the run stops, after saving its steps.
	strict := tinyConfig(t, append(sets, "data.max_bad_fraction=0.1")...)
	out2 := t.TempDir()
	res, err := Train(ctx, strict, TrainOptions{Out: out2})
	if err == nil || !strings.Contains(err.Error(), "3 of the 15 training samples are bad, more than data.max_bad_fraction = 0.1 of them") {
		t.Fatalf("strict run: %v", err)
	}
	all, _ := RunDir(out2).Checkpoints()
	if len(all) != 1 || res.Steps != 1 || all[0] != RunDir(out2).Checkpoint(1) || !strings.HasSuffix(err.Error(), "(resume from "+all[0]+")") {
		t.Errorf("checkpoints %v after the stop at step %d: %v", all, res.Steps, err)
	}
	// Resumed with the first run's fraction, it ends as the first run did
	// (the batch it stopped at is counted once).
	if _, err := Train(ctx, cfg, TrainOptions{Out: out2, Resume: true}); err != nil {
		t.Fatal(err)
	}
	got := metricsRecords(t, RunDir(out2).Metrics())
	if len(got) != 4 || got[0]["config_changed"] == nil || !reflect.DeepEqual(got[1:], recs) {
		t.Errorf("resumed run's metrics:\n%v\nuninterrupted:\n%v", got, recs)
	}
	sameParams(t, RunDir(out2).Checkpoint(8), RunDir(out).Checkpoint(8))
}

// evalManifest writes a manifest of 7 lines over normRun's model: two
// good faces, a missing image, a malformed line, an unknown field, a
// truncated image and a landmark at 1e19 (which panicked in the crop).
func evalManifest(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for i, n := range []string{"a.png", "b.png", "trunc.png", "huge.png"} {
		writePNGFile(t, filepath.Join(dir, n), noiseImage(120, 100, uint64(i)))
	}
	data, err := os.ReadFile(filepath.Join(dir, "trunc.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trunc.png"), data[:len(data)/3], 0o644); err != nil {
		t.Fatal(err)
	}
	pts := make([]string, 21)
	for k := range pts {
		pts[k] = fmt.Sprintf("[%d, %d]", 30+(k%7)*10, 20+(k/7)*25)
	}
	lm := "[" + strings.Join(pts, ", ") + "]"
	lines := []string{
		`{"image": "a.png", "scheme": "aflw21", "landmarks": ` + lm + `}`,
		`{"image": "missing.png", "scheme": "aflw21", "landmarks": ` + lm + `}`,
		`{"image": "b.png", "scheme": "aflw21", "landmarks": ` + lm + `}`,
		`{"image": "a.png", "scheme": "aflw21", "landmarks": ` + lm,
		`{"image": "a.png", "scheme": "aflw21", "landmarks": ` + lm + `, "yaw": 3}`,
		`{"image": "trunc.png", "scheme": "aflw21", "landmarks": ` + lm + `}`,
		`{"image": "huge.png", "scheme": "aflw21", "landmarks": ` + strings.Replace(lm, "[30, 20]", "[1e19, 20]", 1) + `}`,
	}
	p := filepath.Join(dir, "faces.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEvaluateDataCountsSkipped: Evaluate on a manifest with 5 bad lines
// of 7 scores the 2 good ones, and metrics.json counts the 5 with their
// reasons; its outputs are not overwritten without Force, and Force
// removes the panels of the earlier evaluation.
func TestEvaluateDataCountsSkipped(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a model; skipped with -short")
	}
	run, cfg, _ := normRun(t)
	manifest := evalManifest(t)
	out := filepath.Join(t.TempDir(), "eval")
	ctx := context.Background()
	cfg.Eval.Panels = 1
	met, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: run, Data: manifest, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		manifest + ":2: image: stat ",
		manifest + ":4: json: unexpected EOF",
		manifest + `:5: json: unknown field "yaw"`,
		"trunc.png): dataset: load image ",
		`cropping huge.png: dataset: crop "huge.png": face box 30,20,1e+19,70 needs a square of side 1.5e+19 px, more than 480 (4 times the 120x100 image, at most 16384)`,
	}
	if met.Images != 2 || met.Skipped != 5 || len(met.SkippedReasons) != 5 {
		t.Fatalf("scored %d, skipped %d: %q", met.Images, met.Skipped, met.SkippedReasons)
	}
	for i, w := range want {
		if !strings.Contains(met.SkippedReasons[i], w) {
			t.Errorf("reason %d = %q, want %q", i, met.SkippedReasons[i], w)
		}
	}
	var onDisk dataset.Metrics
	data, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &onDisk); err != nil || onDisk.Skipped != 5 || !reflect.DeepEqual(onDisk.SkippedReasons, met.SkippedReasons) {
		t.Errorf("metrics.json: skipped %d %v (%v)", onDisk.Skipped, onDisk.SkippedReasons, err)
	}
	// images.jsonl: one line per scored image, with its NME as in the
	// in-memory results.
	lines, err := os.ReadFile(filepath.Join(out, "images.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(lines)), "\n")
	if len(rows) != 2 || len(met.PerImage) != 2 {
		t.Fatalf("images.jsonl has %d lines, PerImage %d; want 2", len(rows), len(met.PerImage))
	}
	for i, row := range rows {
		var r dataset.ImageResult
		if err := json.Unmarshal([]byte(row), &r); err != nil || r.Name != met.PerImage[i].Name || r.NME != met.PerImage[i].NME || r.NME <= 0 {
			t.Errorf("images.jsonl line %d = %s (%v), want %+v", i, row, err, met.PerImage[i])
		}
	}

	stale := filepath.Join(out, "panel-07-old.png")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: run, Data: manifest, Out: out}); !errors.Is(err, ErrOutputExists) ||
		!strings.Contains(err.Error(), filepath.Join(out, "metrics.json")+" already exists") {
		t.Errorf("second evaluation without Force: %v", err)
	}
	if _, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: run, Data: manifest, Out: out, Force: true}); err != nil {
		t.Fatal(err)
	}
	panels, _ := filepath.Glob(filepath.Join(out, "panel-*.png"))
	if len(panels) != 1 || filepath.Base(panels[0]) != "panel-00-a.png" {
		t.Errorf("panels after Force: %v, want panel-00-a.png only", panels)
	}

	// Nothing scored: an error that counts the skipped inputs.
	onlyBad := filepath.Join(filepath.Dir(manifest), "bad.jsonl")
	if err := os.WriteFile(onlyBad, []byte(`{"image": "missing.png"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Evaluate(ctx, cfg, EvalOptions{Checkpoint: run, Data: onlyBad}); err == nil ||
		!strings.Contains(err.Error(), "evaluate: no images (1 inputs skipped; the first: dataset: "+onlyBad+":1: image: stat") {
		t.Errorf("all bad: %v", err)
	}
}

// TestNormalizeHugeCoordinateAndOwnOutputs: a .pts with a coordinate of
// 1e19 fails that image only (it panicked the whole batch); an output
// folder inside the input folder is not read back on the next run (7
// images became 28).
func TestNormalizeHugeCoordinateAndOwnOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a model; skipped with -short")
	}
	run, _, _ := normRun(t)
	ctx := context.Background()
	for _, outInside := range []bool{true, false} {
		in := t.TempDir()
		for i := 0; i < 3; i++ {
			writePNGFile(t, filepath.Join(in, "p"+strconv.Itoa(i)+".png"), noiseImage(200, 150, uint64(i)))
		}
		ptsText, _ := facePTS()
		huge := strings.Replace(string(ptsText), "60 40\n", "1e19 40\n", 1)
		if huge == string(ptsText) {
			t.Fatal("fixture: no point to replace")
		}
		if err := os.WriteFile(filepath.Join(in, "p1.pts"), []byte(huge), 0o644); err != nil {
			t.Fatal(err)
		}
		out := in // the input folder itself
		if outInside {
			out = filepath.Join(in, "out")
		}
		for pass := 0; pass < 2; pass++ {
			res, err := Normalize(ctx, NormalizeOptions{Checkpoint: run, Out: out, Inputs: []string{in}, Fill: true, Force: true, Margin: -1, Detect: DetectNever})
			if res == nil || len(res.Processed) != 2 || len(res.Failed) != 1 || err == nil {
				t.Fatalf("out %s pass %d: %+v %v", out, pass, res, err)
			}
			if f := res.Failed[0]; f.Input != filepath.Join(in, "p1.png") ||
				!strings.Contains(f.Err.Error(), "face box 59,39,1e+19,109 needs a square of side 1.5e+19 px, more than 800") {
				t.Errorf("out %s pass %d: failure %s: %v", out, pass, f.Input, f.Err)
			}
		}
	}
}

// TestBatchSizeAgainstMemory: a batch that cannot fit is refused with a
// message before anything of its size is allocated (it ended in "fatal
// error: out of memory").
func TestBatchSizeAgainstMemory(t *testing.T) {
	cfg := tinyConfig(t, "train.batch=1e8")
	if cfg.Train.Batch != 100_000_000 {
		t.Fatalf("train.batch = %d", cfg.Train.Batch)
	}
	_, err := Train(context.Background(), cfg, TrainOptions{Out: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "train.batch = 100000000: a training step needs about ") ||
		!strings.Contains(err.Error(), "an image with localiser small), more than the ") {
		t.Errorf("train: %v", err)
	}
	if err := checkBatchMemory("eval.batch", 16, cfg, false, 0); err != nil {
		t.Errorf("batch 16: %v", err)
	}
	run, _, _ := normRun(t)
	if _, err := Normalize(context.Background(), NormalizeOptions{Checkpoint: run, Out: t.TempDir(), Inputs: []string{"x"}, Batch: 100_000_000}); err == nil ||
		!strings.Contains(err.Error(), "normalize: batch = 100000000: an inference pass needs about ") {
		t.Errorf("normalize: %v", err)
	}
	for _, c := range []struct{ set, want string }{
		{"data.workers=100000000", "data.workers: got 100000000, expected 1..256"},
		{"data.prefetch=1000", "data.prefetch: got 1000, expected 1..64"},
		{"data.train_count=1000000000000", "data.train_count: got 1000000000000, expected 1..100000000"},
		{"data.max_bad_fraction=2", "data.max_bad_fraction: got 2, expected a number in [0, 1]"},
	} {
		if _, err := LoadConfig(testenv.Config(t, "tiny.yaml"), []string{c.set}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.set, err, c.want)
		}
	}
}
