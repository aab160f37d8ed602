package ops

import (
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/stn3d/stn3d/ops/opstest"
)

func buildBilinear(g *gorgonia.ExprGraph, in []*gorgonia.Node) (*gorgonia.Node, error) {
	return BilinearSample(in[0], in[1])
}

// A 1x1x2x3 image with hand-computed samples.
func TestBilinearKnownValues(t *testing.T) {
	img := dense([]float64{
		1, 2, 3,
		4, 5, 6,
	}, 1, 1, 2, 3)
	pts := dense([]float64{
		0, 0, // pixel centre (0,0): 1
		2, 1, // bottom-right pixel: 6
		0.5, 0.5, // (1+2+4+5)/4 = 3
		1.25, 0.75, // row interp: y0 row: 2.25, y1 row: 5.25 -> 2.25*0.25+5.25*0.75 = 4.5
		-0.5, 0, // half of pixel (0,0) with zero outside: 0.5
		2.5, 1, // half of 6: 3
		1, -0.25, // 0.75 * 2 = 1.5
		-1, 0, // exactly one pixel outside: 0
		3, 0.5, // outside on the right: 0
		-5, 10, // far outside: 0
		2, 0.5, // on the right border column: (3+6)/2 = 4.5
	}, 1, 11, 2)
	got, shape := forward(t, buildBilinear, img, pts)
	if !shape.Eq(tensor.Shape{1, 1, 11}) {
		t.Fatalf("shape %v, want (1,1,11)", shape)
	}
	want := []float64{1, 6, 3, 4.5, 0.5, 3, 1.5, 0, 0, 0, 4.5}
	assertClose(t, "sample", got, want, 1e-12)
}

// Two batch items and two channels: each item samples its own image.
func TestBilinearBatchChannels(t *testing.T) {
	img := randDense(3, -1, 1, 2, 2, 4, 5)
	pts := dense([]float64{1.5, 2.25, 3, 0, 1.5, 2.25, 0.2, 2.9}, 2, 2, 2)
	got, _ := forward(t, buildBilinear, img, pts)
	v := img.Data().([]float64)
	at := func(b, c, y, x int) float64 {
		if x < 0 || x >= 5 || y < 0 || y >= 4 {
			return 0
		}
		return v[((b*2+c)*4+y)*5+x]
	}
	bil := func(b, c int, x, y float64) float64 {
		x0, y0 := int(x), int(y)
		fx, fy := x-float64(x0), y-float64(y0)
		return (1-fx)*(1-fy)*at(b, c, y0, x0) + fx*(1-fy)*at(b, c, y0, x0+1) +
			(1-fx)*fy*at(b, c, y0+1, x0) + fx*fy*at(b, c, y0+1, x0+1)
	}
	p := pts.Data().([]float64)
	var want []float64
	for b := 0; b < 2; b++ {
		for c := 0; c < 2; c++ {
			for n := 0; n < 2; n++ {
				want = append(want, bil(b, c, p[(b*2+n)*2], p[(b*2+n)*2+1]))
			}
		}
	}
	assertClose(t, "sample", got, want, 1e-12)
}

func TestBilinearGradInside(t *testing.T) {
	img := randDense(1, -1, 1, 2, 3, 5, 6)
	pts := dense([]float64{
		1.3, 2.6, 4.45, 0.15, 2.7, 3.3, 0.2, 0.8,
		3.6, 1.1, 0.55, 3.75, 4.9, 2.05, 2.5, 2.5,
	}, 2, 4, 2)
	opstest.CheckGrad(t, buildBilinear, []*tensor.Dense{img, pts})
}

// Points on the border, partly outside and fully outside the image (away
// from integer kinks so that central differences are valid).
func TestBilinearGradBorderAndOutside(t *testing.T) {
	img := randDense(2, -1, 1, 1, 2, 4, 5)
	pts := dense([]float64{
		-0.3, 1.4, // partly outside on the left
		4.2, 2.6, // partly outside on the right (W-1 = 4)
		1.7, -0.6, // partly outside on top
		2.3, 3.4, // partly outside at the bottom (H-1 = 3)
		-0.5, -0.5, // outside corner, one tap inside
		4.5, 3.5, // outside bottom-right corner, one tap inside
		-1.5, 2.2, // fully outside
		7.3, 9.1, // fully outside
		3.999999, 2.999999, // just inside the bottom-right pixel
	}, 1, 9, 2)
	opstest.CheckGrad(t, buildBilinear, []*tensor.Dense{img, pts})
}

// At integer coordinates the pts-gradient is the one-sided derivative from
// the right: the slope between the pixel and its right/lower neighbour.
func TestBilinearGradAtIntegers(t *testing.T) {
	img := dense([]float64{
		1, 2, 4,
		8, 16, 32,
	}, 1, 1, 2, 3)
	pts := dense([]float64{1, 0, 2, 1}, 1, 2, 2)
	g := gorgonia.NewGraph()
	in := node(g, "img", img)
	p := node(g, "pts", pts)
	out, err := BilinearSample(in, p)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gorgonia.Sum(out)
	if err != nil {
		t.Fatal(err)
	}
	grads, err := gorgonia.Grad(cost, p)
	if err != nil {
		t.Fatal(err)
	}
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		t.Fatal(err)
	}
	got := grads[0].Value().Data().([]float64)
	// (1,0): d/dx = I(0,2)-I(0,1) = 2, d/dy = I(1,1)-I(0,1) = 14.
	// (2,1): right and lower taps are outside (0): d/dx = 0-32, d/dy = 0-32.
	assertClose(t, "pts grad", got, []float64{2, 14, -32, -32}, 1e-12)
}

func TestBilinearFloat32(t *testing.T) {
	img := randDense(4, -1, 1, 2, 3, 6, 7)
	pts := randDense(5, -1.5, 7.5, 2, 20, 2)
	checkF32(t, buildBilinear, 1e-5, img, pts)
}

func TestBilinearErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(2, 3, 4, 5), gorgonia.WithName("img"))
	cases := []struct {
		pts  *gorgonia.Node
		want string
	}{
		{gorgonia.NewTensor(g, tensor.Float64, 3, gorgonia.WithShape(2, 7, 3), gorgonia.WithName("p1")), "ops.BilinearSample: pts must have shape (B,N,2), got (2, 7, 3)"},
		{gorgonia.NewTensor(g, tensor.Float64, 3, gorgonia.WithShape(1, 7, 2), gorgonia.WithName("p2")), "ops.BilinearSample: batch sizes differ: img (2, 3, 4, 5), pts (1, 7, 2)"},
		{gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(7, 2), gorgonia.WithName("p3")), "ops.BilinearSample: pts must be a 3-D tensor (B,N,2), got shape (7, 2)"},
		{gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(2, 7, 2), gorgonia.WithName("p4")), "ops.BilinearSample: pts has dtype float32 but img has float64"},
	}
	for _, c := range cases {
		_, err := BilinearSample(img, c.pts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

// Points exactly on the border pixels (x = 0, x = W-1, y = 0, y = H-1 and
// the corners): the image gradient is smooth there and checked by central
// differences; the points gradient sits on a kink and is checked one-sided
// below.
func TestBilinearGradImgOnBorder(t *testing.T) {
	img := randDense(6, -1, 1, 1, 2, 4, 5)
	pts := dense([]float64{0, 1.3, 4, 2.6, 2.2, 0, 3.7, 3, 0, 0, 4, 3, 4, 0, 0, 3}, 1, 8, 2)
	opstest.CheckGrad(t, buildBilinear, []*tensor.Dense{img, pts}, opstest.Only(0))
}

// At integer coordinates, interior and on the border, the analytic points
// gradient equals the forward (right-sided) difference quotient.
func TestBilinearGradOneSidedAtIntegers(t *testing.T) {
	const h, w = 4, 5
	img := randDense(7, -1, 1, 1, 1, h, w).Data().([]float64)
	var pts []float64
	for _, p := range [][2]float64{{0, 0}, {4, 3}, {2, 1}, {0, 2}, {4, 1}, {3, 0}, {1, 3}, {2, 1.5}, {1.5, 2}, {-1, 1}, {5, 2}} {
		pts = append(pts, p[0], p[1])
	}
	n := len(pts) / 2
	g := make([]float64, n)
	for i := range g {
		g[i] = 1
	}
	grad := make([]float64, 2*n)
	bilinearPtsGrad(grad, img, pts, g, 1, 1, h, w, n)
	val := func(x, y float64) float64 {
		out := make([]float64, 1)
		bilinearForward(out, img, []float64{x, y}, 1, 1, h, w, 1)
		return out[0]
	}
	const step = 1e-7
	for i := 0; i < n; i++ {
		x, y := pts[2*i], pts[2*i+1]
		dx := (val(x+step, y) - val(x, y)) / step
		dy := (val(x, y+step) - val(x, y)) / step
		assertClose(t, "one-sided d/dx, d/dy", grad[2*i:2*i+2], []float64{dx, dy}, 1e-6)
	}
}
