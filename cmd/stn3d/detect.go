package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/graph/run"
	"github.com/stn3d/stn3d/internal/atomicfile"
)

// detectRecord is one image's result in "stn3d detect" JSON.
type detectRecord struct {
	Image  string             `json:"image"`
	Width  int                `json:"width"`
	Height int                `json:"height"`
	Faces  []detect.Detection `json:"faces"`
	Error  string             `json:"error,omitempty"`
}

func loadDetector(weights string) (*detect.Detector, error) {
	if weights == "" {
		return detect.Default()
	}
	return detect.Load(weights)
}

func cmdDetect(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("detect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	jsonOut := fs.Bool("json", false, "print one JSON array of every image's faces on standard output")
	out := fs.String("out", "", "folder for NAME_detect.png (boxes drawn) and NAME_detect.json per image")
	weights := fs.String("weights", "", "detector weights file (default: the embedded weights)")
	minFace := fs.Float64("min-face", 32, "smallest face searched, in pixels")
	thr := fs.Float64("threshold", 0, "score threshold (default: the weights' own)")
	force := fs.Bool("force", false, "overwrite existing outputs")
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		return usagef("%v", err)
	}
	if len(inputs) == 0 {
		return usagef("want at least one image or folder")
	}
	det, err := loadDetector(*weights)
	if err != nil {
		return err
	}
	opt := detect.Options{MinFace: *minFace, Threshold: *thr}
	files, bad := run.CollectImages(inputs)
	for _, b := range bad {
		log.Error("skipped", "input", b.Input, "err", b.Err)
	}
	if *out != "" {
		if err := atomicfile.MkdirAll(*out); err != nil {
			return err
		}
	}
	stems := run.OutputStems(files)
	var recs []detectRecord
	failed := len(bad)
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := detectOne(det, f, opt, *out, stems[i], *force)
		if err != nil {
			log.Error("skipped", "image", f, "err", err)
			rec.Error = err.Error()
			failed++
		}
		recs = append(recs, rec)
		if !*jsonOut {
			if err == nil {
				fmt.Fprintf(stdout, "%s: %d face(s)", f, len(rec.Faces))
				for _, d := range rec.Faces {
					fmt.Fprintf(stdout, " [%.0f %.0f %.0f %.0f %.2f]", d.Box.X0, d.Box.Y0, d.Box.X1, d.Box.Y1, d.Score)
				}
				fmt.Fprintln(stdout)
			}
		}
	}
	if *jsonOut {
		b, err := json.MarshalIndent(recs, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d inputs skipped", failed, len(files)+len(bad))
	}
	return nil
}

func detectOne(det *detect.Detector, path string, opt detect.Options, out, stem string, force bool) (detectRecord, error) {
	rec := detectRecord{Image: path, Faces: []detect.Detection{}}
	img, err := dataset.LoadImage(path)
	if err != nil {
		return rec, err
	}
	rec.Width, rec.Height = img.Bounds().Dx(), img.Bounds().Dy()
	dets, err := det.Detect(img, opt)
	if err != nil {
		return rec, err
	}
	rec.Faces = dets
	if out == "" {
		return rec, nil
	}
	pngPath := filepath.Join(out, stem+"_detect.png")
	jsonPath := filepath.Join(out, stem+"_detect.json")
	if !force {
		for _, p := range []string{pngPath, jsonPath} {
			if _, err := os.Stat(p); err == nil {
				return rec, fmt.Errorf("%s: %w", p, run.ErrOutputExists)
			}
		}
	}
	pic := detect.Drawn(img, dets)
	if err := atomicfile.Write(pngPath, func(w io.Writer) error { return png.Encode(w, pic) }); err != nil {
		return rec, err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return rec, err
	}
	return rec, atomicfile.WriteFile(jsonPath, append(b, '\n'))
}
