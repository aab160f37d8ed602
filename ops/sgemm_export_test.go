package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSgemmExportMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range [][3]int{{1, 1, 1}, {7, 33, 19}, {16, 200, 144}, {64, 1300, 576}} {
		m, n, k := d[0], d[1], d[2]
		a, b := randF32(r, m*k), randF32(r, k*n)
		c := make([]float32, m*n)
		for i := range c {
			c[i] = 99 // overwritten
		}
		Sgemm(m, n, k, a, k, b, n, c, n, make([]float32, SgemmWorkspace(m, n, k)))
		want := naiveGemm64(false, false, m, n, k, 1, a, k, b, n, 0, make([]float32, m*n), n)
		for i := range c {
			if math.Abs(float64(c[i])-want[i]) > 1e-4*(1+math.Abs(want[i])) {
				t.Fatalf("%v: c[%d] = %v, want %v", d, i, c[i], want[i])
			}
		}
	}
}
