//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// CUDA twins of the BilinearSample kernels (kernels/bilinear.cu). In a cuda
// build the ops run on the GPU; CallsExtern tells Gorgonia to allocate their
// outputs on the device.

func (op bilinearOp) CallsExtern() bool { return true }

// CUDADo samples img (B,C,H,W) at pts (B,N,2) on the GPU.
func (op bilinearOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		is, n := s[0], s[1][1]
		return g.launchElems("bilinear", "bilinear_fwd", is[0]*n,
			ptr(out), ptr(in[0]), ptr(in[1]), i64(is[0]), i64(is[1]), i64(is[2]), i64(is[3]), i64(n))
	})
}

func (op bilinearImgGradOp) CallsExtern() bool { return true }

// CUDADo scatters g (B,C,N) onto a zeroed (B,C,H,W) gradient with atomicAdd.
func (op bilinearImgGradOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		gs := s[1]
		b, c, n := gs[0], gs[1], gs[2]
		if err := g.zero(out, b*c*op.h*op.w); err != nil {
			return err
		}
		return g.launchElems("bilinear", "bilinear_img_grad", b*n,
			ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(c), i64(op.h), i64(op.w), i64(n))
	})
}

func (op bilinearPtsGradOp) CallsExtern() bool { return true }

// CUDADo computes dL/dpts (B,N,2) on the GPU.
func (op bilinearPtsGradOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		is, n := s[0], s[1][1]
		return g.launchElems("bilinear", "bilinear_pts_grad", is[0]*n,
			ptr(out), ptr(in[0]), ptr(in[1]), ptr(in[2]), i64(is[0]), i64(is[1]), i64(is[2]), i64(is[3]), i64(n))
	})
}
