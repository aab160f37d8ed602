//go:build cuda

package ops

import (
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func (op gatherOp) CallsExtern() bool { return true }

// CUDADo gathers the columns idx of x (B,K,N) on the GPU. The indices are
// uploaded for each call (a few hundred bytes).
func (op gatherOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		idx, size, err := g.upload(op.idx)
		if err != nil {
			return err
		}
		defer g.release(idx, size)
		rows, l := s[0][0]*s[0][1], len(op.idx)
		return g.launchElems("index", "gather", rows*l, ptr(out), ptr(in[0]), uint64(idx), i64(rows), i64(op.n), i64(l))
	})
}

func (op scatterOp) CallsExtern() bool { return true }

// CUDADo scatter-adds the gradient (B,K,L) into a zeroed (B,K,N), one
// thread per row in the order of idx, as the CPU.
func (op scatterOp) CUDADo(extern gorgonia.External, dev gorgonia.Device, prealloc gorgonia.Value, inputs ...gorgonia.Value) (gorgonia.Value, error) {
	return cudaRun(op, extern, dev, prealloc, inputs, func(g *gpuCall, out gorgonia.Value, in []gorgonia.Value, s []tensor.Shape) error {
		rows, l := s[0][0]*s[0][1], len(op.idx)
		if err := g.zero(out, rows*op.n); err != nil {
			return err
		}
		idx, size, err := g.upload(op.idx)
		if err != nil {
			return err
		}
		defer g.release(idx, size)
		return g.launchElems("index", "scatter", rows, ptr(out), ptr(in[0]), uint64(idx), i64(rows), i64(op.n), i64(l))
	})
}
