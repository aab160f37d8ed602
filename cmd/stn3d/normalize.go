package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/graph/run"
)

const normalizeUsage = `usage: stn3d normalize --out DIR [--checkpoint FILE|DIR] [--config FILE] [--fill] [--force]
                       [--batch N] [--margin F] [--box x0,y0,x1,y1] [--max-pixels N]
                       [--detect auto|always|never] [--detector FILE] INPUT...

Applies a trained model (default: the one embedded in the binary, see
"stn3d version") to photographs (INPUT: image files, or folders walked for
.jpg/.jpeg/.png/.ppm/.pgm/.pnm) and writes per image STEM_texture.png,
STEM_mask.png, STEM_panel.png, STEM.json (pose, shape weights, landmarks in
original pixels), STEM.obj/.mtl and STEM.ply (the fitted mesh: x, y original
pixels, z depth in the same pixels, larger = nearer), and with --fill
STEM_texture_filled.png and STEM_confidence.png (255 = own texel visible,
128 = filled from its mirror, 0 = neither).

Crop: the box of the landmarks in STEM.pts or STEM.ljson beside the image
(plus --margin), else --box, else (--detect auto) every face the built-in
detector finds, each with its own outputs STEM_face0_*, STEM_face1_*, ...
and its box and score in the JSON; a photograph without a face is reported
and the others go on. --detect always detects even where landmarks or --box
are given; --detect never crops the whole image padded to a square. Flags
may also follow the inputs.

Flags:
`

func cmdNormalize(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("normalize", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, normalizeUsage)
		fs.PrintDefaults()
	}
	ckpt := fs.String("checkpoint", "", "checkpoint file, run directory (its best checkpoint) or pretrained model file (default: the embedded model)")
	out := fs.String("out", "", "output directory (required)")
	cfgPath := fs.String("config", "", "YAML config (default: config.yaml of the checkpoint's run directory, or the embedded model's)")
	fill := fs.Bool("fill", false, "also write the mirror-filled texture and its confidence map")
	force := fs.Bool("force", false, "overwrite existing outputs")
	batch := fs.Int("batch", 0, "images per forward pass (0 = eval.batch of the config)")
	margin := fs.Float64("margin", -1, "crop margin around the landmark box or --box, fraction of its side (negative = data.margin of the config)")
	boxFlag := fs.String("box", "", "face box x0,y0,x1,y1 in pixels used for every image")
	quiet := fs.Bool("quiet", false, "no progress lines")
	maxPixels := maxPixelsFlag(fs)
	detectMode := fs.String("detect", "auto", "face detector: auto (when an image has no landmark file and no --box), always or never")
	detector := fs.String("detector", "", "detector weights file (default: the embedded weights)")
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out DIR is required")
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
	opt := run.NormalizeOptions{Checkpoint: *ckpt, Config: *cfgPath, Out: *out, Inputs: inputs, Fill: *fill,
		Force: *force, Batch: *batch, Margin: *margin, MaxPixels: *maxPixels, Progress: stderr, Log: log, Detect: *detectMode}
	if *detector != "" {
		if opt.Detector, err = detect.Load(*detector); err != nil {
			return err
		}
	}
	if *quiet {
		opt.Progress = nil
	}
	if *boxFlag != "" {
		b, err := parseBox(*boxFlag)
		if err != nil {
			return err
		}
		opt.Box = &b
	}
	res, err := run.Normalize(ctx, opt)
	if res == nil {
		return err
	}
	for _, f := range res.Failed {
		fmt.Fprintf(stderr, "skipped %s: %v%s\n", f.Input, f.Err, flagHint(f.Err))
	}
	fmt.Fprintln(stdout, res.Summary())
	if err != nil {
		if len(res.Failed) > 0 {
			return fmt.Errorf("%d of %d inputs failed", len(res.Failed), len(res.Failed)+len(res.Processed))
		}
		return err
	}
	return nil
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments; everything after "--" is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseBox parses "x0,y0,x1,y1" (pixels, x0 < x1, y0 < y1).
func parseBox(s string) (dataset.Box, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return dataset.Box{}, usagef("--box %q: want four numbers x0,y0,x1,y1", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return dataset.Box{}, usagef("--box %q: value %d %q is not a finite number", s, i+1, p)
		}
		v[i] = f
	}
	if !(v[2] > v[0] && v[3] > v[1]) {
		return dataset.Box{}, usagef("--box %q: want x0 < x1 and y0 < y1", s)
	}
	return dataset.Box{X0: v[0], Y0: v[1], X1: v[2], Y1: v[3]}, nil
}
