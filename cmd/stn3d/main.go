// Command stn3d trains, evaluates and applies a 3D Morphable Model as a
// Spatial Transformer Network (Bas et al., 2017).
//
//	stn3d train --config configs/default.yaml [--out DIR] [--resume] [--force] [--set key=value ...]
//	stn3d eval [--config FILE] [--checkpoint FILE|DIR] [--split val] [--data FILE.jsonl] [--json] [--force]
//	stn3d normalize --out DIR [--checkpoint FILE|DIR] [--force] [--detect auto|always|never] INPUT...
//	stn3d detect [--json] [--out DIR] IMAGES|FOLDERS...
//	stn3d model info PATH|default
//	stn3d model grid --model PATH|default --size 112 --out FILE
//
// Flags only pick a config and files; all the work lives in the packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/run"
)

const usage = `stn3d: 3D Morphable Models as Spatial Transformer Networks

Usage:
  stn3d train --config FILE [--out DIR] [--resume] [--force] [--set key=value]... [--max-pixels N]
  stn3d eval [--config FILE] [--checkpoint FILE|DIR] [--split val|train] [--data FILE [--detect auto|always|never]] [--out DIR] [--json] [--force] [--max-pixels N]
  stn3d normalize --out DIR [--checkpoint FILE|DIR] [--config FILE] [--fill] [--force] [--batch N] [--margin F] [--box x0,y0,x1,y1] [--detect auto|always|never] [--max-pixels N] INPUT...
  stn3d embed --checkpoint RUN [--out FILE.jsonl|FILE.npy] [--batch N] [--margin F] [--box x0,y0,x1,y1] INPUT...
  stn3d model info PATH|default
  stn3d model grid --model PATH|default --size N --out FILE
  stn3d detect [--json] [--out DIR] [--weights FILE] [--min-face N] [--threshold T] INPUT...
  stn3d detector train --config configs/detector/detector.yaml --out FILE
  stn3d detector calibrate --config configs/detector/detector.yaml --weights FILE --out FILE
  stn3d detector finetune --config configs/detector/detector.yaml --weights FILE --out FILE [--steps N]
  stn3d detector eval [--weights FILE] [--shared DIR] [--json]
  stn3d weights export --run DIR --out FILE
  stn3d weights info [FILE]
  stn3d version

Without --checkpoint, eval and normalize use the default model embedded in
the binary ("stn3d version" says which). Run "stn3d COMMAND -h" for the flags
of a command.
`

// version, commit and commitModified are set at build time by the
// Makefile: -ldflags "-X main.version=... -X main.commit=SHA
// -X main.commitModified=true|false".
var (
	version        = "dev"
	commit         = ""
	commitModified = ""
)

func main() {
	os.Exit(execute(os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs one command and returns the process exit code: 0 success,
// 1 failure, 2 usage error.
func execute(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	var err error
	switch args[0] {
	case "train":
		err = cmdTrain(ctx, args[1:], stdout, stderr, logger)
	case "eval":
		err = cmdEval(ctx, args[1:], stdout, stderr, logger)
	case "embed":
		err = cmdEmbed(ctx, args[1:], stdout, stderr, logger)
	case "normalize":
		err = cmdNormalize(ctx, args[1:], stdout, stderr, logger)
	case "model":
		err = cmdModel(ctx, args[1:], stdout, stderr, logger)
	case "detect":
		err = cmdDetect(ctx, args[1:], stdout, stderr, logger)
	case "detector":
		err = cmdDetector(ctx, args[1:], stdout, stderr, logger)
	case "weights":
		err = cmdWeights(args[1:], stdout, stderr, logger)
	case "version", "--version":
		printVersion(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "stn3d: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp): // -h printed the usage
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "stn3d %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "stn3d %s: %v%s\n", args[0], err, flagHint(err))
		return 1
	}
}

// flagHint names the flag that resolves an error of the packages, which
// know nothing of the command line.
func flagHint(err error) string {
	switch {
	case errors.Is(err, run.ErrRunExists):
		return " (pass --resume to continue it, --force to start it again, or choose another --out)"
	case errors.Is(err, run.ErrNothingToResume):
		return " (drop --resume to start a new run)"
	case errors.Is(err, run.ErrConfigChanged):
		return " (resume with the run's config.yaml, or pass --force with --resume to continue with the new values)"
	case errors.Is(err, dataset.ErrImageTooLarge):
		return " (raise --max-pixels to read it)"
	case errors.Is(err, run.ErrNoRunConfig):
		return " (pass --config FILE)"
	case errors.Is(err, run.ErrOutputExists):
		return " (pass --force to overwrite)"
	case errors.Is(err, run.ErrNoFace):
		return " (give a landmark file or --box, or --detect never to fit the whole image)"
	case errors.Is(err, run.ErrDetectMode):
		return " (--detect)"
	}
	return ""
}

// usageError marks a command-line mistake (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// parseFlags parses args; -h and --help (usage already printed by the
// flag set) come back as flag.ErrHelp, which exits 0, other mistakes as
// usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usagef("%v", err)
}

// maxPixelsFlag adds --max-pixels to fs.
func maxPixelsFlag(fs *flag.FlagSet) *int64 {
	return fs.Int64("max-pixels", dataset.DefaultMaxPixels, "largest image (width x height) read; larger ones are refused before decoding")
}

// checkMaxPixels validates --max-pixels.
func checkMaxPixels(v int64) error {
	if v < 1 {
		return usagef("--max-pixels %d: want a positive number of pixels", v)
	}
	return nil
}

// multiFlag collects repeated flags (--set a=b --set c=d).
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
