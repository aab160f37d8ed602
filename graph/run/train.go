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
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stn3d/stn3d/graph"

	"gopkg.in/yaml.v3"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
)

// Run-directory layout written by Train and read by Evaluate:
//
//	DIR/config.yaml        the resolved configuration
//	DIR/model.grid         the geometry image trained with
//	DIR/metrics.jsonl      one JSON object per logged step and per validation
//	DIR/ckpt-STEP.ckpt     the last train.keep_last checkpoints
//	DIR/best.ckpt          the checkpoint with the lowest validation NME
const (
	RunConfigFile  = "config.yaml"
	RunGridFile    = "model.grid"
	RunMetricsFile = "metrics.jsonl"
	RunBestFile    = "best.ckpt"
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

// Train runs the training loop of cfg: builds the model, trains for
// cfg.Train.Steps optimiser steps on image/mirror batches, validates every
// ValEvery steps, and checkpoints atomically. With Resume it continues from
// the newest checkpoint exactly (same data order, same optimiser state), so
// the loss curve equals an uninterrupted run's.
func Train(ctx context.Context, cfg Config, opt TrainOptions) (*TrainResult, error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	out := opt.Out
	if out == "" {
		out = cfg.Train.Out
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	existing, err := listCheckpoints(out)
	if err != nil {
		return nil, err
	}
	if len(existing) > 0 && !opt.Resume {
		return nil, fmt.Errorf("run directory %s already holds %d checkpoints: pass --resume to continue it or choose another --out", out, len(existing))
	}
	if opt.Resume && len(existing) == 0 {
		return nil, fmt.Errorf("--resume: no checkpoint in %s", out)
	}
	cfgYAML, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(out, RunConfigFile), cfgYAML); err != nil {
		return nil, err
	}
	dev, err := SelectDevice(cfg.Device)
	if err != nil {
		return nil, err
	}
	log.Info("device", "use", dev, "blas", BLASName())

	t0 := time.Now()
	env, err := Setup(cfg, log)
	if err != nil {
		return nil, err
	}
	if err := bfm.SaveGrid(filepath.Join(out, RunGridFile), env.Grid); err != nil {
		return nil, err
	}
	mc, err := NetworkConfigFrom(cfg)
	if err != nil {
		return nil, err
	}
	model, err := graph.NewNetwork(mc, env.Grid, cfg.Train.Batch)
	if err != nil {
		return nil, err
	}
	defer model.Close()
	log.Info("model ready", "localiser", cfg.Localiser.Arch, "grid", fmt.Sprintf("%dx%d", env.Grid.Rows, env.Grid.Cols),
		"components", env.Grid.NumComponents(), "train_images", env.Train.Len(), "val_images", env.Val.Len(),
		"batch", cfg.Train.Batch, "steps", cfg.Train.Steps, "setup_s", round3(time.Since(t0).Seconds()))

	start := 0
	best := math.Inf(1)
	if opt.Resume {
		last := existing[len(existing)-1]
		ck, err := graph.LoadCheckpoint(last)
		if err != nil {
			return nil, err
		}
		if err := model.Restore(ck); err != nil {
			return nil, fmt.Errorf("restoring %s: %w", last, err)
		}
		start = ck.Step
		if v, ok := ck.Meta["best_nme"]; ok {
			fmt.Sscan(v, &best)
		}
		log.Info("resumed", "checkpoint", last, "step", start)
	}

	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batcher, err := dataset.NewBatcher(bctx, env.Train, dataset.BatchConfig{
		K: cfg.Train.Batch / 2, Height: env.Size, Width: env.Size, Scheme: cfg.Model.Scheme,
		Seed: cfg.Seed, Workers: cfg.Data.Workers, Prefetch: cfg.Data.Prefetch, Start: start,
		HiddenWeight: float32(cfg.Loss.HiddenLandmark),
	})
	if err != nil {
		return nil, err
	}
	defer batcher.Close()

	metricsPath := filepath.Join(out, RunMetricsFile)
	mf, err := os.OpenFile(metricsPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer mf.Close()
	jw := json.NewEncoder(mf)

	res := &TrainResult{Out: out, BestNME: best}
	var lastGood string
	if len(existing) > 0 {
		lastGood = existing[len(existing)-1]
	}
	var (
		winStart = time.Now()
		winImgs  int
		runStart = time.Now()
		sum      graph.LossValues
		nsum     int
	)
	for step := start; step < cfg.Train.Steps; step++ {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("interrupted at step %d (last checkpoint %s): %w", step, orNone(lastGood), err)
		}
		b, err := batcher.Next()
		if err != nil {
			return res, fmt.Errorf("data at step %d: %w", step, err)
		}
		lv, err := model.Step(&graph.Batch{Images: b.Images, Landmarks: b.Landmarks, Weights: b.Weights})
		var nf *graph.NonFiniteError
		if errors.As(err, &nf) {
			_ = jw.Encode(map[string]any{"step": step + 1, "error": err.Error()})
			return res, fmt.Errorf("step %d: %w; stopped, the last good checkpoint is %s", step+1, err, orNone(lastGood))
		}
		if err != nil {
			return res, err
		}
		res.Last = lv
		sum = addLoss(sum, lv)
		nsum++
		winImgs += b.B
		done := step + 1
		if done%cfg.Train.LogEvery == 0 || done == cfg.Train.Steps {
			el := time.Since(winStart).Seconds()
			ips := float64(winImgs) / el
			avg := scaleLoss(sum, 1/float64(nsum))
			eta := time.Duration(float64(cfg.Train.Steps-done) * el / float64(nsum) * float64(time.Second))
			epoch := float64(done*cfg.Train.Batch/2) / float64(env.Train.Len())
			rec := map[string]any{"step": done, "epoch": round3(epoch), "loss": avg.Total, "landmark": avg.Landmark,
				"prior": avg.Prior, "symmetry": avg.Symmetry, "siamese": avg.Siamese, "grad_norm": avg.GradNorm,
				"lr": lv.LR, "images_per_s": round3(ips), "elapsed_s": round3(time.Since(runStart).Seconds())}
			_ = jw.Encode(rec)
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "step %d/%d  epoch %.2f  loss %.4g  landmark %.4g  prior %.4g  symmetry %.4g  siamese %.4g  lr %.3g  %.1f img/s  ETA %s\n",
					done, cfg.Train.Steps, epoch, avg.Total, avg.Landmark, avg.Prior, avg.Symmetry, avg.Siamese, lv.LR, ips, eta.Round(time.Second))
			}
			winStart, winImgs, sum, nsum = time.Now(), 0, graph.LossValues{}, 0
		}
		validate := done%cfg.Train.ValEvery == 0 || done == cfg.Train.Steps
		if validate {
			n := env.Val.Len()
			if cfg.Train.ValImages > 0 {
				n = min(n, cfg.Train.ValImages)
			}
			vm, err := EvaluateSource(ctx, model, env.Val, n, cfg.Model.Scheme)
			if err != nil {
				return res, fmt.Errorf("validation at step %d: %w", done, err)
			}
			_ = jw.Encode(map[string]any{"step": done, "val": vm})
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "val  step %d  NME %.2f%%  bins %s  mean error %.2f px  yaw MAE %.1f deg  (%d images)\n",
					done, vm.NME, fmtBins(vm.NMEBins), vm.MeanErrorPx, vm.PoseMAE.Yaw, vm.Images)
			}
			if vm.NME < best {
				best = vm.NME
				res.BestNME = best
			}
			isBest := vm.NME == best
			if err := saveRun(model, out, done, best, cfg.Train.KeepLast, isBest); err != nil {
				return res, err
			}
			lastGood = ckptPath(out, done)
		} else if done%cfg.Train.CheckpointEvery == 0 {
			if err := saveRun(model, out, done, best, cfg.Train.KeepLast, false); err != nil {
				return res, err
			}
			lastGood = ckptPath(out, done)
		}
		res.Steps = done
	}
	res.Seconds = time.Since(runStart).Seconds()
	if res.Seconds > 0 {
		res.ImagesPerSec = float64((res.Steps-start)*cfg.Train.Batch) / res.Seconds
	}
	res.BestCheckpoint = filepath.Join(out, RunBestFile)
	return res, nil
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

func addLoss(a, b graph.LossValues) graph.LossValues {
	return graph.LossValues{Total: a.Total + b.Total, Landmark: a.Landmark + b.Landmark, Prior: a.Prior + b.Prior,
		Symmetry: a.Symmetry + b.Symmetry, Siamese: a.Siamese + b.Siamese, GradNorm: a.GradNorm + b.GradNorm, LR: b.LR}
}

func scaleLoss(a graph.LossValues, s float64) graph.LossValues {
	return graph.LossValues{Total: a.Total * s, Landmark: a.Landmark * s, Prior: a.Prior * s, Symmetry: a.Symmetry * s,
		Siamese: a.Siamese * s, GradNorm: a.GradNorm * s, LR: a.LR}
}

func ckptPath(dir string, step int) string {
	return filepath.Join(dir, fmt.Sprintf("ckpt-%08d.ckpt", step))
}

// listCheckpoints returns the step checkpoints of a run directory, oldest
// first.
func listCheckpoints(dir string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "ckpt-*.ckpt"))
	if err != nil {
		return nil, err
	}
	sort.Strings(m)
	return m, nil
}

// saveRun writes the step checkpoint atomically, keeps the newest keep of
// them, and copies it to best.ckpt when isBest.
func saveRun(model *graph.Network, dir string, step int, best float64, keep int, isBest bool) error {
	ck, err := model.Checkpoint(nil, map[string]string{"best_nme": fmt.Sprint(best)})
	if err != nil {
		return err
	}
	ck.Step = step
	p := ckptPath(dir, step)
	if err := graph.SaveCheckpoint(p, ck); err != nil {
		return err
	}
	if isBest {
		if err := graph.SaveCheckpoint(filepath.Join(dir, RunBestFile), ck); err != nil {
			return err
		}
	}
	all, err := listCheckpoints(dir)
	if err != nil {
		return err
	}
	for len(all) > keep {
		if err := os.Remove(all[0]); err != nil {
			return err
		}
		all = all[1:]
	}
	return nil
}
