package run

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/internal/atomicfile"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
)

// toInput writes a sample's image (already at the network's input size) as
// the network's 3 x S x S input planes, exactly as the training batches
// are made (dataset.ImageToCHW, values v/255).
func toInput(dst []float32, img image.Image, size int) error {
	return dataset.ImageToCHW(dst, img, size, size, [3]float32{})
}

// evalItem is one evaluated image kept for panels.
type evalItem struct {
	sample dataset.Sample
	fit    graph.Fit
	res    dataset.ImageResult
}

// comparedSchemes picks the landmark schemes an evaluation compares: the
// usual protocol's all 68 iBUG points when the ground truth has them and
// the grid model maps every one (AFLW2000-3D), else the network's scheme
// against the ground truth in that scheme, or in another one through the
// points both share (dataset.CommonLandmarks).
func comparedSchemes(s dataset.Sample, p graph.Prediction, scheme string) (pred, gt string, ok bool) {
	if _, has := s.Landmarks[bfm.SchemeIBUG68]; has && complete(p.Schemes[bfm.SchemeIBUG68]) {
		return bfm.SchemeIBUG68, bfm.SchemeIBUG68, true
	}
	if _, has := s.Landmarks[scheme]; has {
		return scheme, scheme, true
	}
	for _, sc := range bfm.Schemes() {
		if _, has := s.Landmarks[sc]; has {
			return scheme, sc, true
		}
	}
	return "", "", false
}

// complete reports whether every point is known (not NaN); false for none.
func complete(pts [][2]float64) bool {
	for _, p := range pts {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) {
			return false
		}
	}
	return len(pts) > 0
}

// EvaluateSource predicts the first n samples of src (images already at the
// localiser's input size) and scores them against their ground truth in
// scheme, in input pixels (3DDFA protocol; see dataset.Metrics). A sample
// that fails to load, convert or score is skipped and counted in the
// metrics' Skipped and SkippedReasons; it fails only when no sample is
// scored.
func EvaluateSource(ctx context.Context, m *graph.Network, src dataset.Source, n int, scheme string) (*dataset.Metrics, error) {
	met, _, err := evaluate(ctx, m, src, n, scheme, 0, 0, false, false, nil, nil)
	return met, err
}

// evaluate is EvaluateSource keeping the first keep items for panels;
// refine more passes re-crop each image around the last pass's landmarks
// (refineBatch; sources that crop photographs only); skipped holds the
// inputs already left out (by the reader) to count with those skipped here.
func evaluate(ctx context.Context, m *graph.Network, src dataset.Source, n int, scheme string, keep, refine int, flip, derotateOn bool, log *slog.Logger, skipped []string) (*dataset.Metrics, []evalItem, error) {
	n = min(n, src.Len())
	if n <= 0 {
		return nil, nil, fmt.Errorf("evaluate: no images%s", skippedNote(skipped))
	}
	noFace := 0 // faces the detector missed (with Detect always), among skipped
	skip := func(reason string) {
		skipped = append(skipped, reason)
		if log != nil {
			log.Warn("image skipped", "reason", reason)
		}
	}
	var ev dataset.Evaluator
	per := 3 * m.InputSize * m.InputSize
	buf := make([]float32, m.BatchSize*per)
	var kept []evalItem
	samples := make([]dataset.Sample, 0, m.BatchSize)
	idx := make([]int, 0, m.BatchSize) // the source index of each sample
	for next := 0; next < n; {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		samples, idx = samples[:0], idx[:0]
		for ; next < n && len(samples) < m.BatchSize; next++ {
			s, err := src.Sample(next)
			if errors.Is(err, ErrNoFace) {
				noFace++
			}
			if err != nil {
				skip(err.Error())
				continue
			}
			k := len(samples)
			if err := toInput(buf[k*per:(k+1)*per], s.Image, m.InputSize); err != nil {
				skip(fmt.Sprintf("%s: %v", s.Name, err))
				continue
			}
			samples, idx = append(samples, s), append(idx, next)
		}
		k := len(samples)
		if k == 0 {
			continue
		}
		predict := func(in []float32) ([]graph.Fit, error) {
			if len(kept) < keep {
				return m.Fit(in)
			}
			preds, err := m.Predict(in)
			if err != nil {
				return nil, err
			}
			fits := make([]graph.Fit, len(preds))
			for i := range preds {
				fits[i].Prediction = preds[i]
			}
			return fits, nil
		}
		fits, err := predict(buf[:k*per])
		if err != nil {
			return nil, nil, err
		}
		if samples, fits, err = refineBatch(src, idx, samples, fits, refine, buf, m.InputSize, predict); err != nil {
			return nil, nil, err
		}
		if derotateOn {
			if err := derotate(samples, fits, buf, m.InputSize, predict); err != nil {
				return nil, nil, err
			}
		}
		if flip {
			if err := flipAverage(samples, fits, buf, m.InputSize, predict); err != nil {
				return nil, nil, err
			}
		}
		for j, s := range samples {
			predScheme, gtScheme, ok := comparedSchemes(s, fits[j].Prediction, scheme)
			if !ok {
				skip(s.Name + ": no landmarks")
				continue
			}
			points := fits[j].Schemes[predScheme]
			pred := dataset.Landmarks{Points: points, Visible: make([]bool, len(points))}
			for i, p := range pred.Points {
				pred.Visible[i] = !math.IsNaN(p[0]) && !math.IsNaN(p[1])
			}
			pp := dataset.PoseFromRotation(fits[j].Rotation)
			res, err := ev.Add(dataset.EvalInput{Name: s.Name, Pred: pred, PredScheme: predScheme, GT: s.Landmarks[gtScheme], GTScheme: gtScheme,
				PredPose: &pp, GTPose: s.Pose})
			if err != nil {
				skip(fmt.Sprintf("%s: not scored: %v", s.Name, err))
				continue
			}
			if len(kept) < keep {
				kept = append(kept, evalItem{sample: s, fit: fits[j], res: res})
			}
		}
	}
	if noFace > 0 && log != nil {
		log.Info("faces the detector missed (not scored)", "faces", noFace, "of", n)
	}
	met, err := ev.Metrics()
	if err != nil {
		return nil, nil, fmt.Errorf("evaluate: %w%s", err, skippedNote(skipped))
	}
	met.Skipped, met.SkippedReasons = len(skipped), skipped
	met.PerImage = ev.Results()
	return &met, kept, nil
}

// skippedNote says how many inputs were skipped and why the first was.
func skippedNote(skipped []string) string {
	if len(skipped) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d inputs skipped; the first: %s)", len(skipped), skipped[0])
}

// EvalOptions are the command-line choices of an evaluation.
type EvalOptions struct {
	// Checkpoint is a checkpoint file or a run directory.
	Checkpoint string
	// Split is "val" (default) or "train".
	Split string
	// Data optionally replaces the configured data with a JSON-lines
	// manifest (see dataset.OpenManifest), evaluated whole.
	Data string
	// Out receives metrics.json, ced.png and panel PNGs ("" = no files).
	Out string
	// Max bounds the number of images (0 = all).
	Max int
	// Force overwrites the outputs of an earlier evaluation in Out (and
	// removes its panels); without it they are refused (ErrOutputExists)
	// before anything is evaluated.
	Force bool
	// MaxPixels is the largest image read (0 = dataset.DefaultMaxPixels).
	MaxPixels int64
	// Detect is DetectAuto ("" too: the annotated data's landmarks give the
	// crops), DetectAlways (with Data: each face is cropped from the
	// detection of Detector, nil for the embedded one, that overlaps its
	// landmark box most, IoU >= 0.5; faces without one are skipped and
	// counted, not scored) or DetectNever.
	Detect   string
	Detector *detect.Detector
	Log      *slog.Logger
}

// evalOutputPanels matches the panel files of an evaluation.
const evalOutputPanels = "panel-*.png"

// evalOutputs lists the outputs of an earlier evaluation in dir.
func evalOutputs(dir string) ([]string, error) {
	var out []string
	for _, f := range []string{"metrics.json", "ced.png", "images.jsonl"} {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	panels, err := filepath.Glob(filepath.Join(dir, evalOutputPanels))
	if err != nil {
		return nil, err
	}
	return append(out, panels...), nil
}

// DataKindOf names the reader (a data.kind) for a path given on the command
// line: a folder of .mat files is AFLW2000-3D, any other folder holds images
// with .pts or .ljson annotations beside them, a .xml file is a dlib imglab
// list, and .jsonl, .json, .csv or .tsv files are manifests. AFLW's sqlite
// database needs its image folder too, so it is refused here (configure
// data.kind: aflw with data.path and data.images instead).
func DataKindOf(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("data %s: %w", path, err)
	}
	if st.IsDir() {
		ents, err := os.ReadDir(path)
		if err != nil {
			return "", fmt.Errorf("data %s: %w", path, err)
		}
		for _, e := range ents {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".mat") {
				return "aflw2000", nil
			}
		}
		return "pts", nil
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".xml":
		return "dlib", nil
	case ".jsonl", ".json", ".ndjson", ".csv", ".tsv":
		return "manifest", nil
	case ".sqlite", ".db":
		return "", fmt.Errorf("data %s: an AFLW database needs its image folder: set data.kind=aflw, data.path and data.images in the config instead", path)
	default:
		return "", fmt.Errorf("data %s: unknown extension %q: want a folder (images with .pts/.ljson, or AFLW2000-3D .mat pairs), a dlib .xml, or a .jsonl/.csv manifest", path, ext)
	}
}

// Evaluate loads a trained model and scores it on a split of the
// configured data (or on opt.Data), writing the metrics JSON, a cumulative
// error distribution plot and Figure-6 panels to opt.Out.
func Evaluate(ctx context.Context, cfg Config, opt EvalOptions) (_ *dataset.Metrics, err error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.MaxPixels < 0 {
		return nil, fmt.Errorf("evaluate: max pixels %d: want >= 0 (0 = %d)", opt.MaxPixels, dataset.DefaultMaxPixels)
	}
	if opt.Out != "" && !opt.Force {
		old, err := evalOutputs(opt.Out)
		if err != nil {
			return nil, err
		}
		if len(old) > 0 {
			return nil, fmt.Errorf("evaluate: output %s %w", old[0], ErrOutputExists)
		}
	}
	if opt.Data != "" {
		kind, err := DataKindOf(opt.Data)
		if err != nil {
			return nil, err
		}
		cfg.Data.Kind, cfg.Data.Path = kind, opt.Data
		cfg.Data.ValFraction = 1
	}
	tm, err := LoadTrained(opt.Checkpoint, &cfg, log)
	if err != nil {
		return nil, err
	}
	if rec := filepath.Join(string(tm.Dir), dataset.SplitValFile); tm.Dir != "" && opt.Data == "" && cfg.Data.Kind != "synthetic" && cfg.Data.SplitFile == "" && fileExists(rec) {
		// The split the run was trained with, as it recorded it.
		cfg.Data.SplitFile = rec
	}
	env, readerSkipped, err := setupEval(cfg, tm.Grid, opt.Data != "", log, opt.MaxPixels)
	if err != nil {
		return nil, err
	}
	skipped := make([]string, len(readerSkipped))
	for i, e := range readerSkipped {
		skipped[i] = e.Error()
		log.Warn("item skipped", "reason", e)
	}
	mode, err := checkDetectMode(opt.Detect)
	if err != nil {
		return nil, err
	}
	if c, ok := env.Val.(croppedSource); ok && mode == DetectAlways {
		if c.det, err = detectorFor(opt.Detector, mode); err != nil {
			return nil, err
		}
		env.Val, env.Train = c, c
	}
	src := env.Val
	switch opt.Split {
	case "", "val":
	case "train":
		src = env.Train
	default:
		return nil, fmt.Errorf("split %q: expected val or train", opt.Split)
	}
	if err := checkBatchMemory("eval.batch", cfg.Eval.Batch, cfg, false, 0); err != nil {
		return nil, err
	}
	net, err := tm.Network(cfg.Eval.Batch, false)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, net.Close()) }()
	n := src.Len()
	if opt.Max > 0 {
		n = min(n, opt.Max)
	}
	keep := 0
	if opt.Out != "" {
		keep = cfg.Eval.Panels
	}
	log.Info("evaluating", "checkpoint", tm.CheckpointPath, "images", n, "scheme", cfg.Model.Scheme)
	met, items, err := evaluate(ctx, net, src, n, cfg.Model.Scheme, keep, cfg.Eval.Refine, cfg.Eval.Flip, cfg.Eval.Derotate, log, skipped)
	if err != nil {
		return nil, err
	}
	if cfg.Recognition.enabled() {
		if met.Recognition, err = EvaluateRecognition(ctx, net, cfg, env.Mesh); err != nil {
			return nil, err
		}
	}
	if opt.Out != "" {
		if err := writeEvaluation(opt.Out, met, items, env.Grid); err != nil {
			return nil, err
		}
		log.Info("evaluation written", "dir", opt.Out, "panels", len(items))
	}
	return met, nil
}

// writeEvaluation writes metrics.json, the CED plot ced.png and one
// Figure-6 panel per kept item into dir.
//
// The panels of an earlier evaluation are removed first (the caller has
// checked that overwriting was asked for), so none is left stale.
func writeEvaluation(dir string, met *dataset.Metrics, items []evalItem, gm *bfm.GridModel) error {
	if err := atomicfile.MkdirAll(dir); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, evalOutputPanels))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("removing the old panel: %w", err)
		}
	}
	js, err := json.MarshalIndent(met, "", "  ")
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "metrics.json"), append(js, '\n')); err != nil {
		return err
	}
	var lines bytes.Buffer
	enc := json.NewEncoder(&lines)
	for _, r := range met.PerImage {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("images.jsonl: %w", err)
		}
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "images.jsonl"), lines.Bytes()); err != nil {
		return err
	}
	if err := dataset.WriteCEDPlot(filepath.Join(dir, "ced.png"), []dataset.CEDCurve{{Label: "stn3d", Points: met.CED}}, 640, 480); err != nil {
		return err
	}
	tri := bfm.GridTriangles(gm.Rows, gm.Cols)
	for i, it := range items {
		p, err := panelFor(it, gm, tri)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("panel-%02d-%s.png", i, dataset.FileStem(it.sample.Name))
		if err := dataset.WritePNG(filepath.Join(dir, name), p); err != nil {
			return err
		}
	}
	return nil
}

// panelFor draws a Figure-6 panel for one evaluated image; the fitted
// shape is the grid mesh of tri (the mask's triangulation).
func panelFor(it evalItem, gm *bfm.GridModel, tri *bfm.GridTriangulation) (*image.RGBA, error) {
	f := it.fit
	verts := make([][3]float64, len(f.Points2D))
	for i, p := range f.Points2D {
		verts[i] = [3]float64{p[0], p[1], f.Depth[i]}
	}
	in := dataset.PanelInput{Image: it.sample.Image, Predicted: f.Landmarks, Vertices: tri.AppendCentres(verts), Triangles: tri.Triangles,
		Texture: f.Texture, Channels: len(f.Texture) / gm.N(), Rows: gm.Rows, Cols: gm.Cols, Mask: f.Mask, Captions: true}
	for sc, l := range it.sample.Landmarks {
		if sc == "aflw21" || in.Truth == nil {
			in.Truth, in.TruthVisible = l.Points, l.Visible
		}
	}
	return dataset.Panel(in)
}
