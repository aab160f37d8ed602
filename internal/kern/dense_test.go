package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

func TestDenseForward(t *testing.T) {
	levelOrSkip(t, AVX512)
	r := rand.New(rand.NewPCG(41, 42))
	for _, s := range [][3]int{{1, 1, 1}, {1, 256, 1000}, {1, 300, 999}, {1, 512, 13}, {20, 70, 3000}, {16, 256, 12544}, {3, 16, 256}, {9, 33, 7}, {64, 40, 31}, {8, 32, 0}} {
		m, n, k := s[0], s[1], s[2]
		for _, relu := range []bool{false, true} {
			t.Run(fmt.Sprint(s, relu), func(t *testing.T) {
				x, w, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
				y := make([]float32, m*n+5)
				y[m*n] = 7
				if !DenseForward(AVX512, y[:m*n], x, w, bias, m, n, k, relu) {
					t.Fatal("not run")
				}
				if y[m*n] != 7 {
					t.Fatal("store past y")
				}
				want := make([]float64, m*n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						s := float64(bias[j])
						for p := 0; p < k; p++ {
							s += float64(x[i*k+p]) * float64(w[p*n+j])
						}
						if relu {
							s = math.Max(s, 0)
						}
						want[i*n+j] = s
					}
				}
				maxErr(t, "y", y[:m*n], want, 1e-5*math.Sqrt(float64(k+1)))
			})
		}
	}
}

func BenchmarkDenseForward(b *testing.B) {
	for _, s := range [][3]int{{1, 256, 12544}, {16, 256, 12544}, {64, 256, 12544}, {8, 4096, 25088}} {
		m, n, k := s[0], s[1], s[2]
		b.Run(fmt.Sprint(s), func(b *testing.B) {
			levelOrSkip(b, AVX512)
			r := rand.New(rand.NewPCG(1, 2))
			x, w, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
			y := make([]float32, m*n)
			prev := runtime.GOMAXPROCS(1)
			defer runtime.GOMAXPROCS(prev)
			timed(b, float64(2*m*n*k), func() { DenseForward(AVX512, y, x, w, bias, m, n, k, true) })
		})
	}
}
