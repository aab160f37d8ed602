package dataset

import (
	"math"
	"math/rand/v2"

	"github.com/stn3d/stn3d/bfm"
)

// Per-image variety of the face's albedo (SyntheticConfig.AlbedoVariety):
// one painted face pattern, seen 40,000 times, is a cue a localiser learns
// and photographs never show. Each image scales the contrast of the
// painted features against the skin, adds smooth blotches and per-vertex
// grain to the skin and, sometimes, a beard shadow.

// albedoFrame holds what the variety needs of a model, computed once.
type albedoFrame struct {
	uv    [][2]float64 // mean (x, y) over the face's width, about [-0.5, 0.5]
	beard []float64    // 0..1: below the nose, around the mouth, on the jaw
}

// newAlbedoFrame places the vertices in the frontal plane and marks the
// beard region from the iBUG points (nose base 33, mouth corners 48 and
// 54, upper lip 51, chin 8); without them the beard is empty.
func newAlbedoFrame(m *bfm.Model, centre [3]float64, width float64) *albedoFrame {
	nv := m.NumVertices()
	f := &albedoFrame{uv: make([][2]float64, nv), beard: make([]float64, nv)}
	for v := 0; v < nv; v++ {
		f.uv[v] = [2]float64{(m.Mean[3*v] - centre[0]) / width, (m.Mean[3*v+1] - centre[1]) / width}
	}
	ib, ok := m.Landmarks[bfm.SchemeIBUG68]
	if !ok || len(ib) != 68 {
		return f
	}
	pt := func(i int) [3]float64 { k := ib[i]; return [3]float64{m.Mean[3*k], m.Mean[3*k+1], m.Mean[3*k+2]} }
	nose, l, r, lip, chin := pt(33), pt(48), pt(54), pt(51), pt(8)
	mouthW := (r[0] - l[0]) / 2
	mouthY := (l[1] + r[1]) / 2
	for v := 0; v < nv; v++ {
		x, y := math.Abs(m.Mean[3*v]), m.Mean[3*v+1]
		// Below the nose base, above the chin's bottom, within 1.6 mouth
		// half-widths of the mid-line (wider towards the jaw).
		top := smooth01((nose[1] - 2 - y) / 4)
		bottom := smooth01((y - chin[1] + 2) / 4)
		side := smooth01((1.9*mouthW - x) / (0.3 * mouthW))
		// Not on the lips: an ellipse around the mouth.
		ex, ey := x/(1.05*mouthW), (y-mouthY)/(1.15*(lip[1]-mouthY)+1e-9)
		lips := smooth01((math.Sqrt(ex*ex+ey*ey) - 1) / 0.15)
		f.beard[v] = top * bottom * side * lips
	}
	return f
}

// smooth01 is 0 below 0, 1 above 1, smoothstep in between.
func smooth01(t float64) float64 {
	t = min(max(t, 0), 1)
	return t * t * (3 - 2*t)
}

// vary changes one image's albedo col (linear RGB) in place; tone is the
// image's skin tone, strength in [0, 1] scales every effect.
func (f *albedoFrame) vary(col [][3]float64, tone [3]float64, strength float64, rng *rand.Rand) {
	// Feature contrast against the skin tone: 0.6..1.5 at full strength.
	c := 1 + strength*(-0.4+0.9*rng.Float64())
	// Blotches: value noise on a 5 x 5 grid over the face, +-15%.
	var grid [6][6]float64
	amp := strength * 0.15 * rng.Float64()
	for i := range grid {
		for j := range grid[i] {
			grid[i][j] = amp * (2*rng.Float64() - 1)
		}
	}
	grain := strength * 0.06 * rng.Float64()
	beard := 0.0
	if rng.Float64() < 0.2*strength {
		beard = 0.3 + 0.5*rng.Float64()
	}
	// A darker or redder lip and brow tint: per-channel gains.
	var tint [3]float64
	for k := range tint {
		tint[k] = 1 + strength*0.15*(2*rng.Float64()-1)
	}
	for v := range col {
		u := min(max(f.uv[v][0]+0.5, 0), 0.999) * 5
		w := min(max(0.5-f.uv[v][1]*0.75, 0), 0.999) * 5
		iu, iw := int(u), int(w)
		tu, tw := u-float64(iu), w-float64(iw)
		n := (1-tw)*((1-tu)*grid[iw][iu]+tu*grid[iw][iu+1]) + tw*((1-tu)*grid[iw+1][iu]+tu*grid[iw+1][iu+1])
		g := 1 + n + grain*(2*rng.Float64()-1)
		for k := 0; k < 3; k++ {
			a := col[v][k]
			if c != 1 {
				a = tone[k] + c*(a-tone[k])
			}
			if a < tone[k] { // features (darker than the skin) take the tint
				a *= tint[k]
			}
			a *= g * (1 - beard*f.beard[v]*0.6)
			col[v][k] = min(max(a, 0), 1)
		}
	}
}
