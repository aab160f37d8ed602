package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strings"

	"github.com/stn3d/stn3d/graph/run"
	"github.com/stn3d/stn3d/internal/atomicfile"
)

const embedUsage = `usage: stn3d embed --checkpoint RUN [--out FILE.jsonl|FILE.npy] [--config FILE] [--batch N]
                   [--margin F] [--box x0,y0,x1,y1] [--max-pixels N] INPUT...

Writes one face descriptor per photograph (INPUT: image files, or folders) from
a recognition run (configs/recognition.yaml): unit vectors, so that the dot
product of two is their cosine similarity. Without --out, JSON lines
{"input", "crop", "embedding"} go to standard output; FILE.jsonl writes them
to a file; FILE.npy writes an N x E float32 NumPy array and FILE.txt with the
inputs in the same order. Faces are cropped as by normalize. Flags may also
follow the inputs.

Flags:
`

func cmdEmbed(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, embedUsage)
		fs.PrintDefaults()
	}
	ckpt := fs.String("checkpoint", "", "checkpoint file or run directory of a recognition run (required)")
	out := fs.String("out", "", "output file: .jsonl/.json (JSON lines) or .npy (+ .txt names); default: JSON lines on standard output")
	cfgPath := fs.String("config", "", "YAML config (default: config.yaml of the checkpoint's run directory)")
	batch := fs.Int("batch", 0, "images per forward pass (0 = eval.batch of the config)")
	margin := fs.Float64("margin", -1, "crop margin around the landmark box or --box (negative = data.margin of the config)")
	boxFlag := fs.String("box", "", "face box x0,y0,x1,y1 in pixels used for every image")
	maxPixels := maxPixelsFlag(fs)
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *ckpt == "" {
		return usagef("--checkpoint FILE|DIR is required")
	}
	if len(inputs) == 0 {
		return usagef("no INPUT images or folders given")
	}
	if err := checkMaxPixels(*maxPixels); err != nil {
		return err
	}
	if *batch < 0 {
		return usagef("--batch %d: want >= 0", *batch)
	}
	if math.IsNaN(*margin) || *margin > 10 {
		return usagef("--margin %v: want 0..10 (negative = the config's)", *margin)
	}
	ext := strings.ToLower(filepath.Ext(*out))
	if *out != "" && ext != ".jsonl" && ext != ".json" && ext != ".npy" {
		return usagef("--out %s: want a .jsonl, .json or .npy file", *out)
	}
	opt := run.EmbedOptions{Checkpoint: *ckpt, Config: *cfgPath, Inputs: inputs, Batch: *batch, Margin: *margin, MaxPixels: *maxPixels, Log: log}
	if *boxFlag != "" {
		b, err := parseBox(*boxFlag)
		if err != nil {
			return err
		}
		opt.Box = &b
	}
	res, embErr := run.Embed(ctx, opt)
	if res == nil {
		return embErr
	}
	for _, f := range res.Failed {
		fmt.Fprintf(stderr, "skipped %s: %v%s\n", f.Input, f.Err, flagHint(f.Err))
	}
	if len(res.Faces) > 0 {
		switch ext {
		case "":
			if err := run.WriteEmbeddingsJSONL(stdout, res.Faces); err != nil {
				return err
			}
		case ".npy":
			names := strings.TrimSuffix(*out, filepath.Ext(*out)) + ".txt"
			if err := run.WriteEmbeddingsNPY(*out, names, res.Faces); err != nil {
				return err
			}
		default:
			err := atomicfile.Write(*out, func(w io.Writer) error { return run.WriteEmbeddingsJSONL(w, res.Faces) })
			if err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stderr, "embed: %d embedded, %d skipped\n", len(res.Faces), len(res.Failed))
	if embErr != nil && len(res.Failed) > 0 {
		return fmt.Errorf("%d of %d inputs failed", len(res.Failed), len(res.Failed)+len(res.Faces))
	}
	return embErr
}
