package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The paper's sizes: batch 32, input image 3x224x224, geometry image
// 112x112 (N = 12544), D = 10 shape weights, 21 landmarks.
const (
	benchB    = 32
	benchC    = 3
	benchH    = 224
	benchW    = 224
	benchRows = 112
	benchCols = 112
	benchN    = benchRows * benchCols
	benchD    = 10
)

// rand32 returns a float32 tensor with entries U(lo, hi).
func rand32(seed uint64, lo, hi float32, shape ...int) *tensor.Dense {
	r := rand.New(rand.NewPCG(seed, 99))
	v := make([]float32, tensor.Shape(shape).TotalSize())
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

// benchKernel times k on ins, writing into a preallocated output (as a
// TapeMachine does when a register is already allocated).
func benchKernel(b *testing.B, k kernel, ins ...*tensor.Dense) {
	vals := make([]gorgonia.Value, len(ins))
	for i, d := range ins {
		vals[i] = d
	}
	out, err := k.Do(vals...)
	if err != nil {
		b.Fatal(err)
	}
	pd := k.(gorgonia.UsePreallocDoer)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := pd.UsePreallocDo(out, vals...); err != nil {
			b.Fatal(err)
		}
	}
}

// facePoints returns sample points as the STN produces them: the 112x112
// grid mapped onto a ~180 pixel face centred in the 224x224 image, with a
// per-item rotation of up to +-0.5 rad and a sub-pixel jitter (seeded).
// Neighbouring vertices therefore sample neighbouring pixels.
func facePoints(b int) *tensor.Dense {
	r := rand.New(rand.NewPCG(2, 3))
	v := make([]float32, b*benchN*2)
	for bi := 0; bi < b; bi++ {
		a := r.Float64() - 0.5
		ca, sa := math.Cos(a), math.Sin(a)
		for row := 0; row < benchRows; row++ {
			for col := 0; col < benchCols; col++ {
				u := (float64(col) - 55.5) * 1.6
				w := (float64(row) - 55.5) * 1.6
				k := (bi*benchN + row*benchCols + col) * 2
				v[k] = float32(111.5 + ca*u - sa*w + 0.3*r.Float64())
				v[k+1] = float32(111.5 + sa*u + ca*w + 0.3*r.Float64())
			}
		}
	}
	return tensor.New(tensor.WithShape(b, benchN, 2), tensor.WithBacking(v))
}

func BenchmarkBilinearSample(b *testing.B) {
	img := rand32(1, 0, 1, benchB, benchC, benchH, benchW)
	pts := facePoints(benchB)
	g := rand32(3, -1, 1, benchB, benchC, benchN)
	b.Run("forward", func(b *testing.B) { benchKernel(b, bilinearOp{}, img, pts) })
	b.Run("backward_img", func(b *testing.B) { benchKernel(b, bilinearImgGradOp{h: benchH, w: benchW}, pts, g) })
	b.Run("backward_pts", func(b *testing.B) { benchKernel(b, bilinearPtsGradOp{}, img, pts, g) })
}

func BenchmarkBackfaceMask(b *testing.B) {
	x := rand32(4, -1, 1, benchB, 3, benchN)
	b.Run("forward", func(b *testing.B) { benchKernel(b, backfaceOp{rows: benchRows, cols: benchCols}, x) })
}

func BenchmarkKronTranslate(b *testing.B) {
	y := rand32(5, -1, 1, benchB, 2, benchN)
	t := rand32(6, -1, 1, benchB, 2)
	b.Run("forward", func(b *testing.B) { benchKernel(b, kronOp{}, y, t) })
	b.Run("backward_t", func(b *testing.B) { benchKernel(b, kronGradTOp{}, y) })
}

func BenchmarkAxisAngleToRotation(b *testing.B) {
	r := rand32(7, -1, 1, benchB, 3)
	g := rand32(8, -1, 1, benchB, 3, 3)
	b.Run("forward", func(b *testing.B) { benchKernel(b, rotationOp{}, r) })
	b.Run("backward", func(b *testing.B) { benchKernel(b, rotationGradOp{}, r, g) })
}

func BenchmarkRotatePoints(b *testing.B) {
	R := rand32(9, -1, 1, benchB, 3, 3)
	x := rand32(10, -1, 1, benchB, 3, benchN)
	g := rand32(11, -1, 1, benchB, 3, benchN)
	b.Run("forward", func(b *testing.B) { benchKernel(b, rotateOp{}, R, x) })
	b.Run("backward_R", func(b *testing.B) { benchKernel(b, rotateGradROp{}, x, g) })
	b.Run("backward_x", func(b *testing.B) { benchKernel(b, rotateGradXOp{}, R, g) })
}

func BenchmarkOrthoProject(b *testing.B) {
	x := rand32(12, -1, 1, benchB, 3, benchN)
	s := rand32(13, 0.5, 2, benchB)
	g := rand32(14, -1, 1, benchB, 2, benchN)
	b.Run("forward", func(b *testing.B) { benchKernel(b, projectOp{}, x, s) })
	b.Run("backward_x", func(b *testing.B) { benchKernel(b, projectGradXOp{}, s, g) })
	b.Run("backward_s", func(b *testing.B) { benchKernel(b, projectGradSOp{}, x, g) })
}

func BenchmarkLogScale(b *testing.B) {
	x := rand32(15, -1, 1, benchB)
	g := rand32(16, -1, 1, benchB)
	b.Run("forward", func(b *testing.B) { benchKernel(b, logScaleOp{base: 0.99}, x) })
	b.Run("backward", func(b *testing.B) { benchKernel(b, logScaleGradOp{lnBase: -0.01}, x, g) })
}

func BenchmarkMorphable(b *testing.B) {
	alpha := rand32(17, -1, 1, benchB, benchD)
	basis := rand32(18, -1, 1, benchD, 3*benchN)
	mean := rand32(19, -1, 1, 3*benchN)
	g := rand32(20, -1, 1, benchB, 3, benchN)
	b.Run("forward", func(b *testing.B) { benchKernel(b, morphableOp{}, alpha, basis, mean) })
	b.Run("backward_alpha", func(b *testing.B) { benchKernel(b, morphGradAlphaOp{}, basis, g) })
	b.Run("backward_basis", func(b *testing.B) { benchKernel(b, morphGradBasisOp{}, alpha, g) })
	b.Run("backward_mean", func(b *testing.B) { benchKernel(b, morphGradMeanOp{}, g) })
}

func BenchmarkTransposePoints(b *testing.B) {
	x := rand32(21, -1, 1, benchB, 2, benchN)
	g := rand32(22, -1, 1, benchB, benchN, 2)
	b.Run("forward", func(b *testing.B) { benchKernel(b, transposeOp{}, x) })
	b.Run("backward", func(b *testing.B) { benchKernel(b, transposeOp{}, g) })
}

func BenchmarkFlipCols(b *testing.B) {
	x := rand32(23, -1, 1, benchB, benchC, benchRows, benchCols)
	b.Run("forward", func(b *testing.B) { benchKernel(b, flipOp{cols: benchCols}, x) })
}

func BenchmarkSwapPairs(b *testing.B) {
	x := rand32(24, -1, 1, benchB, benchC, benchRows, benchCols)
	b.Run("forward", func(b *testing.B) { benchKernel(b, swapOp{}, x) })
}

func BenchmarkGather(b *testing.B) {
	idx := make([]int, 21)
	for i := range idx {
		idx[i] = (i * 7919) % benchN
	}
	x := rand32(25, -1, 1, benchB, 2, benchN)
	g := rand32(26, -1, 1, benchB, 2, len(idx))
	b.Run("forward", func(b *testing.B) { benchKernel(b, gatherOp{idx: idx, n: benchN}, x) })
	b.Run("backward", func(b *testing.B) { benchKernel(b, scatterOp{idx: idx, n: benchN}, g) })
}

// BenchmarkSTNGraph runs the whole STN (grid generator, sampler, mask) at
// the paper's size in a float32 TapeMachine: forward only; forward plus
// backward to theta (r, t, log s, alpha) and the image; and forward plus
// backward to theta alone on the ExactSubgraphRoots of the cost and the
// theta gradients, which drops the unused dL/dimg, dL/dbasis, dL/dmean
// branches that SymDiff creates (a TapeMachine runs every node of the
// graph it is given).
func BenchmarkSTNGraph(b *testing.B) {
	for _, mode := range []string{"forward", "forward_backward", "forward_backward_theta_subgraph"} {
		b.Run(mode, func(b *testing.B) {
			g := gorgonia.NewGraph()
			mk := func(n string, d *tensor.Dense) *gorgonia.Node {
				return gorgonia.NewTensor(g, tensor.Float32, len(d.Shape()), gorgonia.WithShape(d.Shape()...), gorgonia.WithName(n), gorgonia.WithValue(d))
			}
			mean := make([]float32, 3*benchN)
			for r := 0; r < benchRows; r++ {
				for c := 0; c < benchCols; c++ {
					k := r*benchCols + c
					x, y := float32(c)-55.5, 55.5-float32(r)
					mean[k], mean[benchN+k], mean[2*benchN+k] = x, y, 60-(x*x+y*y)/120
				}
			}
			in := []*gorgonia.Node{
				mk("r", rand32(40, -0.3, 0.3, benchB, 3)),
				mk("t", rand32(41, 105, 118, benchB, 2)),
				mk("logs", rand32(42, 0.3, 0.5, benchB)),
				mk("alpha", rand32(43, -1, 1, benchB, benchD)),
				mk("basis", rand32(44, -0.5, 0.5, benchD, 3*benchN)),
				mk("mean", tensor.New(tensor.WithShape(3*benchN), tensor.WithBacking(mean))),
				mk("img", rand32(45, 0, 1, benchB, benchC, benchH, benchW)),
			}
			out, err := buildSTN(benchRows, benchCols)(g, in)
			if err != nil {
				b.Fatal(err)
			}
			prog := g
			if mode != "forward" {
				w := mk("w", rand32(46, -1, 1, out.Shape()...))
				p, err := gorgonia.HadamardProd(out, w)
				if err != nil {
					b.Fatal(err)
				}
				cost, err := gorgonia.Sum(p)
				if err != nil {
					b.Fatal(err)
				}
				wrt := []*gorgonia.Node{in[0], in[1], in[2], in[3]}
				if mode == "forward_backward" {
					wrt = append(wrt, in[6])
				}
				grads, err := gorgonia.Grad(cost, wrt...)
				if err != nil {
					b.Fatal(err)
				}
				if mode == "forward_backward_theta_subgraph" {
					prog = g.ExactSubgraphRoots(append(grads, cost)...)
				}
			}
			m := gorgonia.NewTapeMachine(prog)
			defer m.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := m.RunAll(); err != nil {
					b.Fatal(err)
				}
				m.Reset()
			}
		})
	}
}
