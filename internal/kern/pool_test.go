package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// poolInput has ties, signed zeros, negatives and (with nan) a few NaNs.
func poolInput(r *rand.Rand, n int, nan bool) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(8) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(math.Copysign(0, -1))
		case 2:
			x[i] = 1 // ties
		default:
			x[i] = 2*r.Float32() - 1
		}
		if nan && r.IntN(50) == 0 {
			x[i] = float32(math.NaN())
		}
	}
	return x
}

// sameBits returns the first index where a and b differ other than in the
// sign of a zero or the payload of a NaN, or -1.
func sameBits(a, b []float32) int {
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(float64(a[i])) && math.IsNaN(float64(b[i]))) {
			return i
		}
	}
	return -1
}

func TestMaxPool(t *testing.T) {
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			levelOrSkip(t, l)
			r := rand.New(rand.NewPCG(9, 10))
			for _, w := range []int{2, 4, 14, 28, 30, 32, 34, 56, 62, 64, 66, 112, 224} {
				for _, rows := range []int{1, 3, 7} {
					for _, nan := range []bool{false, true} {
						x := poolInput(r, 2*rows*w, nan)
						g := poolInput(r, rows*w/2, false)
						want := make([]float32, rows*w/2)
						MaxPool2x2(Generic, want, x, rows, w)
						got := make([]float32, rows*w/2+16)
						for i := range got {
							got[i] = 7
						}
						MaxPool2x2(l, got, x, rows, w)
						if i := sameBits(got[:len(want)], want); i >= 0 {
							t.Fatalf("w=%d rows=%d nan=%v: out[%d] = %v, want %v", w, rows, nan, i, got[i], want[i])
						}
						for _, v := range got[len(want):] {
							if v != 7 {
								t.Fatalf("w=%d rows=%d: store past the output", w, rows)
							}
						}
						for _, relu := range []bool{false, true} {
							wantD := make([]float32, 2*rows*w)
							MaxPool2x2Grad(Generic, wantD, x, g, rows, w, relu)
							gotD := make([]float32, 2*rows*w+32)
							for i := range gotD {
								gotD[i] = 7
							}
							MaxPool2x2Grad(l, gotD, x, g, rows, w, relu)
							if i := sameBits(gotD[:len(wantD)], wantD); i >= 0 {
								t.Fatalf("grad w=%d rows=%d nan=%v relu=%v: dx[%d] = %v, want %v", w, rows, nan, relu, i, gotD[i], wantD[i])
							}
							for _, v := range gotD[len(wantD):] {
								if v != 7 {
									t.Fatalf("grad w=%d rows=%d: store past dx", w, rows)
								}
							}
						}
					}
				}
			}
		})
	}
}

func BenchmarkMaxPool(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	const rows, w = 16 * 32 * 56, 112 // conv1 of the small localiser, batch 16
	x, g := poolInput(r, 2*rows*w, false), poolInput(r, rows*w/2, false)
	out, dx := make([]float32, rows*w/2), make([]float32, 2*rows*w)
	for _, l := range Levels {
		b.Run(fmt.Sprint(l, "/fwd"), func(b *testing.B) {
			levelOrSkip(b, l)
			timed(b, 0, func() { MaxPool2x2(l, out, x, rows, w) })
		})
		b.Run(fmt.Sprint(l, "/grad"), func(b *testing.B) {
			levelOrSkip(b, l)
			timed(b, 0, func() { MaxPool2x2Grad(l, dx, x, g, rows, w, true) })
		})
	}
}

func TestReluMaskSum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			levelOrSkip(t, l)
			for _, n := range []int{1, 15, 16, 17, 63, 64, 65, 200, 1000} {
				g, y := poolInput(r, n, false), poolInput(r, n, false)
				got := make([]float32, n+1)
				got[n] = 7
				ReluMask(l, got, g, y)
				for i := 0; i < n; i++ {
					want := float32(0)
					if y[i] > 0 {
						want = g[i]
					}
					if got[i] != want {
						t.Fatalf("n=%d: relu mask [%d] = %v, want %v", n, i, got[i], want)
					}
				}
				if got[n] != 7 {
					t.Fatalf("n=%d: store past the end", n)
				}
				var want float64
				for _, v := range g {
					want += float64(v)
				}
				if s := Sum(l, g); math.Abs(float64(s)-want) > 1e-5*float64(n) {
					t.Fatalf("n=%d: sum %v, want %v", n, s, want)
				}
			}
		})
	}
}
