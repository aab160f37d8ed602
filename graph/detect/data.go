package detect

import (
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"path/filepath"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/internal/workpool"
)

// LandmarkBox returns the bounding box of the 68 iBUG points of s (every
// point, visible or not: AFLW2000-3D's hidden jaw points lie where the
// fitted 3D point projects), or false when s has no ibug68 landmarks.
func LandmarkBox(s dataset.Sample) (Box, bool) {
	lm, ok := s.Landmarks["ibug68"]
	if !ok || len(lm.Points) == 0 {
		return Box{}, false
	}
	b := Box{X0: math.Inf(1), Y0: math.Inf(1), X1: math.Inf(-1), Y1: math.Inf(-1)}
	for i, p := range lm.Points {
		// A point of a real annotation that is not visible has no position
		// (Hidden, set by the renderer, marks a known self-occluded point).
		if !lm.Visible[i] && (lm.Hidden == nil || !lm.Hidden[i]) {
			continue
		}
		b.X0, b.Y0 = min(b.X0, p[0]), min(b.Y0, p[1])
		b.X1, b.Y1 = max(b.X1, p[0]), max(b.Y1, p[1])
	}
	if !(b.X1 > b.X0 && b.Y1 > b.Y0) {
		return Box{}, false
	}
	return b, true
}

// AFLWHeldOut reports whether the AFLW2000-3D photograph at position i of
// the folder's lexical order is held out of training: every odd position
// (394 of the 789 shared photographs). Detector measurements on AFLW2000-3D
// use only these.
func AFLWHeldOut(i int) bool { return i%2 == 1 }

// source is one training picture: its mip chain and its faces' landmark
// boxes (original pixels).
type source struct {
	mips  mipChain
	faces []Box
}

func sourceFrom(s dataset.Sample, minSide int) (*source, error) {
	m := &rgb{}
	if err := toRGB(m, s.Image); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	src := &source{mips: mipChain{levels: []*rgb{m}}}
	src.mips.build(minSide)
	if b, ok := LandmarkBox(s); ok {
		src.faces = append(src.faces, b)
	}
	return src, nil
}

// loadAFLWTrain reads the training part (not AFLWHeldOut) of an AFLW2000-3D
// folder, keeping the mips from level `skip` (the photographs are 450 px
// and faces are always downscaled a lot) to save memory.
func loadAFLWTrain(dir string, skip int) ([]*source, error) {
	src, err := dataset.OpenAFLW2000(dir, dataset.AFLW2000Options{})
	if err != nil {
		return nil, err
	}
	var idx []int
	for i := range src.Items {
		if !AFLWHeldOut(i) {
			idx = append(idx, i)
		}
	}
	out := make([]*source, len(idx))
	err = workpool.Run(len(idx), 1<<20, func(items iter.Seq[int]) error {
		for k := range items {
			if err := loadOne(src, idx[k], skip, out, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("detect: AFLW2000-3D %s: %w", filepath.Base(dir), err)
	}
	return out, nil
}

func loadOne(src *dataset.ItemSource, i, skip int, out []*source, k int) error {
	s, err := src.Sample(i)
	if err != nil {
		return err
	}
	ps, err := sourceFrom(s, 8)
	if err != nil {
		return err
	}
	if len(ps.faces) == 0 {
		return fmt.Errorf("%s: no ibug68 landmarks", s.Name)
	}
	sc := 1 / float64(int(1)<<skip)
	for i := range ps.faces {
		b := &ps.faces[i]
		// Level `skip` pixel u covers original [u 2^skip, (u+1) 2^skip).
		b.X0, b.X1 = (b.X0+0.5)*sc-0.5, (b.X1+0.5)*sc-0.5
		b.Y0, b.Y1 = (b.Y0+0.5)*sc-0.5, (b.Y1+0.5)*sc-0.5
	}
	ps.mips.levels = ps.mips.levels[min(skip, len(ps.mips.levels)-1):]
	out[k] = ps
	return nil
}

// renderSynthetic renders n faces of the embedded default model (any yaw up
// to 90 degrees) on their own synthetic backgrounds, 64 x 64 pixels.
func renderSynthetic(n int, seed uint64) ([]*source, error) {
	m, err := bfm.Default()
	if err != nil {
		return nil, err
	}
	cfg := dataset.DefaultSyntheticConfig()
	cfg.Seed, cfg.Count, cfg.Size = seed, n, 64
	cfg.YawDeg, cfg.PitchDeg, cfg.RollDeg = 90, 30, 30
	cfg.ScaleMin, cfg.ScaleMax, cfg.TransJitter = 0.45, 0.6, 0.05
	cfg.OccluderProb = 0.15
	cfg.Photometric = dataset.Photometric{ColorJitter: 0.3, GrayProb: 0.2, BlurProb: 0.3, NoiseStd: 6}
	syn, err := dataset.NewSynthetic(m, cfg, "detector")
	if err != nil {
		return nil, err
	}
	out := make([]*source, n)
	err = workpool.Run(n, 1<<20, func(items iter.Seq[int]) error {
		for i := range items {
			s, err := syn.Sample(i)
			if err != nil {
				return err
			}
			ps, err := sourceFrom(s, 8)
			if err != nil {
				return err
			}
			if len(ps.faces) == 0 {
				return fmt.Errorf("%s: no ibug68 landmarks", s.Name)
			}
			out[i] = ps
		}
		return nil
	})
	return out, err
}

// face is one face placed in a training patch (patch pixels).
type face struct {
	box    Box
	ignore bool // occluded: neither positive nor negative
}

// patchMaker composes training patches: a background (clutter or a
// photograph whose face is too large for the band), then face layers (a
// photograph cropped around its face, or a rendered face) at sizes around
// the band, then camera effects and a mirror.
type patchMaker struct {
	size   int
	photos []*source
	synth  []*source
	// synthProb is the probability that a face layer is a rendered face.
	synthProb float64
	// hard are mined negatives (fine-tuning only), pasted into a patch
	// with probability hardProb.
	hard     []hardPiece
	hardProb float64
}

func logUniform(rng *rand.Rand, lo, hi float64) float64 {
	return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
}

func sizeOf(b Box) float64 { return math.Sqrt(b.W() * b.H()) }

// make fills p (size x size) and returns its faces.
func (pm *patchMaker) make(rng *rand.Rand, p *rgb, tmp *rgb) []face {
	P := pm.size
	p.resize(P, P)
	paintClutter(p, rng)
	var faces []face
	if rng.Float64() < 0.7 {
		// A photograph with its face too large for the band.
		ph := pm.photos[rng.IntN(len(pm.photos))]
		fb := ph.faces[0]
		s := logUniform(rng, 1.5*BandMax, 12*BandMax)
		f := s / sizeOf(fb)
		W, H := float64(ph.mips.levels[0].w)*f, float64(ph.mips.levels[0].h)*f
		ox := -rng.Float64() * max(W-float64(P), 0)
		oy := -rng.Float64() * max(H-float64(P), 0)
		ph.mips.sample(p, f, ox, oy)
		faces = append(faces, face{box: mapBox(fb, f, ox, oy)})
	}
	n := 0
	switch r := rng.Float64(); {
	case r < 0.2:
		n = 0
	case r < 0.75:
		n = 1
	case r < 0.92:
		n = 2
	default:
		n = 3
	}
	for range n {
		var src *source
		synth := rng.Float64() < pm.synthProb
		if synth {
			src = pm.synth[rng.IntN(len(pm.synth))]
		} else {
			src = pm.photos[rng.IntN(len(pm.photos))]
		}
		fb := src.faces[0]
		var s float64
		if rng.Float64() < 0.75 {
			s = logUniform(rng, BandMin, BandMax)
		} else if rng.IntN(2) == 0 {
			s = logUniform(rng, BandMin/2, BandMin)
		} else {
			s = logUniform(rng, BandMax, 2*BandMax)
		}
		f := s / sizeOf(fb)
		// Face centre uniformly over the patch (a little beyond its edges).
		cx := -4 + rng.Float64()*float64(P+8)
		cy := -4 + rng.Float64()*float64(P+8)
		fcx, fcy := (fb.X0+fb.X1)/2, (fb.Y0+fb.Y1)/2
		ox, oy := cx-f*fcx, cy-f*fcy
		box := mapBox(fb, f, ox, oy)
		// Crop: the whole source, or the face with a random margin.
		lv := src.mips.levels[0]
		cx0, cy0 := int(math.Floor(ox)), int(math.Floor(oy))
		cx1, cy1 := int(math.Ceil(ox+f*float64(lv.w))), int(math.Ceil(oy+f*float64(lv.h)))
		if !synth && rng.Float64() < 0.6 {
			m := s * (0.25 + rng.Float64())
			cx0, cy0 = int(math.Floor(box.X0-m)), int(math.Floor(box.Y0-m*(0.8+0.6*rng.Float64())))
			cx1, cy1 = int(math.Ceil(box.X1+m)), int(math.Ceil(box.Y1+m*(0.8+0.6*rng.Float64())))
		}
		r := pasteFeathered(p, tmp, &src.mips, f, ox, oy, cx0, cy0, cx1, cy1, rng)
		occlude(faces, r)
		faces = append(faces, face{box: box})
	}
	if len(pm.hard) > 0 && rng.Float64() < pm.hardProb {
		faces = pm.pasteHard(rng, p, tmp, faces)
	}
	if rng.Float64() < 0.3 {
		// A piece of a photograph without its face, as a negative.
		ph := pm.photos[rng.IntN(len(pm.photos))]
		fb := ph.faces[0]
		f := logUniform(rng, BandMin, 4*BandMax) / sizeOf(fb)
		lv := ph.mips.levels[0]
		// Pick a source rectangle away from the face.
		rw, rh := float64(P)*(0.2+0.5*rng.Float64())/f, float64(P)*(0.2+0.5*rng.Float64())/f
		sx, sy := rng.Float64()*max(float64(lv.w)-rw, 1), rng.Float64()*max(float64(lv.h)-rh, 1)
		r := Box{X0: sx, Y0: sy, X1: sx + rw, Y1: sy + rh}
		if overlapSmall(r, fb) < 0.05 {
			dx, dy := rng.Float64()*float64(P), rng.Float64()*float64(P)
			ox, oy := dx-f*sx, dy-f*sy
			r := pasteFeathered(p, tmp, &ph.mips, f, ox, oy, int(dx), int(dy), int(dx+rw*f), int(dy+rh*f), rng)
			occlude(faces, r)
		}
	}
	photometric(p, rng)
	if rng.IntN(2) == 0 {
		flipX(p)
		for i := range faces {
			b := &faces[i].box
			b.X0, b.X1 = float64(P-1)-b.X1, float64(P-1)-b.X0
		}
	}
	return faces
}

// pasteFeathered draws the source (scale f, offset ox, oy) into p within
// the clip rectangle, through a mask that is the rectangle or the ellipse
// inscribed in it, its edge feathered over 0 to 10 pixels, so that the
// outline of a pasted piece is no cue: faces in photographs have no frame
// around them. It returns the rectangle written (for occlusion).
func pasteFeathered(p, tmp *rgb, m *mipChain, f, ox, oy float64, cx0, cy0, cx1, cy1 int, rng *rand.Rand) Box {
	tmp.resize(p.w, p.h)
	x0, y0, x1, y1 := m.sampleClip(tmp, f, ox, oy, cx0, cy0, cx1, cy1)
	if x0 >= x1 || y0 >= y1 {
		return Box{}
	}
	feather := 10 * rng.Float64()
	ellipse := rng.IntN(2) == 0
	// The clip rectangle (not the written part) defines the shape.
	ex, ey := float64(cx0+cx1-1)/2, float64(cy0+cy1-1)/2
	rx, ry := float64(cx1-cx0)/2, float64(cy1-cy0)/2
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			var d float64 // distance inside the shape's edge, pixels
			if ellipse {
				u, v := (float64(x)-ex)/rx, (float64(y)-ey)/ry
				d = (1 - math.Sqrt(u*u+v*v)) * min(rx, ry)
			} else {
				d = min(float64(x-cx0), float64(cx1-1-x), float64(y-cy0), float64(cy1-1-y)) + 0.5
			}
			a := float32(1)
			if d <= 0 {
				continue
			} else if d < feather {
				a = float32(d / feather)
			}
			i := 3 * (y*p.w + x)
			for k := 0; k < 3; k++ {
				p.pix[i+k] += a * (tmp.pix[i+k] - p.pix[i+k])
			}
		}
	}
	return Box{X0: float64(x0), Y0: float64(y0), X1: float64(x1), Y1: float64(y1)}
}

// mapBox maps b by x -> f x + ox, y -> f y + oy.
func mapBox(b Box, f, ox, oy float64) Box {
	return Box{X0: f*b.X0 + ox, Y0: f*b.Y0 + oy, X1: f*b.X1 + ox, Y1: f*b.Y1 + oy}
}

// occlude marks the faces that r covers substantially (their centre, or a
// quarter of their box) as ignored.
func occlude(faces []face, r Box) {
	for i := range faces {
		b := faces[i].box
		cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
		in := cx >= r.X0 && cx < r.X1 && cy >= r.Y0 && cy < r.Y1
		if in || overlapSmall(b, r)*b.W()*b.H() > 0.25*b.W()*b.H() {
			faces[i].ignore = true
		}
	}
}

// labels writes the training targets of one patch's cells (g x g): the
// weights of the positive and negative classification terms, the
// regression weights (4 per cell) and targets. Positives are the cell
// holding a band face's centre and the cells within a quarter of its size;
// cells nearer than 0.7 of its size are ignored; faces just outside the
// band or occluded are ignored likewise. It returns the number of
// positives.
func labels(faces []face, g int, pos, neg, rw, rt []float32) int {
	n := g * g
	state := make([]int8, n) // 0 negative, 1 ignore, 2 positive
	for _, fc := range faces {
		b := fc.box
		s := sizeOf(b)
		if !(s >= BandMin/math.Sqrt2 && s <= BandMax*math.Sqrt2) {
			continue
		}
		band := !fc.ignore && s >= BandMin && s <= BandMax
		cx, cy := (b.X0+b.X1)/2, (b.Y0+b.Y1)/2
		for i := 0; i < g; i++ {
			for j := 0; j < g; j++ {
				x, y := float64(j*Stride)+Stride/2-0.5, float64(i*Stride)+Stride/2-0.5
				d := math.Hypot(x-cx, y-cy)
				c := i*g + j
				home := int(math.Floor((cx+0.5)/Stride)) == j && int(math.Floor((cy+0.5)/Stride)) == i
				switch {
				case band && (home || d <= 0.25*s):
					state[c] = 2
					rt[c] = float32((cx - x) / Stride)
					rt[n+c] = float32((cy - y) / Stride)
					rt[2*n+c] = float32(math.Log(b.W() / RefSize))
					rt[3*n+c] = float32(math.Log(b.H() / RefSize))
				case d <= 0.7*s && state[c] == 0:
					state[c] = 1
				}
			}
		}
	}
	np := 0
	for c, st := range state {
		pos[c], neg[c] = 0, 0
		for k := 0; k < 4; k++ {
			rw[k*n+c] = 0
		}
		switch st {
		case 0:
			neg[c] = 1
		case 2:
			pos[c] = 1
			for k := 0; k < 4; k++ {
				rw[k*n+c] = 1
			}
			np++
		}
	}
	return np
}

// paintClutter fills p with a random background: flat colour with noise, a
// gradient, or overlapping rectangles, ellipses and lines.
func paintClutter(p *rgb, rng *rand.Rand) {
	col := func() [3]float32 {
		return [3]float32{rng.Float32(), rng.Float32(), rng.Float32()}
	}
	w, h := p.w, p.h
	a, b := col(), col()
	th := 2 * math.Pi * rng.Float64()
	dx, dy := float32(math.Cos(th)/float64(w)), float32(math.Sin(th)/float64(h))
	noise := rng.Float32() * 0.08
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := min(max(0.5+float32(x-w/2)*dx+float32(y-h/2)*dy, 0), 1)
			for k := 0; k < 3; k++ {
				p.pix[3*(y*w+x)+k] = a[k] + t*(b[k]-a[k]) + noise*(rng.Float32()-0.5)
			}
		}
	}
	for n := rng.IntN(8); n > 0; n-- {
		c := col()
		x0, y0 := rng.Float64()*float64(w), rng.Float64()*float64(h)
		rx, ry := (0.03+0.4*rng.Float64())*float64(w), (0.03+0.4*rng.Float64())*float64(h)
		kind := rng.IntN(3)
		for y := max(0, int(y0-ry)); y < min(h, int(y0+ry)+1); y++ {
			for x := max(0, int(x0-rx)); x < min(w, int(x0+rx)+1); x++ {
				u, v := (float64(x)-x0)/rx, (float64(y)-y0)/ry
				switch kind {
				case 1:
					if u*u+v*v > 1 {
						continue
					}
				case 2: // a thin bar
					if math.Abs(v) > 0.15 {
						continue
					}
				}
				copy(p.pix[3*(y*w+x):3*(y*w+x)+3], c[:])
			}
		}
	}
}

// photometric applies contrast, brightness and colour jitter, greyscale,
// blur and noise to p in place.
func photometric(p *rgb, rng *rand.Rand) {
	c := float32(0.6 + 0.8*rng.Float64())
	off := float32(0.3 * (rng.Float64() - 0.5))
	var gain [3]float32
	for k := range gain {
		gain[k] = float32(0.85 + 0.3*rng.Float64())
	}
	gray := rng.Float64() < 0.2
	for i := 0; i < p.w*p.h; i++ {
		px := p.pix[3*i : 3*i+3]
		if gray {
			y := 0.299*px[0] + 0.587*px[1] + 0.114*px[2]
			px[0], px[1], px[2] = y, y, y
		}
		for k := 0; k < 3; k++ {
			px[k] = min(max(c*gain[k]*(px[k]-0.5)+0.5+off, 0), 1)
		}
	}
	if rng.Float64() < 0.3 {
		blur3(p)
	}
	if s := float32(0.04 * rng.Float64()); s > 0.005 {
		for i := range p.pix {
			p.pix[i] += s * float32(rng.NormFloat64())
		}
	}
}

// blur3 applies a separable [1 2 1]/4 blur.
func blur3(p *rgb) {
	w, h := p.w, p.h
	tmp := make([]float32, len(p.pix))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			l, r := max(x-1, 0), min(x+1, w-1)
			for k := 0; k < 3; k++ {
				tmp[3*(y*w+x)+k] = 0.25*p.pix[3*(y*w+l)+k] + 0.5*p.pix[3*(y*w+x)+k] + 0.25*p.pix[3*(y*w+r)+k]
			}
		}
	}
	for y := 0; y < h; y++ {
		u, d := max(y-1, 0), min(y+1, h-1)
		for x := 0; x < w; x++ {
			for k := 0; k < 3; k++ {
				p.pix[3*(y*w+x)+k] = 0.25*tmp[3*(u*w+x)+k] + 0.5*tmp[3*(y*w+x)+k] + 0.25*tmp[3*(d*w+x)+k]
			}
		}
	}
}

// flipX mirrors p left-right in place.
func flipX(p *rgb) {
	w := p.w
	for y := 0; y < p.h; y++ {
		row := p.pix[3*y*w : 3*(y+1)*w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			for k := 0; k < 3; k++ {
				row[3*i+k], row[3*j+k] = row[3*j+k], row[3*i+k]
			}
		}
	}
}
