package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/atomicfile"
)

// TrainOptions are the command-line choices of a training run.
type TrainOptions struct {
	// Out is the run directory (empty = cfg.Train.Out).
	Out string
	// Resume continues from the newest readable checkpoint in Out (a
	// newest one that fails its CRC is skipped with a warning), or from
	// step 0 when the run was stopped before its first checkpoint. The
	// configuration must equal the run's config.yaml except in keys that
	// do not change the weights (resumeSafeKeys); see Force.
	Resume bool
	// Force, without Resume, starts a new run in a directory that holds
	// one: the old run's files are removed first. With Resume, it accepts
	// a configuration that differs from the run's in keys that change the
	// results; every changed key is logged and recorded in the metrics log.
	Force bool
	// MaxPixels is the largest image (width x height) read from real data
	// (0 = dataset.DefaultMaxPixels).
	MaxPixels int64
	// Log receives structured logs; Progress (optional) human progress lines.
	Log      *slog.Logger
	Progress io.Writer
}

// TrainResult summarises a finished run.
type TrainResult struct {
	Out            string
	Steps          int
	BestCheckpoint string
	BestNME        float64
	Last           graph.LossValues
	Seconds        float64
	ImagesPerSec   float64
}

// ErrRunExists reports a run directory that already holds files of a run
// (a checkpoint, best.ckpt, config.yaml, model.grid or metrics.jsonl)
// while neither resuming nor overwriting was asked for.
var ErrRunExists = errors.New("run directory already holds a run")

// ErrNothingToResume reports a resume asked of a directory that holds no
// run.
var ErrNothingToResume = errors.New("no run to resume")

// Train runs the training loop of cfg: builds the network, trains for
// cfg.Train.Steps optimiser steps on image/mirror batches, validates every
// ValEvery steps, and checkpoints atomically. With Resume it continues from
// the newest checkpoint exactly (same data order, same optimiser state), so
// the loss curve equals an uninterrupted run's.
func Train(ctx context.Context, cfg Config, opt TrainOptions) (res *TrainResult, err error) {
	t, err := newTrainer(cfg, opt)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, t.close()) }()
	if err := t.setup(ctx); err != nil {
		return nil, err
	}
	return t.loop(ctx)
}

// trainer is one training run on its way: the run directory, the data,
// the network, the metrics log and the loop's bookkeeping.
type trainer struct {
	cfg Config
	opt TrainOptions
	log *slog.Logger
	dir RunDir

	env     *Env
	net     *graph.Network
	batcher *dataset.Batcher
	cancel  context.CancelFunc
	metrics *metricsLog

	// start is the step the loop starts from (the resumed checkpoint's),
	// best the lowest validation NME so far, lastGood the newest checkpoint
	// written or resumed from ("" if none) and lastStep its step.
	start    int
	best     float64
	lastGood string
	lastStep int
	window   progressWindow
	res      TrainResult
	// bad holds the source indices of the training samples that failed to
	// load (kept in checkpoints, so a resumed run counts the same);
	// changes the config keys a resume changed.
	bad     map[int]bool
	changes []ConfigChange
}

// newTrainer checks the run directory against opt.Resume and opt.Force
// and removes what an interrupted run left half-written. A directory
// holding anything of a run is never overwritten without Resume or Force.
func newTrainer(cfg Config, opt TrainOptions) (*trainer, error) {
	t := &trainer{cfg: cfg, opt: opt, log: opt.Log, best: math.Inf(1), bad: map[int]bool{}}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if opt.MaxPixels < 0 {
		return nil, fmt.Errorf("max pixels %d: want >= 0 (0 = %d)", opt.MaxPixels, dataset.DefaultMaxPixels)
	}
	out := opt.Out
	if out == "" {
		out = cfg.Train.Out
	}
	t.dir = RunDir(out)
	files, err := t.dir.RunFiles()
	if err != nil {
		return nil, err
	}
	switch {
	case opt.Resume && len(files) == 0:
		return nil, fmt.Errorf("%s: %w", out, ErrNothingToResume)
	case !opt.Resume && len(files) > 0 && !opt.Force:
		return nil, fmt.Errorf("%s holds %s: %w", out, baseNames(files), ErrRunExists)
	}
	if err := atomicfile.MkdirAll(out); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	if !opt.Resume && len(files) > 0 {
		for _, f := range files {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("starting the run again: %w", err)
			}
		}
		t.log.Warn("removed the previous run's files to start again", "dir", out, "files", baseNames(files))
	}
	if tmps, err := atomicfile.RemoveLeftovers(out, "*"); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	} else if len(tmps) > 0 {
		t.log.Info("removed the temporary files of interrupted writes", "dir", out, "files", baseNames(tmps))
	}
	if opt.Resume {
		if err := t.checkResumeConfig(); err != nil {
			return nil, err
		}
	}
	t.res = TrainResult{Out: out, BestNME: t.best}
	return t, nil
}

// checkResumeConfig compares the configuration with the run's
// config.yaml: changes of keys that leave the weights alone are logged;
// others are refused unless Force, and then logged as warnings. Both are
// kept for the metrics log.
func (t *trainer) checkResumeConfig() error {
	p := t.dir.Config()
	if !fileExists(p) {
		t.log.Warn("the run has no config.yaml to compare the configuration with", "dir", t.dir)
		return nil
	}
	old, err := LoadConfig(p, nil)
	if err != nil {
		if t.opt.Force {
			t.log.Warn("the run's config.yaml does not load; continuing with the given configuration", "error", err)
			return nil
		}
		return fmt.Errorf("resuming %s: %w", t.dir, err)
	}
	safe, altering := configChanges(old, t.cfg)
	if len(altering) > 0 && !t.opt.Force {
		return fmt.Errorf("resuming %s: %s: %w", t.dir, joinChanges(altering), ErrConfigChanged)
	}
	for _, c := range safe {
		if c.Key == "train.steps" && t.cfg.Optim.Schedule != "constant" {
			t.log.Warn("config changed on resume; the learning rate of the remaining steps follows the new length",
				"key", c.Key, "old", c.Old, "new", c.New, "schedule", t.cfg.Optim.Schedule)
			continue
		}
		t.log.Info("config changed on resume", "key", c.Key, "old", c.Old, "new", c.New)
	}
	for _, c := range altering {
		t.log.Warn("config changed on resume; the run will differ from an uninterrupted one", "key", c.Key, "old", c.Old, "new", c.New)
	}
	t.changes = append(safe, altering...)
	return nil
}

// setup loads the models and data, builds the network, restores the
// checkpoint to resume from, and starts the batcher and the metrics log.
func (t *trainer) setup(ctx context.Context) error {
	cfg := t.cfg
	dev, err := SelectDevice(cfg.Device)
	if err != nil {
		return err
	}
	t.log.Info("device", "use", dev, "blas", BLASName())
	t0 := time.Now()
	if err := checkBatchMemory("train.batch", cfg.Train.Batch, cfg, true, cfg.Data.Prefetch); err != nil {
		return err
	}
	if t.env, err = setup(cfg, t.log, t.opt.MaxPixels); err != nil {
		return err
	}
	nc, err := NetworkConfigFrom(cfg)
	if err != nil {
		return err
	}
	if t.net, err = graph.NewNetwork(nc, t.env.Grid, cfg.Train.Batch); err != nil {
		return err
	}
	t.log.Info("network ready", "localiser", cfg.Localiser.Arch, "grid", fmt.Sprintf("%dx%d", t.env.Grid.Rows, t.env.Grid.Cols),
		"components", t.env.Grid.NumComponents(), "train_images", t.env.Train.Len(), "val_images", t.env.Val.Len(),
		"batch", cfg.Train.Batch, "steps", cfg.Train.Steps, "setup_s", round3(time.Since(t0).Seconds()))
	if !t.opt.Resume && cfg.Train.Init != "" {
		if err := t.initFrom(cfg.Train.Init); err != nil {
			return err
		}
	}
	if t.opt.Resume {
		if err := t.restore(); err != nil {
			return err
		}
		dropped, err := truncateMetrics(t.dir.Metrics(), t.start)
		if err != nil {
			return err
		}
		if dropped > 0 {
			t.log.Info("metrics log: dropped the records after the resumed step", "step", t.start, "records", dropped)
		}
	}
	bctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	if t.batcher, err = dataset.NewBatcher(bctx, t.env.Train, dataset.BatchConfig{
		K: cfg.Train.Batch / 2, Height: t.env.Size, Width: t.env.Size, Scheme: cfg.Model.Scheme,
		Seed: cfg.Seed, Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch, Start: t.start,
		HiddenWeight: float32(cfg.Loss.HiddenLandmark),
	}); err != nil {
		return err
	}
	// The run's files are written once everything is set up, so that a
	// configuration that fails to set up leaves no run behind.
	cfgYAML, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := atomicfile.WriteFile(t.dir.Config(), cfgYAML); err != nil {
		return err
	}
	if err := bfm.SaveGrid(t.dir.Grid(), t.env.Grid); err != nil {
		return err
	}
	if sp := t.env.Split; sp != nil {
		if err := dataset.WriteSplit(string(t.dir), sp.Names, sp.Train, sp.Val); err != nil {
			return err
		}
	}
	if t.metrics, err = openMetricsLog(t.dir.Metrics()); err != nil {
		return err
	}
	if len(t.changes) > 0 {
		return t.metrics.Write(map[string]any{"step": t.start, "config_changed": changesRecord(t.changes)})
	}
	return nil
}

// restore loads the newest readable checkpoint into the network and
// takes its step, best validation NME, progress window and bad samples. A
// checkpoint that does not load (CRC mismatch, truncation) is skipped
// with a warning for the one before it; a run without checkpoints starts
// at step 0.
func (t *trainer) restore() error {
	all, err := t.dir.Checkpoints()
	if err != nil {
		return err
	}
	if len(all) == 0 {
		t.log.Warn("the run has no checkpoint yet; starting it at step 0", "dir", t.dir)
		return nil
	}
	var errs []error
	for i := len(all) - 1; i >= 0; i-- {
		p := all[i]
		ck, err := graph.LoadCheckpoint(p)
		if err != nil {
			t.log.Warn("checkpoint does not load; trying the one before", "checkpoint", p, "error", err)
			errs = append(errs, err)
			continue
		}
		if err := t.net.Restore(ck); err != nil {
			return fmt.Errorf("restoring %s: %w", p, err)
		}
		if err := t.restoreMeta(p, ck.Meta); err != nil {
			return err
		}
		t.start, t.lastGood, t.lastStep = ck.Step, p, ck.Step
		t.log.Info("resumed", "checkpoint", p, "step", t.start)
		return nil
	}
	return fmt.Errorf("resuming %s: no checkpoint loads: %w", t.dir, errors.Join(errs...))
}

// Checkpoint metadata keys besides metaBestNME: the progress window since
// the last log line and the bad training samples met, both JSON.
const (
	metaLogWindow  = "log_window"
	metaBadSamples = "bad_samples"
)

// restoreMeta takes the best NME, progress window and bad samples of the
// checkpoint at p.
func (t *trainer) restoreMeta(p string, meta map[string]string) error {
	if v, ok := meta[metaBestNME]; ok {
		best, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(best) {
			return fmt.Errorf("checkpoint %s: %s %q: want a number", p, metaBestNME, v)
		}
		t.best = best
		t.res.BestNME = best
	}
	if v, ok := meta[metaLogWindow]; ok {
		var w progressWindow
		if err := json.Unmarshal([]byte(v), &w); err != nil || w.Steps < 0 || w.Images < 0 {
			return fmt.Errorf("checkpoint %s: %s %q: want the progress window's JSON", p, metaLogWindow, v)
		}
		t.window = w
	}
	if v, ok := meta[metaBadSamples]; ok {
		var bad []int
		if err := json.Unmarshal([]byte(v), &bad); err != nil {
			return fmt.Errorf("checkpoint %s: %s %q: want a JSON list of sample indices", p, metaBadSamples, v)
		}
		for _, i := range bad {
			t.bad[i] = true
		}
	}
	return nil
}

// initFrom loads the weights of a checkpoint file or run directory into
// the fresh network (fine-tuning, train.init): every parameter the
// checkpoint has; the others keep their initialisation (logged).
func (t *trainer) initFrom(path string) error {
	ckPath, err := ResolveCheckpoint(path)
	if err != nil {
		return fmt.Errorf("train.init: %w", err)
	}
	ck, err := graph.LoadCheckpoint(ckPath)
	if err != nil {
		return fmt.Errorf("train.init: %w", err)
	}
	loaded, err := graph.LoadIntoNodes(t.net.Params(), ck.Params, true)
	if err != nil {
		return fmt.Errorf("train.init %s: %w", ckPath, err)
	}
	if len(loaded) == 0 {
		return fmt.Errorf("train.init %s: no parameter of this network is in the checkpoint", ckPath)
	}
	done := map[string]bool{}
	for _, n := range loaded {
		done[n] = true
	}
	var fresh []string
	for _, p := range t.net.Params() {
		if !done[p.Name()] {
			fresh = append(fresh, p.Name())
		}
	}
	t.log.Info("initialised from a checkpoint", "checkpoint", ckPath, "parameters", len(loaded), "kept_fresh", fresh)
	return nil
}

// close stops the batcher and closes the network and the metrics log.
func (t *trainer) close() error {
	if t.cancel != nil {
		t.cancel()
	}
	var err error
	if t.batcher != nil {
		err = t.batcher.Close()
	}
	if t.net != nil {
		err = errors.Join(err, t.net.Close())
	}
	if t.metrics != nil {
		err = errors.Join(err, t.metrics.Close())
	}
	return err
}

// loop runs the optimiser steps from t.start to cfg.Train.Steps. A run
// that stops early (interrupted, too many bad samples, a failed
// validation) first saves a checkpoint of the steps done, so that none is
// lost; a non-finite gradient does not (its state is not good).
func (t *trainer) loop(ctx context.Context) (*TrainResult, error) {
	cfg := t.cfg
	res := &t.res
	runStart := time.Now()
	t.window.start = runStart
	res.Steps = t.start
	for step := t.start; step < cfg.Train.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return res, t.stop(step, fmt.Errorf("interrupted at step %d: %w", step, err))
		}
		if err := t.step(step); err != nil {
			var nf *graph.NonFiniteError
			if errors.As(err, &nf) {
				return res, err
			}
			if cerr := ctx.Err(); cerr != nil { // the batcher saw it first
				err = fmt.Errorf("interrupted at step %d: %w", step, cerr)
			}
			return res, t.stop(step, err)
		}
		done := step + 1
		if done%cfg.Train.LogEvery == 0 || done == cfg.Train.Steps {
			if err := t.logProgress(done, runStart); err != nil {
				return res, err
			}
		}
		switch {
		case done%cfg.Train.ValEvery == 0 || done == cfg.Train.Steps:
			isBest, err := t.validate(ctx, done)
			if err != nil {
				return res, t.stop(done, err)
			}
			if err := t.checkpoint(done, isBest); err != nil {
				return res, err
			}
		case done%cfg.Train.CheckpointEvery == 0:
			if err := t.checkpoint(done, false); err != nil {
				return res, err
			}
		}
		res.Steps = done
	}
	if err := t.prune(); err != nil {
		return res, err
	}
	res.Seconds = time.Since(runStart).Seconds()
	if res.Seconds > 0 {
		res.ImagesPerSec = float64((res.Steps-t.start)*cfg.Train.Batch) / res.Seconds
	}
	res.BestCheckpoint = t.dir.Best()
	return res, nil
}

// stop saves a checkpoint of the done steps, unless the newest one holds
// them already, and returns cause naming the checkpoint to resume from.
func (t *trainer) stop(done int, cause error) error {
	if done > t.lastStep {
		if err := t.checkpoint(done, false); err != nil {
			return errors.Join(cause, fmt.Errorf("saving step %d: %w", done, err))
		}
	}
	return fmt.Errorf("%w (resume from %s)", cause, orNone(t.lastGood))
}

// step trains on the next batch. A non-finite gradient stops the run
// (recorded in the metrics log) naming the last good checkpoint.
func (t *trainer) step(step int) error {
	b, err := t.batcher.Next()
	if err != nil {
		return fmt.Errorf("data at step %d: %w", step, err)
	}
	if err := t.noteSkipped(step, b.Skipped); err != nil {
		return err
	}
	lv, err := t.net.Step(&graph.Batch{Images: b.Images, Landmarks: b.Landmarks, Weights: b.Weights, Identities: b.Identities})
	var nf *graph.NonFiniteError
	if errors.As(err, &nf) {
		stop := fmt.Errorf("step %d: %w; stopped, the last good checkpoint is %s", step+1, err, orNone(t.lastGood))
		return errors.Join(stop, t.metrics.Write(map[string]any{"step": step + 1, "error": err.Error()}))
	}
	if err != nil {
		return err
	}
	t.res.Last = lv
	t.window.add(lv, b.B)
	return nil
}

// noteSkipped logs and counts the samples the batcher replaced in the
// batch of step, and fails once more than data.max_bad_fraction of the
// training samples are bad. A failing batch is not counted: the run stops
// before training on it, and a resume (with a higher fraction) meets it
// again.
func (t *trainer) noteSkipped(step int, skipped []dataset.SkippedSample) error {
	if len(skipped) == 0 {
		return nil
	}
	bad := len(t.bad)
	seen := map[int]bool{}
	for _, s := range skipped {
		t.log.Warn("bad training sample skipped", "step", step+1, "index", s.Index, "error", s.Err)
		if !t.bad[s.Index] && !seen[s.Index] {
			seen[s.Index] = true
			bad++
		}
	}
	if n := t.env.Train.Len(); float64(bad) > t.cfg.Data.MaxBadFraction*float64(n) {
		return fmt.Errorf("data at step %d: %d of the %d training samples are bad, more than data.max_bad_fraction = %v of them; the last: %w",
			step, bad, n, t.cfg.Data.MaxBadFraction, skipped[len(skipped)-1].Err)
	}
	for _, s := range skipped {
		t.bad[s.Index] = true
	}
	t.window.Skipped += len(skipped)
	return nil
}

// logProgress writes the mean losses of the steps since the last log line
// to the metrics log and the progress writer.
func (t *trainer) logProgress(done int, runStart time.Time) error {
	cfg := t.cfg
	w := &t.window
	el := time.Since(w.start).Seconds()
	ips := float64(w.Images) / el
	avg := w.mean()
	eta := time.Duration(float64(cfg.Train.Steps-done) * el / float64(w.Steps) * float64(time.Second))
	epoch := float64(done*cfg.Train.Batch/2) / float64(t.env.Train.Len())
	rec := map[string]any{"step": done, "epoch": round3(epoch), "loss": avg.Total, "landmark": avg.Landmark,
		"prior": avg.Prior, "symmetry": avg.Symmetry, "siamese": avg.Siamese, "grad_norm": avg.GradNorm,
		"lr": t.res.Last.LR, "images_per_s": round3(ips), "elapsed_s": round3(time.Since(runStart).Seconds())}
	if cfg.Recognition.enabled() {
		rec["identity"] = avg.Identity
	}
	if len(t.bad) > 0 {
		rec["skipped_samples"], rec["bad_samples"] = w.Skipped, len(t.bad)
	}
	if err := t.metrics.Write(rec); err != nil {
		return err
	}
	if t.opt.Progress != nil {
		fmt.Fprintf(t.opt.Progress, "step %d/%d  epoch %.2f  loss %.4g  landmark %.4g  prior %.4g  symmetry %.4g  siamese %.4g  lr %.3g  %.1f img/s  ETA %s\n",
			done, cfg.Train.Steps, epoch, avg.Total, avg.Landmark, avg.Prior, avg.Symmetry, avg.Siamese, t.res.Last.LR, ips, eta.Round(time.Second))
	}
	w.reset()
	return nil
}

// validate scores the network on (up to train.val_images of) the
// validation split and reports whether it is the best so far.
func (t *trainer) validate(ctx context.Context, done int) (bool, error) {
	n := t.env.Val.Len()
	if t.cfg.Train.ValImages > 0 {
		n = min(n, t.cfg.Train.ValImages)
	}
	vm, err := EvaluateSource(ctx, t.net, t.env.Val, n, t.cfg.Model.Scheme)
	if err != nil {
		return false, fmt.Errorf("validation at step %d: %w", done, err)
	}
	if vm.Skipped > 0 {
		t.log.Warn("validation skipped bad images", "step", done, "skipped", vm.Skipped, "scored", vm.Images, "first", vm.SkippedReasons[0])
	}
	if err := t.metrics.Write(map[string]any{"step": done, "val": vm}); err != nil {
		return false, err
	}
	if t.opt.Progress != nil {
		yaw := "-"
		if vm.PoseMAEAll != nil {
			yaw = fmt.Sprintf("%.1f", vm.PoseMAEAll.Yaw)
		}
		fmt.Fprintf(t.opt.Progress, "val  step %d  NME %.2f%%  bins %s  mean error %.2f px  yaw MAE %s deg  (%d images)\n",
			done, vm.NME, fmtBins(vm.NMEBins), vm.MeanErrorPx, yaw, vm.Images)
	}
	if vm.NME < t.best {
		t.best = vm.NME
		t.res.BestNME = t.best
	}
	return vm.NME == t.best, nil
}

// metaBestNME is the checkpoint metadata key of the best validation NME.
const metaBestNME = "best_nme"

// checkpoint writes the step checkpoint atomically, keeps the newest
// train.keep_last of them, and copies it to best.ckpt when isBest. Its
// metadata holds what an exact resume needs besides the weights and the
// optimiser: the best NME, the progress window since the last log line
// and the bad samples met.
func (t *trainer) checkpoint(step int, isBest bool) error {
	meta := map[string]string{metaBestNME: strconv.FormatFloat(t.best, 'g', -1, 64)}
	if w, err := json.Marshal(&t.window); err == nil { // a NaN loss does not encode: the window then restarts
		meta[metaLogWindow] = string(w)
	}
	if len(t.bad) > 0 {
		bad := make([]int, 0, len(t.bad))
		for i := range t.bad {
			bad = append(bad, i)
		}
		slices.Sort(bad)
		b, err := json.Marshal(bad)
		if err != nil {
			return err
		}
		meta[metaBadSamples] = string(b)
	}
	ck, err := t.net.Checkpoint(nil, meta)
	if err != nil {
		return err
	}
	ck.Step = step
	// best.ckpt first: a run killed between the two writes resumes from
	// an earlier step checkpoint and writes both again, while the other
	// order would leave a stale best.ckpt beside the step's checkpoint.
	if isBest {
		if err := graph.SaveCheckpoint(t.dir.Best(), ck); err != nil {
			return err
		}
	}
	p := t.dir.Checkpoint(step)
	if err := graph.SaveCheckpoint(p, ck); err != nil {
		return err
	}
	t.lastGood, t.lastStep = p, step
	return t.prune()
}

// prune removes all but the newest train.keep_last step checkpoints. It
// runs after every checkpoint and at the end of the run (a run killed
// before pruning and resumed at its last step prunes there).
func (t *trainer) prune() error {
	all, err := t.dir.Checkpoints()
	if err != nil {
		return err
	}
	for len(all) > t.cfg.Train.KeepLast {
		if err := os.Remove(all[0]); err != nil {
			return err
		}
		all = all[1:]
	}
	return nil
}

// progressWindow accumulates the losses, images and skipped samples since
// the last log line. Checkpoints keep it as JSON (float64 round-trips
// exactly), so that the first log line after a resume averages the same
// steps as an uninterrupted run's.
type progressWindow struct {
	start   time.Time
	Images  int              `json:"images"`
	Steps   int              `json:"steps"`
	Skipped int              `json:"skipped"`
	Sum     graph.LossValues `json:"sum"`
}

func (w *progressWindow) reset() { *w = progressWindow{start: time.Now()} }

func (w *progressWindow) add(lv graph.LossValues, images int) {
	w.Sum = graph.LossValues{Total: w.Sum.Total + lv.Total, Landmark: w.Sum.Landmark + lv.Landmark,
		Prior: w.Sum.Prior + lv.Prior, Symmetry: w.Sum.Symmetry + lv.Symmetry, Siamese: w.Sum.Siamese + lv.Siamese, Identity: w.Sum.Identity + lv.Identity,
		GradNorm: w.Sum.GradNorm + lv.GradNorm, LR: lv.LR}
	w.Steps++
	w.Images += images
}

// mean returns the mean losses of the window.
func (w *progressWindow) mean() graph.LossValues {
	s := 1 / float64(w.Steps)
	a := w.Sum
	return graph.LossValues{Total: a.Total * s, Landmark: a.Landmark * s, Prior: a.Prior * s, Symmetry: a.Symmetry * s,
		Siamese: a.Siamese * s, Identity: a.Identity * s, GradNorm: a.GradNorm * s, LR: a.LR}
}

// metricsLog appends one JSON object a line to metrics.jsonl.
type metricsLog struct {
	f   *os.File
	enc *json.Encoder
}

func openMetricsLog(path string) (*metricsLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, atomicfile.Mode) // metrics log: append-only, Close checked
	if err != nil {
		return nil, fmt.Errorf("metrics log: %w", err)
	}
	return &metricsLog{f: f, enc: json.NewEncoder(f)}, nil
}

// Write appends rec as one line.
func (m *metricsLog) Write(rec any) error {
	if err := m.enc.Encode(rec); err != nil {
		return fmt.Errorf("metrics log %s: %w", m.f.Name(), err)
	}
	return nil
}

// Close flushes the log to disk and closes it.
func (m *metricsLog) Close() error {
	err := m.f.Sync()
	if cerr := m.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("metrics log %s: %w", m.f.Name(), err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func fmtBins(b [3]*float64) string {
	parts := make([]string, len(b))
	for i, v := range b {
		if v == nil {
			parts[i] = "-"
		} else {
			parts[i] = fmt.Sprintf("%.2f", *v)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
