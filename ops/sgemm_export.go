package ops

// SgemmWorkspace returns the length of the workspace Sgemm needs for an
// m x n x k product (0 when Sgemm does not use one).
func SgemmWorkspace(m, n, k int) int {
	if !useOwnSgemm() {
		return 0
	}
	return sgemmPackSize(m, n, k)
}

// Sgemm computes C = A B for row-major float32 matrices (A m x k with
// leading dimension lda, B k x n with ldb, C m x n with ldc, overwritten)
// with the GEMM the convolutions use: the AVX2 kernel of this package in the
// default pure-Go build, blas32 otherwise. work must hold at least
// SgemmWorkspace(m, n, k) values (stale contents are fine); with it, Sgemm
// does not allocate. It is for plain-slice inference outside a graph.
func Sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, work []float32) {
	if useOwnSgemm() {
		sgemmBlocked(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, work)
		return
	}
	gemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}
