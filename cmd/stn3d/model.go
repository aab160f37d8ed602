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
	"time"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/internal/atomicfile"
)

func cmdModel(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return usagef("expected a subcommand: info or grid")
	}
	switch args[0] {
	case "info":
		return cmdModelInfo(args[1:], stdout, stderr)
	case "grid":
		return cmdModelGrid(args[1:], stdout, stderr, log)
	}
	return usagef("unknown subcommand %q (expected info or grid)", args[0])
}

// cmdModelInfo prints a JSON summary of a model file (or "default").
func cmdModelInfo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model info", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: stn3d model info PATH|default") }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("expected exactly one model path (or \"default\"), got %d arguments", fs.NArg())
	}
	sum, err := bfm.Info(fs.Arg(0))
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("model %s: summary: %w", fs.Arg(0), err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

// cmdModelGrid flattens and re-meshes a model into a geometry image file and
// writes PNG previews beside it.
func cmdModelGrid(args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("model grid", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modelPath := fs.String("model", "default", "model file or \"default\"")
	exprPath := fs.String("expression", "", "optional expression model to compose with")
	k1 := fs.Int("identity", 0, "identity components to keep (0 = all)")
	k2 := fs.Int("expressions", 0, "expression components to keep (0 = all)")
	size := fs.Int("size", 112, "grid rows and columns")
	out := fs.String("out", "", "output grid file (.grid)")
	useUV := fs.Bool("use-model-uv", false, "use the model's own UVs instead of the symmetric Tutte flattening")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out FILE is required")
	}
	if *size < 4 || *size > 2048 {
		return usagef("--size %d out of range (4..2048)", *size)
	}
	t0 := time.Now()
	m, err := loadComposed(*modelPath, *exprPath, *k1, *k2)
	if err != nil {
		return err
	}
	gm, err := bfm.BuildGrid(m, bfm.GridOptions{Rows: *size, Cols: *size, UseModelUV: *useUV})
	if err != nil {
		return fmt.Errorf("re-meshing %s: %w", *modelPath, err)
	}
	if err := atomicfile.MkdirAll(filepath.Dir(*out)); err != nil {
		return err
	}
	if err := bfm.SaveGrid(*out, gm); err != nil {
		return err
	}
	base := strings.TrimSuffix(*out, filepath.Ext(*out))
	uvPNG, giPNG := base+"_uv.png", base+"_geometry.png"
	uv := m.UV
	if !*useUV || uv == nil {
		if uv, err = bfm.Flatten(m, bfm.FlattenOptions{}); err != nil {
			return fmt.Errorf("flattening %s: %w", *modelPath, err)
		}
	}
	if err := bfm.WriteUVPreview(uvPNG, uv, m.Triangles, 1024); err != nil {
		return err
	}
	if err := bfm.WriteGeometryImagePNG(giPNG, gm); err != nil {
		return err
	}
	log.Info("grid written", "file", *out, "rows", gm.Rows, "cols", gm.Cols,
		"components", gm.NumComponents(), "uv_preview", uvPNG, "geometry_image", giPNG,
		"seconds", time.Since(t0).Seconds())
	return nil
}

// loadComposed loads a model (and optionally an expression model) and keeps
// the first k1 identity and k2 expression components (0 = all).
func loadComposed(path, exprPath string, k1, k2 int) (*bfm.Model, error) {
	m, err := bfm.Load(path)
	if err != nil {
		return nil, err
	}
	var expr *bfm.Model
	if exprPath != "" {
		if expr, err = bfm.Load(exprPath); err != nil {
			return nil, err
		}
	}
	if k1 == 0 && k2 == 0 && expr == nil {
		return m, nil
	}
	return bfm.Compose(m, k1, expr, k2)
}
