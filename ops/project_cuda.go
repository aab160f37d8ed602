//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op projectOp) CallsExtern() bool { return true }

// CUDADo projects x (B,3,N) with scales s (B) to (B,2,N) on the GPU.
func (op projectOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b, n := s[0][0], s[0][2]
		return g.launchElems("geometry", "project_fwd", b*n, ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(n))
	})
}

func (op projectGradXOp) CallsExtern() bool { return true }

// CUDADo computes dL/dx (B,3,N) from s and the gradient (B,2,N).
func (op projectGradXOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b, n := s[1][0], s[1][2]
		return g.launchElems("geometry", "project_grad_x", b*n, ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(n))
	})
}

func (op projectGradSOp) CallsExtern() bool { return true }

// CUDADo computes dL/ds (B), one block per item.
func (op projectGradSOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b, n := s[0][0], s[0][2]
		return g.launch("geometry", "project_grad_s", b, ptr(out), ptr(in[0]), ptr(in[1]), i64(b), i64(n))
	})
}
