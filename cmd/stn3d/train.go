package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/stn3d/stn3d/graph/run"
)

func cmdTrain(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config file (required), e.g. configs/default.yaml")
	out := fs.String("out", "", "run directory (default: train.out of the config)")
	resume := fs.Bool("resume", false, "continue from the newest checkpoint in the run directory")
	force := fs.Bool("force", false, "without --resume: start again in a run directory that holds a run (its files are removed); with --resume: continue even if the config changed keys that alter the results")
	maxPixels := maxPixelsFlag(fs)
	quiet := fs.Bool("quiet", false, "no progress lines, logs only")
	var sets multiFlag
	fs.Var(&sets, "set", "override a config key, e.g. --set optim.lr=0.0005 (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usagef("--config FILE is required")
	}
	if err := checkMaxPixels(*maxPixels); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	cfg, err := run.LoadConfig(*cfgPath, sets)
	if err != nil {
		return err
	}
	opt := run.TrainOptions{Out: *out, Resume: *resume, Force: *force, MaxPixels: *maxPixels, Log: log, Progress: stdout}
	if *quiet {
		opt.Progress = nil
	}
	res, err := run.Train(ctx, cfg, opt)
	if err != nil {
		return err
	}
	summary := map[string]any{"run": res.Out, "steps": res.Steps, "best_checkpoint": res.BestCheckpoint,
		"best_val_nme": res.BestNME, "seconds": res.Seconds, "images_per_s": res.ImagesPerSec}
	log.Info("training done", "run", res.Out, "steps", res.Steps, "best_val_nme", res.BestNME,
		"seconds", res.Seconds, "images_per_s", res.ImagesPerSec)
	b, err := json.Marshal(summary)
	if err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if !*quiet {
		fmt.Fprintf(stdout, "done: %s\nevaluate with: stn3d eval --config %s --checkpoint %s\n", b, filepath.Clean(*cfgPath), res.Out)
	}
	return nil
}
