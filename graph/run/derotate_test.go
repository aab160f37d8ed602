package run

import (
	"image"
	"math"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// TestRotateCHW: 0 degrees copies; 90 degrees (y down, so the content turns
// counter-clockwise on screen) moves the pixel at (x, y) = (6, 1) of an 8 x 8
// crop to (1, 1): dst(p) = src(Rcw (p - c) + c), c = 3.5.
func TestRotateCHW(t *testing.T) {
	const size = 8
	src := make([]float32, 3*size*size)
	for ch := 0; ch < 3; ch++ {
		src[ch*size*size+1*size+6] = float32(ch + 1)
	}
	dst := make([]float32, len(src))
	rotateCHW(dst, src, size, 0)
	for i := range src {
		if dst[i] != src[i] {
			t.Fatalf("0 degrees: value %d = %v, want %v", i, dst[i], src[i])
		}
	}
	rotateCHW(dst, src, size, 90)
	for ch := 0; ch < 3; ch++ {
		for i := 0; i < size*size; i++ {
			want := float32(0)
			if i == 1*size+1 {
				want = float32(ch + 1)
			}
			if math.Abs(float64(dst[ch*size*size+i]-want)) > 1e-6 {
				t.Fatalf("90 degrees: channel %d pixel (%d, %d) = %v, want %v", ch, i%size, i/size, dst[ch*size*size+i], want)
			}
		}
	}
}

// TestDerotate: a first fit with roll 20 gets its crop rotated upright; the
// second fit (roll 0, points q) comes back with roll 20 and its points
// rotated back about the centre; a turned head (|yaw| >= 30) keeps its
// first fit.
func TestDerotate(t *testing.T) {
	const size = 8
	scheme := bfm.SchemeIBUG68
	n := len(bfm.MirrorPermutation(scheme))
	first := func(p dataset.Pose) graph.Fit {
		pts := make([][2]float64, n)
		return graph.Fit{Prediction: graph.Prediction{Rotation: p.Rotation(), Scale: 1, Landmarks: pts, Schemes: map[string][][2]float64{scheme: pts}}}
	}
	q := make([][2]float64, n)
	for i := range q {
		q[i] = [2]float64{float64(i % 8), float64(i % 5)}
	}
	upright := dataset.Pose{Yaw: 10, Pitch: -5}
	calls := 0
	predict := func(in []float32) ([]graph.Fit, error) {
		calls++
		out := make([]graph.Fit, len(in)/(3*size*size))
		for j := range out {
			pts := append([][2]float64(nil), q...)
			out[j] = graph.Fit{Prediction: graph.Prediction{Rotation: upright.Rotation(), Scale: 2, Landmarks: pts, Schemes: map[string][][2]float64{scheme: pts}}}
		}
		return out, nil
	}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	samples := []dataset.Sample{{Name: "a", Image: img}, {Name: "b", Image: img}}
	fits := []graph.Fit{first(dataset.Pose{Yaw: 10, Roll: 20}), first(dataset.Pose{Yaw: 50, Roll: 20})}
	buf := make([]float32, 2*3*size*size)
	if err := derotate(samples, fits, buf, size, predict); err != nil {
		t.Fatal(err)
	}
	if calls != 1 {
		t.Errorf("%d network passes, want 1", calls)
	}
	p := dataset.PoseFromRotation(fits[0].Rotation)
	if math.Abs(p.Yaw-10) > 1e-9 || math.Abs(p.Pitch+5) > 1e-9 || math.Abs(p.Roll-20) > 1e-9 || fits[0].Scale != 2 {
		t.Errorf("pose %+v scale %g, want yaw 10, pitch -5, roll 20 and the second fit's scale 2", p, fits[0].Scale)
	}
	sn, cs := math.Sincos(20 * math.Pi / 180)
	for i, got := range fits[0].Schemes[scheme] {
		dx, dy := q[i][0]-3.5, q[i][1]-3.5
		want := [2]float64{cs*dx - sn*dy + 3.5, sn*dx + cs*dy + 3.5}
		if math.Hypot(got[0]-want[0], got[1]-want[1]) > 1e-9 {
			t.Fatalf("point %d = %v, want %v", i, got, want)
		}
	}
	if &fits[0].Landmarks[0] != &fits[0].Schemes[scheme][0] {
		t.Error("Landmarks no longer the network scheme's points")
	}
	if p := dataset.PoseFromRotation(fits[1].Rotation); math.Abs(p.Yaw-50) > 1e-9 || fits[1].Scale != 1 || fits[1].Schemes[scheme][0] != [2]float64{} {
		t.Errorf("turned head changed: pose %+v scale %g", p, fits[1].Scale)
	}
}
