package bfm

import "math"

// Geometry of the generated default face (see Default for the overview).
//
// The surface is a function of the grid parameters (u, v). With t = 2u - 1 in
// [-1, 1] the horizontal angle is
//
//	theta(t) = ThetaMax * (0.6 |t| + 0.4 |t|^3)          (denser near the mid-line)
//
// and the base surface is an elliptic cylinder whose half-width a(y) and
// depth b(y) vary with height:
//
//	x = sign(t) a(y) sin(theta),  z = z0(y) - b(y) (1 - cos(theta)),
//	y = Y(v) + Lift * w(v) * (1 - cos theta)/(1 - cos ThetaMax)
//
// where Y(v) is linear from defaultYBottom (v = 0) to defaultYTop (v = 1) and
// the lift rounds the chin outline (w(v) is non-zero only on the lower
// rows). The facial features are smooth z offsets (sums of anisotropic
// Gaussians in the frontal (|x|, y) plane) faded out towards the rim, so the
// surface is C-infinity and depends on x only through |x|: the mean is
// exactly mirror-symmetric. All lengths are millimetres; the nose tip is at
// the origin.
const (
	defaultCols = 81
	defaultRows = 97

	defaultThetaMax = 93 * math.Pi / 180 // rim angle: just past the silhouette
	defaultYTop     = 102.0              // top of the forehead (mm)
	defaultYBottom  = -92.0              // bottom of the chin (mm)
	defaultChinLift = 24.0               // rise of the lower rows' outer ends (mm)

	defaultMouthY = -32.0 // mouth line
	defaultEyeX   = 32.0  // |x| of the eye centres (inter-pupillary 64 mm)
	defaultEyeY   = 28.0  // y of the eye centres
)

// DefaultRows and DefaultCols are the sizes of the default model's
// parametric grid: vertex k = row*DefaultCols + col has UV
// (col/(DefaultCols-1), 1 - row/(DefaultRows-1)).
const (
	DefaultRows = defaultRows
	DefaultCols = defaultCols
)

// gauss is exp(-d^2 / (2 s^2)).
func gauss(d, s float64) float64 { return math.Exp(-d * d / (2 * s * s)) }

// gauss2 is an axis-aligned 2D Gaussian bump centred at (cx, cy).
func gauss2(x, y, cx, cy, sx, sy float64) float64 {
	dx, dy := (x-cx)/sx, (y-cy)/sy
	return math.Exp(-0.5 * (dx*dx + dy*dy))
}

// smoothstep is 0 below e0, 1 above e1 and 3s^2 - 2s^3 in between.
func smoothstep(e0, e1, x float64) float64 {
	s := (x - e0) / (e1 - e0)
	if s <= 0 {
		return 0
	}
	if s >= 1 {
		return 1
	}
	return s * s * (3 - 2*s)
}

// softBox is ~1 for |d| < r and falls smoothly to 0 beyond it.
func softBox(d, r float64) float64 {
	q := d / r
	q *= q
	return 1 / (1 + q*q*q*q)
}

// facePoint is the base geometry of one grid vertex on the right half
// (x >= 0); the left half is its mirror image.
type facePoint struct {
	x, y, z float64 // mean position (mm)
	theta   float64 // horizontal angle (rad), 0 on the mid-line
	fade    float64 // 1 on the face, 0 at the rim: weight of the features
}

// halfWidth is a(y), the half-width of the base cylinder (mm).
func halfWidth(y float64) float64 {
	if y >= 10 {
		d := y - 10
		return 70 - 0.0016*d*d
	}
	d := (10 - y) / 100
	return 70 - 40*d*d
}

// depth is b(y), how far the rim lies behind the mid-line profile (mm).
func depth(y float64) float64 {
	d := smoothstep(-20, -92, y)
	return 85 - 30*d
}

// midProfile is z0(y), the mid-line profile of the base surface without
// the nose, lips and brows: a forehead sloping back and a chin bulge.
func midProfile(y float64) float64 {
	d := y - 8
	z := -25 - 0.003*d*d
	z += 13 * gauss(y+76, 9)          // chin
	z -= 10 * smoothstep(-80, -95, y) // under the chin
	return z
}

// gridTheta maps the column to |theta| and the sign of x.
func gridTheta(col int) (theta, sign float64) {
	c := col - (defaultCols-1)/2
	switch {
	case c > 0:
		sign = 1
	case c < 0:
		sign, c = -1, -c
	}
	t := float64(c) / float64((defaultCols-1)/2)
	return defaultThetaMax * (0.6*t + 0.4*t*t*t), sign
}

// basePoint returns the right-half geometry for |theta| at grid row.
func basePoint(theta float64, row int) facePoint {
	v := 1 - float64(row)/float64(defaultRows-1)
	g := (1 - math.Cos(theta)) / (1 - math.Cos(defaultThetaMax))
	var w float64
	if v < 0.4 {
		q := 1 - v/0.4
		w = q * q
	}
	y := defaultYBottom + v*(defaultYTop-defaultYBottom) + defaultChinLift*w*g
	a, b := halfWidth(y), depth(y)
	x := a * math.Sin(theta)
	z := midProfile(y) - b*(1-math.Cos(theta))
	fade := 1 - smoothstep(60*math.Pi/180, 88*math.Pi/180, theta)
	p := facePoint{x: x, y: y, theta: theta, fade: fade}
	p.z = z + fade*featureHeight(x, y)
	return p
}

// noseHeight is the height of the nose above the base surface at (|x|, y):
// a ridge from the nasion (y = 30) to the tip (y = 0), a rounded tip and two
// alae (wings).
func noseHeight(x, y float64) float64 {
	var h, w float64
	switch {
	case y > 30:
		h, w = 6*gauss(y-30, 6), 6
	case y >= 0:
		p := (30 - y) / 30
		h, w = 6+15*math.Pow(p, 1.4), 6+3*p
	default:
		h, w = 21*gauss(y, 6), 9+2*(-y)/10
	}
	n := h * gauss(x, w)
	n += 4 * gauss2(x, y, 0, 0, 7, 6)     // rounded tip
	n += 7 * gauss2(x, y, 13, -4, 5.5, 5) // ala
	return n
}

// lipWeight is the lateral extent of the lips (1 inside the mouth width).
func lipWeight(x float64) float64 { return softBox(x, 25) }

// featureHeight is the sum of the facial features at (|x|, y) (mm, +z).
func featureHeight(x, y float64) float64 {
	x = math.Abs(x)
	h := noseHeight(x, y)
	// Brow ridge and glabella.
	h += 5 * gauss2(x, y, 30, 40, 17, 5)
	h += 5 * gauss2(x, y, 0, 38, 11, 8)
	// Eye sockets, eyeballs and the upper-lid crease.
	h -= 15 * gauss2(x, y, defaultEyeX-3, defaultEyeY+1, 14, 10)
	h += 8 * gauss2(x, y, defaultEyeX, defaultEyeY, 10, 6.5)
	h -= 1.5 * gauss2(x, y, defaultEyeX, defaultEyeY+6, 11, 2.2)
	// Cheeks and cheekbones, temples.
	h += 7 * gauss2(x, y, 40, 2, 16, 16)
	h += 4 * gauss2(x, y, 50, 15, 10, 8)
	h -= 4 * gauss2(x, y, 60, 42, 9, 14)
	// Lips: upper and lower lip, the mouth line, philtrum.
	lw := lipWeight(x)
	h += 7 * lw * gauss(y-(defaultMouthY+5), 4)
	h += 7 * lw * gauss(y-(defaultMouthY-6), 4.5)
	h -= 3 * lw * gauss(y-defaultMouthY, 2)
	h -= 1.2 * gauss2(x, y, 0, defaultMouthY+14, 3, 5)
	h += 5 * gauss2(x, y, 0, defaultMouthY+14, 22, 9) // maxilla under the nose
	// Mentolabial sulcus.
	h -= 3 * gauss2(x, y, 0, -55, 18, 5)
	return h
}

// defaultSurface returns the mean geometry of every grid vertex, row-major,
// built on the right half and mirrored so that vertex (row, Cols-1-col) is
// exactly (-x, y, z) of vertex (row, col).
func defaultSurface() []facePoint {
	pts := make([]facePoint, defaultRows*defaultCols)
	mid := (defaultCols - 1) / 2
	for r := 0; r < defaultRows; r++ {
		for c := mid; c < defaultCols; c++ {
			th, _ := gridTheta(c)
			p := basePoint(th, r)
			if c == mid {
				p.x = 0
			}
			pts[r*defaultCols+c] = p
			m := p
			m.x = -p.x
			pts[r*defaultCols+defaultCols-1-c] = m
		}
	}
	// Put the nose tip (the mid-line vertex of largest z) at z = 0.
	tip := math.Inf(-1)
	for r := 0; r < defaultRows; r++ {
		tip = math.Max(tip, pts[r*defaultCols+mid].z)
	}
	for k := range pts {
		pts[k].z -= tip
	}
	return pts
}
