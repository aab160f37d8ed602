//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op swapOp) CallsExtern() bool { return true }

// CUDADo swaps batch items 2k and 2k+1 on the GPU.
func (op swapOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		total := s[0].TotalSize()
		item := total / s[0][0]
		return g.launchElems("index", "swap", total, ptr(out), ptr(in[0]), i64(total), i64(item))
	})
}
