package graph

import (
	"math"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// flatGrid is a rows x cols planar square in the z = 0 plane: vertex
// (r, c) at X = spacing*(c - (cols-1)/2), Y = spacing*((rows-1)/2 - r), with
// one basis vector that pushes vertices along z by a bump and x by 0.1*x.
func flatGrid(rows, cols int, spacing float64) *bfm.GridModel {
	n := rows * cols
	gm := &bfm.GridModel{Rows: rows, Cols: cols, Units: "unit", Mean: make([]float64, 3*n), Basis: [][]float64{make([]float64, 3*n)},
		Landmarks: map[string][]int{"aflw21": make([]int, 21)}}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			k := r*cols + c
			x := spacing * (float64(c) - float64(cols-1)/2)
			y := spacing * (float64(rows-1)/2 - float64(r))
			gm.Mean[3*k], gm.Mean[3*k+1] = x, y
			gm.Basis[0][3*k] = 0.1 * x
			gm.Basis[0][3*k+2] = math.Exp(-(x*x + y*y) / 4)
		}
	}
	for i := range gm.Landmarks["aflw21"] {
		gm.Landmarks["aflw21"][i] = (i * 7) % n
	}
	gm.Landmarks["aflw21"][12] = -1 // LeftEar missing
	gm.Landmarks["aflw21"][16] = -1 // RightEar missing
	return gm
}

func TestSTNIdentityReproducesImage(t *testing.T) {
	const H, W, C, B = 9, 12, 2, 2
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		// Model spacing 0.5 at s = 2 px/unit: vertex (r,c) lands on pixel (c, r).
		gm := flatGrid(H, W, 0.5)
		g := gorgonia.NewGraph()
		img := gorgonia.NewTensor(g, dt, 4, gorgonia.WithShape(B, C, H, W), gorgonia.WithName("img"))
		theta := gorgonia.NewMatrix(g, dt, gorgonia.WithShape(B, 7), gorgonia.WithName("theta"))
		stn, err := BuildSTN(g, img, theta, gm, STNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		imv := make([]float64, B*C*H*W)
		for i := range imv {
			imv[i] = math.Sin(float64(i)*0.37) + 2
		}
		th := []float64{0, 0, 0, (W - 1) / 2.0, (H - 1) / 2.0, math.Log(2), 0}
		th = append(th, th...)
		gorgonia.Let(img, denseOf(dt, append([]float64(nil), imv...), B, C, H, W))
		gorgonia.Let(theta, denseOf(dt, th, B, 7))
		vm := gorgonia.NewTapeMachine(g)
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		tol := 1e-12
		if dt == tensor.Float32 {
			tol = 2e-5
		}
		out := toF64(stn.Output.Value().Data())
		if !stn.Output.Shape().Eq(tensor.Shape{B, C, H, W}) {
			t.Fatalf("output shape %v", stn.Output.Shape())
		}
		for i := range imv {
			if math.Abs(out[i]-imv[i]) > tol {
				t.Fatalf("%v: output[%d] = %v, want image value %v", dt, i, out[i], imv[i])
			}
		}
		for i, m := range toF64(stn.Mask.Value().Data()) {
			if m != 1 {
				t.Fatalf("%v: mask[%d] = %v, want 1 for a frontal plane", dt, i, m)
			}
		}
		vm.Close()
	}
}

func toF64(d any) []float64 {
	switch x := d.(type) {
	case []float64:
		return x
	case []float32:
		o := make([]float64, len(x))
		for i, v := range x {
			o[i] = float64(v)
		}
		return o
	}
	return nil
}

// rodrigues is the hand evaluation of Eq. 2.
func rodrigues(r [3]float64) [9]float64 {
	th := math.Sqrt(r[0]*r[0] + r[1]*r[1] + r[2]*r[2])
	k := [3]float64{r[0] / th, r[1] / th, r[2] / th}
	c, s := math.Cos(th), math.Sin(th)
	K := [9]float64{0, -k[2], k[1], k[2], 0, -k[0], -k[1], k[0], 0}
	var R [9]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			id := 0.0
			if i == j {
				id = 1
			}
			R[3*i+j] = c*id + s*K[3*i+j] + (1-c)*k[i]*k[j]
		}
	}
	return R
}

func TestSTNLandmarksHandProjection(t *testing.T) {
	gm := flatGrid(6, 5, 1)
	const B = 2
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(B, 1, 40, 50), gorgonia.WithName("img"))
	theta := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(B, 7), gorgonia.WithName("theta"))
	stn, err := BuildSTN(g, img, theta, gm, STNOptions{ScaleBase: 0.99})
	if err != nil {
		t.Fatal(err)
	}
	th := []float64{
		0.3, -0.5, 0.2, 20, 17, -80, 1.5,
		-0.1, 0.05, 0.4, 30, 12, 10, -0.7,
	}
	gorgonia.Let(img, tensor.New(tensor.WithShape(B, 1, 40, 50), tensor.WithBacking(make([]float64, B*2000))))
	gorgonia.Let(theta, tensor.New(tensor.WithShape(B, 7), tensor.WithBacking(th)))
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	idx := stn.LandmarkIndex["aflw21"]
	if len(idx) != 19 || idx[12] != 13 || idx[15] != 17 {
		t.Fatalf("landmark index %v: want 0..20 without 12 and 16", idx)
	}
	lm := stn.Landmarks["aflw21"]
	if !lm.Shape().Eq(tensor.Shape{B, 2, 19}) {
		t.Fatalf("landmarks shape %v", lm.Shape())
	}
	got := lm.Value().Data().([]float64)
	for b := 0; b < B; b++ {
		p := th[7*b : 7*b+7]
		R := rodrigues([3]float64{p[0], p[1], p[2]})
		s := math.Pow(0.99, p[5])
		shape := gridShape(gm, p[6])
		for l, li := range idx {
			v := gm.Landmarks["aflw21"][li]
			X := shape[3*v : 3*v+3]
			xr := R[0]*X[0] + R[1]*X[1] + R[2]*X[2]
			yr := R[3]*X[0] + R[4]*X[1] + R[5]*X[2]
			wantX, wantY := p[3]+s*xr, p[4]-s*yr
			gx, gy := got[b*2*19+l], got[b*2*19+19+l]
			if math.Abs(gx-wantX) > 1e-9 || math.Abs(gy-wantY) > 1e-9 {
				t.Errorf("b%d landmark %d: (%v, %v), want (%v, %v)", b, li, gx, gy, wantX, wantY)
			}
		}
	}
}

func TestSTNErrors(t *testing.T) {
	gm := flatGrid(4, 4, 1)
	g := gorgonia.NewGraph()
	img := gorgonia.NewTensor(g, tensor.Float64, 4, gorgonia.WithShape(2, 1, 8, 8), gorgonia.WithName("img"))
	theta := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 8), gorgonia.WithName("theta"))
	if _, err := BuildSTN(g, img, theta, gm, STNOptions{}); err == nil || !strings.Contains(err.Error(), "theta shape (2, 8), want (2, 7)") {
		t.Errorf("bad theta: %v", err)
	}
	gm.Landmarks["aflw21"][3] = 99
	theta7 := gorgonia.NewMatrix(g, tensor.Float64, gorgonia.WithShape(2, 7), gorgonia.WithName("theta7"))
	if _, err := BuildSTN(g, img, theta7, gm, STNOptions{}); err == nil || !strings.Contains(err.Error(), "Landmarks[aflw21][3]: 99, want -1 or a grid vertex in [0, 16)") {
		t.Errorf("bad landmark: %v", err)
	}
}

func gridShape(gm *bfm.GridModel, a float64) []float64 {
	out := append([]float64(nil), gm.Mean...)
	for i, b := range gm.Basis[0] {
		out[i] += a * b
	}
	return out
}

// TestSTNGradientFD checks d(loss)/d(theta) through the whole STN (3DMM
// layer, rotation, projection, translation, sampler, landmarks and all four
// losses) against central finite differences, in float64.
func TestSTNGradientFD(t *testing.T) {
	gm := flatGrid(6, 6, 1)
	const B, H, W = 2, 20, 24
	imv := make([]float64, B*3*H*W)
	for i := range imv {
		y, x := (i/W)%H, i%W
		imv[i] = math.Sin(0.3*float64(x)+0.2*float64(i/(H*W))) * math.Cos(0.25*float64(y))
	}
	th0 := []float64{0.1, -0.2, 0.15, 11.3, 9.6, math.Log(2.2), 0.4, -0.05, 0.3, 0.1, 12.1, 10.2, math.Log(1.9), -0.3}
	tgt := make([]float64, B*2*19)
	for i := range tgt {
		tgt[i] = 5 + float64(i%7)
	}
	wv := make([]float64, B*19)
	for i := range wv {
		wv[i] = 0.5 + float64(i%3)/2
	}
	build := func(th []float64) (*gorgonia.ExprGraph, *gorgonia.Node, *gorgonia.Node) {
		g := gorgonia.NewGraph()
		img := valNode(g, "img", []int{B, 3, H, W}, imv)
		theta := valNode(g, "theta", []int{B, 7}, th)
		stn, err := BuildSTN(g, img, theta, gm, STNOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := BuildLosses(LossInputs{Landmarks: stn.Landmarks["aflw21"], Target: valNode(g, "tgt", []int{B, 2, 19}, tgt),
			Weight: valNode(g, "w", []int{B, 19}, wv), Alpha: stn.Alpha, Texture: stn.Texture, Mask: stn.Mask, Rows: 6, Cols: 6},
			LossOptions{Weights: LossWeights{Landmark: 1, Prior: 0.3, Symmetry: 2, Siamese: 3}})
		if err != nil {
			t.Fatal(err)
		}
		return g, theta, l.Total
	}
	eval := func(th []float64) float64 {
		g, _, total := build(th)
		vm := gorgonia.NewTapeMachine(g)
		defer vm.Close()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
		return scalarVal(t, total)
	}
	g, theta, total := build(th0)
	if _, err := gorgonia.Grad(total, theta); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(theta))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	gv, _ := theta.Grad()
	grad := gv.Data().([]float64)
	const h = 1e-6
	for i := range th0 {
		p := append([]float64(nil), th0...)
		p[i] += h
		fp := eval(p)
		p[i] -= 2 * h
		fm := eval(p)
		fd := (fp - fm) / (2 * h)
		if math.Abs(fd-grad[i]) > 1e-4*(1+math.Abs(fd)) {
			t.Errorf("dL/dtheta[%d] = %.9g, finite difference %.9g", i, grad[i], fd)
		}
	}
}
