package dataset

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// quad returns two front-facing triangles (clockwise in image space, y down)
// covering [x0,x1] x [y0,y1] at depth z, appended to verts/tris.
func quad(verts [][3]float64, tris [][3]int32, x0, y0, x1, y1, z float64) ([][3]float64, [][3]int32) {
	b := int32(len(verts))
	verts = append(verts, [3]float64{x0, y0, z}, [3]float64{x1, y0, z}, [3]float64{x1, y1, z}, [3]float64{x0, y1, z})
	// Counter-clockwise seen from the viewer with y up = (0,3,2),(0,2,1) here:
	// (x0,y0) top-left, (x0,y1) bottom-left, (x1,y1) bottom-right.
	tris = append(tris, [3]int32{b, b + 3, b + 2}, [3]int32{b, b + 2, b + 1})
	return verts, tris
}

func fillColours(n int, c [3]float64) [][3]float64 {
	out := make([][3]float64, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func rgbaAt(img *image.RGBA, x, y int) [3]uint8 {
	c := img.RGBAAt(x, y)
	return [3]uint8{c.R, c.G, c.B}
}

func TestRenderPlaneKnownColour(t *testing.T) {
	r, err := NewRenderer(20, 10)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 20, 10))
	FillRect(img, 0, 0, 19, 9, color.RGBA{1, 2, 3, 255})
	verts, tris := quad(nil, nil, 4.5, 2.5, 12.5, 7.5, 0)
	col := [3]float64{0.5, 0.25, 1}
	// Linear output, ambient only: pixel = round(255*albedo).
	sh := Shading{Ambient: 1, Linear: true}
	if err := r.Render(img, verts, tris, fillColours(4, col), sh); err != nil {
		t.Fatal(err)
	}
	want := [3]uint8{128, 64, 255}
	for y := 0; y < 10; y++ {
		for x := 0; x < 20; x++ {
			inside := x >= 5 && x <= 12 && y >= 3 && y <= 7
			got := rgbaAt(img, x, y)
			if inside && got != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
			if !inside && got != [3]uint8{1, 2, 3} {
				t.Fatalf("pixel (%d,%d) outside the quad = %v, want background", x, y, got)
			}
			if inside != !math.IsInf(r.Depth(x, y), -1) {
				t.Fatalf("depth at (%d,%d) = %v, inside = %v", x, y, r.Depth(x, y), inside)
			}
		}
	}
	// sRGB encoding with frontal light: ambient 0.2 + diffuse 0.3 * 1.
	sh = Shading{Light: [3]float64{0, 0, 2}, Ambient: 0.2, Diffuse: 0.3}
	if err := r.Render(img, verts, tris, fillColours(4, col), sh); err != nil {
		t.Fatal(err)
	}
	for k, c := range col {
		v := c * 0.5
		w := uint8(math.Round(255 * linearToSRGB(v)))
		if got := rgbaAt(img, 8, 5)[k]; int(got)-int(w) > 1 || int(w)-int(got) > 1 {
			t.Errorf("sRGB channel %d = %d, want %d (linear %.3f)", k, got, w, v)
		}
	}
}

func TestRenderBarycentricColour(t *testing.T) {
	r, _ := NewRenderer(40, 40)
	img := image.NewRGBA(image.Rect(0, 0, 40, 40))
	// Front-facing (clockwise with y down): (0,0) -> (30,30) -> (0,30)?
	// Signed area (b-a)x(c-a) = 30*30 - 30*0 > 0 is back-facing, so use
	// (0,0),(0,30),(30,30): area = 0*30 - 30*30 < 0.
	verts := [][3]float64{{0, 0, 0}, {0, 30, 0}, {30, 30, 0}}
	cols := [][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}
	if err := r.Render(img, verts, [][3]int32{{0, 1, 2}}, cols, Shading{Ambient: 1, Linear: true}); err != nil {
		t.Fatal(err)
	}
	// Centroid (10, 20): one third of each.
	if got := rgbaAt(img, 10, 20); got != [3]uint8{85, 85, 85} {
		t.Errorf("centroid colour = %v, want [85 85 85]", got)
	}
	// Vertex a itself.
	if got := rgbaAt(img, 0, 0); got != [3]uint8{255, 0, 0} {
		t.Errorf("vertex a colour = %v, want [255 0 0]", got)
	}
	// (6, 24) = 0.2 a + 0.6 b + 0.2 c.
	if got := rgbaAt(img, 6, 24); got != [3]uint8{51, 153, 51} {
		t.Errorf("(6,24) colour = %v, want [51 153 51]", got)
	}
}

func TestRenderZBufferKeepsNearest(t *testing.T) {
	r, _ := NewRenderer(16, 16)
	for _, order := range []string{"near first", "far first"} {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		var verts [][3]float64
		var tris [][3]int32
		var cols [][3]float64
		add := func(x0, y0, x1, y1, z float64, c [3]float64) {
			verts, tris = quad(verts, tris, x0, y0, x1, y1, z)
			cols = append(cols, c, c, c, c)
		}
		if order == "near first" {
			add(2, 2, 10, 10, 5, [3]float64{0, 0, 1})
			add(6, 6, 14, 14, 1, [3]float64{1, 0, 0})
		} else {
			add(6, 6, 14, 14, 1, [3]float64{1, 0, 0})
			add(2, 2, 10, 10, 5, [3]float64{0, 0, 1})
		}
		if err := r.Render(img, verts, tris, cols, Shading{Ambient: 1, Linear: true}); err != nil {
			t.Fatal(err)
		}
		if got := rgbaAt(img, 8, 8); got != [3]uint8{0, 0, 255} {
			t.Errorf("%s: overlap pixel = %v, want the near blue", order, got)
		}
		if got := r.Depth(8, 8); got != 5 {
			t.Errorf("%s: depth at overlap = %v, want 5", order, got)
		}
		if got := rgbaAt(img, 12, 12); got != [3]uint8{255, 0, 0} {
			t.Errorf("%s: far-only pixel = %v, want red", order, got)
		}
		// Vertex 4 (corner (6,6) of the red quad when drawn second) is hidden
		// behind the blue quad; the blue corner (2,2) is visible.
		red, blue := 4, 0
		if order == "far first" {
			red, blue = 0, 4
		}
		if r.VertexVisible(red, 0.5, 0) {
			t.Errorf("%s: red corner behind the blue quad reported visible", order)
		}
		if !r.VertexVisible(blue, 0.5, 0) {
			t.Errorf("%s: blue corner reported hidden", order)
		}
	}
}

func TestRenderBackFaces(t *testing.T) {
	r, _ := NewRenderer(8, 8)
	verts, tris := quad(nil, nil, 1, 1, 6, 6, 0)
	for i := range tris { // reverse the winding
		tris[i][1], tris[i][2] = tris[i][2], tris[i][1]
	}
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	if err := r.Render(img, verts, tris, nil, Shading{Ambient: 1, Linear: true}); err != nil {
		t.Fatal(err)
	}
	if got := rgbaAt(img, 3, 3); got != [3]uint8{} {
		t.Errorf("culled back face drew %v", got)
	}
	if r.VertexVisible(0, 1, 0) {
		t.Error("vertex of a back-facing quad reported visible")
	}
	if err := r.Render(img, verts, tris, nil, Shading{Ambient: 0, Diffuse: 1, BackFaces: true, Linear: true}); err != nil {
		t.Fatal(err)
	}
	// Drawn with the flipped normal facing the frontal light: grey 0.8.
	if got := rgbaAt(img, 3, 3); got != [3]uint8{204, 204, 204} {
		t.Errorf("back face with BackFaces = %v, want [204 204 204]", got)
	}
}

func TestVertexVisibleGrazing(t *testing.T) {
	r, _ := NewRenderer(16, 16)
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for _, c := range []struct {
		phi   float64 // angle of the normal from +z, degrees
		graze float64
		want  bool
	}{{88, 0, true}, {92, 0, false}, {92, 5, true}, {96, 5, false}} {
		// A triangle whose camera-frame normal is (sin phi, 0, cos phi):
		// tangents t1 = (0, 1, 0) and t2 = (cos phi, 0, -sin phi), with
		// t2 x t1 = n; image y is camera -y.
		p := c.phi * math.Pi / 180
		a := [3]float64{8, 8, 0}
		b := [3]float64{8 + 4*math.Cos(p), 8, -4 * math.Sin(p)}
		d := [3]float64{8, 4, 0}
		if err := r.Render(img, [][3]float64{a, b, d}, [][3]int32{{0, 1, 2}}, nil, DefaultShading()); err != nil {
			t.Fatal(err)
		}
		n := r.VertexNormal(0)
		got := math.Acos(n[2]/math.Sqrt(n[0]*n[0]+n[1]*n[1]+n[2]*n[2])) * 180 / math.Pi
		if math.Abs(got-c.phi) > 1e-9 {
			t.Fatalf("test triangle normal at %.3f degrees, want %v", got, c.phi)
		}
		if v := r.VertexVisible(0, 1, c.graze); v != c.want {
			t.Errorf("normal at %v degrees, graze %v: visible = %v, want %v", c.phi, c.graze, v, c.want)
		}
	}
}

// hemisphere returns a height-field hemisphere of radius rad centred at
// (cx, cy) in image space, z = sqrt(rad^2 - dx^2 - dy^2), with front-facing
// triangles.
func hemisphere(cx, cy, rad float64, n int) ([][3]float64, [][3]int32) {
	var verts [][3]float64
	id := make([]int32, (n+1)*(n+1))
	for j := 0; j <= n; j++ {
		for i := 0; i <= n; i++ {
			dx := -rad + 2*rad*float64(i)/float64(n)
			dy := -rad + 2*rad*float64(j)/float64(n)
			q := rad*rad - dx*dx - dy*dy
			if q < 0 {
				id[j*(n+1)+i] = -1
				continue
			}
			id[j*(n+1)+i] = int32(len(verts))
			verts = append(verts, [3]float64{cx + dx, cy + dy, math.Sqrt(q)})
		}
	}
	var tris [][3]int32
	for j := 0; j < n; j++ {
		for i := 0; i < n; i++ {
			a, b := id[j*(n+1)+i], id[j*(n+1)+i+1]
			c, d := id[(j+1)*(n+1)+i], id[(j+1)*(n+1)+i+1]
			if a >= 0 && c >= 0 && d >= 0 {
				tris = append(tris, [3]int32{a, c, d}) // clockwise in image space
			}
			if a >= 0 && d >= 0 && b >= 0 {
				tris = append(tris, [3]int32{a, d, b})
			}
		}
	}
	return verts, tris
}

func TestRenderHemisphereBrightestWhereLightPoints(t *testing.T) {
	const size, rad = 101, 40.0
	r, _ := NewRenderer(size, size)
	verts, tris := hemisphere(50, 50, rad, 120)
	for _, l := range [][3]float64{{0, 0, 1}, {0.5, 0.3, 0.8}, {-0.4, -0.5, 0.7}} {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		if err := r.Render(img, verts, tris, fillColours(len(verts), [3]float64{1, 1, 1}), Shading{Light: l, Diffuse: 1, Linear: true}); err != nil {
			t.Fatal(err)
		}
		// The normal of the sphere at image point (x, y) is
		// ((x-cx)/rad, -(y-cy)/rad, z/rad) in the camera frame, so n = L at
		// x = cx + rad*Lx, y = cy - rad*Ly (L normalised).
		ln := math.Sqrt(l[0]*l[0] + l[1]*l[1] + l[2]*l[2])
		wx, wy := 50+rad*l[0]/ln, 50-rad*l[1]/ln
		best, bx, by := -1, 0, 0
		sx, sy, sw := 0.0, 0.0, 0.0
		for y := 0; y < size; y++ {
			for x := 0; x < size; x++ {
				v := int(img.RGBAAt(x, y).R)
				if v > best {
					best, bx, by = v, x, y
				}
				if v >= 254 { // centroid of the brightest plateau
					sx, sy, sw = sx+float64(x), sy+float64(y), sw+1
				}
			}
		}
		if best != 255 {
			t.Errorf("light %v: brightest value %d, want 255", l, best)
		}
		cx, cy := sx/sw, sy/sw
		if math.Hypot(cx-wx, cy-wy) > 1.5 {
			t.Errorf("light %v: brightest region centred at (%.1f, %.1f) (max at %d,%d), want (%.1f, %.1f)", l, cx, cy, bx, by, wx, wy)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := NewRenderer(0, 5); err == nil || err.Error() != "dataset: renderer size 0x5: want positive width and height" {
		t.Errorf("NewRenderer(0,5) error = %v", err)
	}
	r, _ := NewRenderer(4, 4)
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	verts := [][3]float64{{0, 0, 0}, {0, 3, 0}, {3, 3, 0}}
	cases := []struct {
		dst  *image.RGBA
		tris [][3]int32
		cols [][3]float64
		want string
	}{
		{image.NewRGBA(image.Rect(0, 0, 5, 4)), [][3]int32{{0, 1, 2}}, nil, "dataset: render: destination is 5x4, renderer is 4x4"},
		{img, [][3]int32{{0, 1, 3}}, nil, "dataset: render: triangle 0 = [0 1 3] indexes outside [0, 3)"},
		{img, [][3]int32{{0, -1, 2}}, nil, "dataset: render: triangle 0 = [0 -1 2] indexes outside [0, 3)"},
		{img, [][3]int32{{0, 1, 2}}, make([][3]float64, 2), "dataset: render: 2 colours for 3 vertices"},
	}
	for _, c := range cases {
		err := r.Render(c.dst, verts, c.tris, c.cols, DefaultShading())
		if err == nil || err.Error() != c.want {
			t.Errorf("error = %v, want %q", err, c.want)
		}
	}
	if r.VertexVisible(-1, 1, 0) || r.VertexVisible(99, 1, 0) {
		t.Error("out-of-range vertex reported visible")
	}
}

func TestSRGBRoundTrip(t *testing.T) {
	for _, v := range []float64{0, 0.001, 0.0031308, 0.04045, 0.2, 0.5, 1} {
		if got := SRGBToLinear(linearToSRGB(v)); math.Abs(got-v) > 1e-12 {
			t.Errorf("SRGBToLinear(linearToSRGB(%v)) = %v", v, got)
		}
	}
	if got := linearToSRGB(0.5); math.Abs(got-0.7353569830524495) > 1e-12 {
		t.Errorf("linearToSRGB(0.5) = %v, want 0.73536", got)
	}
}

func BenchmarkRenderHemisphere224(b *testing.B) {
	r, _ := NewRenderer(224, 224)
	verts, tris := hemisphere(112, 112, 90, 100)
	cols := fillColours(len(verts), [3]float64{0.8, 0.6, 0.5})
	img := image.NewRGBA(image.Rect(0, 0, 224, 224))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.Render(img, verts, tris, cols, DefaultShading()); err != nil {
			b.Fatal(err)
		}
	}
}
