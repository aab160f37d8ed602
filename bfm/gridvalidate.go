package bfm

import (
	"fmt"
	"math"
	"sort"
)

// GridError reports an inconsistent GridModel (GridModel.Validate): the
// field at fault, what it holds and what it must hold. Its message reads
// "grid model: FIELD: FOUND, want WANT", without a package prefix, for the
// caller to wrap with its own context.
type GridError struct {
	// Field is the GridModel field at fault, with an index where one value
	// is ("Rows", "Mean", "Mean[7]", "Basis[2]", "Landmarks[aflw21][3]");
	// empty for a nil *GridModel.
	Field string
	// Found is what the field holds, Want what it must hold.
	Found, Want string
}

func (e *GridError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("grid model: %s, want %s", e.Found, e.Want)
	}
	return fmt.Sprintf("grid model: %s: %s, want %s", e.Field, e.Found, e.Want)
}

// minGridSide is the smallest number of rows or columns of a grid model:
// a geometry image needs at least one quad (two triangles) to be a mesh.
const minGridSide = 2

// Validate checks that g is a consistent geometry image, in this order,
// and returns a *GridError for the first violation:
//
//   - g is not nil; Rows and Cols are in [2, 8192] (N = Rows*Cols);
//   - Mean has 3N values; at most 65536 basis vectors, each of 3N values;
//     every Mean and Basis value is finite and within float32 range
//     (|x| <= math.MaxFloat32: the network and the grid file hold float32);
//   - Components is empty or describes every basis vector (one each);
//   - Albedo is empty or has N colours, each value finite float32;
//   - Valid is nil or has N flags;
//   - every Landmarks index is -1 (missing) or a grid vertex in [0, N),
//     schemes checked in sorted order.
//
// It checks consistency only, not fitness for one use: the STN also needs
// at least one basis vector, a preview at least one valid texel.
func (g *GridModel) Validate() error {
	if g == nil {
		return &GridError{Found: "nil", Want: "a *GridModel"}
	}
	side := fmt.Sprintf("in [%d, %d]", minGridSide, maxGridSide)
	if g.Rows < minGridSide || g.Rows > maxGridSide {
		return &GridError{"Rows", fmt.Sprint(g.Rows), side}
	}
	if g.Cols < minGridSide || g.Cols > maxGridSide {
		return &GridError{"Cols", fmt.Sprint(g.Cols), side}
	}
	n := g.N()
	coords := func(field string, v []float64) error {
		if len(v) != 3*n {
			return &GridError{field, fmt.Sprintf("%d values", len(v)), fmt.Sprintf("3*Rows*Cols = 3*%d*%d = %d", g.Rows, g.Cols, 3*n)}
		}
		for i, x := range v {
			if !(math.Abs(x) <= math.MaxFloat32) {
				return &GridError{fmt.Sprintf("%s[%d]", field, i), fmt.Sprint(x), "a finite float32 value"}
			}
		}
		return nil
	}
	if err := coords("Mean", g.Mean); err != nil {
		return err
	}
	if len(g.Basis) > gridMaxComponents {
		return &GridError{"Basis", fmt.Sprintf("%d vectors", len(g.Basis)), fmt.Sprintf("at most %d", gridMaxComponents)}
	}
	for d, b := range g.Basis {
		if err := coords(fmt.Sprintf("Basis[%d]", d), b); err != nil {
			return err
		}
	}
	if len(g.Components) != 0 && len(g.Components) != len(g.Basis) {
		return &GridError{"Components", fmt.Sprintf("%d entries", len(g.Components)), fmt.Sprintf("0 or one per basis vector (%d)", len(g.Basis))}
	}
	if len(g.Albedo) != 0 {
		if len(g.Albedo) != n {
			return &GridError{"Albedo", fmt.Sprintf("%d colours", len(g.Albedo)), fmt.Sprintf("0 or Rows*Cols = %d", n)}
		}
		for k, c := range g.Albedo {
			for _, x := range c {
				if !(math.Abs(x) <= math.MaxFloat32) {
					return &GridError{fmt.Sprintf("Albedo[%d]", k), fmt.Sprint(c), "finite float32 values"}
				}
			}
		}
	}
	if g.Valid != nil && len(g.Valid) != n {
		return &GridError{"Valid", fmt.Sprintf("%d flags", len(g.Valid)), fmt.Sprintf("nil or Rows*Cols = %d", n)}
	}
	schemes := make([]string, 0, len(g.Landmarks))
	for s := range g.Landmarks {
		schemes = append(schemes, s)
	}
	sort.Strings(schemes)
	for _, s := range schemes {
		for l, k := range g.Landmarks[s] {
			if k < -1 || k >= n {
				return &GridError{fmt.Sprintf("Landmarks[%s][%d]", s, l), fmt.Sprint(k), fmt.Sprintf("-1 or a grid vertex in [0, %d)", n)}
			}
		}
	}
	return nil
}
