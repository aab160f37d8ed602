// Backface mask of a projected geometry image (ops/backface.go): a vertex is
// visible (1) when the summed signed doubled areas of the triangles around it
// are positive, else 0. Triangles of quad (r, c) with corners a = (r,c),
// b = (r,c+1), d = (r+1,c), e = (r+1,c+1): (a,d,b) and (b,d,e). Areas are
// summed in float64 in the CPU kernel's order, so the decision is identical.
#include "common.cuh"

// Doubled signed areas of the two triangles of quad (r, c) (quadNZ).
template <typename T>
__device__ void quadNZ(const T* px, const T* py, long long cols, long long r, long long c, double* t1, double* t2) {
	long long a = r * cols + c;
	long long b = a + 1, d = a + cols;
	long long e = d + 1;
	double xa = px[a], ya = py[a];
	double xb = px[b], yb = py[b];
	double xd = px[d], yd = py[d];
	double xe = px[e], ye = py[e];
	*t1 = (xd - xa) * (yb - ya) - (yd - ya) * (xb - xa);
	*t2 = (xd - xb) * (ye - yb) - (yd - yb) * (xe - xb);
}

// out (B, rows*cols) from x (B,3,rows*cols); one thread per vertex. The
// terms are those of the CPU's sliding window: quad (r-1,c-1) second
// triangle, quad (r-1,c) both, quad (r,c-1) both, quad (r,c) first.
template <typename T>
__device__ void backface_impl(T* out, const T* x, long long b, long long rows, long long cols) {
	long long n = rows * cols;
	FOR_EACH(i, b * n) {
		long long bi = i / n, v = i - bi * n;
		long long r = v / cols, c = v - r * cols;
		const T* px = x + bi * 3 * n;
		const T* py = px + n;
		double up2 = 0, dn1 = 0, dn2 = 0, cu1 = 0, cu2 = 0, cd1 = 0, cd2 = 0, tmp = 0;
		if (c > 0) {
			if (r > 0) {
				quadNZ(px, py, cols, r - 1, c - 1, &tmp, &up2);
			}
			if (r < rows - 1) {
				quadNZ(px, py, cols, r, c - 1, &dn1, &dn2);
			}
		}
		if (c < cols - 1) {
			if (r > 0) {
				quadNZ(px, py, cols, r - 1, c, &cu1, &cu2);
			}
			if (r < rows - 1) {
				quadNZ(px, py, cols, r, c, &cd1, &cd2);
			}
		}
		double nz = up2 + cu1 + cu2 + dn1 + dn2 + cd1;
		out[i] = nz > 0 ? (T)1 : (T)0;
	}
}
STN3D_BOTH(backface, (T * out, const T* x, long long b, long long rows, long long cols), (out, x, b, rows, cols))
