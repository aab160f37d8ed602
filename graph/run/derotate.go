package run

import (
	"fmt"
	"math"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// derotate is a second pass that undoes the in-plane rotation (eval.derotate):
// each crop is rotated about its centre by the first fit's roll phi, so that
// the face stands upright, and fitted again; the second fit is mapped back.
// Image coordinates have y down, and a positive roll turns the face
// clockwise; the rotated crop's pixel p shows the crop at
// q = Rcw(phi) (p - c) + c, c the crop's centre, Rcw(phi) = [cos -sin; sin
// cos], and a landmark p of the second fit lies at that q in the crop. In
// the pose convention M = Rz(roll) Ry(yaw) Rx(pitch), R = M^T, an in-plane
// rotation adds to roll exactly: M = Rz(phi) M2, so R = R2 Rz(phi)^T, with
// Rz(phi)^T = Pose{Roll: phi}.Rotation(). Scale is the second fit's.
// buf holds the crops the first fits were made from (3 x size x size each,
// in samples' order); they are replaced by the rotated crops.
func derotate(samples []dataset.Sample, fits []graph.Fit, buf []float32, size int,
	predict func(in []float32) ([]graph.Fit, error)) error {
	per := 3 * size * size
	crop := make([]float32, per)
	phis := make([]float64, len(samples))
	for j := range samples {
		copy(crop, buf[j*per:(j+1)*per]) // the crop the first fit saw
		pose := dataset.PoseFromRotation(fits[j].Rotation)
		phis[j] = pose.Roll
		if math.Abs(pose.Yaw) >= derotateMaxYaw {
			phis[j] = math.NaN() // roll is no in-plane angle of a turned head: kept as fitted
		}
		rotateCHW(buf[j*per:(j+1)*per], crop, size, phis[j])
	}
	second, err := predict(buf[:len(samples)*per])
	if err != nil {
		return fmt.Errorf("derotate: %w", err)
	}
	for j := range samples {
		if math.IsNaN(phis[j]) {
			continue
		}
		sn, cs := math.Sincos(phis[j] * math.Pi / 180)
		c := float64(size-1) / 2
		back := func(p [2]float64) [2]float64 {
			dx, dy := p[0]-c, p[1]-c
			return [2]float64{cs*dx - sn*dy + c, sn*dx + cs*dy + c}
		}
		for scheme, pts := range fits[j].Schemes {
			sp, ok := second[j].Schemes[scheme]
			if !ok || len(sp) != len(pts) {
				continue
			}
			out := make([][2]float64, len(sp))
			for i, p := range sp {
				out[i] = back(p)
			}
			if sameSlice(fits[j].Landmarks, pts) {
				fits[j].Landmarks = out
			}
			fits[j].Schemes[scheme] = out
		}
		fits[j].Rotation = mul3(second[j].Rotation, dataset.Pose{Roll: phis[j]}.Rotation())
		fits[j].Scale = second[j].Scale
	}
	return nil
}

// derotateMaxYaw is the first fit's |yaw| (degrees) from which a crop is
// not rotated: for a turned head the Euler roll mixes with pitch and is no
// in-plane rotation (rotating profiles by it cost 1.4 points of NME on the
// shared photographs).
const derotateMaxYaw = 30

// rotateCHW writes into dst the 3 planes of src (size x size each) rotated
// about the centre: dst at p samples src bilinearly at Rcw(phi) (p - c) + c,
// 0 outside (black, as crops are padded).
func rotateCHW(dst, src []float32, size int, phiDeg float64) {
	if math.IsNaN(phiDeg) {
		phiDeg = 0
	}
	sn, cs := math.Sincos(phiDeg * math.Pi / 180)
	c := float64(size-1) / 2
	plane := size * size
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)-c, float64(y)-c
			qx, qy := cs*dx-sn*dy+c, sn*dx+cs*dy+c
			x0, y0 := math.Floor(qx), math.Floor(qy)
			fx, fy := qx-x0, qy-y0
			ix, iy := int(x0), int(y0)
			// the four taps: offset and weight, weight 0 outside the crop
			var off [4]int
			wt := [4]float64{(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy}
			for t, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
				u, v := ix+d[0], iy+d[1]
				if u < 0 || v < 0 || u >= size || v >= size {
					wt[t] = 0
					continue
				}
				off[t] = v*size + u
			}
			for ch := 0; ch < 3; ch++ {
				p := src[ch*plane : (ch+1)*plane]
				v := wt[0]*float64(p[off[0]]) + wt[1]*float64(p[off[1]]) + wt[2]*float64(p[off[2]]) + wt[3]*float64(p[off[3]])
				dst[ch*plane+y*size+x] = float32(v)
			}
		}
	}
}

// mul3 returns the row-major product a b of 3x3 matrices.
func mul3(a, b [9]float64) [9]float64 {
	var r [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			r[3*i+j] = a[3*i]*b[j] + a[3*i+1]*b[3+j] + a[3*i+2]*b[6+j]
		}
	}
	return r
}
