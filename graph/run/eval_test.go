package run

import (
	"math"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

func TestComparedSchemes(t *testing.T) {
	full68 := make([][2]float64, 68)
	part68 := make([][2]float64, 68)
	part68[7] = [2]float64{math.NaN(), math.NaN()}
	both := dataset.Sample{Landmarks: map[string]dataset.Landmarks{bfm.SchemeAFLW21: {}, bfm.SchemeIBUG68: {}}}
	only68 := dataset.Sample{Landmarks: map[string]dataset.Landmarks{bfm.SchemeIBUG68: {}}}
	only21 := dataset.Sample{Landmarks: map[string]dataset.Landmarks{bfm.SchemeAFLW21: {}}}
	none := dataset.Sample{}
	cases := []struct {
		name     string
		s        dataset.Sample
		p        graph.Prediction
		pred, gt string
		ok       bool
	}{
		{"68 points known: the protocol's 68", both, graph.Prediction{Schemes: map[string][][2]float64{"ibug68": full68}}, "ibug68", "ibug68", true},
		{"a 68-point landmark missing from the model", both, graph.Prediction{Schemes: map[string][][2]float64{"ibug68": part68}}, "aflw21", "aflw21", true},
		{"no 68-point mapping, 68-point truth: common points", only68, graph.Prediction{}, "aflw21", "ibug68", true},
		{"21-point truth", only21, graph.Prediction{Schemes: map[string][][2]float64{"ibug68": full68}}, "aflw21", "aflw21", true},
		{"no truth", none, graph.Prediction{}, "", "", false},
	}
	for _, c := range cases {
		pred, gt, ok := comparedSchemes(c.s, c.p, bfm.SchemeAFLW21)
		if pred != c.pred || gt != c.gt || ok != c.ok {
			t.Errorf("%s: got %q, %q, %v; want %q, %q, %v", c.name, pred, gt, ok, c.pred, c.gt, c.ok)
		}
	}
}
