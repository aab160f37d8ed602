//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op rotateOp) CallsExtern() bool { return true }

// CUDADo rotates x (B,3,N) by R (B,3,3) on the GPU.
func (op rotateOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b, n := s[1][0], s[1][2]
		return g.launchElems("geometry", "rotate_fwd", b*n, ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(n), 0)
	})
}

func (op rotateGradROp) CallsExtern() bool { return true }

// CUDADo computes dL/dR = g x^T per item, one block per matrix entry.
func (op rotateGradROp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b, n := s[0][0], s[0][2]
		return g.launch("geometry", "rotate_grad_r", 9*b, ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(n))
	})
}

func (op rotateGradXOp) CallsExtern() bool { return true }

// CUDADo computes dL/dx = R^T g on the GPU.
func (op rotateGradXOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b, n := s[1][0], s[1][2]
		return g.launchElems("geometry", "rotate_fwd", b*n, ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(n), 1)
	})
}
