package dataset

import (
	"fmt"
	"image"
	"math"
)

// Shading configures the Lambertian lighting of Renderer.Render.
//
// A pixel of linear albedo a and unit normal n (interpolated per pixel from
// the area-weighted vertex normals) gets the linear radiance
//
//	c = a * (Ambient + Diffuse * max(0, n . L)) + Specular * max(0, n . H)^Shininess
//
// with L the unit light direction and H the unit half-vector of L and +z. The result is clamped to [0, 1] and, unless
// Linear is set, encoded with the sRGB transfer function before it is written
// as 8 bits per channel.
type Shading struct {
	// Light is the direction from the surface towards the light in the camera
	// frame (x right, y up, z towards the viewer: image axes with y flipped).
	// It need not be unit length; the zero vector means (0, 0, 1), frontal.
	Light [3]float64
	// Ambient and Diffuse weight the constant and the n.L term.
	Ambient, Diffuse float64
	// Specular adds a white Blinn-Phong highlight Specular * max(0, n.H)^
	// Shininess (H the unit half-vector of L and the view direction +z) to
	// the linear radiance; 0 = none (Shininess is then unused).
	Specular, Shininess float64
	// BackFaces rasterises back-facing triangles too (shaded with their
	// normal flipped towards the viewer) and lets the z-buffer sort them out.
	// When false (the default) back faces are culled.
	BackFaces bool
	// Linear writes linear values instead of sRGB-encoded ones.
	Linear bool
}

// DefaultShading is frontal light with ambient 0.3 and diffuse 0.7.
func DefaultShading() Shading {
	return Shading{Light: [3]float64{0, 0, 1}, Ambient: 0.3, Diffuse: 0.7}
}

// Renderer is a z-buffered triangle rasteriser with Gouraud-interpolated
// colour and per-pixel normals. It owns its depth buffer and scratch space so
// that rendering allocates nothing once warm. A Renderer is not safe for
// concurrent use; give each goroutine its own.
//
// Image space: x right and y down in pixels, (0, 0) the centre of the
// top-left pixel of the destination's bounds, z depth with larger = nearer
// the viewer. A triangle is front-facing when it winds counter-clockwise seen
// from the viewer in the camera frame (x right, y up), i.e. clockwise in image
// space (negative signed area with y down), which is the bfm convention
// carried through the projection of the grid generator (Bas et al. 2017,
// Sec. 3.2): image point = (t_x + s X'_x, t_y - s X'_y), depth = s X'_z.
type Renderer struct {
	w, h  int
	depth []float64 // row-major, -Inf where nothing was drawn

	normals [][3]float64 // camera-frame vertex normals of the last Render
	verts   [][3]float64 // the last Render's vertices (not copied)
	srgb    [4096]uint8  // linear [0,1] -> 8-bit sRGB lookup
}

// NewRenderer returns a Renderer for w x h destination images.
func NewRenderer(w, h int) (*Renderer, error) {
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("dataset: renderer size %dx%d: want positive width and height", w, h)
	}
	r := &Renderer{w: w, h: h, depth: make([]float64, w*h)}
	for i := range r.srgb {
		r.srgb[i] = uint8(math.Round(255 * linearToSRGB(float64(i)/float64(len(r.srgb)-1))))
	}
	r.clearDepth()
	return r, nil
}

// Size returns the width and height the Renderer draws.
func (r *Renderer) Size() (w, h int) { return r.w, r.h }

// linearToSRGB is the sRGB transfer function (IEC 61966-2-1) for v in [0,1].
func linearToSRGB(v float64) float64 {
	if v <= 0.0031308 {
		return 12.92 * v
	}
	return 1.055*math.Pow(v, 1/2.4) - 0.055
}

// SRGBToLinear inverts the sRGB transfer function for v in [0,1].
func SRGBToLinear(v float64) float64 {
	if v <= 0.04045 {
		return v / 12.92
	}
	return math.Pow((v+0.055)/1.055, 2.4)
}

func (r *Renderer) clearDepth() {
	inf := math.Inf(-1)
	for i := range r.depth {
		r.depth[i] = inf
	}
}

// Depth returns the z-buffer at pixel (x, y) after the last Render: the depth
// of the nearest surface drawn there, or -Inf where nothing was drawn or
// (x, y) lies outside the image.
func (r *Renderer) Depth(x, y int) float64 {
	if x < 0 || y < 0 || x >= r.w || y >= r.h {
		return math.Inf(-1)
	}
	return r.depth[y*r.w+x]
}

// Render rasterises the triangles tris over the vertices verts (image space,
// see Renderer) into dst, whose bounds must be w x h. colours holds one
// linear RGB albedo in [0, 1] per vertex; nil paints every vertex grey 0.8.
// Pixels not covered by a front-facing triangle keep their content, so draw
// the background first. The z-buffer is cleared at the start of every call
// and afterwards holds the depth of the drawn surface (see Depth and
// VertexVisible).
func (r *Renderer) Render(dst *image.RGBA, verts [][3]float64, tris [][3]int32, colours [][3]float64, sh Shading) error {
	if b := dst.Bounds(); b.Dx() != r.w || b.Dy() != r.h {
		return fmt.Errorf("dataset: render: destination is %dx%d, renderer is %dx%d", b.Dx(), b.Dy(), r.w, r.h)
	}
	if colours != nil && len(colours) != len(verts) {
		return fmt.Errorf("dataset: render: %d colours for %d vertices", len(colours), len(verts))
	}
	n := uint32(len(verts))
	for i, t := range tris {
		if uint32(t[0]) >= n || uint32(t[1]) >= n || uint32(t[2]) >= n {
			return fmt.Errorf("dataset: render: triangle %d = %v indexes outside [0, %d)", i, t, n)
		}
	}
	r.clearDepth()
	r.computeNormals(verts, tris)

	l := sh.Light
	ln := math.Sqrt(l[0]*l[0] + l[1]*l[1] + l[2]*l[2])
	if ln == 0 {
		l, ln = [3]float64{0, 0, 1}, 1
	}
	// Normals are kept in the camera frame, like the light.
	l = [3]float64{l[0] / ln, l[1] / ln, l[2] / ln}
	hv := [3]float64{l[0], l[1], l[2] + 1}
	if hn := math.Sqrt(hv[0]*hv[0] + hv[1]*hv[1] + hv[2]*hv[2]); hn > 0 {
		hv = [3]float64{hv[0] / hn, hv[1] / hn, hv[2] / hn}
	}

	grey := [3]float64{0.8, 0.8, 0.8}
	lut := len(r.srgb) - 1
	pix, stride := dst.Pix, dst.Stride
	for _, t := range tris {
		ia, ib, ic := t[0], t[1], t[2]
		a, b, c := verts[ia], verts[ib], verts[ic]
		area := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
		if area == 0 || math.IsNaN(area) {
			continue
		}
		flip := 1.0
		if area > 0 { // back-facing (counter-clockwise with y down)
			if !sh.BackFaces {
				continue
			}
			flip = -1
		}
		// Bounding box clipped to the image, on pixel centres.
		x0 := int(math.Ceil(min(a[0], b[0], c[0])))
		x1 := int(math.Floor(max(a[0], b[0], c[0])))
		y0 := int(math.Ceil(min(a[1], b[1], c[1])))
		y1 := int(math.Floor(max(a[1], b[1], c[1])))
		x0, y0 = max(x0, 0), max(y0, 0)
		x1, y1 = min(x1, r.w-1), min(y1, r.h-1)
		if x0 > x1 || y0 > y1 {
			continue
		}
		// Barycentric coordinates are affine in (x, y):
		// l0 = ((b-p) x (c-p)) / area etc., stepped incrementally.
		inv := 1 / area
		// l0(x,y) = (bx-x)(cy-y) - (by-y)(cx-x) over area, linear part:
		d0x, d0y := (b[1]-c[1])*inv, (c[0]-b[0])*inv
		d1x, d1y := (c[1]-a[1])*inv, (a[0]-c[0])*inv
		px, py := float64(x0), float64(y0)
		r0 := ((b[0]-px)*(c[1]-py) - (b[1]-py)*(c[0]-px)) * inv
		r1 := ((c[0]-px)*(a[1]-py) - (c[1]-py)*(a[0]-px)) * inv
		ca, cb, cc := grey, grey, grey
		if colours != nil {
			ca, cb, cc = colours[ia], colours[ib], colours[ic]
		}
		na, nb, nc := r.normals[ia], r.normals[ib], r.normals[ic]
		const eps = -1e-9
		for y := y0; y <= y1; y++ {
			l0, l1 := r0, r1
			row := y * r.w
			prow := y*stride + 4*x0 // Pix starts at the bounds' Min
			for x := x0; x <= x1; x, prow = x+1, prow+4 {
				l2 := 1 - l0 - l1
				if l0 >= eps && l1 >= eps && l2 >= eps {
					z := l0*a[2] + l1*b[2] + l2*c[2]
					if z > r.depth[row+x] {
						r.depth[row+x] = z
						nx := flip * (l0*na[0] + l1*nb[0] + l2*nc[0])
						ny := flip * (l0*na[1] + l1*nb[1] + l2*nc[1])
						nz := flip * (l0*na[2] + l1*nb[2] + l2*nc[2])
						shade := sh.Ambient
						if d := nx*l[0] + ny*l[1] + nz*l[2]; d > 0 {
							shade += sh.Diffuse * d / math.Sqrt(nx*nx+ny*ny+nz*nz)
						}
						spec := 0.0
						if sh.Specular > 0 {
							if d := nx*hv[0] + ny*hv[1] + nz*hv[2]; d > 0 {
								spec = sh.Specular * math.Pow(d/math.Sqrt(nx*nx+ny*ny+nz*nz), sh.Shininess)
							}
						}
						for k := 0; k < 3; k++ {
							v := (l0*ca[k]+l1*cb[k]+l2*cc[k])*shade + spec
							v = min(max(v, 0), 1)
							if sh.Linear {
								pix[prow+k] = uint8(v*255 + 0.5)
							} else {
								pix[prow+k] = r.srgb[int(v*float64(lut)+0.5)]
							}
						}
						pix[prow+3] = 255
					}
				}
				l0 += d0x
				l1 += d1x
			}
			r0 += d0y
			r1 += d1y
		}
	}
	return nil
}

// computeNormals fills r.normals with area-weighted vertex normals in the
// camera frame (x right, y up, z towards the viewer): image-space y is
// negated, and a front-facing triangle (counter-clockwise in that frame)
// contributes a normal with positive z.
func (r *Renderer) computeNormals(verts [][3]float64, tris [][3]int32) {
	if cap(r.normals) < len(verts) {
		r.normals = make([][3]float64, len(verts))
	}
	r.normals = r.normals[:len(verts)]
	clear(r.normals)
	r.verts = verts
	for _, t := range tris {
		a, b, c := verts[t[0]], verts[t[1]], verts[t[2]]
		// Edges in the camera frame (y negated).
		ux, uy, uz := b[0]-a[0], a[1]-b[1], b[2]-a[2]
		vx, vy, vz := c[0]-a[0], a[1]-c[1], c[2]-a[2]
		n := [3]float64{uy*vz - uz*vy, uz*vx - ux*vz, ux*vy - uy*vx}
		for _, i := range t {
			r.normals[i][0] += n[0]
			r.normals[i][1] += n[1]
			r.normals[i][2] += n[2]
		}
	}
}

// VertexNormal returns the (unnormalised, area-weighted) camera-frame normal
// of vertex v of the last Render.
func (r *Renderer) VertexNormal(v int) [3]float64 { return r.normals[v] }

// VertexVisible reports whether vertex v of the mesh passed to the last
// Render is visible:
//   - it faces the camera: the angle between its camera-frame normal and the
//     view direction +z is below 90 + grazeDeg degrees (grazeDeg > 0 accepts
//     vertices just past the silhouette, such as contour landmarks on a mesh
//     rim, which annotators mark visible);
//   - it projects inside the image;
//   - it is not occluded: some pixel of the 2 x 2 cell of pixel centres
//     around its projection has nothing drawn or a z-buffer depth at most
//     its own depth plus depthTol (depth units, i.e. pixels for the grid
//     generator's camera). Looking at the whole cell instead of the nearest
//     pixel keeps vertices on a silhouette, where the depth changes by many
//     units within a pixel, from hiding behind their own neighbourhood.
//
// Out-of-range v reports false.
func (r *Renderer) VertexVisible(v int, depthTol, grazeDeg float64) bool {
	if v < 0 || v >= len(r.verts) || v >= len(r.normals) {
		return false
	}
	n := r.normals[v]
	// cos(angle) > cos(90 + graze) = -sin(graze).
	if l := math.Sqrt(n[0]*n[0] + n[1]*n[1] + n[2]*n[2]); !(n[2] > -math.Sin(grazeDeg*math.Pi/180)*l) || l == 0 {
		return false
	}
	p := r.verts[v]
	if !(p[0] > -0.5 && p[1] > -0.5 && p[0] < float64(r.w)-0.5 && p[1] < float64(r.h)-0.5) {
		return false
	}
	x0, y0 := int(math.Floor(p[0])), int(math.Floor(p[1]))
	for y := max(y0, 0); y <= min(y0+1, r.h-1); y++ {
		for x := max(x0, 0); x <= min(x0+1, r.w-1); x++ {
			if r.depth[y*r.w+x] <= p[2]+depthTol {
				return true
			}
		}
	}
	return false
}
