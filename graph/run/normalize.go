package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/internal/atomicfile"
	"github.com/stn3d/stn3d/internal/workpool"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
)

// NormalizeOptions are the choices of "stn3d normalize": apply a trained
// model to photographs and write, for each, its pose-normalised texture
// (the STN's output grid, Bas et al. 2017 Sec. 3.2), visibility mask, fitted
// mesh, pose and landmarks.
//
// Crops. The network sees a square crop resized to its input size
// (dataset.CropSample). An image with landmarks beside it (STEM.pts, else
// STEM.ljson) is cropped to the box of its visible landmarks enlarged by
// Margin on every side; Box, when set, is used for every image instead; an
// image with neither goes to the face detector (Detect auto, the default):
// each face found is cropped from its box, calibrated to the landmark-box
// convention, as a landmark box would be, and fitted on its own with
// outputs STEM_faceK_*; a photograph without a face is a failure naming
// it. Detect always detects in every image, Detect never crops an image
// without landmarks or Box whole (a square of side max(width, height),
// centred, padded with black, no margin).
type NormalizeOptions struct {
	// Checkpoint is a checkpoint file or a run directory (see
	// ResolveCheckpoint).
	Checkpoint string
	// Config is the YAML config; empty means the run directory's
	// config.yaml (the directory of the checkpoint file).
	Config string
	// Out is the output directory (created if missing).
	Out string
	// Inputs are image files or folders, walked recursively for image
	// files (dataset.IsImageFile).
	Inputs []string
	// Fill also writes the mirror-filled texture and its confidence map
	// (see FillFromMirror).
	Fill bool
	// Force overwrites existing outputs; without it an image whose outputs
	// exist is refused (and counted as failed) before anything is written.
	Force bool
	// Batch is the number of images per forward pass (0 = eval.batch).
	Batch int
	// Margin is the crop margin around a landmark box or Box, as a fraction
	// of its larger side; negative means data.margin of the config.
	Margin float64
	// Box is one face box (original pixels, x0 < x1, y0 < y1) for every
	// input, or nil.
	Box *dataset.Box
	// MaxPixels is the largest image (width x height) read; larger ones
	// are refused before decoding (0 = dataset.DefaultMaxPixels).
	MaxPixels int64
	// Detect is DetectAuto ("" too), DetectAlways or DetectNever; Detector
	// (nil: the embedded one) and DetectOptions are used when it applies.
	Detect        string
	Detector      *detect.Detector
	DetectOptions detect.Options
	// Progress (optional) receives one line per batch.
	Progress io.Writer
	Log      *slog.Logger
}

// ErrOutputExists reports an output file that exists while overwriting
// was not asked for.
var ErrOutputExists = errors.New("already exists")

// NormalizeFailure is one input that was skipped, with the reason.
type NormalizeFailure struct {
	Input string
	Err   error
}

// NormalizeResult summarises a run: the JSON file written per processed
// image (in input order) and the inputs that were skipped.
type NormalizeResult struct {
	Processed []string
	Failed    []NormalizeFailure
}

// Summary is the one-line count of processed and skipped images.
func (r *NormalizeResult) Summary() string {
	return fmt.Sprintf("normalize: %d processed, %d skipped", len(r.Processed), len(r.Failed))
}

// NormalizeRecord is the JSON written for each image (STEM.json). All
// positions are in the original image's pixels (x right, y down, (0, 0) the
// centre of the top-left pixel).
type NormalizeRecord struct {
	Input string `json:"input"`
	// ImageSize is width, height of the original image.
	ImageSize  [2]int        `json:"image_size"`
	Checkpoint string        `json:"checkpoint"`
	Crop       NormalizeCrop `json:"crop"`
	Pose       NormalizePose `json:"pose"`
	// Alpha are the shape weights (N(0, I) units, Eq. 1).
	Alpha []float64 `json:"alpha"`
	// Landmarks by scheme ("aflw21", "ibug68") for each scheme the grid
	// model has.
	Landmarks map[string]NormalizeLandmarks `json:"landmarks"`
	// Files maps an output kind ("texture", "mask", "texture_filled",
	// "confidence", "panel", "obj", "mtl", "ply") to its file name in the
	// output directory.
	Files map[string]string `json:"files"`
}

// NormalizeCrop records how the network input was cut from the image.
type NormalizeCrop struct {
	// Source is "landmarks" (Annotation names the file), "box" (--box),
	// "detector" (Detection) or "image" (the whole image).
	Source     string              `json:"source"`
	Annotation string              `json:"annotation,omitempty"`
	Detection  *NormalizeDetection `json:"detection,omitempty"`
	// FaceBox is the box the crop is centred on, x0, y0, x1, y1.
	FaceBox [4]float64 `json:"face_box"`
	// Margin is the fraction added on every side.
	Margin float64 `json:"margin"`
	// Region is the square of original pixels cropped, x0, y0, x1, y1
	// (x1, y1 exclusive; it may leave the image, padded black).
	Region [4]int `json:"region"`
	// Size is the network input side; a crop point (u, v) is
	// (Scale x + Offset[0], Scale y + Offset[1]).
	Size   int        `json:"size"`
	Scale  float64    `json:"scale"`
	Offset [2]float64 `json:"offset"`
}

// NormalizePose is the fitted camera (Eqs. 2-5): a model point X maps to
// the original image as (x, y) = t + s (X'_x, -X'_y) with X' = R X.
type NormalizePose struct {
	// Yaw, Pitch, Roll in degrees (dataset.PoseFromRotation of R).
	Yaw   float64 `json:"yaw"`
	Pitch float64 `json:"pitch"`
	Roll  float64 `json:"roll"`
	// R is the rotation, row-major.
	R [9]float64 `json:"R"`
	// T in original pixels, S in original pixels per model unit.
	T [2]float64 `json:"t"`
	S float64    `json:"s"`
	// TCrop and SCrop are the same in the network input's pixels.
	TCrop [2]float64 `json:"t_crop"`
	SCrop float64    `json:"s_crop"`
}

// NormalizeLandmarks are one scheme's fitted landmarks: the projection of
// each landmark's grid vertex (null where the grid model lacks it),
// visible where the vertex's mask is 1 (it faces the viewer).
type NormalizeLandmarks struct {
	Points  []*[2]float64 `json:"points"`
	Visible []bool        `json:"visible"`
	Vertex  []int         `json:"vertex"`
}

// CollectImages expands inputs (files or folders) into image files: a file
// is taken as it is (whatever its extension), a folder is walked
// recursively for image files (dataset.IsImageFile: .jpg, .jpeg, .png,
// .ppm, .pgm, .pnm in any case) in
// lexical order. Missing inputs and unreadable folders are returned as
// failures, never stopping the others.
func CollectImages(inputs []string) ([]string, []NormalizeFailure) {
	return collectImages(inputs, "")
}

// collectImages is CollectImages leaving out what Normalize writes to out:
// a folder walked never yields the output folder's contents (when out is
// inside it) or, when out is the folder itself, the PNGs named like
// Normalize's outputs (isNormalizeOutput), so that a second run does not
// take the first one's outputs for photographs.
func collectImages(inputs []string, out string) ([]string, []NormalizeFailure) {
	var outInfo os.FileInfo // nil when out is absent: nothing to leave out
	if st, err := os.Stat(out); out != "" && err == nil {
		outInfo = st
	}
	isOut := func(p string) bool {
		if outInfo == nil {
			return false
		}
		st, err := os.Stat(p)
		return err == nil && os.SameFile(st, outInfo)
	}
	var files []string
	var bad []NormalizeFailure
	for _, in := range inputs {
		st, err := os.Stat(in)
		if err != nil {
			bad = append(bad, NormalizeFailure{Input: in, Err: fmt.Errorf("input: %w", err)})
			continue
		}
		if !st.IsDir() {
			files = append(files, in)
			continue
		}
		var found []string
		rootIsOut := isOut(in)
		err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				bad = append(bad, NormalizeFailure{Input: p, Err: fmt.Errorf("reading folder: %w", err)})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() && p != in && isOut(p) {
				return fs.SkipDir
			}
			if rootIsOut && filepath.Dir(p) == filepath.Clean(in) && isNormalizeOutput(d.Name()) {
				return nil
			}
			if !d.IsDir() && dataset.IsImageFile(p) {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			bad = append(bad, NormalizeFailure{Input: in, Err: fmt.Errorf("reading folder: %w", err)})
		}
		if len(found) == 0 && err == nil {
			bad = append(bad, NormalizeFailure{Input: in, Err: errors.New("folder holds no image (" + strings.Join(dataset.ImageExtensions(), ", ") + ")")})
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, bad
}

// outputStems names each input's outputs after its file stem (non
// alphanumerics replaced by '_'); a stem already taken (compared without
// case) gets "-2", "-3", ...
func outputStems(files []string) []string {
	used := map[string]bool{}
	out := make([]string, len(files))
	for i, f := range files {
		base := dataset.FileStem(f)
		if base == "" {
			base = "image"
		}
		s := base
		for k := 2; used[strings.ToLower(s)]; k++ {
			s = fmt.Sprintf("%s-%d", base, k)
		}
		used[strings.ToLower(s)] = true
		out[i] = s
	}
	return out
}

// normalizeImageSuffixes end the names of the images Normalize writes.
var normalizeImageSuffixes = []string{"_texture.png", "_mask.png", "_texture_filled.png", "_confidence.png", "_panel.png"}

// isNormalizeOutput reports whether a file name is one of the images
// Normalize writes.
func isNormalizeOutput(name string) bool {
	for _, s := range normalizeImageSuffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// normalizeOutputs returns the output kinds and file names of stem.
func normalizeOutputs(stem string, fill bool) [][2]string {
	o := [][2]string{{"texture", stem + "_texture.png"}, {"mask", stem + "_mask.png"}}
	if fill {
		o = append(o, [2]string{"texture_filled", stem + "_texture_filled.png"}, [2]string{"confidence", stem + "_confidence.png"})
	}
	return append(o, [2]string{"panel", stem + "_panel.png"}, [2]string{"json", stem + ".json"},
		[2]string{"obj", stem + ".obj"}, [2]string{"mtl", stem + ".mtl"}, [2]string{"ply", stem + ".ply"})
}

// normItem is one input on its way through a batch.
type normItem struct {
	input, stem string
	det         *NormalizeDetection
	// size is the original image's width and height.
	size [2]int
	crop dataset.Sample
	tr   dataset.CropTransform
	info NormalizeCrop
	err  error
	// orig is the loaded image, kept for eval.refine's passes.
	orig dataset.Sample
}

// Normalize loads a trained model and writes, for each input image, into
// opt.Out (file names after the input's stem STEM):
//
//	STEM_texture.png         the sampled texture, Rows x Cols RGB: texel
//	                         (row, col) is grid vertex row*Cols+col (Eq. 6)
//	STEM_mask.png            its visibility mask (255 visible, 0 hidden)
//	STEM_texture_filled.png  with Fill: see FillFromMirror
//	STEM_confidence.png      with Fill: 255 own texel, 128 mirror, 0 none
//	STEM_panel.png           a Figure-6 panel of the network input
//	STEM.json                NormalizeRecord
//	STEM.obj, STEM.mtl       the fitted mesh, textured (see GridMesh)
//	STEM.ply                 the fitted mesh, ASCII, vertex colours
//
// The mesh frame: x, y are the vertex's projection in original-image
// pixels (x right, y down), z = s Z' / crop scale is its depth in the same
// pixel units, larger = nearer the viewer (so the frame is left-handed,
// and viewers that assume y up show the face upside down). Triangles are
// wound so that their right-hand-rule normals, computed in the file's
// coordinates, point towards +z (out of the face, towards the camera).
// Invalid grid vertices and their triangles are omitted. The texture of the mesh files
// is the filled one with Fill.
//
// Images that fail (unreadable, corrupt, bad landmark file, existing
// outputs without Force) are reported in the result and the rest go on;
// the returned error is non-nil when any input failed.
func Normalize(ctx context.Context, opt NormalizeOptions) (_ *NormalizeResult, err error) {
	log := opt.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.Out == "" {
		return nil, errors.New("normalize: no output directory")
	}
	if len(opt.Inputs) == 0 {
		return nil, errors.New("normalize: no input images")
	}
	if opt.Batch < 0 {
		return nil, fmt.Errorf("normalize: batch %d: want >= 1", opt.Batch)
	}
	if opt.MaxPixels < 0 {
		return nil, fmt.Errorf("normalize: max pixels %d: want >= 0 (0 = %d)", opt.MaxPixels, dataset.DefaultMaxPixels)
	}
	if b := opt.Box; b != nil {
		if !(b.X1 > b.X0 && b.Y1 > b.Y0) || !isFiniteBox(*b) {
			return nil, fmt.Errorf("normalize: box %v,%v,%v,%v: want finite x0 < x1 and y0 < y1", b.X0, b.Y0, b.X1, b.Y1)
		}
	}
	mode, err := checkDetectMode(opt.Detect)
	if err != nil {
		return nil, fmt.Errorf("normalize: %w", err)
	}
	det, err := detectorFor(opt.Detector, mode)
	if err != nil {
		return nil, fmt.Errorf("normalize: %w", err)
	}
	var cfgOverride *Config
	if opt.Config != "" {
		cfg, err := LoadConfig(opt.Config, nil)
		if err != nil {
			return nil, err
		}
		cfgOverride = &cfg
	}
	tm, err := LoadTrained(opt.Checkpoint, cfgOverride, log)
	if err != nil {
		return nil, err
	}
	cfg, grid, ckPath := tm.Config, tm.Grid, tm.CheckpointPath
	batch, key := opt.Batch, "normalize: batch"
	if batch == 0 {
		batch, key = max(cfg.Eval.Batch, 1), "normalize: eval.batch"
	}
	if err := checkBatchMemory(key, batch, cfg, false, 0); err != nil {
		return nil, err
	}
	model, err := tm.Network(batch, false)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, model.Close()) }()
	margin := opt.Margin
	if margin < 0 {
		margin = cfg.Data.Margin
	}
	if err := atomicfile.MkdirAll(opt.Out); err != nil {
		return nil, fmt.Errorf("normalize: output directory: %w", err)
	}

	files, bad := collectImages(opt.Inputs, opt.Out)
	res := &NormalizeResult{Failed: bad}
	for _, f := range bad {
		log.Debug("skipped", "input", f.Input, "reason", f.Err)
	}
	jobs, noFace := detectJobs(files, outputStems(files), mode, opt.Box != nil, det, opt.DetectOptions, opt.MaxPixels)
	res.Failed = append(res.Failed, noFace...)
	for _, f := range noFace {
		log.Info("skipped", "input", f.Input, "reason", f.Err)
	}
	w := &normWriter{opt: opt, gm: grid, tri: bfm.GridTriangles(grid.Rows, grid.Cols), ckPath: ckPath}
	per := 3 * model.InputSize * model.InputSize
	buf := make([]float32, batch*per)
	var fits []graph.Fit // reused batch after batch (written before the next)
	t0 := time.Now()
	for start := 0; start < len(jobs); start += batch {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("normalize: interrupted after %d of %d faces: %w", start, len(jobs), err)
		}
		items := make([]normItem, min(batch, len(jobs)-start))
		workpool.For(len(items), workpool.Heavy, func(j int) {
			it := &items[j]
			it.input, it.stem, it.det = jobs[start+j].input, jobs[start+j].stem, jobs[start+j].det
			it.err = prepareNormItem(it, opt, model.InputSize, margin, cfg.Data.LandmarkOffsetY)
		})
		var ok []int
		for j := range items {
			if items[j].err != nil {
				continue
			}
			if err := toInput(buf[len(ok)*per:(len(ok)+1)*per], items[j].crop.Image, model.InputSize); err != nil {
				items[j].err = fmt.Errorf("%s: %w", items[j].input, err)
				continue
			}
			ok = append(ok, j)
		}
		if len(ok) > 0 {
			fits, err = model.FitInto(fits, buf[:len(ok)*per])
			if err != nil {
				return res, fmt.Errorf("normalize: %w", err)
			}
			if fits, err = refineNormalize(items, ok, fits, buf, model, cfg.Eval.Refine, cfg.Data.Margin, cfg.Data.LandmarkOffsetY); err != nil {
				return res, fmt.Errorf("normalize: %w", err)
			}
			workpool.For(len(ok), workpool.Heavy, func(i int) {
				it := &items[ok[i]]
				it.err = w.write(it, fits[i])
			})
		}
		for j := range items {
			it := &items[j]
			if it.err != nil {
				res.Failed = append(res.Failed, NormalizeFailure{Input: it.input, Err: it.err})
				log.Debug("skipped", "input", it.input, "reason", it.err)
				continue
			}
			res.Processed = append(res.Processed, filepath.Join(opt.Out, it.stem+".json"))
		}
		if opt.Progress != nil {
			done := start + len(items)
			el := time.Since(t0).Seconds()
			fmt.Fprintf(opt.Progress, "normalize %d/%d  processed %d  skipped %d  %.1f img/s\n",
				done, len(jobs), len(res.Processed), len(res.Failed), float64(done)/max(el, 1e-9))
		}
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("%s (of %d inputs); first failure: %s: %w", res.Summary(), len(files)+len(bad),
			res.Failed[0].Input, res.Failed[0].Err)
	}
	return res, nil
}

func isFiniteBox(b dataset.Box) bool {
	for _, v := range []float64{b.X0, b.Y0, b.X1, b.Y1} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// prepareNormItem checks the outputs are free, loads the image and its
// landmarks (if any) and crops it to the network input.
func prepareNormItem(it *normItem, opt NormalizeOptions, size int, margin, offsetY float64) error {
	if !opt.Force {
		for _, o := range normalizeOutputs(it.stem, opt.Fill) {
			p := filepath.Join(opt.Out, o[1])
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("output %s %w", p, ErrOutputExists)
			}
		}
	}
	f, err := cropFace(it.input, faceCropOptions{Det: it.det, Box: opt.Box, MaxPixels: opt.MaxPixels, Size: size, Margin: margin, OffsetY: offsetY})
	if err != nil {
		return err
	}
	it.size, it.crop, it.tr, it.info, it.orig = f.size, f.crop, f.tr, f.info, f.orig
	return nil
}

// faceCropOptions say how cropFace finds and cuts the face of a
// photograph: the detector's face Det when set, else Box (original
// pixels) for every input, else the landmarks of a .pts or .ljson file
// beside the image (enlarged by Margin, the box centre OffsetY box sides
// below the crop centre), else the whole image; the crop is Size x Size;
// MaxPixels bounds the decoded image.
type faceCropOptions struct {
	Det       *NormalizeDetection
	Box       *dataset.Box
	MaxPixels int64
	Size      int
	Margin    float64
	OffsetY   float64
}

// faceCrop is one photograph cut to the network input.
type faceCrop struct {
	size [2]int // original width, height
	crop dataset.Sample
	tr   dataset.CropTransform
	info NormalizeCrop
	// orig is the loaded image, kept for eval.refine's passes.
	orig dataset.Sample
}

// cropFace loads the image input and cuts its face to the network input
// (see faceCropOptions), recording how.
func cropFace(input string, opt faceCropOptions) (faceCrop, error) {
	var out faceCrop
	img, err := dataset.LoadImageMax(input, opt.MaxPixels)
	if err != nil {
		return out, err
	}
	out.size = [2]int{img.Bounds().Dx(), img.Bounds().Dy()}
	s := dataset.Sample{Name: input, Image: img}
	info := NormalizeCrop{Margin: opt.Margin}
	ann := annotationOf(input)
	b := img.Bounds()
	useBox := opt.Box != nil
	switch {
	case opt.Det != nil:
		box := detectionCropBox(opt.Det.Box, opt.OffsetY)
		s.Box, useBox = &box, true
		info.Source, info.Detection, ann = "detector", opt.Det, ""
	case opt.Box != nil:
		box := *opt.Box
		s.Box = &box
		info.Source = "box"
	case ann != "":
		lm, scheme, err := readAnnotation(ann)
		if err != nil {
			return out, err
		}
		s.Landmarks = map[string]dataset.Landmarks{scheme: lm}
		info.Source, info.Annotation = "landmarks", ann
	default:
		s.Box = &dataset.Box{X0: 0, Y0: 0, X1: float64(b.Dx() - 1), Y1: float64(b.Dy() - 1)}
		info.Source, info.Margin = "image", 0
	}
	fb, err := dataset.FaceBox(s, useBox)
	if err != nil {
		if ann != "" {
			return out, fmt.Errorf("landmarks %s: %w", ann, err)
		}
		return out, err
	}
	cs, tr, err := dataset.CropSample(s, dataset.CropOptions{Size: opt.Size, Margin: info.Margin, UseBox: useBox, LandmarkOffsetY: opt.OffsetY})
	if err != nil {
		return out, err // names the image
	}
	info.FaceBox = [4]float64{fb.X0, fb.Y0, fb.X1, fb.Y1}
	info.Region = [4]int{tr.Region.Min.X, tr.Region.Min.Y, tr.Region.Max.X, tr.Region.Max.Y}
	info.Size, info.Scale, info.Offset = opt.Size, tr.Scale, [2]float64{tr.OffX, tr.OffY}
	out.crop, out.tr, out.info, out.orig = cs, tr, info, dataset.Sample{Name: input, Image: img}
	return out, nil
}

// readAnnotation reads a .pts or .ljson landmark file; the scheme follows
// from the number of points (21: aflw21, 68: ibug68).
func readAnnotation(path string) (dataset.Landmarks, string, error) {
	if strings.EqualFold(filepath.Ext(path), ".ljson") {
		lm, scheme, err := dataset.ReadLJSON(path, "")
		if err != nil {
			return lm, "", err
		}
		if scheme == "" {
			return lm, "", fmt.Errorf("landmarks %s: %d points, want 21 or 68", path, len(lm.Points))
		}
		return lm, scheme, nil
	}
	pts, err := dataset.ReadPTS(path)
	if err != nil {
		return dataset.Landmarks{}, "", err
	}
	scheme := ""
	for _, sc := range bfm.Schemes() {
		if bfm.SchemeSize(sc) == len(pts) {
			scheme = sc
		}
	}
	if scheme == "" {
		return dataset.Landmarks{}, "", fmt.Errorf("landmarks %s: %d points, want 21 or 68", path, len(pts))
	}
	vis := make([]bool, len(pts))
	for i := range vis {
		vis[i] = true
	}
	return dataset.Landmarks{Points: pts, Visible: vis}, scheme, nil
}

// FillFromMirror completes a C x N texture (channel-major, N = Rows*Cols)
// by symmetry: a hidden texel (mask < 0.5) whose mirror texel
// (GridModel.Mirror: col -> Cols-1-col) is visible takes the mirror's
// colour. The confidence per texel is 1 where the texel itself is visible,
// 0.5 where it was filled from its mirror and 0 where neither is visible
// (the texel is then black). Invalid grid vertices have mask 0 and so end
// up black with confidence 0 unless their mirror is visible.
func FillFromMirror(gm *bfm.GridModel, tex, mask []float32) (filled, conf []float32, err error) {
	n := gm.N()
	if len(mask) != n || n == 0 || len(tex)%n != 0 {
		return nil, nil, fmt.Errorf("graph: fill: texture %d values, mask %d: want C x %d and %d", len(tex), len(mask), n, n)
	}
	c := len(tex) / n
	filled = make([]float32, len(tex))
	conf = make([]float32, n)
	for k := 0; k < n; k++ {
		src := -1
		switch m := gm.Mirror(k); {
		case mask[k] >= 0.5:
			src, conf[k] = k, 1
		case mask[m] >= 0.5:
			src, conf[k] = m, 0.5
		}
		if src < 0 {
			continue
		}
		for ch := 0; ch < c; ch++ {
			filled[ch*n+k] = tex[ch*n+src]
		}
	}
	return filled, conf, nil
}

// TextureImage converts a C x Rows x Cols texture (C = 1 or 3, values in
// [0, 1]) into an RGB image, texel (row, col) at pixel (col, row).
func TextureImage(tex []float32, rows, cols int) (*image.RGBA, error) {
	n := rows * cols
	if n <= 0 || (len(tex) != n && len(tex) != 3*n) {
		return nil, fmt.Errorf("graph: texture image: %d values, want 1 or 3 x %d x %d", len(tex), rows, cols)
	}
	c := len(tex) / n
	img := image.NewRGBA(image.Rect(0, 0, cols, rows))
	for k := 0; k < n; k++ {
		p := img.Pix[4*k : 4*k+4]
		for ch := 0; ch < 3; ch++ {
			p[ch] = toByte(tex[min(ch, c-1)*n+k])
		}
		p[3] = 255
	}
	return img, nil
}

// grayImage writes values in [0, 1] as an 8-bit grey image (round(255 v)).
func grayImage(v []float32, rows, cols int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, cols, rows))
	for k := range v {
		img.Pix[k] = toByte(v[k])
	}
	return img
}

// normWriter writes the outputs of one image.
type normWriter struct {
	opt    NormalizeOptions
	gm     *bfm.GridModel
	tri    *bfm.GridTriangulation
	ckPath string
}

func (w *normWriter) write(it *normItem, f graph.Fit) error {
	gm := w.gm
	rec, err := w.record(it, f)
	if err != nil {
		return fmt.Errorf("%s: %w", it.input, err)
	}
	names := map[string]string{}
	for _, o := range normalizeOutputs(it.stem, w.opt.Fill) {
		names[o[0]] = o[1]
	}
	path := func(kind string) string { return filepath.Join(w.opt.Out, names[kind]) }
	var written []string
	fail := func(err error) error {
		for _, p := range written {
			os.Remove(p)
		}
		return fmt.Errorf("%s: %w", it.input, err)
	}
	writePNG := func(kind string, img image.Image) error {
		if err := dataset.WritePNG(path(kind), img); err != nil {
			return err
		}
		written = append(written, path(kind))
		return nil
	}
	tex, err := TextureImage(f.Texture, gm.Rows, gm.Cols)
	if err != nil {
		return fail(err)
	}
	if err := writePNG("texture", tex); err != nil {
		return fail(err)
	}
	if err := writePNG("mask", grayImage(f.Mask, gm.Rows, gm.Cols)); err != nil {
		return fail(err)
	}
	meshTex, meshTexFile := f.Texture, rec.Files["texture"]
	if w.opt.Fill {
		filled, conf, err := FillFromMirror(gm, f.Texture, f.Mask)
		if err != nil {
			return fail(err)
		}
		ft, err := TextureImage(filled, gm.Rows, gm.Cols)
		if err != nil {
			return fail(err)
		}
		if err := writePNG("texture_filled", ft); err != nil {
			return fail(err)
		}
		if err := writePNG("confidence", grayImage(conf, gm.Rows, gm.Cols)); err != nil {
			return fail(err)
		}
		meshTex, meshTexFile = filled, rec.Files["texture_filled"]
	}
	panel, err := panelFor(evalItem{sample: it.crop, fit: f}, gm, w.tri)
	if err != nil {
		return fail(err)
	}
	if err := writePNG("panel", panel); err != nil {
		return fail(err)
	}
	verts := make([][3]float64, len(f.Points2D))
	for k, p := range f.Points2D {
		q := it.tr.Invert(p)
		verts[k] = [3]float64{q[0], q[1], f.Depth[k] / it.tr.Scale}
	}
	mesh, err := GridMesh(gm, verts, meshTex)
	if err != nil {
		return fail(err)
	}
	mesh.FlipWinding() // y down: keep right-hand normals towards +z
	if err := WriteMeshFiles(mesh, path("obj"), path("mtl"), meshTexFile, path("ply")); err != nil {
		return fail(err)
	}
	written = append(written, path("obj"), path("mtl"), path("ply"))
	js, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteFile(path("json"), append(js, '\n')); err != nil {
		return fail(err)
	}
	return nil
}

// record assembles the JSON of one fitted image.
func (w *normWriter) record(it *normItem, f graph.Fit) (*NormalizeRecord, error) {
	gm := w.gm
	if len(f.Theta) != graph.ThetaFixedN+gm.NumComponents() {
		return nil, fmt.Errorf("theta has %d values, want %d", len(f.Theta), graph.ThetaFixedN+gm.NumComponents())
	}
	tr := it.tr
	pose := dataset.PoseFromRotation(f.Rotation)
	tc := [2]float64{f.Theta[graph.ThetaTrans], f.Theta[graph.ThetaTrans+1]}
	rec := &NormalizeRecord{
		Input: it.input, ImageSize: it.size, Checkpoint: w.ckPath, Crop: it.info,
		Pose: NormalizePose{Yaw: pose.Yaw, Pitch: pose.Pitch, Roll: pose.Roll, R: f.Rotation,
			T: tr.Invert(tc), S: f.Scale / tr.Scale, TCrop: tc, SCrop: f.Scale},
		Alpha:     append([]float64(nil), f.Theta[graph.ThetaShape:]...),
		Landmarks: map[string]NormalizeLandmarks{},
		Files:     map[string]string{},
	}
	for _, o := range normalizeOutputs(it.stem, w.opt.Fill) {
		rec.Files[o[0]] = o[1]
	}
	delete(rec.Files, "json")
	n := gm.N()
	for scheme, vs := range gm.Landmarks {
		l := NormalizeLandmarks{Points: make([]*[2]float64, len(vs)), Visible: make([]bool, len(vs)), Vertex: append([]int(nil), vs...)}
		for i, v := range vs {
			if v < 0 || v >= n {
				l.Vertex[i] = -1
				continue
			}
			p := tr.Invert(f.Points2D[v])
			l.Points[i] = &p
			l.Visible[i] = f.Mask[v] >= 0.5
		}
		rec.Landmarks[scheme] = l
	}
	return rec, nil
}
