package bfm

import "math"

// defaultComponent is one deformation of the generated default model: a
// smooth displacement field on the right half (x >= 0) of the face, mirrored
// to the left half (dx -> -dx), so every component is bilaterally symmetric.
type defaultComponent struct {
	name  string
	kind  ComponentKind
	sigma float64 // mm: peak vertex displacement at weight 1 (one std dev)
	// field returns the unnormalised displacement at a right-half vertex.
	// dx must vanish (with its x-derivative) on the mid-line x = 0.
	field func(p facePoint) (dx, dy, dz float64)
}

// oddRamp is a weight for x-displacements: 0 with zero slope at x = 0,
// 1 beyond x = r, so that a mirrored dx field is smooth across the mid-line.
func oddRamp(x, r float64) float64 { return smoothstep(0, r, x) }

// defaultComponents is the table documented on Default. Order is the order
// of Model.Basis. Peak displacements (sigma) are in mm.
func defaultComponents() []defaultComponent {
	return []defaultComponent{
		{"face_width", Identity, 5, func(p facePoint) (float64, float64, float64) {
			return p.x / 70, 0, 0
		}},
		{"face_length", Identity, 6, func(p facePoint) (float64, float64, float64) {
			return 0, p.y / 100, 0
		}},
		{"jaw_width", Identity, 4, func(p facePoint) (float64, float64, float64) {
			return p.x / 70 * smoothstep(0, -60, p.y), 0, 0
		}},
		{"nose_length", Identity, 2.5, func(p facePoint) (float64, float64, float64) {
			n := noseHeight(p.x, p.y) / 25 * p.fade
			return 0, -0.6 * n, 0.8 * n
		}},
		{"nose_width", Identity, 2.5, func(p facePoint) (float64, float64, float64) {
			return p.x / 12 * gauss2(p.x, p.y, 0, -3, 14, 8) * p.fade, 0, 0
		}},
		{"eye_depth", Identity, 3, func(p facePoint) (float64, float64, float64) {
			return 0, 0, -gauss2(p.x, p.y, defaultEyeX, defaultEyeY, 13, 9) * p.fade
		}},
		{"brow_height", Identity, 3, func(p facePoint) (float64, float64, float64) {
			return 0, gauss2(p.x, p.y, 30, 42, 20, 8) * p.fade, 0
		}},
		{"chin", Identity, 4, func(p facePoint) (float64, float64, float64) {
			g := gauss2(p.x, p.y, 0, -78, 20, 12) * p.fade
			return 0, -0.5 * g, g
		}},
		{"cheek_fullness", Identity, 4, func(p facePoint) (float64, float64, float64) {
			g := gauss2(p.x, p.y, 42, -5, 15, 18) * p.fade
			return 0.4 * g * oddRamp(p.x, 20), 0, g
		}},
		{"mouth_open", Expression, 4, func(p facePoint) (float64, float64, float64) {
			lw := lipWeight(p.x)
			in := smoothstep(defaultMouthY+10, defaultMouthY-10, p.y)
			out := smoothstep(defaultMouthY+5, -80, p.y)
			j := lw*in + (1-lw)*out
			return 0, -j, -0.35 * j
		}},
		{"smile", Expression, 3, func(p facePoint) (float64, float64, float64) {
			g := gauss2(p.x, p.y, 25, defaultMouthY, 9, 7) * p.fade
			c := gauss2(p.x, p.y, 38, -5, 14, 14) * p.fade
			return 0.5 * g * oddRamp(p.x, 12), 0.8*g + 0.35*c, -0.2*g + 0.3*c
		}},
		{"brows_up", Expression, 4, func(p facePoint) (float64, float64, float64) {
			return 0, (gauss2(p.x, p.y, 30, 42, 22, 9) + 0.4*gauss2(p.x, p.y, 0, 62, 45, 25)) * p.fade, 0
		}},
		{"eyes_closed", Expression, 2.25, func(p facePoint) (float64, float64, float64) {
			e := softBox(p.x-defaultEyeX, 14) * p.fade
			c := smoothstep(18, 34, p.y) * (1 - smoothstep(34, 52, p.y))
			return 0, -e * c, 0.25 * e * c * gauss(p.y-defaultEyeY-4, 6)
		}},
	}
}

// componentBasis evaluates one component on the grid and scales it so that
// the largest vertex displacement is exactly sigma: the returned 3V vector
// is Basis[d] of Eq. 1 for weights alpha_d ~ N(0, 1).
func componentBasis(pts []facePoint, dc defaultComponent) []float64 {
	out := make([]float64, 3*len(pts))
	mid := (defaultCols - 1) / 2
	peak := 0.0
	for r := 0; r < defaultRows; r++ {
		for c := mid; c < defaultCols; c++ {
			k := r*defaultCols + c
			dx, dy, dz := dc.field(pts[k])
			if c == mid {
				dx = 0
			}
			out[3*k], out[3*k+1], out[3*k+2] = dx, dy, dz
			if n := math.Sqrt(dx*dx + dy*dy + dz*dz); n > peak {
				peak = n
			}
		}
	}
	s := dc.sigma / peak
	for r := 0; r < defaultRows; r++ {
		for c := mid; c < defaultCols; c++ {
			k := r*defaultCols + c
			out[3*k] *= s
			out[3*k+1] *= s
			out[3*k+2] *= s
			m := r*defaultCols + defaultCols - 1 - c
			out[3*m], out[3*m+1], out[3*m+2] = -out[3*k], out[3*k+1], out[3*k+2]
		}
	}
	return out
}
