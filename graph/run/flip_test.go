package run

import (
	"image"
	"math"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

func nearPose(a, b dataset.Pose, tol float64) bool {
	return math.Abs(a.Yaw-b.Yaw) <= tol && math.Abs(a.Pitch-b.Pitch) <= tol && math.Abs(a.Roll-b.Roll) <= tol
}

// TestMirrorRotation: F R F is the rotation of the mirrored pose (yaw and
// roll negated, pitch kept), as dataset.Mirror states.
func TestMirrorRotation(t *testing.T) {
	p := dataset.Pose{Yaw: 35, Pitch: -12, Roll: 20}
	got := dataset.PoseFromRotation(mirrorRotation(p.Rotation()))
	if want := (dataset.Pose{Yaw: -35, Pitch: -12, Roll: -20}); !nearPose(got, want, 1e-9) {
		t.Errorf("mirror of %+v = %+v, want %+v", p, got, want)
	}
}

// TestMeanRotation: the mean of a rotation with itself is itself; of two
// rotations about one axis, the rotation by the mean angle; the result is
// orthonormal.
func TestMeanRotation(t *testing.T) {
	a := dataset.Pose{Yaw: 30, Pitch: 10, Roll: -5}.Rotation()
	if got := meanRotation(a, a); !nearPose(dataset.PoseFromRotation(got), dataset.PoseFromRotation(a), 1e-9) {
		t.Errorf("mean of R and R: %v, want %v", got, a)
	}
	y1, y2 := dataset.Pose{Yaw: 10}.Rotation(), dataset.Pose{Yaw: 50}.Rotation()
	got := meanRotation(y1, y2)
	if p := dataset.PoseFromRotation(got); !nearPose(p, dataset.Pose{Yaw: 30}, 1e-9) {
		t.Errorf("mean of yaw 10 and 50: %+v, want yaw 30", p)
	}
	for r := 0; r < 3; r++ {
		for c := 0; c < 3; c++ {
			dot := got[3*r]*got[3*c] + got[3*r+1]*got[3*c+1] + got[3*r+2]*got[3*c+2]
			if want := map[bool]float64{true: 1, false: 0}[r == c]; math.Abs(dot-want) > 1e-12 {
				t.Errorf("rows %d, %d: dot %g, want %g", r, c, dot, want)
			}
		}
	}
	// Opposite rotations have a singular mean: the first is kept.
	half := dataset.Pose{Yaw: 90}.Rotation()
	if got := meanRotation(half, mirrorRotation(half)); got != half {
		t.Errorf("singular mean: %v, want the first rotation", got)
	}
}

// TestFlipAverage: when the mirrored crop's fit is exactly the mirror of the
// crop's own (a network that is mirror-equivariant), averaging leaves the
// fit as it was; a fit whose mirror disagrees moves half way.
func TestFlipAverage(t *testing.T) {
	const size = 8
	scheme := bfm.SchemeIBUG68
	perm := bfm.MirrorPermutation(scheme)
	own := make([][2]float64, len(perm))
	for i := range own {
		own[i] = [2]float64{float64(i%7) + 0.25, float64(i % 5)}
	}
	pose := dataset.Pose{Yaw: 40, Pitch: 5, Roll: -10}
	fit := func() graph.Fit {
		pts := append([][2]float64(nil), own...)
		return graph.Fit{Prediction: graph.Prediction{Rotation: pose.Rotation(), Scale: 2, Landmarks: pts, Schemes: map[string][][2]float64{scheme: pts}}}
	}
	mirrored, err := dataset.MirrorLandmarks(dataset.Landmarks{Points: own}, scheme, size-1)
	if err != nil {
		t.Fatal(err)
	}
	shift := 0.0
	predict := func(in []float32) ([]graph.Fit, error) {
		if len(in) != 3*size*size {
			t.Fatalf("predict got %d values, want one %dx%d crop", len(in), size, size)
		}
		pts := make([][2]float64, len(perm))
		for i, p := range mirrored.Points {
			pts[i] = [2]float64{p[0] + shift, p[1]}
		}
		mp := dataset.Pose{Yaw: -pose.Yaw, Pitch: pose.Pitch, Roll: -pose.Roll}
		return []graph.Fit{{Prediction: graph.Prediction{Rotation: mp.Rotation(), Scale: 4, Landmarks: pts, Schemes: map[string][][2]float64{scheme: pts}}}}, nil
	}
	samples := []dataset.Sample{{Name: "a", Image: image.NewRGBA(image.Rect(0, 0, size, size))}}
	buf := make([]float32, 3*size*size)
	for _, s := range []float64{0, 2} {
		shift = s
		fits := []graph.Fit{fit()}
		if err := flipAverage(samples, fits, buf, size, predict); err != nil {
			t.Fatal(err)
		}
		// The mirror's x + shift comes back as x - shift: the mean moves by -shift/2.
		for i, p := range fits[0].Schemes[scheme] {
			if want := own[i][0] - s/2; math.Abs(p[0]-want) > 1e-12 || p[1] != own[i][1] {
				t.Fatalf("shift %g: point %d = %v, want (%g, %g)", s, i, p, want, own[i][1])
			}
		}
		if &fits[0].Landmarks[0] != &fits[0].Schemes[scheme][0] {
			t.Error("Landmarks no longer the network scheme's points")
		}
		if p := dataset.PoseFromRotation(fits[0].Rotation); !nearPose(p, pose, 1e-9) || fits[0].Scale != 3 {
			t.Errorf("pose %+v scale %g, want %+v and 3", p, fits[0].Scale, pose)
		}
	}
}
