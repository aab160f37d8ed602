//go:build cudaemu

// Serial host emulation of ops/kernels/*.cu: every kernel runs as a single
// thread of a single block (blockDim = gridDim = 1), which its grid-stride
// and block-stride loops turn into the plain serial computation.
#include <cmath>

struct stn3dDim3 {
	unsigned x, y, z;
};
static const stn3dDim3 blockIdx = {0, 0, 0};
static const stn3dDim3 threadIdx = {0, 0, 0};
static const stn3dDim3 blockDim = {1, 1, 1};
static const stn3dDim3 gridDim = {1, 1, 1};

#define __global__
#define __device__
#define __shared__ static
#define __syncthreads()
#define STN3D_THREADS 1

static float atomicAdd(float* a, float v) {
	float old = *a;
	*a += v;
	return old;
}
static double atomicAdd(double* a, double v) {
	double old = *a;
	*a += v;
	return old;
}
using std::cos;
using std::floor;
using std::sin;
using std::sqrt;

#include "../../../ops/kernels/backface.cu"
#include "../../../ops/kernels/bilinear.cu"
#include "../../../ops/kernels/geometry.cu"
#include "../../../ops/kernels/index.cu"
