package dataset

import (
	"math"
	"path/filepath"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/bfm/mat5"
	"github.com/stn3d/stn3d/internal/testenv"
)

// TestAFLW2000PoseConvention checks Pose's convention on the shared
// AFLW2000-3D photographs, two ways.
//
// Photographs whose pose one can see: image01373 is a profile looking to
// image-left (the subject turned to its own right: yaw > 0), image00303
// looks up (chin up: pitch > 0), image04024 is tilted with its image-right
// side down (clockwise: roll > 0).
//
// Every photograph: pt3d_68 are the 68 iBUG points of the fitted 3D model
// in pixels with depth; rotating the default model's iBUG points onto them
// (orthogonal Procrustes, y flipped to the model's y-up frame) gives the
// head rotation, which must agree with Pose.Rotation() of the reader's
// pose (median angle below 3 degrees; the rest is the shape difference
// between the default face and each subject).
func TestAFLW2000PoseConvention(t *testing.T) {
	dir := testenv.Shared(t, "data/faces/aflw2000")
	src, err := OpenAFLW2000(dir, AFLW2000Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Problems(); err != nil {
		t.Errorf("photographs skipped: %v", err)
	}
	byName := map[string]Item{}
	for _, it := range src.Items {
		byName[it.Name] = it
	}
	for _, c := range []struct {
		name, what string
		check      func(p Pose) bool
	}{
		{"image01373.jpg", "profile looking to image-left: yaw > 60", func(p Pose) bool { return p.Yaw > 60 }},
		{"image00303.jpg", "chin up: pitch > 20", func(p Pose) bool { return p.Pitch > 20 }},
		{"image04024.jpg", "tilted clockwise: roll > 40", func(p Pose) bool { return p.Roll > 40 }},
	} {
		it, ok := byName[c.name]
		if !ok || it.Pose == nil {
			t.Errorf("%s: not read or without pose", c.name)
			continue
		}
		if !c.check(*it.Pose) {
			t.Errorf("%s (%s): pose %+v", c.name, c.what, *it.Pose)
		}
	}

	m, err := bfm.Default()
	if err != nil {
		t.Fatal(err)
	}
	var model [68][3]float64
	for i, v := range m.Landmarks[bfm.SchemeIBUG68] {
		model[i] = [3]float64{m.Mean[3*v], m.Mean[3*v+1], m.Mean[3*v+2]}
	}
	var angles []float64
	for _, it := range src.Items {
		f, err := mat5.ReadFile(filepath.Join(dir, it.Name[:len(it.Name)-len(filepath.Ext(it.Name))]+".mat"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := f.Get("pt3d_68")
		if err != nil {
			t.Fatal(err)
		}
		var photo [68][3]float64
		for k := range photo {
			photo[k] = [3]float64{v.At(0, k), -v.At(1, k), v.At(2, k)}
		}
		fitted := procrustesRotation(model, photo)
		angles = append(angles, rotationAngleDeg(fitted, it.Pose.Rotation()))
	}
	sort.Float64s(angles)
	med := angles[len(angles)/2]
	t.Logf("%d photographs: angle between Pose.Rotation() and the landmark fit: median %.2f, 90th percentile %.2f degrees",
		len(angles), med, angles[len(angles)*9/10])
	if len(angles) < 700 || !(med < 3) {
		t.Errorf("%d photographs, median angle %.2f degrees: want >= 700 and < 3", len(angles), med)
	}
}

// procrustesRotation returns the rotation R (row-major) minimising
// sum |R a_i - b_i|^2 over centred point sets (Kabsch).
func procrustesRotation(a, b [68][3]float64) [9]float64 {
	var ca, cb [3]float64
	for i := range a {
		for j := 0; j < 3; j++ {
			ca[j] += a[i][j] / 68
			cb[j] += b[i][j] / 68
		}
	}
	h := mat.NewDense(3, 3, nil) // sum (b - cb)(a - ca)^T
	for i := range a {
		for r := 0; r < 3; r++ {
			for c := 0; c < 3; c++ {
				h.Set(r, c, h.At(r, c)+(b[i][r]-cb[r])*(a[i][c]-ca[c]))
			}
		}
	}
	var svd mat.SVD
	svd.Factorize(h, mat.SVDFull)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	d := mat.NewDiagDense(3, []float64{1, 1, math.Copysign(1, mat.Det(&u)*mat.Det(&v))})
	var r mat.Dense
	r.Product(&u, d, v.T())
	var out [9]float64
	for i := 0; i < 9; i++ {
		out[i] = r.At(i/3, i%3)
	}
	return out
}

// rotationAngleDeg is the angle of A^T B in degrees.
func rotationAngleDeg(a, b [9]float64) float64 {
	tr := 0.0
	for i := 0; i < 9; i++ {
		tr += a[i] * b[i]
	}
	c := math.Max(-1, math.Min(1, (tr-1)/2))
	return math.Acos(c) * 180 / math.Pi
}
