//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op backfaceOp) CallsExtern() bool { return true }

// CUDADo computes the backface mask (B, rows*cols) on the GPU
// (kernels/backface.cu), one thread per vertex.
func (op backfaceOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		b := s[0][0]
		return g.launchElems("backface", "backface", b*op.rows*op.cols,
			ptr(out), ptr(in[0]), i64(b), i64(op.rows), i64(op.cols))
	})
}
