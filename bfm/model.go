// Package bfm holds 3D morphable models as plain data: the Model type, its
// readers (one file per format), composition of identity and expression
// bases, the symmetric Tutte flattening, re-meshing onto a regular grid (the
// geometry image of Bas et al. 2017, Sec. 3.1) and the embedded default model.
//
// bfm never imports Gorgonia: a model can be used without a graph.
//
// Conventions (fixed once for the whole product):
//   - Model coordinates: x right, y up, z towards the viewer (BFM and SFM agree).
//   - Vertices are stored interleaved x,y,z per vertex: Mean[3*v+c].
//   - A shape is S = Mean + sum_d alpha_d Basis[d], with every basis vector
//     scaled so that alpha ~ N(0, I) (the paper's Eq. 1 with P = U diag(sigma)).
//   - Triangles are 0-based and wind counter-clockwise seen from +z for a
//     front-facing surface.
//   - UVs: u in [0,1] grows with model x, v in [0,1] with v = 1 at the top of
//     the face (the reference's BFM_UV.mat convention). Readers convert.
//   - Grid vertex k = row*Cols + col, row 0 = top of the face (v = 1), the
//     mirror of col is Cols-1-col. GridTriangles is the one, mirror-symmetric
//     triangulation of a grid (the backface mask's, the default model's and
//     the exported meshes').
package bfm

// ComponentKind says whether a basis vector models identity or expression.
type ComponentKind string

// Component kinds.
const (
	Identity   ComponentKind = "identity"
	Expression ComponentKind = "expression"
)

// Component names and classifies one basis vector.
type Component struct {
	Name string        `json:"name"`
	Kind ComponentKind `json:"kind"`
}

// Model is a linear 3D morphable model on an arbitrary triangle mesh.
type Model struct {
	// Name is a short human name ("default", "sfm_shape_3448", ...).
	Name string
	// Format names the on-disk format it was read from ("eos", "bfm2009",
	// "bfm2017", "obj", "generated", ...).
	Format string
	// Source is the path (or "embedded") it was read from.
	Source string
	// Units of the coordinates ("mm", "um", "unit").
	Units string

	// Mean is the mean shape, 3V values, x,y,z interleaved per vertex.
	Mean []float64
	// Basis holds one 3V slice per component, already multiplied by the
	// component's standard deviation so that weights are N(0, I).
	Basis [][]float64
	// Components describes Basis, one entry per basis vector.
	Components []Component

	// Triangles are 0-based vertex indices.
	Triangles [][3]int32
	// UV is optional: one (u, v) per vertex, conventions in the package doc.
	UV [][2]float64
	// Albedo is optional: one linear RGB colour in [0,1] per vertex.
	Albedo [][3]float64

	// Landmarks maps a scheme name (SchemeAFLW21, SchemeIBUG68) to one vertex
	// index per landmark of the scheme, -1 where the model has none.
	Landmarks map[string][]int
}

// NumVertices returns V, the number of mesh vertices.
func (m *Model) NumVertices() int { return len(m.Mean) / 3 }

// NumComponents returns D, the number of basis vectors.
func (m *Model) NumComponents() int { return len(m.Basis) }

// Shape returns Mean + sum_d alpha[d]*Basis[d] (3V values, interleaved).
// Missing trailing weights count as zero; extra weights are an error of the
// caller and panic.
func (m *Model) Shape(alpha []float64) []float64 {
	if len(alpha) > len(m.Basis) {
		panic("bfm: more weights than components")
	}
	out := make([]float64, len(m.Mean))
	copy(out, m.Mean)
	for d, a := range alpha {
		if a == 0 {
			continue
		}
		for i, b := range m.Basis[d] {
			out[i] += a * b
		}
	}
	return out
}

// GridModel is a morphable model re-meshed as a geometry image: vertex
// k = row*Cols + col sits at output pixel (row, col) of the STN's texture.
type GridModel struct {
	Rows, Cols int
	Units      string

	// Mean is 3N values (N = Rows*Cols), x,y,z interleaved per grid vertex.
	Mean []float64
	// Basis holds one 3N slice per component (weights N(0, I)).
	Basis      [][]float64
	Components []Component

	// Valid marks grid vertices that lie inside the flattened mesh; nil
	// means all are valid (a Tutte embedding onto the square covers it).
	Valid []bool
	// Albedo is optional, one RGB per grid vertex.
	Albedo [][3]float64

	// Landmarks maps a scheme name to one grid vertex per landmark, -1 where
	// missing.
	Landmarks map[string][]int

	// Source and Params record where the grid came from (model path and
	// format, flattening method, size), for provenance in saved files.
	Source string
	Params map[string]string
}

// N returns the number of grid vertices Rows*Cols.
func (g *GridModel) N() int { return g.Rows * g.Cols }

// NumComponents returns D.
func (g *GridModel) NumComponents() int { return len(g.Basis) }

// Mirror returns the grid vertex mirrored about the vertical mid-line.
func (g *GridModel) Mirror(k int) int {
	r, c := k/g.Cols, k%g.Cols
	return r*g.Cols + (g.Cols - 1 - c)
}
