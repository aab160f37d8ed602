package kern

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAdamLevelsAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 15, 16, 17, 100, 1000} {
		w, g, m, v := randSlice(r, n), randSlice(r, n), randSlice(r, n), randSlice(r, n)
		for i := range v {
			v[i] = float32(math.Abs(float64(v[i])))
		}
		var ref [4][]float32
		for _, l := range Levels {
			if !Supported(l) {
				t.Logf("skipping %v: not supported by this CPU", l)
				continue
			}
			ww, gg, mm, vv := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
			Adam(l, ww, gg, mm, vv, 0.9, 0.999, 0.1, 0.001, 1e-3, 1e-8, 5e-4, 0.7, 1/(1-math.Pow(0.999, 3)))
			for i := range gg {
				if gg[i] != 0 {
					t.Fatalf("%v n=%d: g not zeroed", l, n)
				}
			}
			if ref[0] == nil {
				ref = [4][]float32{ww, gg, mm, vv}
				continue
			}
			for k, got := range [][]float32{ww, gg, mm, vv} {
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(ref[k][i]) {
						t.Fatalf("%v n=%d: buffer %d [%d] = %v, generic %v", l, n, k, i, got[i], ref[k][i])
					}
				}
			}
		}
	}
}

func TestSumSqDecay(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, l := range Levels {
		t.Run(l.String(), func(t *testing.T) {
			levelOrSkip(t, l)
			for _, n := range []int{1, 7, 8, 9, 100, 1001} {
				g, w := randSlice(r, n), randSlice(r, n)
				var want float64
				for i := range g {
					f := float64(g[i]) + 0.3*float64(w[i])
					want += f * f
				}
				s, bad := SumSqDecay(l, g, w, 0.3)
				if bad != -1 || math.Abs(s-want) > 1e-12*want {
					t.Fatalf("n=%d: %v, %d; want %v, -1", n, s, bad, want)
				}
				for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
					k := n / 2
					g2 := append([]float32(nil), g...)
					g2[k] = float32(v)
					if _, bad := SumSqDecay(l, g2, w, 0.3); bad != k {
						t.Fatalf("n=%d: %v at %d reported at %d", n, v, k, bad)
					}
				}
			}
		})
	}
}
