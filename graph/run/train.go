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
	// Resume continues from the newest checkpoint in Out.
	Resume bool
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

// ErrRunExists reports a run directory that already holds checkpoints of a
// run while no resume was asked for.
var ErrRunExists = errors.New("run directory already holds a run")

// ErrNothingToResume reports a resume asked of a directory without
// checkpoints.
var ErrNothingToResume = errors.New("no checkpoint to resume from")

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
	// written or resumed from ("" if none).
	start    int
	best     float64
	lastGood string
	window   progressWindow
	res      TrainResult
}

// newTrainer checks the run directory against opt.Resume and records the
// resolved configuration in it.
func newTrainer(cfg Config, opt TrainOptions) (*trainer, error) {
	t := &trainer{cfg: cfg, opt: opt, log: opt.Log, best: math.Inf(1)}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	out := opt.Out
	if out == "" {
		out = cfg.Train.Out
	}
	t.dir = RunDir(out)
	if err := atomicfile.MkdirAll(out); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	existing, err := t.dir.Checkpoints()
	if err != nil {
		return nil, err
	}
	switch {
	case len(existing) > 0 && !opt.Resume:
		return nil, fmt.Errorf("%s holds %d checkpoints: %w", out, len(existing), ErrRunExists)
	case opt.Resume && len(existing) == 0:
		return nil, fmt.Errorf("%s: %w", out, ErrNothingToResume)
	case len(existing) > 0:
		t.lastGood = existing[len(existing)-1]
	}
	cfgYAML, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := atomicfile.WriteFile(t.dir.Config(), cfgYAML); err != nil {
		return nil, err
	}
	t.res = TrainResult{Out: out, BestNME: t.best}
	return t, nil
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
	if t.env, err = Setup(cfg, t.log); err != nil {
		return err
	}
	if err := bfm.SaveGrid(t.dir.Grid(), t.env.Grid); err != nil {
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
	if t.opt.Resume {
		if err := t.restore(); err != nil {
			return err
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
	t.metrics, err = openMetricsLog(t.dir.Metrics())
	return err
}

// restore loads the newest checkpoint into the network and takes its step
// and best validation NME.
func (t *trainer) restore() error {
	ck, err := graph.LoadCheckpoint(t.lastGood)
	if err != nil {
		return err
	}
	if err := t.net.Restore(ck); err != nil {
		return fmt.Errorf("restoring %s: %w", t.lastGood, err)
	}
	t.start = ck.Step
	if v, ok := ck.Meta[metaBestNME]; ok {
		best, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(best) {
			return fmt.Errorf("checkpoint %s: %s %q: want a number", t.lastGood, metaBestNME, v)
		}
		t.best = best
		t.res.BestNME = best
	}
	t.log.Info("resumed", "checkpoint", t.lastGood, "step", t.start)
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

// loop runs the optimiser steps from t.start to cfg.Train.Steps.
func (t *trainer) loop(ctx context.Context) (*TrainResult, error) {
	cfg := t.cfg
	res := &t.res
	runStart := time.Now()
	t.window.reset()
	for step := t.start; step < cfg.Train.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("interrupted at step %d (last checkpoint %s): %w", step, orNone(t.lastGood), err)
		}
		if err := t.step(step); err != nil {
			return res, err
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
				return res, err
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
	res.Seconds = time.Since(runStart).Seconds()
	if res.Seconds > 0 {
		res.ImagesPerSec = float64((res.Steps-t.start)*cfg.Train.Batch) / res.Seconds
	}
	res.BestCheckpoint = t.dir.Best()
	return res, nil
}

// step trains on the next batch. A non-finite gradient stops the run
// (recorded in the metrics log) naming the last good checkpoint.
func (t *trainer) step(step int) error {
	b, err := t.batcher.Next()
	if err != nil {
		return fmt.Errorf("data at step %d: %w", step, err)
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

// logProgress writes the mean losses of the steps since the last log line
// to the metrics log and the progress writer.
func (t *trainer) logProgress(done int, runStart time.Time) error {
	cfg := t.cfg
	w := &t.window
	el := time.Since(w.start).Seconds()
	ips := float64(w.images) / el
	avg := w.mean()
	eta := time.Duration(float64(cfg.Train.Steps-done) * el / float64(w.steps) * float64(time.Second))
	epoch := float64(done*cfg.Train.Batch/2) / float64(t.env.Train.Len())
	rec := map[string]any{"step": done, "epoch": round3(epoch), "loss": avg.Total, "landmark": avg.Landmark,
		"prior": avg.Prior, "symmetry": avg.Symmetry, "siamese": avg.Siamese, "grad_norm": avg.GradNorm,
		"lr": t.res.Last.LR, "images_per_s": round3(ips), "elapsed_s": round3(time.Since(runStart).Seconds())}
	if cfg.Recognition.enabled() {
		rec["identity"] = avg.Identity
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
	if err := t.metrics.Write(map[string]any{"step": done, "val": vm}); err != nil {
		return false, err
	}
	if t.opt.Progress != nil {
		fmt.Fprintf(t.opt.Progress, "val  step %d  NME %.2f%%  bins %s  mean error %.2f px  yaw MAE %.1f deg  (%d images)\n",
			done, vm.NME, fmtBins(vm.NMEBins), vm.MeanErrorPx, vm.PoseMAE.Yaw, vm.Images)
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
// train.keep_last of them, and copies it to best.ckpt when isBest.
func (t *trainer) checkpoint(step int, isBest bool) error {
	ck, err := t.net.Checkpoint(nil, map[string]string{metaBestNME: strconv.FormatFloat(t.best, 'g', -1, 64)})
	if err != nil {
		return err
	}
	ck.Step = step
	p := t.dir.Checkpoint(step)
	if err := graph.SaveCheckpoint(p, ck); err != nil {
		return err
	}
	if isBest {
		if err := graph.SaveCheckpoint(t.dir.Best(), ck); err != nil {
			return err
		}
	}
	t.lastGood = p
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

// progressWindow accumulates the losses and images since the last log
// line.
type progressWindow struct {
	start  time.Time
	images int
	steps  int
	sum    graph.LossValues
}

func (w *progressWindow) reset() { *w = progressWindow{start: time.Now()} }

func (w *progressWindow) add(lv graph.LossValues, images int) {
	w.sum = graph.LossValues{Total: w.sum.Total + lv.Total, Landmark: w.sum.Landmark + lv.Landmark,
		Prior: w.sum.Prior + lv.Prior, Symmetry: w.sum.Symmetry + lv.Symmetry, Siamese: w.sum.Siamese + lv.Siamese, Identity: w.sum.Identity + lv.Identity,
		GradNorm: w.sum.GradNorm + lv.GradNorm, LR: lv.LR}
	w.steps++
	w.images += images
}

// mean returns the mean losses of the window.
func (w *progressWindow) mean() graph.LossValues {
	s := 1 / float64(w.steps)
	a := w.sum
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
