package dataset

import (
	"fmt"

	"github.com/stn3d/stn3d/bfm"
)

// ConvertLandmarks expresses lm, given in scheme from, in scheme to. The
// same scheme gives a copy. ibug68 -> aflw21 uses bfm.IBUG68ToAFLW21: each
// AFLW point is the mean of its iBUG points (eye centres: the eye's six
// points; mouth centre: the eight inner-lip points; the rest one to one)
// and is visible only if all of those points are; the ears (13 and 17,
// 1-based) have no iBUG counterpart and are missing ((0, 0), not visible).
// aflw21 -> ibug68 is not possible (68 points cannot be made from 21) and
// is an error; compare the two with CommonLandmarks instead.
func ConvertLandmarks(lm Landmarks, from, to string) (Landmarks, error) {
	n := bfm.SchemeSize(from)
	if n == 0 {
		return Landmarks{}, fmt.Errorf("dataset: convert landmarks: unknown scheme %q", from)
	}
	if bfm.SchemeSize(to) == 0 {
		return Landmarks{}, fmt.Errorf("dataset: convert landmarks: unknown scheme %q", to)
	}
	if len(lm.Points) != n || (lm.Visible != nil && len(lm.Visible) != n) {
		return Landmarks{}, fmt.Errorf("dataset: convert landmarks: %d points and %d visibility flags, scheme %s has %d", len(lm.Points), len(lm.Visible), from, n)
	}
	visible := func(i int) bool { return lm.Visible == nil || lm.Visible[i] }
	if from == to {
		out := Landmarks{Points: append([][2]float64(nil), lm.Points...), Visible: make([]bool, n)}
		for i := range out.Visible {
			out.Visible[i] = visible(i)
		}
		return out, nil
	}
	if from != bfm.SchemeIBUG68 || to != bfm.SchemeAFLW21 {
		return Landmarks{}, fmt.Errorf("dataset: convert landmarks: no conversion from %s to %s (only ibug68 -> aflw21)", from, to)
	}
	m := bfm.IBUG68ToAFLW21()
	out := Landmarks{Points: make([][2]float64, len(m)), Visible: make([]bool, len(m))}
	for k, src := range m {
		if len(src) == 0 {
			continue
		}
		var sx, sy float64
		ok := true
		for _, j := range src {
			ok = ok && visible(j)
			sx += lm.Points[j][0]
			sy += lm.Points[j][1]
		}
		if !ok {
			continue
		}
		out.Points[k] = [2]float64{sx / float64(len(src)), sy / float64(len(src))}
		out.Visible[k] = true
	}
	return out, nil
}

// CommonLandmarks expresses a prediction and a ground truth given in
// possibly different schemes in one scheme so they can be compared point
// by point: the same scheme is kept; when one is ibug68 and the other aflw21,
// the ibug68 side is converted to aflw21 (ConvertLandmarks), so the 19
// non-ear AFLW points are compared (the ears are not visible in the
// converted side, and metrics count only points visible in the ground
// truth; a 68-point ground truth therefore never scores the ears).
func CommonLandmarks(pred Landmarks, predScheme string, gt Landmarks, gtScheme string) (p, g Landmarks, scheme string, err error) {
	scheme = predScheme
	if predScheme != gtScheme {
		scheme = bfm.SchemeAFLW21
	}
	p, err = ConvertLandmarks(pred, predScheme, scheme)
	if err != nil {
		return Landmarks{}, Landmarks{}, "", fmt.Errorf("prediction: %w", err)
	}
	g, err = ConvertLandmarks(gt, gtScheme, scheme)
	if err != nil {
		return Landmarks{}, Landmarks{}, "", fmt.Errorf("ground truth: %w", err)
	}
	if predScheme != gtScheme && gtScheme == bfm.SchemeAFLW21 {
		// The prediction came from 68 points and has no ears: do not score
		// the ground truth's ears against (0, 0).
		for k := range g.Visible {
			g.Visible[k] = g.Visible[k] && p.Visible[k]
		}
	}
	return p, g, scheme, nil
}
