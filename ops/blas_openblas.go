//go:build openblas

package ops

/*
#cgo LDFLAGS: -lopenblas
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);
extern char* openblas_get_config(void);
*/
import "C"

import (
	"fmt"
	"os"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/gorgonia"
)

// With the openblas build tag every BLAS call of the program goes to
// OpenBLAS through gonum.org/v1/netlib (cgo): gonum's blas32 and blas64
// (the GEMMs of this package) and gorgonia's and tensor's BLAS (Mul, MatMul).
// Build with
//
//	CGO_LDFLAGS=-lopenblas go test -tags openblas ./ops/
//
// The switch happens once, at program start, because the build asked for it.
// The convolutions already split the batch across GOMAXPROCS goroutines, so
// OpenBLAS is limited to one thread per call (its own threads would
// oversubscribe the cores) unless OPENBLAS_NUM_THREADS is set.
func init() {
	impl := netlib.Implementation{}
	blas32.Use(impl)
	blas64.Use(impl)
	gorgonia.Use(impl)
	if _, ok := os.LookupEnv("OPENBLAS_NUM_THREADS"); !ok {
		C.openblas_set_num_threads(1)
	}
}

// BLASName reports the BLAS in use, for a log line: here OpenBLAS via
// gonum.org/v1/netlib, with its build configuration and thread count.
func BLASName() string {
	return fmt.Sprintf("OpenBLAS via netlib cgo (%s, %d threads; blas32 %T, blas64 %T)",
		C.GoString(C.openblas_get_config()), int(C.openblas_get_num_threads()), blas32.Implementation(), blas64.Implementation())
}
