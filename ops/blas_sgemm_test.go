package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm64 is C = alpha op(A) op(B) + beta C in float64 from the
// definition.
func naiveGemm64(tA, tB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) []float64 {
	out := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = alpha * s
			if beta != 0 {
				out[i*n+j] += beta * float64(c[i*ldc+j])
			}
		}
	}
	return out
}

func randF32(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	return v
}

// TestSgemmBlocked compares the blocked GEMM with the definition over
// shapes that cross every block edge (6, 16, kc = 256, mc = 120, nc = 2048),
// all four transpose cases, padded leading dimensions and several alpha,
// beta; C starts as NaN when beta = 0 (it must not be read).
func TestSgemmBlocked(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	shapes := [][3]int{{1, 1, 1}, {6, 16, 1}, {5, 15, 3}, {7, 17, 9}, {13, 33, 257}, {121, 20, 5}, {2, 2049, 4}, {32, 40, 27}, {64, 50, 600}}
	for _, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}} {
				tA, tB := tr[0], tr[1]
				name := fmt.Sprintf("%dx%dx%d_tA%t_tB%t_a%g_b%g", m, n, k, tA, tB, ab[0], ab[1])
				ra, ca := m, k
				if tA {
					ra, ca = k, m
				}
				rb, cb := k, n
				if tB {
					rb, cb = n, k
				}
				lda, ldb, ldc := ca+3, cb+1, n+2
				a, b := randF32(r, ra*lda), randF32(r, rb*ldb)
				c := randF32(r, m*ldc)
				if ab[1] == 0 {
					for i := range c {
						c[i] = float32(math.NaN())
					}
				}
				want := naiveGemm64(tA, tB, m, n, k, float64(ab[0]), a, lda, b, ldb, float64(ab[1]), c, ldc)
				got := append([]float32(nil), c...)
				pack := make([]float32, sgemmPackSize(m, n, k))
				for i := range pack {
					pack[i] = float32(math.NaN()) // stale workspace must not matter
				}
				sgemmBlocked(tA, tB, m, n, k, ab[0], a, lda, b, ldb, ab[1], got, ldc, pack)
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						g := float64(got[i*ldc+j])
						if j >= n { // padding columns untouched
							if math.Float32bits(got[i*ldc+j]) != math.Float32bits(c[i*ldc+j]) {
								t.Fatalf("%s: padding C[%d,%d] changed", name, i, j)
							}
							continue
						}
						w := want[i*n+j]
						if math.Abs(g-w) > 1e-5*math.Sqrt(float64(k))*math.Max(1, math.Abs(w)) || math.IsNaN(g) {
							t.Fatalf("%s: C[%d,%d] = %g, want %g", name, i, j, g, w)
						}
					}
				}
			}
		}
	}
}

// TestSgemmKernelMatchesGo checks the assembly micro-kernel (where present)
// against its plain Go form.
func TestSgemmKernelMatchesGo(t *testing.T) {
	if !haveSgemmKernel {
		t.Skip("no AVX2+FMA micro-kernel on this machine/build")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{1, 2, 7, 256} {
		a, b := randF32(r, 6*k), randF32(r, 16*k)
		ldc := 21
		c := randF32(r, 6*ldc)
		want := append([]float32(nil), c...)
		sgemmKernelGo(k, a, b, want, ldc)
		sgemmKernel6x16(k, &a[0], &b[0], &c[0], ldc)
		for i := range c {
			if d := math.Abs(float64(c[i] - want[i])); d > 1e-5*math.Sqrt(float64(k)) {
				t.Fatalf("k=%d: c[%d] = %g, Go kernel %g", k, i, c[i], want[i])
			}
		}
	}
}

// BenchmarkSgemm reports GFLOP/s of the convolutions' float32 GEMM (the
// blocked AVX2 kernel in the default build, OpenBLAS with -tags openblas)
// and of blas32 (gonum native, or OpenBLAS), on the forward GEMM shapes
// of the small localiser (Cout x Cin*9 times Cin*9 x H*W). Run with
// GOMAXPROCS=1 for single-core figures.
func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, l := range smallConvLayers {
		m, k, n := l.cout, l.cin*9, l.side*l.side
		a, bb, c := randF32(r, m*k), randF32(r, k*n), make([]float32, m*n)
		s := &scratch{}
		for _, impl := range []string{"conv", "blas32"} {
			b.Run(fmt.Sprintf("%s_%dx%dx%d/%s", l.name, m, k, n, impl), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if impl == "conv" {
						convGemm(s, false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
					} else {
						gemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
					}
				}
				b.ReportMetric(2*float64(m*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
