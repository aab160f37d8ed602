// Shared helpers of the stn3d CUDA kernels (ops/kernels/*.cu).
//
// Conventions, matching ops/*_cuda.go:
//   - every kernel exists as NAME_f32 and NAME_f64 (extern "C", no mangling);
//   - every parameter is 8 bytes (a device pointer or a long long), because
//     gorgonia.org/cu's BatchedContext.LaunchKernel copies each argument as
//     a uint64;
//   - element-wise kernels use a grid-stride loop, so any grid size is valid;
//   - reduction kernels run one block of STN3D_THREADS threads per output.
#pragma once

// Threads per block; ops/launch_cuda.go's threadsPerBlock must equal it.
// (Overridable only for the serial host emulation, scripts/cuda/emu.)
#ifndef STN3D_THREADS
#define STN3D_THREADS 256
#endif

// Grid-stride loop over [0, n).
#define FOR_EACH(i, n)                                                        \
	for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;      \
	     i < (n); i += (long long)blockDim.x * gridDim.x)

// blockSum returns, in thread 0, the sum of v over the block (blockDim.x ==
// STN3D_THREADS, a power of two). Every thread of the block must call it.
template <typename T>
__device__ T blockSum(T v) {
	__shared__ T buf[STN3D_THREADS];
	buf[threadIdx.x] = v;
	__syncthreads();
	for (int s = STN3D_THREADS / 2; s > 0; s >>= 1) {
		if (threadIdx.x < s) {
			buf[threadIdx.x] += buf[threadIdx.x + s];
		}
		__syncthreads();
	}
	T r = buf[0];
	__syncthreads();
	return r;
}

// STN3D_BOTH(NAME, PARAMS, ARGS) defines the kernels NAME_f32 and NAME_f64,
// which call the device template NAME_impl<T> ARGS; PARAMS is the
// parenthesised parameter list written with the element type T.
#define STN3D_BOTH(NAME, PARAMS, ARGS)                                        \
	namespace stn3d_f32_##NAME {                                              \
	typedef float T;                                                          \
	extern "C" __global__ void NAME##_f32 PARAMS { NAME##_impl<T> ARGS; }     \
	}                                                                         \
	namespace stn3d_f64_##NAME {                                              \
	typedef double T;                                                         \
	extern "C" __global__ void NAME##_f64 PARAMS { NAME##_impl<T> ARGS; }     \
	}
