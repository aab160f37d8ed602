package ops

import (
	"fmt"
	"hash"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Morphable is the 3DMM layer of Bas et al. 2017, Eq. 1: X = P alpha + mu
// for each batch item. alpha (B,D) are the shape weights, basis (D,3N) holds
// one basis vector P_d per row and mean (3N) the mean shape mu, both in
// PLANAR layout [x_0..x_{N-1}, y_0..y_{N-1}, z_0..z_{N-1}] (model
// coordinates: x right, y up, z towards the viewer). The result is (B,3N)
// viewed as (B,3,N). Gradients (G viewed as (B,3N)): dL/dalpha = G basis^T,
// dL/dbasis = alpha^T G, dL/dmean = sum_b G[b]. Products use BLAS GEMM.
func Morphable(alpha, basis, mean *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.Morphable"
	aa, ab, am := arg{"alpha", alpha}, arg{"basis", basis}, arg{"mean", mean}
	if _, err := checkArgs(name, aa, ab, am); err != nil {
		return nil, err
	}
	if err := checkDims(name, aa, 2, "(B,D)"); err != nil {
		return nil, err
	}
	if err := checkDims(name, ab, 2, "(D,3N)"); err != nil {
		return nil, err
	}
	if err := checkDims(name, am, 1, "(3N)"); err != nil {
		return nil, err
	}
	as, bs, ms := alpha.Shape(), basis.Shape(), mean.Shape()
	if as[1] != bs[0] || bs[1]%3 != 0 || ms[0] != bs[1] {
		return nil, fmt.Errorf("%s: want alpha (B,D), basis (D,3N), mean (3N), got alpha %s, basis %s, mean %s",
			name, shapeString(as), shapeString(bs), shapeString(ms))
	}
	n, err := gorgonia.ApplyOp(morphableOp{}, alpha, basis, mean)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// gemm computes C = alpha op(A) op(B) + beta C for row-major A, B, C with
// op(A) m x k, op(B) k x n (gonum BLAS; beta = 0 ignores C's contents).
func gemm[T float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch av := any(a).(type) {
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, float64(alpha), av, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	case []float32:
		blas32.Implementation().Sgemm(ta, tb, m, n, k, float32(alpha), av, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	}
}

func morphableKernel[T float](out, alpha, basis, mean []T, b, d, m int) {
	for bi := 0; bi < b; bi++ {
		copy(out[bi*m:(bi+1)*m], mean)
	}
	gemm(false, false, b, m, d, 1, alpha, d, basis, m, 1, out, m)
}

// morphableOp: (alpha (B,D), basis (D,3N), mean (3N)) -> (B,3,N).
type morphableOp struct{ plain }

func (op morphableOp) Arity() int            { return 3 }
func (op morphableOp) Type() hm.Type         { return fnType(3, 2, 2, 1) }
func (op morphableOp) String() string        { return "Morphable" }
func (op morphableOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op morphableOp) Hashcode() uint32      { return hashOf(op) }
func (op morphableOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op morphableOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op morphableOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op morphableOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	as, bs, ms := in[0], in[1], in[2]
	if len(as) != 2 || len(bs) != 2 || len(ms) != 1 || as[1] != bs[0] || bs[1]%3 != 0 || ms[0] != bs[1] {
		return nil, shapeErr(op, "want alpha (B,D), basis (D,3N), mean (3N)", in)
	}
	return tensor.Shape{as[0], 3, bs[1] / 3}, nil
}

func (op morphableOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	as, m := in[0].Shape(), in[1].Shape()[1]
	return dispatch(out,
		func() {
			morphableKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), data[float32](in[2]), as[0], as[1], m)
		},
		func() {
			morphableKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), data[float64](in[2]), as[0], as[1], m)
		})
}

func (op morphableOp) DiffWRT(inputs int) []bool { return []bool{true, true, true} }

func (op morphableOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 3", op, len(inputs))
	}
	alpha, basis := inputs[0], inputs[1]
	ga, err := gorgonia.ApplyOp(morphGradAlphaOp{}, basis, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt alpha: %w", op, err)
	}
	gb, err := gorgonia.ApplyOp(morphGradBasisOp{}, alpha, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt basis: %w", op, err)
	}
	gm, err := gorgonia.ApplyOp(morphGradMeanOp{}, grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient wrt mean: %w", op, err)
	}
	return gorgonia.Nodes{ga, gb, gm}, nil
}

// morphGradAlphaOp: (basis (D,3N), G (B,3,N)) -> G basis^T (B,D).
type morphGradAlphaOp struct{ plain }

func (op morphGradAlphaOp) Arity() int            { return 2 }
func (op morphGradAlphaOp) Type() hm.Type         { return fnType(2, 2, 3) }
func (op morphGradAlphaOp) String() string        { return "MorphableGradAlpha" }
func (op morphGradAlphaOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op morphGradAlphaOp) Hashcode() uint32      { return hashOf(op) }
func (op morphGradAlphaOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op morphGradAlphaOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op morphGradAlphaOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op morphGradAlphaOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	bs, gs := in[0], in[1]
	if len(bs) != 2 || len(gs) != 3 || gs[1]*gs[2] != bs[1] {
		return nil, shapeErr(op, "want basis (D,3N) and grad (B,3,N)", in)
	}
	return tensor.Shape{gs[0], bs[0]}, nil
}

func (op morphGradAlphaOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	d, m, b := in[0].Shape()[0], in[0].Shape()[1], in[1].Shape()[0]
	return dispatch(out,
		func() {
			gemm(false, true, b, d, m, 1, data[float32](in[1]), m, data[float32](in[0]), m, 0, data[float32](out), d)
		},
		func() {
			gemm(false, true, b, d, m, 1, data[float64](in[1]), m, data[float64](in[0]), m, 0, data[float64](out), d)
		})
}

// morphGradBasisOp: (alpha (B,D), G (B,3,N)) -> alpha^T G (D,3N).
type morphGradBasisOp struct{ plain }

func (op morphGradBasisOp) Arity() int            { return 2 }
func (op morphGradBasisOp) Type() hm.Type         { return fnType(2, 2, 3) }
func (op morphGradBasisOp) String() string        { return "MorphableGradBasis" }
func (op morphGradBasisOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op morphGradBasisOp) Hashcode() uint32      { return hashOf(op) }
func (op morphGradBasisOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op morphGradBasisOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op morphGradBasisOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op morphGradBasisOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	as, gs := in[0], in[1]
	if len(as) != 2 || len(gs) != 3 || gs[0] != as[0] || gs[1] != 3 {
		return nil, shapeErr(op, "want alpha (B,D) and grad (B,3,N)", in)
	}
	return tensor.Shape{as[1], gs[1] * gs[2]}, nil
}

func (op morphGradBasisOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b, d := in[0].Shape()[0], in[0].Shape()[1]
	m := in[1].Shape()[1] * in[1].Shape()[2]
	return dispatch(out,
		func() {
			gemm(true, false, d, m, b, 1, data[float32](in[0]), d, data[float32](in[1]), m, 0, data[float32](out), m)
		},
		func() {
			gemm(true, false, d, m, b, 1, data[float64](in[0]), d, data[float64](in[1]), m, 0, data[float64](out), m)
		})
}

// morphGradMeanOp: G (B,3,N) -> sum_b G[b] (3N).
type morphGradMeanOp struct{ plain }

func (op morphGradMeanOp) Arity() int            { return 1 }
func (op morphGradMeanOp) Type() hm.Type         { return fnType(1, 3) }
func (op morphGradMeanOp) String() string        { return "MorphableGradMean" }
func (op morphGradMeanOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op morphGradMeanOp) Hashcode() uint32      { return hashOf(op) }
func (op morphGradMeanOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op morphGradMeanOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op morphGradMeanOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op morphGradMeanOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	gs := in[0]
	if len(gs) != 3 {
		return nil, shapeErr(op, "want grad (B,3,N)", in)
	}
	return tensor.Shape{gs[1] * gs[2]}, nil
}

func columnSums[T float](out, g []T, b, m int) {
	workpool.Chunks(m, b, func(lo, hi int) {
		o := out[lo:hi]
		copy(o, g[lo:hi])
		for bi := 1; bi < b; bi++ {
			row := g[bi*m+lo : bi*m+hi]
			for i, v := range row {
				o[i] += v
			}
		}
	})
}

func (op morphGradMeanOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	s := in[0].Shape()
	return dispatch(out,
		func() { columnSums(data[float32](out), data[float32](in[0]), s[0], s[1]*s[2]) },
		func() { columnSums(data[float64](out), data[float64](in[0]), s[0], s[1]*s[2]) })
}
