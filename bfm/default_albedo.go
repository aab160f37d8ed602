package bfm

import "math"

// DefaultSkinTone returns the skin colour of the default model's albedo, in
// linear RGB (a light-medium tone, sRGB about (210, 169, 148)).
func DefaultSkinTone() [3]float64 { return [3]float64{0.64, 0.40, 0.30} }

// DefaultAlbedo returns a procedural per-vertex albedo (linear RGB in
// [0, 1]) for the default model's DefaultRows x DefaultCols vertices, with
// skin as the base skin colour (linear RGB; components are clamped to
// [0, 1], NaN counts as 0). Features are painted at the mean face's frontal (|x|, y)
// position, in mm:
//   - skin: skin times a slow +-4% variation and a rosier tint on the cheeks;
//   - brows: dark brown arches over x in [12, 52], centred near y = 43;
//   - eyes: almond openings 28 mm wide centred at (+-32, 28): sclera, an
//     iris of radius 5.5 mm and a pupil of radius 2.2 mm, a dark lash line;
//   - lips: a redder tint over the lips (|x| < 25) and a dark mouth line;
//   - nostrils: two dark spots under the nose.
//
// The albedo is mirror-symmetric like the geometry. Use it with a Model from
// Default: Default() sets Albedo = DefaultAlbedo(DefaultSkinTone()).
func DefaultAlbedo(skin [3]float64) [][3]float64 {
	for c, v := range skin {
		switch {
		case !(v >= 0): // negative or NaN
			skin[c] = 0
		case v > 1:
			skin[c] = 1
		}
	}
	return surfaceAlbedo(defaultSurface(), skin)
}

// surfaceAlbedo paints the right half of the grid and mirrors it.
func surfaceAlbedo(pts []facePoint, skin [3]float64) [][3]float64 {
	out := make([][3]float64, len(pts))
	mid := (defaultCols - 1) / 2
	for r := 0; r < defaultRows; r++ {
		for c := mid; c < defaultCols; c++ {
			k := r*defaultCols + c
			p := pts[k]
			out[k] = albedoAt(p.x, p.y, skin)
			out[r*defaultCols+defaultCols-1-c] = out[k]
		}
	}
	return out
}

// mix returns (1-w) a + w b.
func mix(a, b [3]float64, w float64) [3]float64 {
	return [3]float64{a[0] + w*(b[0]-a[0]), a[1] + w*(b[1]-a[1]), a[2] + w*(b[2]-a[2])}
}

// inside is a soft indicator of d < 0 for a signed distance d in mm.
func inside(d, width float64) float64 { return 1 - smoothstep(-width, width, d) }

// albedoAt paints the albedo at frontal position (x >= 0, y) in mm.
func albedoAt(x, y float64, skin [3]float64) [3]float64 {
	// Slow, symmetric variation of the skin (+-4%) and rosy cheeks.
	v := 1 + 0.025*math.Sin(0.21*x+0.13*y) + 0.015*math.Cos(0.37*y-0.11*x)
	col := [3]float64{skin[0] * v, skin[1] * v, skin[2] * v}
	rosy := [3]float64{skin[0] * 1.06, skin[1] * 0.86, skin[2] * 0.84}
	col = mix(col, rosy, 0.6*gauss2(x, y, 40, 3, 13, 12))

	// Brows: an arch y_b(x) over x in [12, 52].
	yb := 40 + 4*gauss(x-28, 14)
	brow := softBox(x-32, 20) * inside(math.Abs(y-yb)-2.6+0.04*(x-12), 1)
	col = mix(col, [3]float64{0.07, 0.045, 0.03}, 0.85*brow)

	// Lips (ellipse, taller below the mouth line) and the mouth line.
	h := 7.5
	if y < defaultMouthY {
		h = 10
	}
	ex, ey := x/25, (y-defaultMouthY)/h
	lips := inside(math.Sqrt(ex*ex+ey*ey)-1, 0.06)
	col = mix(col, [3]float64{skin[0] * 0.95, skin[1] * 0.50, skin[2] * 0.52}, 0.8*lips)
	col = mix(col, [3]float64{0.08, 0.02, 0.02}, 0.9*softBox(x, 23)*gauss(y-defaultMouthY, 0.9))

	// Nostrils.
	col = mix(col, [3]float64{0.06, 0.03, 0.03}, 0.85*gauss2(x, y, 6.5, -9, 2.6, 1.8))

	// Eyes: almond opening |x - 32| < 14, |y - 28| < 5 sqrt(1 - q^2).
	q := (x - defaultEyeX) / 14
	if q2 := q * q; q2 < 1 {
		hh := 5.2 * math.Sqrt(1-q2)
		if y > defaultEyeY {
			hh *= 1.1
		}
		dy := math.Abs(y - defaultEyeY)
		open := inside(dy-hh, 0.8)
		lash := gauss(y-defaultEyeY-hh, 1.0) * math.Sqrt(1-q2)
		r := math.Hypot(x-defaultEyeX, y-defaultEyeY)
		eye := [3]float64{0.72, 0.69, 0.64}
		eye = mix(eye, [3]float64{0.16, 0.09, 0.04}, inside(r-5.5, 0.6))
		eye = mix(eye, [3]float64{0.01, 0.01, 0.01}, inside(r-2.2, 0.4))
		col = mix(col, eye, open)
		if y > defaultEyeY {
			col = mix(col, [3]float64{0.03, 0.02, 0.02}, 0.7*lash)
		}
	}
	for c := range col {
		col[c] = math.Min(1, math.Max(0, col[c]))
	}
	return col
}
