// Command quickstart writes the README's example photograph,
// scripts/quickstart/photo.jpg: a face that the product renders itself
// from its embedded default model (so the repository holds no licensed
// image), with the training renders' realism, at 360 x 360 pixels.
//
//	go run ./scripts/quickstart [--index 7] [--out scripts/quickstart/photo.jpg]
//
// The README then shows `stn3d normalize` on it (scripts/quickstart/result.png
// is the panel that command writes).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/run"
	"github.com/stn3d/stn3d/internal/atomicfile"
)

func main() {
	index := flag.Int("index", 7, "which render of the seeded sequence")
	size := flag.Int("size", 360, "image side in pixels")
	out := flag.String("out", "scripts/quickstart/photo.jpg", "JPEG (or .png) file to write")
	flag.Parse()
	if err := write(*index, *size, *out); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func write(index, size int, out string) error {
	cfg, err := run.EmbeddedConfig()
	if err != nil {
		return err
	}
	mesh, _, err := run.LoadModels(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	sc := run.SyntheticConfigFrom(cfg, size, index+1)
	sc.Photometric = dataset.Photometric{} // a clean picture: no blur, noise or JPEG of its own
	src, err := dataset.NewSynthetic(mesh, sc, "quickstart")
	if err != nil {
		return err
	}
	s, err := src.Sample(index)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if strings.HasSuffix(out, ".png") {
		err = png.Encode(&b, s.Image)
	} else {
		err = jpeg.Encode(&b, s.Image, &jpeg.Options{Quality: 92})
	}
	if err != nil {
		return err
	}
	if err := atomicfile.Write(out, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
		return err
	}
	fmt.Printf("wrote %s: render %d of the embedded config's sequence, yaw %.0f degrees\n", out, index, s.Pose.Yaw)
	return nil
}
