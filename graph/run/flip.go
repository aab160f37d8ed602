package run

import (
	"fmt"
	"math"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// flipAverage is test-time mirroring (eval.flip): each crop is also fitted
// mirrored, and the mirror's fit, mirrored back, is averaged with the
// crop's own. Landmarks of every scheme: point i is the mean of the crop's
// point i and the mirror fit's point perm[i] at x' = W-1-x (perm =
// bfm.MirrorPermutation, dataset.MirrorLandmarks). Rotation: with F =
// diag(-1, 1, 1), the mirror fit's R_m stands for F R_m F (yaw and roll
// negated), and R = polar(R + F R_m F), the rotation nearest the mean of the
// two (Newton's iteration R <- (R + R^-T) / 2). Scale: the mean. Theta,
// points, texture and mask stay the crop's own (panels show the crop's fit).
// fits are changed in place; the mirrored crops are written to buf.
func flipAverage(samples []dataset.Sample, fits []graph.Fit, buf []float32, size int,
	predict func(in []float32) ([]graph.Fit, error)) error {
	per := 3 * size * size
	for j, s := range samples {
		if err := toInput(buf[j*per:(j+1)*per], dataset.FlipImage(s.Image), size); err != nil {
			return fmt.Errorf("flip %s: %w", s.Name, err)
		}
	}
	mf, err := predict(buf[:len(samples)*per])
	if err != nil {
		return fmt.Errorf("flip: %w", err)
	}
	for j, s := range samples {
		b := s.Image.Bounds()
		flipX := float64(b.Min.X + b.Max.X - 1)
		for scheme, pts := range fits[j].Schemes {
			mp, ok := mf[j].Schemes[scheme]
			if !ok || bfm.MirrorPermutation(scheme) == nil {
				continue
			}
			back, err := dataset.MirrorLandmarks(dataset.Landmarks{Points: mp}, scheme, flipX)
			if err != nil {
				return fmt.Errorf("flip %s: %w", s.Name, err)
			}
			avg := make([][2]float64, len(pts))
			for i, p := range pts {
				q := back.Points[i]
				avg[i] = [2]float64{(p[0] + q[0]) / 2, (p[1] + q[1]) / 2}
			}
			fits[j].Schemes[scheme] = avg
			if sameSlice(fits[j].Landmarks, pts) {
				fits[j].Landmarks = avg
			}
		}
		fits[j].Rotation = meanRotation(fits[j].Rotation, mirrorRotation(mf[j].Rotation))
		fits[j].Scale = (fits[j].Scale + mf[j].Scale) / 2
	}
	return nil
}

// sameSlice reports whether a and b share their first element (one slice).
func sameSlice(a, b [][2]float64) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }

// mirrorRotation returns F R F with F = diag(-1, 1, 1): the rotation of a
// mirrored head (row-major): entries with exactly one index 0 change sign.
func mirrorRotation(r [9]float64) [9]float64 {
	return [9]float64{r[0], -r[1], -r[2], -r[3], r[4], r[5], -r[6], r[7], r[8]}
}

// meanRotation returns the rotation nearest (a + b) / 2 (polar factor by
// Newton's iteration X <- (X + X^-T) / 2, which converges quadratically
// from any non-singular X); a if the mean is singular (opposite rotations).
func meanRotation(a, b [9]float64) [9]float64 {
	var x [9]float64
	for i := range x {
		x[i] = (a[i] + b[i]) / 2
	}
	for it := 0; it < 30; it++ {
		inv, ok := inverse3(x)
		if !ok {
			return a
		}
		var next [9]float64
		delta := 0.0
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				v := (x[3*r+c] + inv[3*c+r]) / 2 // X^-T[r][c] = X^-1[c][r]
				delta = math.Max(delta, math.Abs(v-x[3*r+c]))
				next[3*r+c] = v
			}
		}
		x = next
		if delta < 1e-15 {
			break
		}
	}
	return x
}

// inverse3 inverts a row-major 3x3 matrix; ok is false if it is singular.
func inverse3(m [9]float64) (inv [9]float64, ok bool) {
	c00 := m[4]*m[8] - m[5]*m[7]
	c01 := m[5]*m[6] - m[3]*m[8]
	c02 := m[3]*m[7] - m[4]*m[6]
	det := m[0]*c00 + m[1]*c01 + m[2]*c02
	if !(math.Abs(det) > 1e-12) {
		return inv, false
	}
	inv = [9]float64{
		c00, m[2]*m[7] - m[1]*m[8], m[1]*m[5] - m[2]*m[4],
		c01, m[0]*m[8] - m[2]*m[6], m[2]*m[3] - m[0]*m[5],
		c02, m[1]*m[6] - m[0]*m[7], m[0]*m[4] - m[1]*m[3],
	}
	for i := range inv {
		inv[i] /= det
	}
	return inv, true
}
