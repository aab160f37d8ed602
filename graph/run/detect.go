package run

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/detect"
	"github.com/stn3d/stn3d/internal/workpool"
)

// Detection modes of NormalizeOptions.Detect and EvalOptions.Detect.
const (
	// DetectAuto finds faces with the detector when an image has neither
	// a landmark file nor a box.
	DetectAuto = "auto"
	// DetectAlways finds faces with the detector in every image.
	DetectAlways = "always"
	// DetectNever never runs the detector (a photograph without landmarks
	// or box is cropped whole).
	DetectNever = "never"
)

// ErrNoFace reports a photograph in which the detector found no face.
var ErrNoFace = errors.New("no face found")

// ErrDetectMode reports an unknown detection mode.
var ErrDetectMode = errors.New("detection mode: want auto, always or never")

func checkDetectMode(m string) (string, error) {
	switch m {
	case "":
		return DetectAuto, nil
	case DetectAuto, DetectAlways, DetectNever:
		return m, nil
	}
	return "", fmt.Errorf("%q: %w", m, ErrDetectMode)
}

// OutputStems names each input's outputs after its file stem, as normalize
// does (non-alphanumerics replaced by '_'; a stem already taken, compared
// without case, gets "-2", "-3", ...).
func OutputStems(files []string) []string { return outputStems(files) }

// NormalizeDetection is the detector's face that a crop came from.
type NormalizeDetection struct {
	// Face is the face's index in the photograph (best score first).
	Face int `json:"face"`
	// Box is the detected box (68-landmark-box convention) x0, y0, x1, y1.
	Box   [4]float64 `json:"box"`
	Score float64    `json:"score"`
}

// normJob is one face to fit: an input file and, when the detector found
// it, the detection (stem then names the face: STEM_faceK).
type normJob struct {
	input, stem string
	det         *NormalizeDetection
}

// annotationOf returns the .pts or .ljson file beside an image, or "".
func annotationOf(input string) string {
	stem := strings.TrimSuffix(input, filepath.Ext(input))
	for _, ext := range []string{".pts", ".ljson"} {
		if fileExists(stem + ext) {
			return stem + ext
		}
	}
	return ""
}

// detectJobs expands files into one job per face: files the detector is not
// used on (mode never; mode auto with a box or a landmark file) keep one
// job; the others get one per detected face, and a photograph where none is
// found, or that cannot be read, is a failure naming it.
func detectJobs(files, stems []string, mode string, box bool, det *detect.Detector, dopt detect.Options, maxPixels int64) ([]normJob, []NormalizeFailure) {
	per := make([][]normJob, len(files))
	errs := make([]error, len(files))
	workpool.For(len(files), workpool.Heavy, func(i int) {
		f := files[i]
		if mode == DetectNever || (mode == DetectAuto && (box || annotationOf(f) != "")) {
			per[i] = []normJob{{input: f, stem: stems[i]}}
			return
		}
		img, err := dataset.LoadImageMax(f, maxPixels)
		if err != nil {
			errs[i] = err
			return
		}
		dets, err := det.Detect(img, dopt)
		if err != nil {
			errs[i] = fmt.Errorf("%s: %w", f, err)
			return
		}
		if len(dets) == 0 {
			errs[i] = fmt.Errorf("%s: %w", f, ErrNoFace)
			return
		}
		for k, d := range dets {
			per[i] = append(per[i], normJob{input: f, stem: fmt.Sprintf("%s_face%d", stems[i], k),
				det: &NormalizeDetection{Face: k, Box: [4]float64{d.Box.X0, d.Box.Y0, d.Box.X1, d.Box.Y1}, Score: d.Score}})
		}
	})
	var jobs []normJob
	var bad []NormalizeFailure
	for i := range files {
		if errs[i] != nil {
			bad = append(bad, NormalizeFailure{Input: files[i], Err: errs[i]})
			continue
		}
		jobs = append(jobs, per[i]...)
	}
	return jobs, bad
}

// detectionCropBox returns the box to crop a detection with UseBox so that
// the crop equals the one from landmarks with that box: the detector's box
// is in the 68-landmark-box convention, and a landmark crop puts the box
// centre offsetY box sides below the crop centre.
func detectionCropBox(b [4]float64, offsetY float64) dataset.Box {
	l := max(b[2]-b[0], b[3]-b[1]) + 1
	return dataset.Box{X0: b[0], Y0: b[1] - offsetY*l, X1: b[2], Y1: b[3] - offsetY*l}
}

// detectorFor returns det, or the embedded detector when det is nil and
// mode may need one.
func detectorFor(det *detect.Detector, mode string) (*detect.Detector, error) {
	if det != nil || mode == DetectNever {
		return det, nil
	}
	return detect.Default()
}

// detectedCrop returns s with Box set so that a UseBox crop of it is the
// crop from the detection best overlapping its landmark box (IoU >= 0.5),
// or an error wrapping ErrNoFace when there is none.
func detectedCrop(det *detect.Detector, s dataset.Sample, offsetY float64) (dataset.Sample, error) {
	truth, err := dataset.FaceBox(s, false)
	if err != nil {
		return s, err
	}
	dets, err := det.Detect(s.Image, detect.Options{})
	if err != nil {
		return s, fmt.Errorf("%s: %w", s.Name, err)
	}
	tb := detect.Box{X0: truth.X0, Y0: truth.Y0, X1: truth.X1, Y1: truth.Y1}
	best, bv := -1, 0.5
	for i, d := range dets {
		if v := detect.IoU(d.Box, tb); v >= bv {
			best, bv = i, v
		}
	}
	if best < 0 {
		return s, fmt.Errorf("%s: %w (%d detections, none with IoU >= 0.5)", s.Name, ErrNoFace, len(dets))
	}
	b := dets[best].Box
	box := detectionCropBox([4]float64{b.X0, b.Y0, b.X1, b.Y1}, offsetY)
	s.Box = &box
	return s, nil
}
