//go:build !purego && !openblas

package ops

import "golang.org/x/sys/cpu"

// haveSgemmKernel reports whether sgemmKernel6x16 can run: it needs AVX2
// and FMA (Haswell / Zen and later). Fixed at start-up.
var haveSgemmKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sgemmKernel6x16 is implemented in blas_sgemm_amd64.s.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int)
