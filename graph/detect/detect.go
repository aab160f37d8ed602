// Package detect is stn3d's face detector: a small fully convolutional
// network run over an image pyramid, with non-maximum suppression, whose
// boxes are calibrated to the box of the face's 68 iBUG landmarks (the box
// normalize and eval crop from). Inference is plain Go on float32 slices
// (ops.Sgemm); training builds the same network from this repository's
// Gorgonia ops (train.go). The default weights are embedded.
package detect

import (
	"fmt"
	"image"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/stn3d/stn3d/graph"
)

// Box is an axis-aligned box in image pixels (x right, y down, (0,0) the
// centre of the top-left pixel), the convention of dataset.Box.
type Box struct {
	X0 float64 `json:"x0"`
	Y0 float64 `json:"y0"`
	X1 float64 `json:"x1"`
	Y1 float64 `json:"y1"`
}

// W returns the width of b.
func (b Box) W() float64 { return b.X1 - b.X0 }

// H returns the height of b.
func (b Box) H() float64 { return b.Y1 - b.Y0 }

// IoU returns the intersection over union of a and b (0 when either is
// empty).
func IoU(a, b Box) float64 {
	iw := min(a.X1, b.X1) - max(a.X0, b.X0)
	ih := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	inter := iw * ih
	u := a.W()*a.H() + b.W()*b.H() - inter
	if u <= 0 {
		return 0
	}
	return inter / u
}

// Detection is one face: its box in the 68-landmark-box convention and a
// score in (0, 1).
type Detection struct {
	Box   Box     `json:"box"`
	Score float64 `json:"score"`
}

// Options tune Detect. Zero fields take the defaults noted.
type Options struct {
	// MinFace is the smallest face size sqrt(w h), in image pixels, searched
	// for (default 32; at least 16).
	MinFace float64
	// Threshold is the lowest score reported (default: the weights' own).
	Threshold float64
	// NMS is the IoU above which a lower-scored box is suppressed (0.3).
	NMS float64
	// LevelStep is the scale ratio between pyramid levels (default sqrt 2,
	// in (1, 2]).
	LevelStep float64
}

// Detector finds faces. It is safe for concurrent use.
type Detector struct {
	net  *net
	meta Meta
	pool sync.Pool // *scratch
}

// scratch holds the buffers of one Detect call.
type scratch struct {
	mips mipChain
	lane [2]lane
}

// lane is one worker's buffers: pyramid level, network input, workspace and
// the candidates it found.
type lane struct {
	level rgb
	chw   []float32
	ws    workspace
	cands []Detection
}

var (
	defaultOnce sync.Once
	defaultDet  *Detector
	defaultErr  error
)

// Default returns the detector with the embedded weights.
func Default() (*Detector, error) {
	defaultOnce.Do(func() {
		meta, ts, err := DecodeFile(embedded)
		if err != nil {
			defaultErr = fmt.Errorf("embedded detector weights: %w", err)
			return
		}
		defaultDet, defaultErr = New(meta, ts)
	})
	return defaultDet, defaultErr
}

// Load returns a detector with the weights of a file written by WriteFile.
func Load(path string) (*Detector, error) {
	meta, ts, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return New(meta, ts)
}

// New returns a detector with the given weights.
func New(meta Meta, ts []graph.WeightTensor) (*Detector, error) {
	n, err := netFromTensors(ts)
	if err != nil {
		return nil, err
	}
	if !(meta.Threshold > 0 && meta.Threshold < 1) {
		return nil, fmt.Errorf("detect: weights threshold %v: want in (0, 1)", meta.Threshold)
	}
	if lf := meta.LevelFace; lf != 0 && !(lf >= BandMin/2 && lf <= BandMax) {
		return nil, fmt.Errorf("detect: weights level_face %v: want 0 (= %v) or in [%v, %v]", lf, BandMin, BandMin/2, BandMax)
	}
	c := meta.Calibration
	if !(c.SW > 0 && c.SH > 0) || math.IsInf(c.SW+c.SH+c.DX+c.DY, 0) || math.IsNaN(c.DX+c.DY) {
		return nil, fmt.Errorf("detect: weights calibration %+v: want finite values, positive scales", c)
	}
	return &Detector{net: n, meta: meta}, nil
}

// Meta returns the metadata of the detector's weights.
func (d *Detector) Meta() Meta { return d.meta }

// levelFace is the face size at which the finest level searches MinFace.
func (d *Detector) levelFace() float64 {
	if d.meta.LevelFace == 0 {
		return BandMin
	}
	return d.meta.LevelFace
}

func (o Options) withDefaults(meta Meta) (Options, error) {
	if o.MinFace == 0 {
		o.MinFace = 32
	}
	if o.Threshold == 0 {
		o.Threshold = meta.Threshold
	}
	if o.NMS == 0 {
		o.NMS = 0.3
	}
	if o.LevelStep == 0 {
		o.LevelStep = math.Sqrt2
	}
	switch {
	case !(o.MinFace >= BandMin) || math.IsInf(o.MinFace, 0):
		return o, fmt.Errorf("detect: minimum face %v pixels: want a finite value >= %v", o.MinFace, BandMin)
	case !(o.Threshold > 0 && o.Threshold < 1):
		return o, fmt.Errorf("detect: threshold %v: want in (0, 1)", o.Threshold)
	case !(o.NMS > 0 && o.NMS <= 1):
		return o, fmt.Errorf("detect: NMS IoU %v: want in (0, 1]", o.NMS)
	case !(o.LevelStep > 1 && o.LevelStep <= 2):
		return o, fmt.Errorf("detect: level step %v: want in (1, 2]", o.LevelStep)
	}
	return o, nil
}

// minLevelSide is the smallest pyramid level side searched (two cells
// beyond the receptive field's centre).
const minLevelSide = 24

// Detect returns the faces of img, best first.
func (d *Detector) Detect(img image.Image, opt Options) ([]Detection, error) {
	s, opt, err := d.begin(opt)
	if err != nil {
		return nil, err
	}
	defer d.pool.Put(s)
	if err := toRGB(s.mips.levels[0], img); err != nil {
		return nil, err
	}
	s.mips.build(minLevelSide)
	b := img.Bounds()
	return d.detect(s, b.Dx(), b.Dy(), float64(b.Min.X), float64(b.Min.Y), opt), nil
}

// begin returns opt with its defaults and a scratch from the pool (to be
// put back), its first mip level allocated.
func (d *Detector) begin(opt Options) (*scratch, Options, error) {
	opt, err := opt.withDefaults(d.meta)
	if err != nil {
		return nil, opt, err
	}
	s, _ := d.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	if len(s.mips.levels) == 0 {
		s.mips.levels = []*rgb{{}}
	}
	return s, opt, nil
}

// detectRGB is Detect on a picture already converted (it is copied).
func (d *Detector) detectRGB(m *rgb, opt Options) ([]Detection, error) {
	s, opt, err := d.begin(opt)
	if err != nil {
		return nil, err
	}
	defer d.pool.Put(s)
	s.mips.levels[0].resize(m.w, m.h)
	copy(s.mips.levels[0].pix, m.pix)
	s.mips.build(minLevelSide)
	return d.detect(s, m.w, m.h, 0, 0, opt), nil
}

// logit returns log(p / (1 - p)).
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func (d *Detector) detect(s *scratch, w, h int, ox, oy float64, opt Options) []Detection {
	// Level k has scale f_k = (LevelFace / MinFace) / LevelStep^k: a face
	// of size MinFace has size LevelFace at level 0. Level 0 costs
	// about as much as all the others together (half of the total with
	// steps of sqrt 2), so with two CPUs one lane runs it and the other
	// the rest.
	var fs [64]float64
	n := 0
	for k := 0; n < len(fs); k++ {
		f := d.levelFace() / opt.MinFace / math.Pow(opt.LevelStep, float64(k))
		if int(math.Round(float64(w)*f)) < minLevelSide || int(math.Round(float64(h)*f)) < minLevelSide {
			break
		}
		fs[n] = f
		n++
	}
	levels := fs[:n]
	a, b := &s.lane[0], &s.lane[1]
	a.cands, b.cands = a.cands[:0], b.cands[:0]
	if runtime.GOMAXPROCS(0) > 1 && n > 1 {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range levels[1:] {
				d.level(&s.mips, b, w, h, f, opt)
			}
		}()
		d.level(&s.mips, a, w, h, levels[0], opt)
		wg.Wait()
	} else {
		for _, f := range levels {
			d.level(&s.mips, a, w, h, f, opt)
		}
	}
	a.cands = append(a.cands, b.cands...)
	out := nms(a.cands, opt.NMS)
	for i := range out {
		bx := &out[i].Box
		bx.X0, bx.X1, bx.Y0, bx.Y1 = bx.X0+ox, bx.X1+ox, bx.Y0+oy, bx.Y1+oy
	}
	return out
}

// levelPad is the border of mean grey, in level pixels (one cell), around
// every pyramid level. Without it a face near the image's edge meets the
// convolutions' zero padding at every layer, which the training patches
// never show: on the held-out AFLW2000-3D photographs (faces filling the
// coarse levels) the first network's recall at its threshold rose from
// 90.9% to 94.4% with it; a border of two or three cells gave the same.
const levelPad = Stride

// level runs the network on the pyramid level of scale f and appends its
// cells scoring at least opt.Threshold to l.cands.
func (d *Detector) level(mips *mipChain, l *lane, w, h int, f float64, opt Options) {
	zmin := float32(logit(opt.Threshold))
	lw := int(math.Round(float64(w)*f)) + 2*levelPad
	lh := int(math.Round(float64(h)*f)) + 2*levelPad
	l.level.resize(lw, lh)
	for k := range l.level.pix {
		l.level.pix[k] = inputMean
	}
	mips.sample(&l.level, f, levelPad, levelPad)
	l.chw = grow(l.chw, 3*lw*lh)
	toCHW(l.chw, &l.level)
	out, oh, ow := d.net.forward(&l.ws, l.chw, lh, lw)
	n := oh * ow
	for i := 0; i < oh; i++ {
		for j := 0; j < ow; j++ {
			c := i*ow + j
			z := out[c]
			if z < zmin {
				continue
			}
			cx := (float64(j*Stride-levelPad) + Stride/2 - 0.5 + Stride*float64(out[n+c])) / f
			cy := (float64(i*Stride-levelPad) + Stride/2 - 0.5 + Stride*float64(out[2*n+c])) / f
			bw := RefSize * math.Exp(clampLog(out[3*n+c])) / f
			bh := RefSize * math.Exp(clampLog(out[4*n+c])) / f
			box := d.meta.Calibration.Apply(Box{X0: cx - bw/2, Y0: cy - bh/2, X1: cx + bw/2, Y1: cy + bh/2})
			l.cands = append(l.cands, Detection{Box: box, Score: 1 / (1 + math.Exp(-float64(z)))})
		}
	}
}

// clampLog keeps a log-size output within a factor e^2 of RefSize.
func clampLog(v float32) float64 { return min(max(float64(v), -2), 2) }

// toCHW writes m as (3, h, w) planes of v - inputMean.
func toCHW(dst []float32, m *rgb) {
	n := m.w * m.h
	r, g, b := dst[:n], dst[n:2*n], dst[2*n:3*n]
	for i := 0; i < n; i++ {
		r[i] = m.pix[3*i] - inputMean
		g[i] = m.pix[3*i+1] - inputMean
		b[i] = m.pix[3*i+2] - inputMean
	}
}

// nms sorts cands by score and keeps each box that overlaps no better kept
// box by more than iou (intersection over the union, or over the smaller
// box's area above 0.7 so that a box inside a larger one goes too). The
// result is a new slice.
func nms(cands []Detection, iou float64) []Detection {
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Score > cands[j].Score })
	out := []Detection{}
	for _, c := range cands {
		keep := true
		for _, k := range out {
			if IoU(c.Box, k.Box) > iou || overlapSmall(c.Box, k.Box) > 0.7 {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, c)
		}
	}
	return out
}

// overlapSmall returns the intersection area over the smaller box's area.
func overlapSmall(a, b Box) float64 {
	iw := min(a.X1, b.X1) - max(a.X0, b.X0)
	ih := min(a.Y1, b.Y1) - max(a.Y0, b.Y0)
	if iw <= 0 || ih <= 0 {
		return 0
	}
	s := min(a.W()*a.H(), b.W()*b.H())
	if s <= 0 {
		return 0
	}
	return iw * ih / s
}
