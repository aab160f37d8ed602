//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op rotationOp) CallsExtern() bool { return true }

// CUDADo maps axis-angle vectors (B,3) to rotation matrices (B,3,3) on the
// GPU, in float64 internally as on the CPU.
func (op rotationOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b := s[0][0]
		return g.launchElems("geometry", "rotation_fwd", b, ptr(out), ptr(in[0]), i64(b))
	})
}

func (op rotationGradOp) CallsExtern() bool { return true }

// CUDADo computes dL/dr (B,3) from r and dL/dR on the GPU.
func (op rotationGradOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b := s[0][0]
		return g.launchElems("geometry", "rotation_grad", b, ptr(out), ptr(in[0]), ptr(in[1]), i64(b))
	})
}
