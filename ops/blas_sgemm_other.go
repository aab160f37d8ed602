//go:build !amd64 || purego || openblas

package ops

import "unsafe"

// haveSgemmKernel is false off amd64 and with the purego or openblas tag
// (cgo packages cannot hold Go assembly; OpenBLAS serves instead): float32 GEMMs
// go to blas32.
const haveSgemmKernel = false

// sgemmKernel6x16 is the portable form of the amd64 kernel (unused while
// haveSgemmKernel is false; kept so the driver compiles everywhere).
func sgemmKernel6x16(k int, a, b, c *float32, ldc int) {
	sgemmKernelGo(k, unsafe.Slice(a, 6*k), unsafe.Slice(b, 16*k), unsafe.Slice(c, 5*ldc+16), ldc)
}
