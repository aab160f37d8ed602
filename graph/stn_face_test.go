package graph

import (
	"math"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestSTNDefaultFaceVisibility runs the STN on the embedded default face
// re-meshed to a 40 x 40 grid: frontal, the nose tip is visible and
// projects near the translation; at yaw +60 degrees (nose towards image
// right) the +x cheek (right-hand columns) is hidden and the -x cheek
// visible.
func TestSTNDefaultFaceVisibility(t *testing.T) {
	m, err := bfm.Default()
	if err != nil {
		t.Fatalf("default model: %v", err)
	}
	gm, err := bfm.BuildGrid(m, bfm.GridOptions{Rows: 40, Cols: 40, UseModelUV: true})
	if err != nil {
		t.Fatal(err)
	}
	const B, S = 2, 112
	scale, err := InitScaleFor(gm.Mean, S, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, 1, S, S), gorgonia.WithName("img"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(B, 1, S, S), tensor.WithBacking(make([]float64, B*S*S)))))
	D := gm.NumComponents()
	th := make([]float64, B*(6+D))
	yaw := 60 * math.Pi / 180
	for b, r := range []float64{0, yaw} {
		p := th[b*(6+D):]
		p[ThetaRot+1] = r
		p[ThetaTrans], p[ThetaTrans+1], p[ThetaScale] = 55.5, 55.5, math.Log(scale)
	}
	theta := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(B, 6+D), gorgonia.WithName("theta"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(B, 6+D), tensor.WithBacking(th))))
	stn, err := BuildSTN(g, img, theta, gm, STNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	N := gm.N()
	mask := stn.Mask.Value().Data().([]float64)
	valid := func(k int) bool { return gm.Valid == nil || gm.Valid[k] }
	frac := func(b int, colLo, colHi int) float64 {
		var vis, tot float64
		for r := gm.Rows / 4; r < 3*gm.Rows/4; r++ {
			for c := colLo; c < colHi; c++ {
				k := r*gm.Cols + c
				if valid(k) {
					tot++
					vis += mask[b*N+k]
				}
			}
		}
		return vis / tot
	}
	if f := frac(0, 0, gm.Cols); f < 0.9 {
		t.Errorf("frontal: %.2f of the central rows visible, want >= 0.9", f)
	}
	if f := frac(1, 3*gm.Cols/4, gm.Cols); f > 0.2 {
		t.Errorf("yaw 60: %.2f of the +x cheek visible, want <= 0.2", f)
	}
	if f := frac(1, 0, gm.Cols/4); f < 0.9 {
		t.Errorf("yaw 60: %.2f of the -x cheek visible, want >= 0.9", f)
	}
	// Nose tip (iBUG 31, index 30): visible in both, at the image centre
	// horizontally when frontal (the model's origin is near the nose tip).
	pos := -1
	for j, li := range stn.LandmarkIndex[bfm.SchemeIBUG68] {
		if li == 30 {
			pos = j
		}
	}
	if pos < 0 {
		t.Fatal("nose tip landmark missing from the grid")
	}
	nose := stn.LandmarkVertex[bfm.SchemeIBUG68][pos]
	for b := 0; b < B; b++ {
		if mask[b*N+nose] != 1 {
			t.Errorf("item %d: nose tip vertex %d hidden", b, nose)
		}
	}
	lm := stn.Landmarks[bfm.SchemeIBUG68].Value().Data().([]float64)
	if x := lm[pos]; math.Abs(x-55.5) > 0.05*S {
		t.Errorf("frontal nose tip x = %.1f px, want near the centre 55.5", x)
	}
}
