package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

// levelOrSkip skips a subtest for a level the CPU lacks, saying so.
func levelOrSkip(t testing.TB, l Level) {
	t.Helper()
	if !Supported(l) {
		t.Skipf("CPU lacks %v (best level %v): its kernels cannot run on this machine", l, Best())
	}
}

func TestArgOffsets(t *testing.T) {
	var f fwdArgs
	var g gradWArgs
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"fwd.a", unsafe.Offsetof(f.a), 0}, {"fwd.cin", unsafe.Offsetof(f.cin), 8}, {"fwd.plane", unsafe.Offsetof(f.plane), 16},
		{"fwd.b", unsafe.Offsetof(f.b), 24}, {"fwd.c", unsafe.Offsetof(f.c), 56}, {"fwd.ldc", unsafe.Offsetof(f.ldc), 88},
		{"fwd.tapoff", unsafe.Offsetof(f.tapoff), 96}, {"fwd.mask", unsafe.Offsetof(f.mask), 168}, {"fwd.smask", unsafe.Offsetof(f.smask), 240},
		{"fwd.bias", unsafe.Offsetof(f.bias), 248}, {"fwd.relu", unsafe.Offsetof(f.relu), 256}, {"fwd.rows", unsafe.Offsetof(f.rows), 264},
		{"fwd.npanel", unsafe.Offsetof(f.npanel), 272}, {"fwd.mptr", unsafe.Offsetof(f.mptr), 280}, {"fwd.sptr", unsafe.Offsetof(f.sptr), 568}, {"fwd.ntaps", unsafe.Offsetof(f.ntaps), 600},
		{"gw.x", unsafe.Offsetof(g.x), 0}, {"gw.xstride", unsafe.Offsetof(g.xstride), 8}, {"gw.gt", unsafe.Offsetof(g.gt), 16},
		{"gw.gstride", unsafe.Offsetof(g.gstride), 24}, {"gw.rows", unsafe.Offsetof(g.rows), 32}, {"gw.cols", unsafe.Offsetof(g.cols), 40},
		{"gw.rowskip", unsafe.Offsetof(g.rowskip), 48}, {"gw.acc", unsafe.Offsetof(g.acc), 56}, {"gw.accum", unsafe.Offsetof(g.accum), 64},
	} {
		if c.got != c.want {
			t.Errorf("offset of %s = %d, the assembly uses %d", c.name, c.got, c.want)
		}
	}
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// naiveConv is the definition in float64 for one image.
func naiveConv(x, w, bias []float32, cin, cout, h, wd, pad int, relu bool) []float64 {
	ho, wo := h+2*pad-2, wd+2*pad-2
	y := make([]float64, cout*ho*wo)
	for o := 0; o < cout; o++ {
		for i := 0; i < ho; i++ {
			for j := 0; j < wo; j++ {
				var s float64
				if bias != nil {
					s = float64(bias[o])
				}
				for c := 0; c < cin; c++ {
					for u := 0; u < 3; u++ {
						for v := 0; v < 3; v++ {
							r, col := i+u-pad, j+v-pad
							if r >= 0 && r < h && col >= 0 && col < wd {
								s += float64(w[((o*cin+c)*3+u)*3+v]) * float64(x[(c*h+r)*wd+col])
							}
						}
					}
				}
				if relu {
					s = math.Max(s, 0)
				}
				y[(o*ho+i)*wo+j] = s
			}
		}
	}
	return y
}

// naiveGradW is dL/dw summed over n images, in float64.
func naiveGradW(x, g []float32, n, cin, cout, h, wd, pad int) []float64 {
	ho, wo := h+2*pad-2, wd+2*pad-2
	dw := make([]float64, cout*cin*9)
	for b := 0; b < n; b++ {
		for o := 0; o < cout; o++ {
			for c := 0; c < cin; c++ {
				for u := 0; u < 3; u++ {
					for v := 0; v < 3; v++ {
						var s float64
						for i := 0; i < ho; i++ {
							for j := 0; j < wo; j++ {
								r, col := i+u-pad, j+v-pad
								if r >= 0 && r < h && col >= 0 && col < wd {
									s += float64(g[((b*cout+o)*ho+i)*wo+j]) * float64(x[((b*cin+c)*h+r)*wd+col])
								}
							}
						}
						dw[((o*cin+c)*3+u)*3+v] += s
					}
				}
			}
		}
	}
	return dw
}

func maxErr(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	worst, at := 0.0, -1
	for i, w := range want {
		e := math.Abs(float64(got[i])-w) / (1 + math.Abs(w))
		if e > worst || math.IsNaN(float64(got[i])) {
			worst, at = e, i
			if math.IsNaN(float64(got[i])) {
				worst = math.Inf(1)
			}
		}
	}
	if worst > tol {
		t.Errorf("%s: max relative error %.3g at %d (got %v, want %v)", what, worst, at, got[at], want[at])
	}
}

var convShapes = [][5]int{ // cin, cout, h, w, pad
	{1, 1, 1, 1, 1}, {3, 8, 5, 7, 1}, {2, 5, 3, 3, 0}, {3, 32, 17, 33, 1}, {5, 13, 9, 16, 1},
	{16, 16, 14, 14, 1}, {7, 9, 4, 20, 2}, {4, 24, 31, 15, 1}, {8, 8, 2, 49, 1}, {1, 3, 16, 3, 0},
}

func TestConvForward(t *testing.T) {
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			levelOrSkip(t, l)
			r := rand.New(rand.NewPCG(3, 4))
			for _, s := range convShapes {
				cin, cout, h, w, pad := s[0], s[1], s[2], s[3], s[4]
				c, err := NewConv3(l, cin, cout, h, w, pad)
				if err != nil {
					t.Fatal(err)
				}
				x, wt, bias := randSlice(r, cin*h*w), randSlice(r, cout*cin*9), randSlice(r, cout)
				packed := make([]float32, c.PackedLen())
				c.Pack(packed, wt)
				for _, relu := range []bool{false, true} {
					for _, withBias := range []bool{false, true} {
						b := bias
						if !withBias {
							b = nil
						}
						// guard values around y catch stray stores
						buf := make([]float32, cout*c.Ho*c.Wo+64)
						for i := range buf {
							buf[i] = 12345
						}
						y := buf[32 : 32+cout*c.Ho*c.Wo]
						c.Forward(y, x, packed, b, relu, 0, c.Tiles())
						name := fmt.Sprintf("%v relu=%v bias=%v", s, relu, withBias)
						maxErr(t, name, y, naiveConv(x, wt, b, cin, cout, h, w, pad, relu), 1e-5)
						for i := 0; i < 32; i++ {
							if buf[i] != 12345 || buf[len(buf)-1-i] != 12345 {
								t.Fatalf("%s: store outside y", name)
							}
						}
					}
				}
				// split tiles and panels: same result
				y1 := make([]float32, cout*c.Ho*c.Wo)
				y2 := make([]float32, cout*c.Ho*c.Wo)
				c.Forward(y1, x, packed, bias, true, 0, c.Tiles())
				mid, pm := c.Tiles()/2, c.Panels()/2
				c.ForwardPanels(y2, x, packed, bias, true, 0, mid, 0, pm)
				c.ForwardPanels(y2, x, packed, bias, true, 0, mid, pm, c.Panels())
				c.Forward(y2, x, packed, bias, true, mid, c.Tiles())
				for i := range y1 {
					if y1[i] != y2[i] {
						t.Fatalf("%v: split tiles/panels differ at %d", s, i)
					}
				}
			}
		})
	}
}

func TestConvGradXW(t *testing.T) {
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			levelOrSkip(t, l)
			r := rand.New(rand.NewPCG(5, 6))
			for _, s := range convShapes {
				cin, cout, h, w, pad := s[0], s[1], s[2], s[3], s[4]
				const n = 3
				c, err := NewConv3(l, cin, cout, h, w, pad)
				if err != nil {
					t.Fatal(err)
				}
				x, wt := randSlice(r, n*cin*h*w), randSlice(r, cout*cin*9)
				g := randSlice(r, n*cout*c.Ho*c.Wo)
				// dL/dw
				dw := make([]float32, cout*cin*9)
				for i := range dw {
					dw[i] = float32(math.NaN())
				}
				c.GradW(dw, x, g, n)
				maxErr(t, fmt.Sprintf("%v dw", s), dw, naiveGradW(x, g, n, cin, cout, h, w, pad), 1e-5)
				// one worker gives the same bits
				dw2 := make([]float32, len(dw))
				prev := runtime.GOMAXPROCS(1)
				c.GradW(dw2, x, g, n)
				runtime.GOMAXPROCS(prev)
				for i := range dw {
					if dw[i] != dw2[i] {
						t.Fatalf("%v: dw depends on the worker count at %d", s, i)
					}
				}
				// dL/dx = sum_o,u,v w[o,c,u,v] g[o, i+pad-u, j+pad-v]
				gx, err := c.GradX()
				if err != nil {
					t.Fatal(err)
				}
				if gx.Ho != h || gx.Wo != w {
					t.Fatalf("%v: GradX output %dx%d, want %dx%d", s, gx.Ho, gx.Wo, h, w)
				}
				packed := make([]float32, gx.PackedLen())
				gx.PackFlipped(packed, wt)
				dx := make([]float32, cin*h*w)
				gx.Forward(dx, g[:cout*c.Ho*c.Wo], packed, nil, false, 0, gx.Tiles())
				want := make([]float64, cin*h*w)
				for o := 0; o < cout; o++ {
					for i := 0; i < c.Ho; i++ {
						for j := 0; j < c.Wo; j++ {
							gv := float64(g[(o*c.Ho+i)*c.Wo+j])
							for ci := 0; ci < cin; ci++ {
								for u := 0; u < 3; u++ {
									for v := 0; v < 3; v++ {
										rr, cc := i+u-pad, j+v-pad
										if rr >= 0 && rr < h && cc >= 0 && cc < w {
											want[(ci*h+rr)*w+cc] += gv * float64(wt[((o*cin+ci)*3+u)*3+v])
										}
									}
								}
							}
						}
					}
				}
				maxErr(t, fmt.Sprintf("%v dx", s), dx, want, 1e-5)
			}
		})
	}
}

// TestLevelsAgree: every supported level gives the same values up to
// rounding on a network-sized layer.
func TestLevelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const cin, cout, h, w = 32, 64, 28, 28
	x, wt, bias := randSlice(r, cin*h*w), randSlice(r, cout*cin*9), randSlice(r, cout)
	var ref []float32
	for _, l := range Levels {
		if !Supported(l) {
			t.Logf("skipping %v: not supported by this CPU", l)
			continue
		}
		c, _ := NewConv3(l, cin, cout, h, w, 1)
		p := make([]float32, c.PackedLen())
		c.Pack(p, wt)
		y := make([]float32, cout*h*w)
		c.Forward(y, x, p, bias, true, 0, c.Tiles())
		if ref == nil {
			ref = y
			continue
		}
		for i := range y {
			if d := math.Abs(float64(y[i] - ref[i])); d > 1e-4*(1+math.Abs(float64(ref[i]))) {
				t.Fatalf("%v differs from generic at %d: %v vs %v", l, i, y[i], ref[i])
			}
		}
	}
}

func TestChoose(t *testing.T) {
	if got := choose(AVX512, "avx2"); got != AVX2 {
		t.Errorf("choose(avx512, avx2) = %v", got)
	}
	if got := choose(AVX2, "AVX512"); got != AVX2 {
		t.Errorf("choose(avx2, avx512) = %v: must not raise the level", got)
	}
	if got := choose(AVX512, ""); got != AVX512 {
		t.Errorf("choose(avx512, \"\") = %v", got)
	}
	if got := choose(AVX512, "generic"); got != Generic {
		t.Errorf("choose(avx512, generic) = %v", got)
	}
}
