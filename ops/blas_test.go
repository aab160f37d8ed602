package ops

import (
	"fmt"
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// TestBLASName checks that the reported BLAS names the implementations that
// blas32 and blas64 actually dispatch to, and that both compute a known
// product (so a mislinked OpenBLAS fails here, not in training).
func TestBLASName(t *testing.T) {
	name := BLASName()
	for _, impl := range []any{blas32.Implementation(), blas64.Implementation()} {
		if typ := fmt.Sprintf("%T", impl); !strings.Contains(name, typ) {
			t.Errorf("BLASName() = %q does not mention the active implementation %s", name, typ)
		}
	}
	t.Log(name)
	// [1 2; 3 4] [5 6; 7 8] = [19 22; 43 50]
	c32 := make([]float32, 4)
	gemm(false, false, 2, 2, 2, 1, []float32{1, 2, 3, 4}, 2, []float32{5, 6, 7, 8}, 2, 0, c32, 2)
	c64 := []float64{1e300, 1e300, 1e300, 1e300} // beta = 0 must ignore C
	gemm(false, false, 2, 2, 2, 1, []float64{1, 2, 3, 4}, 2, []float64{5, 6, 7, 8}, 2, 0, c64, 2)
	want := []float64{19, 22, 43, 50}
	for i := range want {
		if float64(c32[i]) != want[i] || c64[i] != want[i] {
			t.Fatalf("gemm: float32 %v, float64 %v, want %v", c32, c64, want)
		}
	}
}
