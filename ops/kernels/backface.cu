// Backface mask of a projected geometry image (ops/backface.go): a vertex is
// visible (1) when the z component of the sum of the normals of its
// triangles is positive, else 0. The triangulation is bfm.GridTriangles:
// quad (r, c) with corners a = (r,c), b = (r,c+1), d = (r+1,c),
// e = (r+1,c+1) is cut as bfm.GridQuadSplit(cols, c) says,
//   c <  cols-2-c: a-e, triangles (a,d,e), (a,e,b);
//   c >  cols-2-c: b-d, triangles (a,d,b), (b,d,e);
//   c == cols-2-c: a fan around m = (a+b+d+e)/4, (m,a,d), (m,d,e), (m,e,b),
//                  (m,b,a) (the middle quad column of an even-width grid).
// Areas are computed and summed in float64 in the CPU kernel's order, and
// the kernels are built with -fmad=false as the CPU rounds every product,
// so the decisions are identical.
#include "common.cuh"

// Doubled signed area (x_j-x_i)(y_k-y_i) - (y_j-y_i)(x_k-x_i) of triangle
// (i, j, k) seen from +z (ops/backface.go area2).
__device__ double area2(double xi, double yi, double xj, double yj, double xk, double yk) {
	return (xj - xi) * (yk - yi) - (yj - yi) * (xk - xi);
}

// Sums, for the corners a, b, d, e of quad (r, c), of the areas of the
// quad's triangles that use the corner, in triangle order (quadCornerNZ).
template <typename T>
__device__ void quadCornerNZ(const T* px, const T* py, long long cols, long long r, long long c, double nz[4]) {
	long long a = r * cols + c;
	long long b = a + 1, d = a + cols;
	long long e = d + 1;
	double xa = px[a], ya = py[a];
	double xb = px[b], yb = py[b];
	double xd = px[d], yd = py[d];
	double xe = px[e], ye = py[e];
	long long mirror = cols - 2 - c; // bfm.GridQuadSplit
	if (c < mirror) {                // a-e: (a,d,e), (a,e,b)
		double t1 = area2(xa, ya, xd, yd, xe, ye), t2 = area2(xa, ya, xe, ye, xb, yb);
		nz[0] = t1 + t2;
		nz[1] = t2;
		nz[2] = t1;
		nz[3] = t1 + t2;
	} else if (c > mirror) { // b-d: (a,d,b), (b,d,e)
		double t1 = area2(xa, ya, xd, yd, xb, yb), t2 = area2(xb, yb, xd, yd, xe, ye);
		nz[0] = t1;
		nz[1] = t1 + t2;
		nz[2] = t1 + t2;
		nz[3] = t2;
	} else { // fan: (m,a,d), (m,d,e), (m,e,b), (m,b,a)
		double xm = (xa + xb + xd + xe) / 4, ym = (ya + yb + yd + ye) / 4;
		double f1 = area2(xm, ym, xa, ya, xd, yd), f2 = area2(xm, ym, xd, yd, xe, ye);
		double f3 = area2(xm, ym, xe, ye, xb, yb), f4 = area2(xm, ym, xb, yb, xa, ya);
		nz[0] = f1 + f4;
		nz[1] = f3 + f4;
		nz[2] = f1 + f2;
		nz[3] = f2 + f3;
	}
}

// out (B, rows*cols) from x (B,3,rows*cols); one thread per vertex. Vertex
// (r, c) is e of quad (r-1,c-1), d of quad (r-1,c), b of quad (r,c-1) and a
// of quad (r,c), summed in that order; quads outside the grid give 0.
template <typename T>
__device__ void backface_impl(T* out, const T* x, long long b, long long rows, long long cols) {
	long long n = rows * cols;
	FOR_EACH(i, b * n) {
		long long bi = i / n, v = i - bi * n;
		long long r = v / cols, c = v - r * cols;
		const T* px = x + bi * 3 * n;
		const T* py = px + n;
		double upPrev[4] = {0, 0, 0, 0}, up[4] = {0, 0, 0, 0};
		double dnPrev[4] = {0, 0, 0, 0}, dn[4] = {0, 0, 0, 0};
		if (c > 0) {
			if (r > 0) {
				quadCornerNZ(px, py, cols, r - 1, c - 1, upPrev);
			}
			if (r < rows - 1) {
				quadCornerNZ(px, py, cols, r, c - 1, dnPrev);
			}
		}
		if (c < cols - 1) {
			if (r > 0) {
				quadCornerNZ(px, py, cols, r - 1, c, up);
			}
			if (r < rows - 1) {
				quadCornerNZ(px, py, cols, r, c, dn);
			}
		}
		double nz = upPrev[3] + up[2] + dnPrev[1] + dn[0];
		out[i] = nz > 0 ? (T)1 : (T)0;
	}
}
STN3D_BOTH(backface, (T * out, const T* x, long long b, long long rows, long long cols), (out, x, b, rows, cols))
