package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/graph/run"
)

func cmdEval(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config file (default: config.yaml of the checkpoint's run directory, or the embedded model's)")
	ckpt := fs.String("checkpoint", "", "checkpoint file, run directory (its best checkpoint) or pretrained model file (default: the embedded model)")
	split := fs.String("split", "val", "data split: val or train")
	data := fs.String("data", "", "evaluate on this data instead of the configured data: a .jsonl/.csv manifest, a dlib .xml, or a folder of images with .pts/.ljson (or AFLW2000-3D .mat) files")
	out := fs.String("out", "", "directory for metrics.json, ced.png and panels (default: CHECKPOINT_DIR/eval-SPLIT or eval-DATA; none for the embedded model)")
	maxImages := fs.Int("max", 0, "evaluate at most this many images (0 = all)")
	asJSON := fs.Bool("json", false, "print only the metrics JSON on standard output")
	force := fs.Bool("force", false, "overwrite the outputs of an earlier evaluation in the output directory")
	maxPixels := maxPixelsFlag(fs)
	detectMode := fs.String("detect", "auto", "with --data: always crops each face from the face detector's box matching it (faces it misses are reported, not scored); auto and never crop from the landmarks")
	detector := fs.String("detector", "", "detector weights file (default: the embedded weights)")
	var sets multiFlag
	fs.Var(&sets, "set", "override a config key (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkMaxPixels(*maxPixels); err != nil {
		return err
	}
	if *maxImages < 0 {
		return usagef("--max %d: want >= 0 (0 = all)", *maxImages)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	cfg, err := evalConfig(*cfgPath, *ckpt, sets)
	if err != nil {
		return err
	}
	dir := *out
	if dir == "" && *ckpt != "" {
		base := *ckpt
		if ck, err := run.ResolveCheckpoint(*ckpt); err == nil && ck != *ckpt {
			base = filepath.Dir(ck)
		} else {
			base = filepath.Dir(*ckpt)
		}
		name := "eval-" + *split
		if *data != "" {
			name = "eval-" + dataset.SafeName(filepath.Base(*data))
		}
		dir = filepath.Join(base, name)
	}
	eopt := run.EvalOptions{Checkpoint: *ckpt, Split: *split, Data: *data, Out: dir, Max: *maxImages,
		Force: *force, MaxPixels: *maxPixels, Log: log, Detect: *detectMode}
	if *detector != "" {
		if eopt.Detector, err = detect.Load(*detector); err != nil {
			return err
		}
	}
	met, err := run.Evaluate(ctx, cfg, eopt)
	if err != nil {
		return err
	}
	summarizeSkipped(stderr, met)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(met)
	}
	fmt.Fprintf(stdout, "images %d\nNME %.3f%% (mean over yaw bins)\n", met.Images, met.NME)
	names := []string{"[0,30)", "[30,60)", "[60,90]"}
	for i, b := range met.NMEBins {
		if b != nil {
			fmt.Fprintf(stdout, "  yaw %-8s NME %.3f%%\n", names[i], *b)
		} else {
			fmt.Fprintf(stdout, "  yaw %-8s (no images)\n", names[i])
		}
	}
	fmt.Fprintf(stdout, "NME all %.3f%%\nmean error %.3f px\nfailure rate (NME > 10%%) %.3f\n", met.NMEAll, met.MeanErrorPx, met.FailureRate)
	if p := met.PoseMAE; p != nil {
		fmt.Fprintf(stdout, "pose MAE yaw %.2f  pitch %.2f  roll %.2f  mean %.2f degrees (%d images with every true angle in [-%d, %d])\n",
			p.Yaw, p.Pitch, p.Roll, p.Mean, p.Images, dataset.PoseProtocolMaxDeg, dataset.PoseProtocolMaxDeg)
	}
	if p := met.PoseMAEAll; p != nil && (met.PoseMAE == nil || p.Images != met.PoseMAE.Images) {
		fmt.Fprintf(stdout, "pose MAE, all images: yaw %.2f  pitch %.2f  roll %.2f  mean %.2f degrees (%d images)\n", p.Yaw, p.Pitch, p.Roll, p.Mean, p.Images)
	}
	if r := met.Recognition; r != nil {
		fmt.Fprintf(stdout, "verification: %d images of %d unseen people\n", r.Images, r.Identities)
		for _, v := range []struct {
			name string
			set  dataset.VerificationSet
		}{{"all pairs", r.All}, {fmt.Sprintf("yaw gap >= %g", r.MinYawGap), r.LargeYaw}} {
			fmt.Fprintf(stdout, "  %-14s ROC AUC %.4f  TAR@FAR=1e-2 %s  TAR@FAR=1e-3 %s  (%d genuine, %d impostor pairs)\n",
				v.name, v.set.AUC, fmtRate(v.set.TAR1e2), fmtRate(v.set.TAR1e3), v.set.Genuine, v.set.Impostor)
		}
		fmt.Fprintf(stdout, "  rank-1 identification %.4f (yaw gap >= %g: %s)\n", r.Rank1, r.MinYawGap, fmtRate(r.Rank1LargeYaw))
	}
	if dir != "" {
		fmt.Fprintf(stdout, "written to %s\n", dir)
	}
	return nil
}

// evalConfig is the configuration of an evaluation: --config, else the
// config.yaml of the checkpoint's run directory, else (no --checkpoint) the
// embedded model's; --set values apply to each.
func evalConfig(path, ckpt string, sets []string) (run.Config, error) {
	if path != "" {
		return run.LoadConfig(path, sets)
	}
	return run.TrainedConfig(ckpt, sets)
}

// fmtRate prints a rate or "-" when it is undefined.
func fmtRate(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.4f", *v)
}

// maxSkipLines bounds the skipped inputs listed on standard error; all are
// in metrics.json.
const maxSkipLines = 20

// summarizeSkipped tells on stderr how many inputs an evaluation left out
// and why.
func summarizeSkipped(w io.Writer, met *dataset.Metrics) {
	if met.Skipped == 0 {
		return
	}
	fmt.Fprintf(w, "eval: %d of %d inputs skipped (scored %d):\n", met.Skipped, met.Skipped+met.Images, met.Images)
	for i, r := range met.SkippedReasons {
		if i == maxSkipLines {
			fmt.Fprintf(w, "  ... and %d more (skipped_reasons in metrics.json)\n", len(met.SkippedReasons)-i)
			break
		}
		fmt.Fprintf(w, "  %s%s\n", r, skipHint(r))
	}
}

// skipHint names the flag that lets a skipped input in, if one does.
func skipHint(reason string) string {
	if strings.Contains(reason, "more than the limit") {
		return " (raise --max-pixels to read it)"
	}
	return ""
}
