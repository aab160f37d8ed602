// Index kernels: FlipCols, SwapPairs, Gather and its gradient (scatter-add),
// plus zero-fill. The maths is that of ops/flip.go, ops/swap.go and
// ops/gather.go.
#include "common.cuh"

// out[i] = 0 for i < n.
template <typename T>
__device__ void zero_impl(T* out, long long n) {
	FOR_EACH(i, n) { out[i] = 0; }
}
STN3D_BOTH(zero, (T * out, long long n), (out, n))

// Reverses the last axis (cols) of x, total elements total.
template <typename T>
__device__ void flip_impl(T* out, const T* x, long long total, long long cols) {
	FOR_EACH(i, total) {
		long long r = i / cols, c = i - r * cols;
		out[r * cols + cols - 1 - c] = x[i];
	}
}
STN3D_BOTH(flip, (T * out, const T* x, long long total, long long cols), (out, x, total, cols))

// out item b = x item b^1 (items of item elements, total b*item).
template <typename T>
__device__ void swap_impl(T* out, const T* x, long long total, long long item) {
	FOR_EACH(i, total) {
		long long bi = i / item, j = i - bi * item;
		out[i] = x[(bi ^ 1) * item + j];
	}
}
STN3D_BOTH(swap, (T * out, const T* x, long long total, long long item), (out, x, total, item))

// out (rows, l)[r, j] = x (rows, n)[r, idx[j]].
template <typename T>
__device__ void gather_impl(T* out, const T* x, const long long* idx, long long rows, long long n, long long l) {
	FOR_EACH(i, rows * l) {
		long long r = i / l, j = i - r * l;
		out[i] = x[r * n + idx[j]];
	}
}
STN3D_BOTH(gather, (T * out, const T* x, const long long* idx, long long rows, long long n, long long l),
           (out, x, idx, rows, n, l))

// out[r, idx[j]] += g[r, j] in the order of j, after zero_* cleared out
// (rows, n); one thread per row, as the CPU, so repeated indices sum
// identically.
template <typename T>
__device__ void scatter_impl(T* out, const T* g, const long long* idx, long long rows, long long n, long long l) {
	FOR_EACH(r, rows) {
		T* dst = out + r * n;
		for (long long j = 0; j < l; j++) {
			dst[idx[j]] += g[r * l + j];
		}
	}
}
STN3D_BOTH(scatter, (T * out, const T* g, const long long* idx, long long rows, long long n, long long l),
           (out, g, idx, rows, n, l))
