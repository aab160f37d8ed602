package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/stn3d/stn3d/bfm"
)

// A face model is a mask: a photograph shows what lies around it, the hair
// and the back of the head, the ears, the neck and the shoulders, and at a
// large yaw they fill most of the face's box. headParts builds rough shapes
// of them (ellipsoids and a cylinder) around a model's face, and the
// synthetic source renders them behind and around the face (SyntheticConfig
// HeadProb) so that a localiser learns the face from the face and not from
// where the skin ends.

// headPart names what a vertex of the head geometry is (its colour).
type headPart uint8

const (
	partSkull headPart = iota // hair or skin, by position (hairline)
	partEar
	partNeck
	partTorso
	partHair // a long-hair curtain behind the neck
)

// headMesh is the head geometry of a model in model space (units of the
// model, y up, z towards the viewer), built once per Synthetic.
type headMesh struct {
	verts [][3]float64
	tris  [][3]int32
	part  []headPart
	// Frame: the midpoint j of the iBUG jaw points 0 and 16 (at ear level
	// on the face's rim) and u, half their distance; everything is sized
	// in u.
	j [3]float64
	u float64
	// firstTri[p] is the first triangle of the optional parts (the hair
	// curtain), so that it can be left out per image.
	curtainTri int
}

// newHeadMesh returns the head geometry for m, or an error if m lacks the
// iBUG jaw points that place it.
func newHeadMesh(m *bfm.Model) (*headMesh, error) {
	ib, ok := m.Landmarks[bfm.SchemeIBUG68]
	if !ok || len(ib) != 68 || ib[0] < 0 || ib[16] < 0 {
		return nil, fmt.Errorf("dataset: synthetic: head_prob needs the model's ibug68 jaw points 0 and 16; %q has none", m.Name)
	}
	p0 := [3]float64{m.Mean[3*ib[0]], m.Mean[3*ib[0]+1], m.Mean[3*ib[0]+2]}
	p16 := [3]float64{m.Mean[3*ib[16]], m.Mean[3*ib[16]+1], m.Mean[3*ib[16]+2]}
	h := &headMesh{
		j: [3]float64{(p0[0] + p16[0]) / 2, (p0[1] + p16[1]) / 2, (p0[2] + p16[2]) / 2},
		u: math.Hypot(p16[0]-p0[0], p16[1]-p0[1]) / 2,
	}
	if !(h.u > 0) {
		return nil, fmt.Errorf("dataset: synthetic: model %q: jaw points 0 and 16 coincide", m.Name)
	}
	// Proportions of an adult head for the default face (u = 73 mm, the
	// frame at ear level on the face's rim): the skull 150 mm wide, its
	// top 125 mm above the eyes, its back 200 mm behind the brow; the ears
	// 64 mm tall just behind the rim; a neck 110 mm wide; shoulders.
	h.ellipsoid([3]float64{0, 0.46, -0.3}, [3]float64{1.02, 1.36, 1.25}, 18, 28, partSkull)
	for _, s := range []float64{-1, 1} {
		h.ellipsoid([3]float64{s * 0.97, -0.1, -0.32}, [3]float64{0.1, 0.38, 0.2}, 8, 12, partEar)
	}
	h.cylinder([3]float64{0, -0.5, -0.1}, 0.55, 0.55, 3.4, 24, partNeck)
	h.ellipsoid([3]float64{0, -4.6, 0.1}, [3]float64{2.7, 1.6, 1.3}, 12, 28, partTorso)
	h.curtainTri = len(h.tris)
	h.ellipsoid([3]float64{0, -1.1, -0.55}, [3]float64{1.25, 2.1, 0.75}, 14, 24, partHair)
	return h, nil
}

// at maps a point of the head frame (units of u from j) to model space.
func (h *headMesh) at(x, y, z float64) [3]float64 {
	return [3]float64{h.j[0] + h.u*x, h.j[1] + h.u*y, h.j[2] + h.u*z}
}

// ellipsoid appends a latitude-longitude ellipsoid (centre c, radii r, in
// frame units) whose triangles face outwards.
func (h *headMesh) ellipsoid(c, r [3]float64, nLat, nLon int, part headPart) {
	base := int32(len(h.verts))
	for i := 0; i <= nLat; i++ {
		th := math.Pi * float64(i) / float64(nLat) // 0 at the top (+y)
		for k := 0; k < nLon; k++ {
			ph := 2 * math.Pi * float64(k) / float64(nLon)
			h.verts = append(h.verts, h.at(c[0]+r[0]*math.Sin(th)*math.Sin(ph), c[1]+r[1]*math.Cos(th), c[2]+r[2]*math.Sin(th)*math.Cos(ph)))
			h.part = append(h.part, part)
		}
	}
	for i := 0; i < nLat; i++ {
		for k := 0; k < nLon; k++ {
			a := base + int32(i*nLon+k)
			b := base + int32(i*nLon+(k+1)%nLon)
			c := a + int32(nLon)
			d := b + int32(nLon)
			// Seen from outside, (a, c, b) and (b, c, d) turn counter-clockwise.
			h.tris = append(h.tris, [3]int32{a, c, b}, [3]int32{b, c, d})
		}
	}
}

// cylinder appends a vertical elliptic tube (axis through the frame point
// top, radii rx and rz, length down) facing outwards, without caps.
func (h *headMesh) cylinder(top [3]float64, rx, rz, length float64, n int, part headPart) {
	base := int32(len(h.verts))
	const rings = 4
	for i := 0; i <= rings; i++ {
		y := top[1] - length*float64(i)/rings
		for k := 0; k < n; k++ {
			ph := 2 * math.Pi * float64(k) / float64(n)
			h.verts = append(h.verts, h.at(top[0]+rx*math.Sin(ph), y, top[2]+rz*math.Cos(ph)))
			h.part = append(h.part, part)
		}
	}
	for i := 0; i < rings; i++ {
		for k := 0; k < n; k++ {
			a := base + int32(i*n+k)
			b := base + int32(i*n+(k+1)%n)
			c := a + int32(n)
			d := b + int32(n)
			h.tris = append(h.tris, [3]int32{a, c, b}, [3]int32{b, c, d})
		}
	}
}

// headLook is the appearance of one image's head, drawn from rng.
type headLook struct {
	scale    float64 // size of the skull and hair about the frame
	hairline float64 // frame y above which the skull is hair
	back     float64 // frame z behind which the skull is hair
	curtain  bool    // long hair behind the neck
	hair     [3]float64
	cloth    [3]float64
}

// drawHeadLook draws the hair (colour, hairline, length) and the clothes.
func drawHeadLook(rng *rand.Rand) headLook {
	var l headLook
	l.scale = 0.95 + 0.12*rng.Float64()
	l.hairline = 0.55 + 0.5*rng.Float64()
	l.back = -0.2 - 0.5*rng.Float64()
	if rng.Float64() < 0.1 { // bald or shaven
		l.hairline, l.back = 1.9, -1.2
	}
	l.curtain = rng.Float64() < 0.4
	// Hair from black through browns to blond, sometimes grey.
	t := rng.Float64()
	switch {
	case t < 0.35:
		l.hair = [3]float64{0.012, 0.010, 0.009}
	case t < 0.75:
		v := 0.02 + 0.1*rng.Float64()
		l.hair = [3]float64{v, v * 0.6, v * 0.35}
	case t < 0.9:
		v := 0.2 + 0.3*rng.Float64()
		l.hair = [3]float64{v, v * 0.75, v * 0.45}
	default:
		v := 0.15 + 0.4*rng.Float64()
		l.hair = [3]float64{v, v, v * 0.95}
	}
	for k := range l.hair {
		l.hair[k] *= 0.85 + 0.3*rng.Float64()
	}
	for k := range l.cloth {
		l.cloth[k] = SRGBToLinear(rng.Float64())
	}
	return l
}

// appendHead appends the posed head of one image to the face's vertices,
// triangles and colours (skin: the face's tone) and returns the three.
// cam poses the model; the shape of the face does not move the head.
func (h *headMesh) appendHead(verts [][3]float64, tris [][3]int32, col [][3]float64, cam Camera, l headLook, skin [3]float64) ([][3]float64, [][3]float64, [][3]int32) {
	r := cam.Pose.Rotation()
	off := int32(len(verts))
	for v, p := range h.verts {
		part := h.part[v]
		if part == partSkull || part == partHair {
			// Hair has volume: scale the skull and curtain about the frame.
			for k := range p {
				p[k] = h.j[k] + l.scale*(p[k]-h.j[k])
			}
		}
		verts = append(verts, cam.Project(&r, p))
		c := skin
		fy, fz := (p[1]-h.j[1])/h.u, (p[2]-h.j[2])/h.u
		switch part {
		case partSkull:
			if fy > l.hairline || fz < l.back {
				c = l.hair
			}
		case partEar:
			c = [3]float64{skin[0] * 0.95, skin[1] * 0.8, skin[2] * 0.8}
		case partTorso:
			c = l.cloth
		case partHair:
			c = l.hair
		}
		col = append(col, c)
	}
	n := len(h.tris)
	if !l.curtain {
		n = h.curtainTri
	}
	for _, t := range h.tris[:n] {
		tris = append(tris, [3]int32{t[0] + off, t[1] + off, t[2] + off})
	}
	return verts, col, tris
}
