package run

import (
	"fmt"
	"math"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// A second pass (eval.refine): the first crop of a photograph comes from
// its annotated landmarks or a box; the network's own landmarks then give
// a crop that sits as the rendered training faces do (3DDFA_V2 re-crops
// from its previous landmarks the same way). Each pass crops the original
// image again, with the same margin and offset, around the box of the
// previous pass's iBUG-68 points (all of them, hidden ones included, as
// the training renders are placed), and predicts again. It is
// deterministic: a pure function of the image and the weights.

// refinable is a source whose samples are crops of original images that
// can be cut again.
type refinable interface {
	// cropped returns sample i before cropping, its first crop and that
	// crop's transform.
	cropped(i int) (orig, crop dataset.Sample, tr dataset.CropTransform, err error)
	// Crop returns the options later passes crop with (around landmarks).
	Crop() dataset.CropOptions
}

// original returns sample i of the underlying source before cropping,
// its landmarks converted to the source's scheme where missing.
func (c croppedSource) original(i int) (dataset.Sample, error) {
	s, err := c.src.Sample(i)
	if err != nil {
		return s, err
	}
	if c.scheme != "" {
		if _, ok := s.Landmarks[c.scheme]; !ok {
			for from, l := range s.Landmarks {
				if conv, err := dataset.ConvertLandmarks(l, from, c.scheme); err == nil {
					s.Landmarks[c.scheme] = conv
					break
				}
			}
		}
	}
	return s, nil
}

// Crop returns the crop options.
func (c croppedSource) Crop() dataset.CropOptions { return c.opt }

// refinePoints are the points of a prediction a pass crops around: the
// iBUG-68 points when the grid model maps all 68, else the network's
// scheme.
func refinePoints(p graph.Prediction) [][2]float64 {
	if pts := p.Schemes[bfm.SchemeIBUG68]; complete(pts) {
		return pts
	}
	return p.Landmarks
}

// recrop cuts orig again around pts, given in the pixels of the crop tr
// made of it: the returned sample is the new crop with orig's annotations
// mapped into it, and its transform from orig.
func recrop(orig dataset.Sample, tr dataset.CropTransform, pts [][2]float64, opt dataset.CropOptions) (dataset.Sample, dataset.CropTransform, error) {
	lm := invertAll(tr, pts)
	if len(lm.Points) < 2 {
		return dataset.Sample{}, dataset.CropTransform{}, fmt.Errorf("refine %s: fewer than 2 predicted points", orig.Name)
	}
	// Crop a stand-in whose only landmarks are the predicted points, so
	// that the crop is centred (and offset) on their box as on a
	// photograph's annotated points.
	tmp := dataset.Sample{Name: orig.Name, Image: orig.Image, Landmarks: map[string]dataset.Landmarks{bfm.SchemeIBUG68: lm}}
	cs, tr2, err := dataset.CropSample(tmp, opt)
	if err != nil {
		return dataset.Sample{}, dataset.CropTransform{}, fmt.Errorf("refine: %w", err)
	}
	out := dataset.Sample{Name: orig.Name, Image: cs.Image, Pose: orig.Pose, Shape: orig.Shape, Landmarks: map[string]dataset.Landmarks{}}
	for k, l := range orig.Landmarks {
		m := dataset.Landmarks{Points: make([][2]float64, len(l.Points)), Visible: append([]bool(nil), l.Visible...), Hidden: append([]bool(nil), l.Hidden...)}
		for i, p := range l.Points {
			m.Points[i] = tr2.Apply(p)
		}
		out.Landmarks[k] = m
	}
	if orig.Box != nil {
		a, b := tr2.Apply([2]float64{orig.Box.X0, orig.Box.Y0}), tr2.Apply([2]float64{orig.Box.X1, orig.Box.Y1})
		out.Box = &dataset.Box{X0: a[0], Y0: a[1], X1: b[0], Y1: b[1]}
	}
	return out, tr2, nil
}

// refineBatch runs passes more passes over the batch of samples idx of src, whose first-pass fits are given: each crops the
// original image around the previous pass's points and predicts again
// with predict (which fills buf's first len(samples) inputs). It returns
// the last pass's samples and fits; a source that cannot re-crop, or
// passes <= 0, returns them unchanged.
func refineBatch(src dataset.Source, idx []int, samples []dataset.Sample, fits []graph.Fit, passes int, buf []float32, size int,
	predict func(in []float32) ([]graph.Fit, error)) ([]dataset.Sample, []graph.Fit, error) {
	rs, ok := src.(refinable)
	if !ok || passes <= 0 {
		return samples, fits, nil
	}
	opt := rs.Crop()
	per := 3 * size * size
	origs := make([]dataset.Sample, len(samples))
	trs := make([]dataset.CropTransform, len(samples))
	for j := range samples {
		// The first pass's crop, recomputed (it is deterministic).
		o, _, tr, err := rs.cropped(idx[j])
		if err != nil {
			return nil, nil, fmt.Errorf("refine: %w", err)
		}
		origs[j], trs[j] = o, tr
	}
	out := append([]dataset.Sample(nil), samples...)
	for pass := 0; pass < passes; pass++ {
		for j := range out {
			s, tr, err := recrop(origs[j], trs[j], refinePoints(fits[j].Prediction), opt)
			if err != nil {
				return nil, nil, err
			}
			if err := toInput(buf[j*per:(j+1)*per], s.Image, size); err != nil {
				return nil, nil, fmt.Errorf("refine %s: %w", s.Name, err)
			}
			out[j], trs[j] = s, tr
		}
		f, err := predict(buf[:len(out)*per])
		if err != nil {
			return nil, nil, err
		}
		fits = f
	}
	return out, fits, nil
}

// refineNormalize runs eval.refine's passes for normalize: each crops the
// items ok again, with data.margin and data.landmark_offset_y, around the
// previous fit's iBUG-68 points (whatever the first crop came from: an
// annotation, a box or the whole image) and fits again. The items' crop,
// transform and crop record follow the last pass (Source gets "+refined").
func refineNormalize(items []normItem, ok []int, fits []graph.Fit, buf []float32, model *graph.Network, passes int, margin, offsetY float64) ([]graph.Fit, error) {
	per := 3 * model.InputSize * model.InputSize
	opt := dataset.CropOptions{Size: model.InputSize, Margin: margin, LandmarkOffsetY: offsetY}
	for pass := 0; pass < passes; pass++ {
		for i, j := range ok {
			it := &items[j]
			cs, tr, err := recrop(it.orig, it.tr, refinePoints(fits[i].Prediction), opt)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.input, err)
			}
			if err := toInput(buf[i*per:(i+1)*per], cs.Image, model.InputSize); err != nil {
				return nil, fmt.Errorf("%s: %w", it.input, err)
			}
			// The box the new crop is centred on: the previous points' box.
			fb, err := dataset.FaceBox(dataset.Sample{Landmarks: map[string]dataset.Landmarks{bfm.SchemeIBUG68: invertAll(it.tr, refinePoints(fits[i].Prediction))}}, false)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", it.input, err)
			}
			it.crop, it.tr = cs, tr
			if pass == 0 {
				it.info.Source += "+refined"
			}
			it.info.FaceBox = [4]float64{fb.X0, fb.Y0, fb.X1, fb.Y1}
			it.info.Margin = margin
			it.info.Region = [4]int{tr.Region.Min.X, tr.Region.Min.Y, tr.Region.Max.X, tr.Region.Max.Y}
			it.info.Scale, it.info.Offset = tr.Scale, [2]float64{tr.OffX, tr.OffY}
		}
		f, err := model.FitInto(fits, buf[:len(ok)*per]) // fits was read above; its buffers are reused
		if err != nil {
			return nil, err
		}
		fits = f
	}
	return fits, nil
}

// invertAll maps crop points back to the original image (NaN points
// dropped), all visible.
func invertAll(tr dataset.CropTransform, pts [][2]float64) dataset.Landmarks {
	var lm dataset.Landmarks
	for _, p := range pts {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) {
			continue
		}
		lm.Points = append(lm.Points, tr.Invert(p))
		lm.Visible = append(lm.Visible, true)
	}
	return lm
}
