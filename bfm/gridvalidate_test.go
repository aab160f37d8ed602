package bfm

import (
	"errors"
	"math"
	"testing"
)

// validGrid is a consistent 2 x 3 grid model with every optional field.
func validGrid() *GridModel {
	n := 6
	g := &GridModel{Rows: 2, Cols: 3, Mean: make([]float64, 3*n), Basis: [][]float64{make([]float64, 3*n), make([]float64, 3*n)},
		Components: []Component{{"a", Identity}, {"b", Expression}}, Albedo: make([][3]float64, n), Valid: make([]bool, n),
		Landmarks: map[string][]int{"aflw21": {0, -1, 5}, "ibug68": {2}}}
	return g
}

func TestGridModelValidate(t *testing.T) {
	if err := validGrid().Validate(); err != nil {
		t.Fatalf("consistent grid: %v", err)
	}
	if err := (&GridModel{Rows: 2, Cols: 2, Mean: make([]float64, 12)}).Validate(); err != nil {
		t.Fatalf("grid with only a mean: %v", err)
	}
	for _, tc := range []struct {
		name  string
		mut   func(g *GridModel)
		field string
		msg   string
	}{
		{"one row", func(g *GridModel) { g.Rows = 1 }, "Rows", "grid model: Rows: 1, want in [2, 8192]"},
		{"huge", func(g *GridModel) { g.Cols = 9000 }, "Cols", "grid model: Cols: 9000, want in [2, 8192]"},
		{"short mean", func(g *GridModel) { g.Mean = g.Mean[:17] }, "Mean", "grid model: Mean: 17 values, want 3*Rows*Cols = 3*2*3 = 18"},
		{"NaN mean", func(g *GridModel) { g.Mean[4] = math.NaN() }, "Mean[4]", "grid model: Mean[4]: NaN, want a finite float32 value"},
		{"long basis", func(g *GridModel) { g.Basis[1] = make([]float64, 19) }, "Basis[1]", "grid model: Basis[1]: 19 values, want 3*Rows*Cols = 3*2*3 = 18"},
		{"float32 overflow", func(g *GridModel) { g.Basis[0][3] = 1e39 }, "Basis[0][3]", "grid model: Basis[0][3]: 1e+39, want a finite float32 value"},
		{"components", func(g *GridModel) { g.Components = g.Components[:1] }, "Components", "grid model: Components: 1 entries, want 0 or one per basis vector (2)"},
		{"albedo size", func(g *GridModel) { g.Albedo = g.Albedo[:5] }, "Albedo", "grid model: Albedo: 5 colours, want 0 or Rows*Cols = 6"},
		{"albedo value", func(g *GridModel) { g.Albedo[2][1] = math.Inf(1) }, "Albedo[2]", "grid model: Albedo[2]: [0 +Inf 0], want finite float32 values"},
		{"valid", func(g *GridModel) { g.Valid = make([]bool, 7) }, "Valid", "grid model: Valid: 7 flags, want nil or Rows*Cols = 6"},
		{"landmark", func(g *GridModel) { g.Landmarks["ibug68"][0] = 6 }, "Landmarks[ibug68][0]", "grid model: Landmarks[ibug68][0]: 6, want -1 or a grid vertex in [0, 6)"},
		{"landmark -2", func(g *GridModel) { g.Landmarks["aflw21"][1] = -2 }, "Landmarks[aflw21][1]", "grid model: Landmarks[aflw21][1]: -2, want -1 or a grid vertex in [0, 6)"},
	} {
		g := validGrid()
		tc.mut(g)
		err := g.Validate()
		var ge *GridError
		if !errors.As(err, &ge) || ge.Field != tc.field || err.Error() != tc.msg {
			t.Errorf("%s: error %v (field %v), want %q (field %s)", tc.name, err, ge, tc.msg, tc.field)
		}
	}
	var nilGrid *GridModel
	if err := nilGrid.Validate(); err == nil || err.Error() != "grid model: nil, want a *GridModel" {
		t.Errorf("nil grid: %v", err)
	}
}
