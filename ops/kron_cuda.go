//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op kronOp) CallsExtern() bool { return true }

// CUDADo adds t (B,2) to every column of y (B,2,N) on the GPU.
func (op kronOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		rows, n := s[0][0]*s[0][1], s[0][2]
		return g.launchElems("geometry", "kron_fwd", rows*n, ptr(out), ptr(in[0]), ptr(in[1]), i64(rows), i64(n))
	})
}

func (op kronGradTOp) CallsExtern() bool { return true }

// CUDADo sums the gradient (B,2,N) over N, one block per row.
func (op kronGradTOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		rows, n := s[0][0]*s[0][1], s[0][2]
		return g.launch("geometry", "row_sums", rows, ptr(out), ptr(in[0]), i64(rows), i64(n))
	})
}
