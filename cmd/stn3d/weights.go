package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/stn3d/stn3d/graph/run"
)

func cmdWeights(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return usagef("expected a subcommand: export or info")
	}
	switch args[0] {
	case "export":
		return cmdWeightsExport(args[1:], stdout, stderr, log)
	case "info":
		return cmdWeightsInfo(args[1:], stdout, stderr)
	}
	return usagef("unknown subcommand %q (expected export or info)", args[0])
}

// cmdWeightsExport writes a run's localiser as a pretrained model file and
// says whether its weights are those embedded in this binary.
func cmdWeightsExport(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("weights export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runDir := fs.String("run", "", "run directory (its best checkpoint) or checkpoint file (required)")
	out := fs.String("out", "", "pretrained model file to write (required)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *runDir == "" || *out == "" {
		return usagef("--run DIR and --out FILE are required")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	commit, modified := buildRevision()
	meta, err := run.ExportPretrained(run.ExportOptions{Run: *runDir, Out: *out, Commit: commit, Modified: modified, Log: log})
	if err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes, %d parameters (%s), step %d, validation NME %.3f%%\nweights sha256 %s\n",
		*out, st.Size(), meta.Params, meta.Dtype, meta.Step, meta.ValNME, meta.WeightsSHA256)
	if em, err := run.EmbeddedMeta(); err == nil {
		same := "no: they differ"
		if em.WeightsSHA256 == meta.WeightsSHA256 {
			same = "yes: bit-identical"
		}
		fmt.Fprintf(stdout, "same weights as embedded in this binary (%.16s): %s\n", em.WeightsSHA256, same)
	}
	return nil
}

// cmdWeightsInfo prints the metadata of a pretrained model file (default:
// the embedded one) as JSON.
func cmdWeightsInfo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("weights info", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: stn3d weights info [FILE] (default: the embedded model)") }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("expected at most one file, got %d arguments", fs.NArg())
	}
	name, data := run.EmbeddedName, run.EmbeddedWeights()
	if fs.NArg() == 1 {
		name = fs.Arg(0)
		var err error
		if data, err = os.ReadFile(name); err != nil {
			return err
		}
	}
	meta, _, err := run.DecodePretrained(name, data)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(meta)
}

// buildRevision is the VCS revision this binary was built from and whether
// the tree had uncommitted changes: from the Makefile's -ldflags (commit,
// commitModified), else from Go's VCS stamp (absent with -buildvcs=false).
func buildRevision() (string, bool) {
	if commit != "" {
		return commit, commitModified == "true"
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified
}

// printVersion prints the program's version and the embedded weights.
func printVersion(w io.Writer) {
	rev, modified := buildRevision()
	dirty := ""
	if modified {
		dirty = " (modified)"
	}
	fmt.Fprintf(w, "stn3d %s", version)
	if rev != "" {
		fmt.Fprintf(w, ", commit %.12s%s", rev, dirty)
	}
	fmt.Fprintln(w)
	meta, err := run.EmbeddedMeta()
	if err != nil {
		fmt.Fprintf(w, "embedded default model: unusable: %v\n", err)
		return
	}
	fmt.Fprintf(w, "embedded default model: %d parameters (%s), step %d, synthetic validation NME %.2f%%, made by make weights at commit %.12s, weights sha256 %.16s, geometry image %.16s\n",
		meta.Params, meta.Dtype, meta.Step, meta.ValNME, meta.Commit, meta.WeightsSHA256, meta.GridSHA256)
}
