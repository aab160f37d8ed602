//go:build !openblas

package ops

import (
	"fmt"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// BLASName reports the BLAS that the GEMMs of this package (blas32/blas64)
// call, for a log line. This is the default, pure-Go build: gonum's native
// implementation. Build with -tags openblas (and CGO_LDFLAGS=-lopenblas) to
// use OpenBLAS instead.
func BLASName() string {
	return fmt.Sprintf("gonum pure Go (blas32 %T, blas64 %T)", blas32.Implementation(), blas64.Implementation())
}
