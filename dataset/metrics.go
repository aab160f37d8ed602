package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// FailureNME is the NME (percent) above which an image counts as a failure.
const FailureNME = 10

// yawBinEdges are the |yaw| bin boundaries in degrees of the 3DDFA AFLW
// protocol: [0, 30), [30, 60), [60, 90]. Images with |yaw| > 90 fall in the
// last bin (as 3DDFA's AFLW2000-3D evaluation does, so every image with a
// pose is binned).
var yawBinEdges = [2]float64{30, 60}

// EvalInput is one image to evaluate: a prediction and its ground truth,
// both in original-image pixels, in possibly different schemes (see
// CommonLandmarks); poses in degrees (either may be nil).
type EvalInput struct {
	Name       string
	Pred       Landmarks
	PredScheme string
	GT         Landmarks
	GTScheme   string
	PredPose   *Pose
	GTPose     *Pose
}

// ImageResult is the evaluation of one image.
type ImageResult struct {
	Name string `json:"name"`
	// ErrorPx is the mean Euclidean distance over the ground truth's visible
	// points, in pixels.
	ErrorPx float64 `json:"error_px"`
	// Norm is sqrt(w h) of the visible ground-truth landmarks' bounding box.
	Norm float64 `json:"norm_px"`
	// NME is ErrorPx / Norm in percent.
	NME float64 `json:"nme"`
	// YawBin is 0, 1 or 2 (|yaw| in [0,30), [30,60), [60,90]), -1 without
	// a ground-truth pose.
	YawBin int `json:"yaw_bin"`
	// Points is the number of visible ground-truth points scored.
	Points int `json:"points"`
	// PredPose and GTPose are the predicted and true pose (degrees), when
	// known.
	PredPose *Pose `json:"pred_pose,omitempty"`
	GTPose   *Pose `json:"gt_pose,omitempty"`
}

// PoseMAE is the mean absolute pose error in degrees, angles wrapped to
// [-180, 180] before taking the absolute value, over Images images; Mean is
// (Yaw + Pitch + Roll) / 3.
type PoseMAE struct {
	Yaw    float64 `json:"yaw"`
	Pitch  float64 `json:"pitch"`
	Roll   float64 `json:"roll"`
	Mean   float64 `json:"mean"`
	Images int     `json:"images"`
}

// PoseProtocolMaxDeg bounds the ground-truth angles of the images that
// Metrics.PoseMAE averages over: the usual AFLW2000-3D head-pose protocol
// (HopeNet, FSA-Net, 3DDFA_V2, SynergyNet) leaves out the images whose
// yaw, pitch or roll lies outside [-99, 99] degrees (31 of the 2,000); near
// |yaw| = 90 their Euler angles are ill-conditioned (pitch 162, roll -161
// is nearly the same head as pitch -18, roll 19).
const PoseProtocolMaxDeg = 99

// inPoseProtocol reports whether a ground-truth pose counts in PoseMAE.
func inPoseProtocol(p *Pose) bool {
	return math.Abs(p.Yaw) <= PoseProtocolMaxDeg && math.Abs(p.Pitch) <= PoseProtocolMaxDeg && math.Abs(p.Roll) <= PoseProtocolMaxDeg
}

// poseSums accumulates absolute pose errors.
type poseSums struct {
	sum [3]float64
	n   int
}

func (s *poseSums) add(pred, gt *Pose) {
	s.sum[0] += math.Abs(wrapDeg(pred.Yaw - gt.Yaw))
	s.sum[1] += math.Abs(wrapDeg(pred.Pitch - gt.Pitch))
	s.sum[2] += math.Abs(wrapDeg(pred.Roll - gt.Roll))
	s.n++
}

// mae returns the means, or nil when nothing was added.
func (s *poseSums) mae() *PoseMAE {
	if s.n == 0 {
		return nil
	}
	n := float64(s.n)
	m := &PoseMAE{Yaw: s.sum[0] / n, Pitch: s.sum[1] / n, Roll: s.sum[2] / n, Images: s.n}
	m.Mean = (m.Yaw + m.Pitch + m.Roll) / 3
	return m
}

// CEDPoint is one point of the cumulative error distribution: the fraction
// of images whose NME (percent) is at most NME.
type CEDPoint struct {
	NME      float64 `json:"nme"`
	Fraction float64 `json:"fraction"`
}

// Metrics summarises an evaluation (3DDFA AFLW / AFLW2000-3D protocol: per
// image, mean Euclidean error over the visible ground-truth points divided
// by sqrt(w h) of the visible ground-truth landmarks' bounding box). All NME
// values are percent. A value that has nothing to average (a yaw bin without
// images, a landmark never visible, no pose pairs) is JSON null (a nil
// pointer), never NaN.
type Metrics struct {
	// NME is the mean of the three yaw bins when all three hold images,
	// else NMEAll.
	NME float64 `json:"nme"`
	// NMEBins is the mean NME of the |yaw| bins [0,30), [30,60), [60,90].
	NMEBins [3]*float64 `json:"nme_bins"`
	// NMEAll is the mean NME over all images (with or without pose).
	NMEAll float64 `json:"nme_all"`
	// MeanErrorPx is the mean over images of the per-image mean error.
	MeanErrorPx float64 `json:"mean_error_px"`
	// PerLandmarkPx is each landmark's mean error (pixels) over the images
	// where it is visible in the ground truth, in the common scheme.
	PerLandmarkPx []*float64 `json:"per_landmark_px"`
	// PoseMAE is over the images where both poses are known and every
	// ground-truth angle lies in [-99, 99] degrees (PoseProtocolMaxDeg, the
	// usual AFLW2000-3D head-pose protocol); PoseMAEAll is over all images
	// where both poses are known.
	PoseMAE    *PoseMAE `json:"pose_mae_deg"`
	PoseMAEAll *PoseMAE `json:"pose_mae_all_deg"`
	// FailureRate is the fraction (0..1) of images with NME > FailureNME.
	FailureRate float64 `json:"failure_rate"`
	// Images is the number of images evaluated.
	Images int `json:"images"`
	// Scheme is the landmark scheme compared ("ibug68": all 68 points of
	// AFLW2000-3D's protocol; "aflw21": AFLW's 21, or the points two
	// different schemes share, see CommonLandmarks), Points the mean number
	// of ground-truth points scored per image.
	Scheme string  `json:"scheme"`
	Points float64 `json:"points"`
	// CED is the cumulative error distribution at NME = 0, 0.1, ..., 10.
	CED []CEDPoint `json:"ced"`
	// Recognition holds the face verification scores of a recognition
	// run (see Verify); absent otherwise.
	Recognition *VerificationMetrics `json:"recognition,omitempty"`
	// Skipped counts the inputs left out of the evaluation (an image that
	// does not load, a bad annotation line, a face that cannot be cropped
	// or scored); SkippedReasons gives one line each, naming the input.
	// The Evaluator leaves them zero: its caller, which reads the inputs,
	// fills them in.
	Skipped        int      `json:"skipped"`
	SkippedReasons []string `json:"skipped_reasons,omitempty"`
	// PerImage are the images' own results, in evaluation order (stn3d
	// eval writes them to images.jsonl, not to metrics.json).
	PerImage []ImageResult `json:"-"`
}

// Evaluator accumulates per-image results; the zero value is ready to use.
type Evaluator struct {
	scheme  string
	results []ImageResult
	lmSum   []float64
	lmN     []int
	pose    poseSums // images in the pose protocol
	poseAll poseSums // all images with both poses
}

// Add evaluates one image and records it. It fails (and records nothing)
// when the schemes cannot be compared, the scheme differs from earlier
// images, a coordinate is not finite, fewer than two ground-truth points
// are visible, or their bounding box has zero area.
func (e *Evaluator) Add(in EvalInput) (ImageResult, error) {
	p, g, scheme, err := CommonLandmarks(in.Pred, in.PredScheme, in.GT, in.GTScheme)
	if err != nil {
		return ImageResult{}, fmt.Errorf("dataset: evaluate %q: %w", in.Name, err)
	}
	if e.scheme == "" {
		e.scheme = scheme
		e.lmSum = make([]float64, len(g.Points))
		e.lmN = make([]int, len(g.Points))
	} else if scheme != e.scheme {
		return ImageResult{}, fmt.Errorf("dataset: evaluate %q: compared in scheme %s, earlier images in %s", in.Name, scheme, e.scheme)
	}
	x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	var sum float64
	n := 0
	for k, q := range g.Points {
		if !g.Visible[k] {
			continue
		}
		pp := p.Points[k]
		if !isFinite(q[0]) || !isFinite(q[1]) || !isFinite(pp[0]) || !isFinite(pp[1]) {
			return ImageResult{}, fmt.Errorf("dataset: evaluate %q: point %d: prediction %v, truth %v: want finite", in.Name, k, pp, q)
		}
		sum += math.Hypot(pp[0]-q[0], pp[1]-q[1])
		n++
		x0, y0, x1, y1 = min(x0, q[0]), min(y0, q[1]), max(x1, q[0]), max(y1, q[1])
	}
	if n < 2 {
		return ImageResult{}, fmt.Errorf("dataset: evaluate %q: %d visible ground-truth points, want at least 2", in.Name, n)
	}
	norm := math.Sqrt((x1 - x0) * (y1 - y0))
	if !(norm > 0) {
		return ImageResult{}, fmt.Errorf("dataset: evaluate %q: visible ground-truth box %gx%g has no area", in.Name, x1-x0, y1-y0)
	}
	r := ImageResult{Name: in.Name, ErrorPx: sum / float64(n), Norm: norm, YawBin: -1, Points: n, PredPose: in.PredPose, GTPose: in.GTPose}
	r.NME = 100 * r.ErrorPx / norm
	if in.GTPose != nil {
		if !isFinite(in.GTPose.Yaw) {
			return ImageResult{}, fmt.Errorf("dataset: evaluate %q: ground-truth yaw %g", in.Name, in.GTPose.Yaw)
		}
		r.YawBin = YawBin(in.GTPose.Yaw)
	}
	for k, q := range g.Points {
		if g.Visible[k] {
			e.lmSum[k] += math.Hypot(p.Points[k][0]-q[0], p.Points[k][1]-q[1])
			e.lmN[k]++
		}
	}
	if in.GTPose != nil && in.PredPose != nil {
		e.poseAll.add(in.PredPose, in.GTPose)
		if inPoseProtocol(in.GTPose) {
			e.pose.add(in.PredPose, in.GTPose)
		}
	}
	e.results = append(e.results, r)
	return r, nil
}

// YawBin returns the 3DDFA yaw bin of a yaw angle in degrees: 0 for
// |yaw| < 30, 1 for 30 <= |yaw| < 60, 2 otherwise.
func YawBin(yaw float64) int {
	a := math.Abs(yaw)
	switch {
	case a < yawBinEdges[0]:
		return 0
	case a < yawBinEdges[1]:
		return 1
	}
	return 2
}

// wrapDeg wraps an angle in degrees to [-180, 180).
func wrapDeg(d float64) float64 {
	d = math.Mod(d+180, 360)
	if d < 0 {
		d += 360
	}
	return d - 180
}

// Results returns the per-image results in the order added.
func (e *Evaluator) Results() []ImageResult { return append([]ImageResult(nil), e.results...) }

// Scheme returns the landmark scheme images are compared in ("" before the
// first Add).
func (e *Evaluator) Scheme() string { return e.scheme }

// Metrics summarises the images added so far; it fails if there are none.
func (e *Evaluator) Metrics() (Metrics, error) {
	if len(e.results) == 0 {
		return Metrics{}, errors.New("dataset: metrics: no images evaluated")
	}
	var m Metrics
	var binSum [3]float64
	var binN [3]int
	fail := 0
	m.Scheme = e.scheme
	for _, r := range e.results {
		m.NMEAll += r.NME
		m.MeanErrorPx += r.ErrorPx
		m.Points += float64(r.Points)
		if r.YawBin >= 0 {
			binSum[r.YawBin] += r.NME
			binN[r.YawBin]++
		}
		if r.NME > FailureNME {
			fail++
		}
	}
	n := float64(len(e.results))
	m.Images = len(e.results)
	m.NMEAll /= n
	m.MeanErrorPx /= n
	m.Points /= n
	m.FailureRate = float64(fail) / n
	m.NME = m.NMEAll
	full := true
	var binMean float64
	for b := range binN {
		if binN[b] == 0 {
			full = false
			continue
		}
		v := binSum[b] / float64(binN[b])
		m.NMEBins[b] = &v
		binMean += v / 3
	}
	if full {
		m.NME = binMean
	}
	m.PerLandmarkPx = make([]*float64, len(e.lmSum))
	for k := range e.lmSum {
		if e.lmN[k] > 0 {
			v := e.lmSum[k] / float64(e.lmN[k])
			m.PerLandmarkPx[k] = &v
		}
	}
	m.PoseMAE, m.PoseMAEAll = e.pose.mae(), e.poseAll.mae()
	m.CED = make([]CEDPoint, 101)
	for i := range m.CED {
		th := float64(i) / 10
		c := 0
		for _, r := range e.results {
			if r.NME <= th {
				c++
			}
		}
		m.CED[i] = CEDPoint{NME: th, Fraction: float64(c) / n}
	}
	return m, nil
}

// WriteJSON writes m as indented JSON to path, atomically.
func (m Metrics) WriteJSON(path string) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("dataset: write metrics: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("dataset: write metrics: %w", err)
	}
	return nil
}
