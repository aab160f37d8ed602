package ops

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestFuseConvPool: the fused op equals MaxPool2x2 of the inference form of
// Conv2D (float32: one image on all workers, images on the workers,
// Winograd chunks) and of Conv2D itself in float64.
func TestFuseConvPool(t *testing.T) {
	for _, c := range [][5]int{{1, 3, 32, 112, 112}, {3, 32, 64, 28, 28}, {40, 16, 16, 14, 14}, {2, 8, 8, 6, 10}} {
		for _, f64 := range []bool{false, true} {
			t.Run(fmt.Sprint(c, f64), func(t *testing.T) {
				b, cin, cout, h, w := c[0], c[1], c[2], c[3], c[4]
				g := gorgonia.NewGraph()
				x := param32(g, "x", heNormal32(5, b*cin*h*w, 1), b, cin, h, w)
				wt := param32(g, "w", heNormal32(6, cout*cin*9, cin*9), cout, cin, 3, 3)
				bias := param32(g, "b", heNormal32(7, cout, 4), cout)
				if f64 {
					g = gorgonia.NewGraph()
					x = node(g, "x", randDense(5, -1, 1, b, cin, h, w))
					wt = node(g, "w", randDense(6, -0.3, 0.3, cout, cin, 3, 3))
					bias = node(g, "b", randDense(7, -0.1, 0.1, cout))
				}
				y, err := Conv2D(x, wt, bias, 1, 1, true)
				if err != nil {
					t.Fatal(err)
				}
				p, err := MaxPool2x2(y)
				if err != nil {
					t.Fatal(err)
				}
				convOp := y.Op().(convOp)
				yv, err := convOp.ForInference().Do(x.Value(), wt.Value(), bias.Value())
				if err != nil {
					t.Fatal(err)
				}
				want, err := p.Op().Do(yv)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := FuseConvPool(convOp, p.Op()); ok != (h*w >= fuseMinPixels) {
					t.Errorf("FuseConvPool on %dx%d: fused %v, want %v", h, w, ok, h*w >= fuseMinPixels)
				}
				f, ok := fuseConvPool(convOp, p.Op(), 0)
				if !ok {
					t.Fatal("not fused")
				}
				got, err := f.(gorgonia.UsePreallocDoer).UsePreallocDo(tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(p.Shape()...)), x.Value(), wt.Value(), bias.Value())
				if err != nil {
					t.Fatal(err)
				}
				if !got.Shape().Eq(p.Shape()) {
					t.Fatalf("shape %v, want %v", got.Shape(), p.Shape())
				}
				wv, gv := asF64(want), asF64(got)
				for i := range wv {
					if math.Abs(gv[i]-wv[i]) > 1e-6*(1+math.Abs(wv[i])) {
						t.Fatalf("[%d] = %v, want %v", i, gv[i], wv[i])
					}
				}
			})
		}
	}
	if _, ok := FuseConvPool(maxPoolOp{}, maxPoolOp{}); ok {
		t.Error("fused two pools")
	}
}
