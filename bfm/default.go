package bfm

import "fmt"

// Default returns the embedded default morphable model: a smooth,
// bilaterally symmetric, face-like mesh generated deterministically by code
// (no data files). Each call builds a fresh, independent Model (10-20 ms
// on one core; nothing is cached, there is no package state).
//
// # Mesh
//
// A regular DefaultRows x DefaultCols (97 x 81) grid over the parameter
// square (u, v) in [0,1]^2: vertex k = row*DefaultCols + col has
// UV (u, v) = (col/80, 1 - row/96), so u grows with x, v = 1 at the top of
// the forehead and the UVs are the parameterisation itself. Column col and
// 80-col are exact mirror images: position (-x, y, z) and (x, y, z). The
// triangles are GridTriangles(DefaultRows, DefaultCols): with an odd number
// of columns each grid square is split into two triangles, along a-e on the
// left half and b-d on the right half, so that the triangle set is
// mirror-symmetric; all wind counter-clockwise seen from +z.
//
// Units are mm, x right, y up, z towards the viewer, origin at the nose
// tip (the vertex of largest z). The base surface is a formula (see
// default_shape.go: about 140 mm wide and 194 mm tall, eyes at (+-32, 28),
// mouth line at y = -32, nose from the nasion (y = 30) to the tip) that
// wraps back to 93 degrees around a vertical axis. The mean is that
// surface warped so that its 68 iBUG landmark vertices sit where real
// faces have them (default_photo.go: the mean 3D landmarks of the
// AFLW2000-3D photographs, at the same inter-ocular distance, 64 mm):
// 146.8 mm wide and 189.9 mm tall (chin bottom y = -80.6, forehead top
// y = +109.3), eyes 35 mm above the nose tip, eye to mouth 1.08
// inter-ocular distances (the base surface: 0.95), the chin's front
// level with the eyes' depth. At yaw 0 only quads of the last column at
// each side (260 triangles) face away. The albedo, the components and the
// landmarks' vertices are those of the base surface: the features move
// with the warp.
//
// # Components
//
// Basis[d] = sigma_d * e_d (the paper's Eq. 1 with P = U diag(sigma)), where
// e_d is a smooth symmetric displacement field whose largest per-vertex
// displacement |e_d(v)| is exactly 1: at weight alpha_d = 1 (one standard
// deviation) the most-moved vertex moves sigma_d mm; rms is the root mean
// square over all vertices of the displacement length at alpha_d = 1 (mm).
// In order:
//
//	 #  name            kind        sigma    rms    what moves
//	 0  face_width      identity    5 mm  2.803  x scaled about the mid-line
//	 1  face_length     identity    6 mm  3.276  y scaled about the nose tip
//	 2  jaw_width       identity    4 mm  1.289  lower face widens below y = 0
//	 3  nose_length     identity  2.5 mm  0.261  nose tip down and forward
//	 4  nose_width      identity  2.5 mm  0.322  nose scaled in x about the mid-line
//	 5  eye_depth       identity    3 mm  0.455  eye region backwards
//	 6  brow_height     identity    3 mm  0.534  brows up
//	 7  chin            identity    4 mm  0.828  chin forward and down
//	 8  cheek_fullness  identity    4 mm  0.905  cheeks forward and out
//	 9  mouth_open      expression  4 mm  1.809  jaw and lower lip down and back
//	10  smile           expression  3 mm  0.457  mouth corners up/out, cheeks up
//	11  brows_up        expression  4 mm  0.960  brows and forehead up
//	12  eyes_closed     expression 2.25 mm 0.314  upper lids down (~closed at +3)
//
// Every component is mirror-symmetric and keeps every triangle's
// orientation for |alpha_d| <= 3, except in the quad column next to the
// rim, within a few degrees of the silhouette (nose_length, smile and
// eyes_closed were made smaller for this when the warp shortened the
// lower face and the eyes: 4, 4 and 3 mm before).
//
// # Landmarks
//
// "ibug68": the jaw contour 0..16 lies on the mesh boundary (the rim
// columns from y = +22 mm down, then the bottom row), equally spaced by
// frontal arc length, point 8 at the bottom of the chin on the mid-line;
// point 30 is the nose tip; the others are the vertices nearest to fixed
// frontal positions (brows, nose bridge and base, eye corners and lids, outer
// and inner lips). "aflw21" uses the iBUG points of IBUG68ToAFLW21 for its
// one-to-one landmarks, the pupil vertices for the eye centres, the mid-line
// vertex of the mouth line for the mouth centre, and for the ears (which the
// mesh lacks) the rim vertex (col 0 / col 80, the face's side at ~93
// degrees) at y = +8 mm, level with where the ear attaches. The mirror of
// landmark i's vertex is landmark MirrorPermutation(scheme)[i]'s vertex.
//
// # Albedo
//
// Albedo = DefaultAlbedo(DefaultSkinTone()); call DefaultAlbedo with another
// skin colour to vary the tone.
func Default() (*Model, error) {
	pts := defaultSurface()
	n := len(pts)
	m := &Model{
		Name:   "default",
		Format: "generated",
		Source: "embedded",
		Units:  "mm",
		Mean:   make([]float64, 3*n),
		UV:     make([][2]float64, n),
	}
	lm, err := defaultLandmarks(pts)
	if err != nil {
		return nil, fmt.Errorf("bfm: building default model: %w", err)
	}
	m.Landmarks = lm
	warped, err := photoWarp(pts, lm[SchemeIBUG68])
	if err != nil {
		return nil, fmt.Errorf("bfm: building default model: %w", err)
	}
	// The nose tip (the mid-line vertex of largest z) back at the origin.
	mid := (defaultCols - 1) / 2
	tip := mid
	for r := 0; r < defaultRows; r++ {
		if k := r*defaultCols + mid; warped[k][2] > warped[tip][2] {
			tip = k
		}
	}
	o := warped[tip]
	for k, p := range warped {
		m.Mean[3*k], m.Mean[3*k+1], m.Mean[3*k+2] = p[0]-o[0], p[1]-o[1], p[2]-o[2]
		r, c := k/defaultCols, k%defaultCols
		m.UV[k] = [2]float64{float64(c) / (defaultCols - 1), 1 - float64(r)/(defaultRows-1)}
	}
	m.Triangles = GridTriangles(defaultRows, defaultCols).Triangles
	for _, dc := range defaultComponents() {
		m.Basis = append(m.Basis, componentBasis(pts, dc))
		m.Components = append(m.Components, Component{Name: dc.name, Kind: dc.kind})
	}
	m.Albedo = surfaceAlbedo(pts, DefaultSkinTone())
	return m, nil
}
