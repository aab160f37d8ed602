//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op flipOp) CallsExtern() bool { return true }

// CUDADo reverses the last axis on the GPU.
func (op flipOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		total := s[0].TotalSize()
		return g.launchElems("index", "flip", total, ptr(out), ptr(in[0]), i64(total), i64(op.cols))
	})
}
