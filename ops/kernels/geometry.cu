// Geometry kernels of the 3DMM-STN (Bas et al. 2017, Sec. 3): Kronecker
// translation (Eq. 4's t ⊗ 1), axis-angle rotation (Rodrigues), rotation of
// points and orthographic projection, each with its backward passes. The
// maths is that of ops/kron.go, ops/rotation.go, ops/rotate.go and
// ops/project.go.
#include "common.cuh"

// ---- KronTranslate: y (B,2,N) + t (B,2) ----

// out[r, i] = y[r, i] + t[r] for the rows r of (B*2, N).
template <typename T>
__device__ void kron_fwd_impl(T* out, const T* y, const T* t, long long rows, long long n) {
	FOR_EACH(i, rows * n) { out[i] = y[i] + t[i / n]; }
}
STN3D_BOTH(kron_fwd, (T * out, const T* y, const T* t, long long rows, long long n), (out, y, t, rows, n))

// out[r] = sum_i g[r, i]: one block per row (dL/dt of KronTranslate).
template <typename T>
__device__ void row_sums_impl(T* out, const T* g, long long rows, long long n) {
	for (long long r = blockIdx.x; r < rows; r += gridDim.x) {
		T s = 0;
		for (long long i = threadIdx.x; i < n; i += blockDim.x) {
			s += g[r * n + i];
		}
		s = blockSum(s);
		if (threadIdx.x == 0) {
			out[r] = s;
		}
	}
}
STN3D_BOTH(row_sums, (T * out, const T* g, long long rows, long long n), (out, g, rows, n))

// ---- AxisAngleToRotation: r (B,3) -> R (B,3,3), in float64 throughout ----

// Rodrigues coefficients of th2 = |r|^2 (ops/rotation.go, rodriguesCoeffs):
// R = I + a K + b K^2, da/dth / th = c, db/dth / th = d; Taylor series below
// th2 = 0.01.
__device__ void rodriguesCoeffs(double th2, double* a, double* b, double* c, double* d) {
	if (th2 < 0.01) {
		double t2 = th2, t4 = th2 * th2, t6 = th2 * th2 * th2, t8 = th2 * th2 * th2 * th2;
		*a = 1 - t2 / 6 + t4 / 120 - t6 / 5040 + t8 / 362880;
		*b = 0.5 - t2 / 24 + t4 / 720 - t6 / 40320 + t8 / 3628800;
		*c = -1.0 / 3 + t2 / 30 - t4 / 840 + t6 / 45360 - t8 / 3991680;
		*d = -1.0 / 12 + t2 / 180 - t4 / 6720 + t6 / 453600 - t8 / 47900160;
		return;
	}
	double th = sqrt(th2);
	double s = sin(th), co = cos(th);
	double hh = sin(th / 2);
	double omc = 2 * hh * hh;  // 1 - cos th without cancellation
	*a = s / th;
	*b = omc / th2;
	*c = (th * co - s) / (th2 * th);
	*d = (th * s - 2 * omc) / (th2 * th2);
}

__device__ void skew(double v0, double v1, double v2, double k[9]) {
	k[0] = 0;
	k[1] = -v2;
	k[2] = v1;
	k[3] = v2;
	k[4] = 0;
	k[5] = -v0;
	k[6] = -v1;
	k[7] = v0;
	k[8] = 0;
}

__device__ void mul3(const double p[9], const double q[9], double m[9]) {
	for (int i = 0; i < 3; i++) {
		for (int j = 0; j < 3; j++) {
			m[3 * i + j] = p[3 * i] * q[j] + p[3 * i + 1] * q[3 + j] + p[3 * i + 2] * q[6 + j];
		}
	}
}

__device__ double dot9(const double p[9], const double q[9]) {
	double s = 0;
	for (int i = 0; i < 9; i++) {
		s += p[i] * q[i];
	}
	return s;
}

// out (B,3,3) = I + a K + b K^2 with K = [r]x; one thread per item.
template <typename T>
__device__ void rotation_fwd_impl(T* out, const T* r, long long b) {
	FOR_EACH(bi, b) {
		double r0 = r[3 * bi], r1 = r[3 * bi + 1], r2 = r[3 * bi + 2];
		double a, bb, c, d;
		rodriguesCoeffs(r0 * r0 + r1 * r1 + r2 * r2, &a, &bb, &c, &d);
		double k[9], k2[9];
		skew(r0, r1, r2, k);
		mul3(k, k, k2);
		for (int i = 0; i < 9; i++) {
			double v = a * k[i] + bb * k2[i];
			if (i % 4 == 0) {
				v++;
			}
			out[9 * bi + i] = (T)v;
		}
	}
}
STN3D_BOTH(rotation_fwd, (T * out, const T* r, long long b), (out, r, b))

// dL/dr (B,3) from g = dL/dR (B,3,3) (ops/rotation.go, rotationGradKernel).
template <typename T>
__device__ void rotation_grad_impl(T* out, const T* r, const T* g, long long b) {
	FOR_EACH(bi, b) {
		double rv[3] = {(double)r[3 * bi], (double)r[3 * bi + 1], (double)r[3 * bi + 2]};
		double a, bb, c, d;
		rodriguesCoeffs(rv[0] * rv[0] + rv[1] * rv[1] + rv[2] * rv[2], &a, &bb, &c, &d);
		double gm[9];
		for (int i = 0; i < 9; i++) {
			gm[i] = g[9 * bi + i];
		}
		double k[9], k2[9];
		skew(rv[0], rv[1], rv[2], k);
		mul3(k, k, k2);
		double radial = c * dot9(gm, k) + d * dot9(gm, k2);
		for (int i = 0; i < 3; i++) {
			double e[9], ek[9], ke[9];
			skew(i == 0 ? 1 : 0, i == 1 ? 1 : 0, i == 2 ? 1 : 0, e);
			mul3(e, k, ek);
			mul3(k, e, ke);
			double sym = 0;
			for (int j = 0; j < 9; j++) {
				sym += gm[j] * (ek[j] + ke[j]);
			}
			out[3 * bi + i] = (T)(a * dot9(gm, e) + bb * sym + rv[i] * radial);
		}
	}
}
STN3D_BOTH(rotation_grad, (T * out, const T* r, const T* g, long long b), (out, r, g, b))

// ---- RotatePoints: R (B,3,3) x (B,3,N) ----

// out (B,3,N) = R x, or R^T x when transpose != 0 (the gradient wrt x).
template <typename T>
__device__ void rotate_fwd_impl(T* out, const T* r, const T* x, long long b, long long n, long long transpose) {
	FOR_EACH(i, b * n) {
		long long bi = i / n, ni = i - bi * n;
		const T* m = r + 9 * bi;
		T m00 = m[0], m01 = m[1], m02 = m[2], m10 = m[3], m11 = m[4], m12 = m[5], m20 = m[6], m21 = m[7],
		  m22 = m[8];
		if (transpose) {
			T s;
			s = m01, m01 = m10, m10 = s;
			s = m02, m02 = m20, m20 = s;
			s = m12, m12 = m21, m21 = s;
		}
		const T* xb = x + bi * 3 * n;
		T* ob = out + bi * 3 * n;
		T a = xb[ni], c = xb[n + ni], d = xb[2 * n + ni];
		ob[ni] = m00 * a + m01 * c + m02 * d;
		ob[n + ni] = m10 * a + m11 * c + m12 * d;
		ob[2 * n + ni] = m20 * a + m21 * c + m22 * d;
	}
}
STN3D_BOTH(rotate_fwd, (T * out, const T* r, const T* x, long long b, long long n, long long transpose),
           (out, r, x, b, n, transpose))

// dL/dR (B,3,3)[j,k] = sum_i g[b,j,i] x[b,k,i]: one block per (b, j, k).
template <typename T>
__device__ void rotate_grad_r_impl(T* out, const T* x, const T* g, long long b, long long n) {
	for (long long u = blockIdx.x; u < 9 * b; u += gridDim.x) {
		long long bi = u / 9, j = (u % 9) / 3, k = u % 3;
		const T* gj = g + bi * 3 * n + j * n;
		const T* xk = x + bi * 3 * n + k * n;
		T acc = 0;
		for (long long i = threadIdx.x; i < n; i += blockDim.x) {
			acc += gj[i] * xk[i];
		}
		acc = blockSum(acc);
		if (threadIdx.x == 0) {
			out[u] = acc;
		}
	}
}
STN3D_BOTH(rotate_grad_r, (T * out, const T* x, const T* g, long long b, long long n), (out, x, g, b, n))

// ---- OrthoProject: x (B,3,N), s (B) -> (B,2,N) = s * (x, -y) ----

template <typename T>
__device__ void project_fwd_impl(T* out, const T* x, const T* s, long long b, long long n) {
	FOR_EACH(i, b * n) {
		long long bi = i / n, ni = i - bi * n;
		T sv = s[bi];
		out[bi * 2 * n + ni] = sv * x[bi * 3 * n + ni];
		out[bi * 2 * n + n + ni] = -sv * x[bi * 3 * n + n + ni];
	}
}
STN3D_BOTH(project_fwd, (T * out, const T* x, const T* s, long long b, long long n), (out, x, s, b, n))

// dL/dx (B,3,N) = (s g_x, -s g_y, 0).
template <typename T>
__device__ void project_grad_x_impl(T* out, const T* s, const T* g, long long b, long long n) {
	FOR_EACH(i, b * n) {
		long long bi = i / n, ni = i - bi * n;
		T sv = s[bi];
		out[bi * 3 * n + ni] = sv * g[bi * 2 * n + ni];
		out[bi * 3 * n + n + ni] = -sv * g[bi * 2 * n + n + ni];
		out[bi * 3 * n + 2 * n + ni] = 0;
	}
}
STN3D_BOTH(project_grad_x, (T * out, const T* s, const T* g, long long b, long long n), (out, s, g, b, n))

// dL/ds (B) = sum_i g_x x - g_y y: one block per item.
template <typename T>
__device__ void project_grad_s_impl(T* out, const T* x, const T* g, long long b, long long n) {
	for (long long bi = blockIdx.x; bi < b; bi += gridDim.x) {
		const T* xb = x + bi * 3 * n;
		const T* gb = g + bi * 2 * n;
		T acc = 0;
		for (long long i = threadIdx.x; i < n; i += blockDim.x) {
			acc += gb[i] * xb[i] - gb[n + i] * xb[n + i];
		}
		acc = blockSum(acc);
		if (threadIdx.x == 0) {
			out[bi] = acc;
		}
	}
}
STN3D_BOTH(project_grad_s, (T * out, const T* x, const T* g, long long b, long long n), (out, x, g, b, n))
