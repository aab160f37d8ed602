package dataset

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// gridGT returns 21 visible points k -> ((k%3)*15, (k/3)*5): the box is
// 30 x 30, so sqrt(w h) = 30.
func gridGT() Landmarks {
	lm := Landmarks{Points: make([][2]float64, 21), Visible: make([]bool, 21)}
	for k := range lm.Points {
		lm.Points[k] = [2]float64{float64(k%3) * 15, float64(k/3) * 5}
		lm.Visible[k] = true
	}
	return lm
}

func shifted(lm Landmarks, dx, dy float64) Landmarks {
	out := Landmarks{Points: make([][2]float64, len(lm.Points))}
	for k, p := range lm.Points {
		out.Points[k] = [2]float64{p[0] + dx, p[1] + dy}
	}
	return out
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMetricsKnownAnswer(t *testing.T) {
	gt := gridGT()
	gtC := gridGT()
	gtC.Visible[0] = false
	predC := shifted(gtC, 0, 0)
	predC.Points[0] = [2]float64{1000, 1000} // not scored: hidden in the truth
	var e Evaluator
	inputs := []EvalInput{
		// error 5 px (3-4-5), NME 5/30 = 16.667 %, yaw bin 0
		{Name: "A", Pred: shifted(gt, 3, 4), GT: gt, GTPose: &Pose{Yaw: 10}, PredPose: &Pose{Yaw: 12, Pitch: -1, Roll: 3}},
		// error 1 px, NME 3.333 %, bin 1; roll 179 vs -179 is 2 degrees apart
		{Name: "B", Pred: shifted(gt, 0.6, 0.8), GT: gt, GTPose: &Pose{Yaw: -45, Roll: -179}, PredPose: &Pose{Yaw: -40, Pitch: 5, Roll: 179}},
		// error 0, bin 2, no predicted pose
		{Name: "C", Pred: predC, GT: gtC, GTPose: &Pose{Yaw: 75}},
		// error 10 px, NME 33.333 %, no pose: "all" only
		{Name: "D", Pred: shifted(gt, 6, 8), GT: gt},
	}
	for _, in := range inputs {
		in.PredScheme, in.GTScheme = "aflw21", "aflw21"
		if _, err := e.Add(in); err != nil {
			t.Fatal(err)
		}
	}
	m, err := e.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-9
	if m.Images != 4 || !near(m.NMEAll, (50.0/3+10.0/3+0+100.0/3)/4, tol) || !near(m.MeanErrorPx, 4, tol) || m.FailureRate != 0.5 {
		t.Errorf("images %d nme_all %g mean_px %g failure %g", m.Images, m.NMEAll, m.MeanErrorPx, m.FailureRate)
	}
	for b, want := range []float64{50.0 / 3, 10.0 / 3, 0} {
		if m.NMEBins[b] == nil || !near(*m.NMEBins[b], want, tol) {
			t.Errorf("bin %d = %v, want %g", b, m.NMEBins[b], want)
		}
	}
	if !near(m.NME, 20.0/3, tol) {
		t.Errorf("nme %g, want 6.667 (mean of bins)", m.NME)
	}
	if len(m.PerLandmarkPx) != 21 || !near(*m.PerLandmarkPx[0], 16.0/3, tol) || !near(*m.PerLandmarkPx[1], 4, tol) {
		t.Errorf("per landmark %v %v", *m.PerLandmarkPx[0], *m.PerLandmarkPx[1])
	}
	// B's true roll (-179) is outside [-99, 99]: the protocol's MAE is A's
	// alone, the "all" MAE is over A and B.
	if p := m.PoseMAE; p == nil || !near(p.Yaw, 2, tol) || !near(p.Pitch, 1, tol) || !near(p.Roll, 3, tol) || !near(p.Mean, 2, tol) || p.Images != 1 {
		t.Errorf("pose MAE %+v, want yaw 2 pitch 1 roll 3 mean 2 over 1 image", p)
	}
	if p := m.PoseMAEAll; p == nil || !near(p.Yaw, 3.5, tol) || !near(p.Pitch, 3, tol) || !near(p.Roll, 2.5, tol) || !near(p.Mean, 3, tol) || p.Images != 2 {
		t.Errorf("pose MAE (all) %+v, want yaw 3.5 pitch 3 roll 2.5 mean 3 over 2 images", p)
	}
	ced := map[float64]float64{0: 0.25, 3.3: 0.25, 3.4: 0.5, 10: 0.5}
	for _, c := range m.CED {
		if want, ok := ced[c.NME]; ok && c.Fraction != want {
			t.Errorf("CED(%g) = %g, want %g", c.NME, c.Fraction, want)
		}
	}
	if len(m.CED) != 101 || m.CED[100].NME != 10 {
		t.Errorf("CED has %d points, last %v", len(m.CED), m.CED[len(m.CED)-1])
	}
	if r := e.Results(); len(r) != 4 || r[2].Points != 20 || r[3].YawBin != -1 || !near(r[0].Norm, 30, tol) {
		t.Errorf("results %+v", r)
	}
	if m.Scheme != "aflw21" || !near(m.Points, (21+21+20+21)/4.0, tol) {
		t.Errorf("scheme %q, points %g; want aflw21 and 20.75 per image", m.Scheme, m.Points)
	}
}

func TestMetricsEmptyBinsAndJSON(t *testing.T) {
	gt := gridGT()
	var e Evaluator
	if _, err := e.Metrics(); err == nil || err.Error() != "dataset: metrics: no images evaluated" {
		t.Errorf("empty: %v", err)
	}
	if _, err := e.Add(EvalInput{Name: "a", Pred: shifted(gt, 3, 4), PredScheme: "aflw21", GT: gt, GTScheme: "aflw21", GTPose: &Pose{Yaw: 5}}); err != nil {
		t.Fatal(err)
	}
	m, err := e.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	// Only bin 0 populated: nme falls back to nme_all.
	if m.NME != m.NMEAll || m.NMEBins[1] != nil || m.PoseMAE != nil || m.PoseMAEAll != nil {
		t.Errorf("fallback: %+v", m)
	}
	p := filepath.Join(t.TempDir(), "metrics.json")
	if err := m.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"ced", "failure_rate", "images", "mean_error_px", "nme", "nme_all", "nme_bins", "per_landmark_px", "points", "pose_mae_all_deg", "pose_mae_deg", "scheme", "skipped"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	if string(raw["pose_mae_deg"]) != "null" || string(raw["pose_mae_all_deg"]) != "null" || !strings.HasSuffix(strings.Join(strings.Fields(string(raw["nme_bins"])), ""), ",null,null]") {
		t.Errorf("nulls: %s %s", raw["pose_mae_deg"], raw["nme_bins"])
	}
}

func TestMetricsMixedSchemes(t *testing.T) {
	// A 21-point prediction scored against a 68-point truth: the 19
	// non-ear points are compared.
	gt68 := ibugFixture()
	gt21, _ := ConvertLandmarks(gt68, "ibug68", "aflw21")
	var e Evaluator
	r, err := e.Add(EvalInput{Name: "m", Pred: shifted(gt21, 3, 4), PredScheme: "aflw21", GT: gt68, GTScheme: "ibug68"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Points != 19 || !near(r.ErrorPx, 5, 1e-12) || e.Scheme() != "aflw21" {
		t.Errorf("result %+v scheme %s", r, e.Scheme())
	}
	m, _ := e.Metrics()
	if m.PerLandmarkPx[12] != nil || m.PerLandmarkPx[16] != nil || *m.PerLandmarkPx[0] != 5 {
		t.Errorf("ears must be null: %v %v", m.PerLandmarkPx[12], m.PerLandmarkPx[16])
	}
	// Later images must use the same scheme.
	if _, err := e.Add(EvalInput{Name: "n", Pred: gt68, PredScheme: "ibug68", GT: gt68, GTScheme: "ibug68"}); err == nil ||
		err.Error() != `dataset: evaluate "n": compared in scheme ibug68, earlier images in aflw21` {
		t.Errorf("scheme change: %v", err)
	}
}

func TestMetricsErrors(t *testing.T) {
	gt := gridGT()
	one := gridGT()
	for k := 1; k < 21; k++ {
		one.Visible[k] = false
	}
	line := gridGT()
	for k := range line.Points {
		line.Points[k][1] = 7
	}
	bad := shifted(gt, 0, 0)
	bad.Points[4][0] = math.Inf(1)
	cases := []struct {
		in   EvalInput
		want string
	}{
		{EvalInput{Name: "a", Pred: gt, GT: one}, `dataset: evaluate "a": 1 visible ground-truth points, want at least 2`},
		{EvalInput{Name: "b", Pred: gt, GT: line}, `dataset: evaluate "b": visible ground-truth box 30x0 has no area`},
		{EvalInput{Name: "c", Pred: bad, GT: gt}, `dataset: evaluate "c": point 4: prediction [+Inf 5], truth [15 5]: want finite`},
		{EvalInput{Name: "d", Pred: gt, GT: gt, GTPose: &Pose{Yaw: math.NaN()}}, `dataset: evaluate "d": ground-truth yaw NaN`},
	}
	for _, c := range cases {
		var e Evaluator
		c.in.PredScheme, c.in.GTScheme = "aflw21", "aflw21"
		if _, err := e.Add(c.in); err == nil || err.Error() != c.want {
			t.Errorf("%s: %v, want %q", c.in.Name, err, c.want)
		}
	}
	for _, c := range []struct {
		yaw float64
		bin int
	}{{0, 0}, {-29.99, 0}, {30, 1}, {-59.9, 1}, {60, 2}, {90, 2}, {-120, 2}} {
		if b := YawBin(c.yaw); b != c.bin {
			t.Errorf("YawBin(%g) = %d, want %d", c.yaw, b, c.bin)
		}
	}
}
