//go:build openblas

package ops

import (
	"strings"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestOpenBLASActive checks that the openblas build switched gonum's
// blas32/blas64 and gorgonia's BLAS to OpenBLAS, and that a gorgonia Mul
// through it is right.
func TestOpenBLASActive(t *testing.T) {
	if _, ok := blas32.Implementation().(netlib.Implementation); !ok {
		t.Errorf("blas32 is %T, want netlib.Implementation", blas32.Implementation())
	}
	if _, ok := blas64.Implementation().(netlib.Implementation); !ok {
		t.Errorf("blas64 is %T, want netlib.Implementation", blas64.Implementation())
	}
	if _, ok := gorgonia.WhichBLAS().(netlib.Implementation); !ok {
		t.Errorf("gorgonia BLAS is %T, want netlib.Implementation", gorgonia.WhichBLAS())
	}
	if name := BLASName(); !strings.HasPrefix(name, "OpenBLAS") {
		t.Errorf("BLASName() = %q, want an OpenBLAS name", name)
	}
	a := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))
	b := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{5, 6, 7, 8}))
	c, err := tensor.MatMul(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{19, 22, 43, 50}
	for i, v := range c.Data().([]float32) {
		if v != want[i] {
			t.Fatalf("tensor.MatMul = %v, want %v", c.Data(), want)
		}
	}
}
