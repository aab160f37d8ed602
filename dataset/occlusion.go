package dataset

import (
	"image"
	"math"

	"github.com/stn3d/stn3d/bfm"
)

// ambientOcclusion returns, per vertex of m's mean shape, the fraction of
// the light of a uniform sky over the face's front hemisphere that reaches
// it: over n directions d spread evenly on the hemisphere z > 0.1
// (a Fibonacci spiral), sum max(0, n.d) over the directions from which the
// vertex is seen (Renderer.VertexVisible of the mesh turned so that d
// points at the viewer, at size x size pixels), divided by the same sum
// over all of them. Eye sockets, the sides of the nose, the nostrils and
// the mouth line get less than the forehead and the cheeks: shading that a
// single directional light does not give (SyntheticConfig.Occlusion).
func ambientOcclusion(m *bfm.Model, n, size int) ([]float64, error) {
	nv := m.NumVertices()
	// Model-frame vertex normals, area-weighted.
	normals := make([][3]float64, nv)
	p := func(v int32) [3]float64 { return [3]float64{m.Mean[3*v], m.Mean[3*v+1], m.Mean[3*v+2]} }
	for _, t := range m.Triangles {
		a, b, c := p(t[0]), p(t[1]), p(t[2])
		u := [3]float64{b[0] - a[0], b[1] - a[1], b[2] - a[2]}
		w := [3]float64{c[0] - a[0], c[1] - a[1], c[2] - a[2]}
		nn := [3]float64{u[1]*w[2] - u[2]*w[1], u[2]*w[0] - u[0]*w[2], u[0]*w[1] - u[1]*w[0]}
		for _, k := range t {
			for i := range nn {
				normals[k][i] += nn[i]
			}
		}
	}
	for v := range normals {
		l := math.Sqrt(normals[v][0]*normals[v][0] + normals[v][1]*normals[v][1] + normals[v][2]*normals[v][2])
		if l > 0 {
			normals[v] = [3]float64{normals[v][0] / l, normals[v][1] / l, normals[v][2] / l}
		}
	}
	// Extent of the mean, to fit it in the renderer's square.
	lo, hi := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}, [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for v := 0; v < nv; v++ {
		q := p(int32(v))
		for i := range q {
			lo[i], hi[i] = min(lo[i], q[i]), max(hi[i], q[i])
		}
	}
	var c [3]float64
	rad := 0.0
	for i := range c {
		c[i] = (lo[i] + hi[i]) / 2
		rad = max(rad, (hi[i]-lo[i])/2)
	}
	rad *= math.Sqrt(3)
	r, err := NewRenderer(size, size)
	if err != nil {
		return nil, err
	}
	sc := float64(size-2) / (2 * rad)
	verts := make([][3]float64, nv)
	lit := make([]float64, nv)
	all := make([]float64, nv)
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	golden := math.Pi * (3 - math.Sqrt(5))
	for k := 0; k < n; k++ {
		// Evenly spread on z in (0.1, 1].
		z := 1 - 0.9*(float64(k)+0.5)/float64(n)
		s := math.Sqrt(1 - z*z)
		d := [3]float64{s * math.Cos(golden*float64(k)), s * math.Sin(golden*float64(k)), z}
		// Rows e1, e2, d: turns d onto +z.
		e1 := [3]float64{1, 0, 0}
		if math.Abs(d[0]) > 0.9 {
			e1 = [3]float64{0, 1, 0}
		}
		dot := e1[0]*d[0] + e1[1]*d[1] + e1[2]*d[2]
		e1 = [3]float64{e1[0] - dot*d[0], e1[1] - dot*d[1], e1[2] - dot*d[2]}
		l := math.Sqrt(e1[0]*e1[0] + e1[1]*e1[1] + e1[2]*e1[2])
		e1 = [3]float64{e1[0] / l, e1[1] / l, e1[2] / l}
		e2 := [3]float64{d[1]*e1[2] - d[2]*e1[1], d[2]*e1[0] - d[0]*e1[2], d[0]*e1[1] - d[1]*e1[0]}
		for v := 0; v < nv; v++ {
			q := p(int32(v))
			q = [3]float64{q[0] - c[0], q[1] - c[1], q[2] - c[2]}
			x := e1[0]*q[0] + e1[1]*q[1] + e1[2]*q[2]
			y := e2[0]*q[0] + e2[1]*q[1] + e2[2]*q[2]
			zz := d[0]*q[0] + d[1]*q[1] + d[2]*q[2]
			verts[v] = [3]float64{float64(size-1)/2 + sc*x, float64(size-1)/2 - sc*y, sc * zz}
		}
		if err := r.Render(img, verts, m.Triangles, nil, Shading{Ambient: 1}); err != nil {
			return nil, err
		}
		for v := 0; v < nv; v++ {
			w := normals[v][0]*d[0] + normals[v][1]*d[1] + normals[v][2]*d[2]
			if w <= 0 {
				continue
			}
			all[v] += w
			if r.VertexVisible(v, 1.5, 0) {
				lit[v] += w
			}
		}
	}
	for v := range lit {
		if all[v] > 0 {
			lit[v] /= all[v]
		} else {
			lit[v] = 1
		}
	}
	return lit, nil
}
