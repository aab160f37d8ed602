// Bilinear sampling: forward and both backward passes of ops.BilinearSample
// (ops/bilinear.go; Bas et al. 2017, Sec. 3.2). The maths is that of the CPU
// kernels line for line: taps, masks and the one-sided derivative at integer
// coordinates are identical.
//
// Layouts (row-major): img (B,C,H,W), pts (B,N,2) as (x = column, y = row)
// in pixels, out/grad (B,C,N).
#include "common.cuh"

// Taps of one sample point (ops/bilinear.go, bilinearTaps): flat offsets into
// an H*W plane (0 for taps outside the image), inside-masks m (0 or 1) and
// the fractional parts fx, fy. Order: (y0,x0), (y0,x1), (y1,x0), (y1,x1).
template <typename T>
struct Taps {
	long long off[4];
	T m[4];
	T fx, fy;
};

template <typename T>
__device__ Taps<T> bilinearTaps(T x, T y, long long h, long long w) {
	Taps<T> t;
	for (int k = 0; k < 4; k++) {
		t.off[k] = 0;
		t.m[k] = 0;
	}
	t.fx = 0;
	t.fy = 0;
	// x < -1, x >= W (likewise y) and NaN touch no pixel; x = -1 is kept
	// for its right-sided derivative.
	if (!(x >= (T)-1 && x < (T)w && y >= (T)-1 && y < (T)h)) {
		return t;
	}
	double x0 = floor((double)x);
	double y0 = floor((double)y);
	t.fx = x - (T)x0;
	t.fy = y - (T)y0;
	long long ix = (long long)x0, iy = (long long)y0;
	bool inX0 = ix >= 0, inX1 = ix + 1 < w;
	bool inY0 = iy >= 0, inY1 = iy + 1 < h;
	if (inY0 && inX0) {
		t.off[0] = iy * w + ix;
		t.m[0] = 1;
	}
	if (inY0 && inX1) {
		t.off[1] = iy * w + ix + 1;
		t.m[1] = 1;
	}
	if (inY1 && inX0) {
		t.off[2] = (iy + 1) * w + ix;
		t.m[2] = 1;
	}
	if (inY1 && inX1) {
		t.off[3] = (iy + 1) * w + ix + 1;
		t.m[3] = 1;
	}
	return t;
}

// Masked bilinear weights of the four taps (ops/bilinear.go, weights).
template <typename T>
__device__ void tapWeights(const Taps<T>& t, T wt[4]) {
	T gx = 1 - t.fx, gy = 1 - t.fy;
	wt[0] = t.m[0] * gx * gy;
	wt[1] = t.m[1] * t.fx * gy;
	wt[2] = t.m[2] * gx * t.fy;
	wt[3] = t.m[3] * t.fx * t.fy;
}

// out (B,C,N) = bilinear samples of img at pts; one thread per point (b, n)
// for all channels.
template <typename T>
__device__ void bilinear_fwd_impl(T* out, const T* img, const T* pts, long long b, long long c,
                                  long long h, long long w, long long n) {
	long long plane = h * w;
	FOR_EACH(i, b * n) {
		long long bi = i / n, ni = i - bi * n;
		Taps<T> t = bilinearTaps(pts[2 * i], pts[2 * i + 1], h, w);
		T wt[4];
		tapWeights(t, wt);
		const T* src = img + bi * c * plane;
		T* dst = out + bi * c * n;
		for (long long ci = 0; ci < c; ci++) {
			const T* p = src + ci * plane;
			dst[ci * n + ni] = wt[0] * p[t.off[0]] + wt[1] * p[t.off[1]] + wt[2] * p[t.off[2]] + wt[3] * p[t.off[3]];
		}
	}
}
STN3D_BOTH(bilinear_fwd,
           (T * out, const T* img, const T* pts, long long b, long long c, long long h, long long w, long long n),
           (out, img, pts, b, c, h, w, n))

// dL/dimg (B,C,H,W) from g = dL/dout (B,C,N): out must be zeroed first
// (zero_f32/zero_f64); each point scatters its weighted gradient onto its
// taps with atomicAdd. Masked taps (weight 0) are skipped instead of adding
// 0 to pixel 0, which differs from the CPU only for non-finite gradients.
template <typename T>
__device__ void bilinear_img_grad_impl(T* out, const T* pts, const T* g, long long b, long long c,
                                       long long h, long long w, long long n) {
	long long plane = h * w;
	FOR_EACH(i, b * n) {
		long long bi = i / n, ni = i - bi * n;
		Taps<T> t = bilinearTaps(pts[2 * i], pts[2 * i + 1], h, w);
		T wt[4];
		tapWeights(t, wt);
		for (long long ci = 0; ci < c; ci++) {
			T gv = g[(bi * c + ci) * n + ni];
			T* o = out + (bi * c + ci) * plane;
			for (int k = 0; k < 4; k++) {
				if (t.m[k] != 0) {
					atomicAdd(o + t.off[k], wt[k] * gv);
				}
			}
		}
	}
}
STN3D_BOTH(bilinear_img_grad,
           (T * out, const T* pts, const T* g, long long b, long long c, long long h, long long w, long long n),
           (out, pts, g, b, c, h, w, n))

// dL/dpts (B,N,2) from img and g = dL/dout; one thread per point.
template <typename T>
__device__ void bilinear_pts_grad_impl(T* out, const T* img, const T* pts, const T* g, long long b,
                                       long long c, long long h, long long w, long long n) {
	long long plane = h * w;
	FOR_EACH(i, b * n) {
		long long bi = i / n, ni = i - bi * n;
		Taps<T> t = bilinearTaps(pts[2 * i], pts[2 * i + 1], h, w);
		T gx = 1 - t.fx, gy = 1 - t.fy;
		T sx = 0, sy = 0;
		for (long long ci = 0; ci < c; ci++) {
			const T* p = img + (bi * c + ci) * plane;
			T v0 = t.m[0] * p[t.off[0]];
			T v1 = t.m[1] * p[t.off[1]];
			T v2 = t.m[2] * p[t.off[2]];
			T v3 = t.m[3] * p[t.off[3]];
			T gv = g[(bi * c + ci) * n + ni];
			sx += gv * (gy * (v1 - v0) + t.fy * (v3 - v2));
			sy += gv * (gx * (v2 - v0) + t.fx * (v3 - v1));
		}
		out[2 * i] = sx;
		out[2 * i + 1] = sy;
	}
}
STN3D_BOTH(bilinear_pts_grad,
           (T * out, const T* img, const T* pts, const T* g, long long b, long long c, long long h, long long w,
            long long n),
           (out, img, pts, g, b, c, h, w, n))
