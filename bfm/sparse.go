package bfm

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/stn3d/stn3d/internal/workpool"
)

// CSR is a square sparse matrix in compressed sparse row form: the entries
// of row i are Val[RowPtr[i]:RowPtr[i+1]] at columns Col[RowPtr[i]:RowPtr[i+1]],
// columns strictly increasing within a row.
type CSR struct {
	N      int
	RowPtr []int
	Col    []int32
	Val    []float64
}

// Triplet is one (row, column, value) entry used to assemble a CSR matrix;
// duplicates are summed.
type Triplet struct {
	Row, Col int32
	Val      float64
}

// NewCSR assembles an n x n CSR matrix from triplets, summing duplicate
// (row, col) entries. It returns an error naming the first entry whose index
// is outside [0, n) or whose value is not finite.
func NewCSR(n int, entries []Triplet) (*CSR, error) {
	if n <= 0 {
		return nil, fmt.Errorf("bfm: sparse matrix size %d, want > 0", n)
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("bfm: sparse matrix size %d exceeds int32 indices", n)
	}
	count := make([]int, n+1)
	for k, e := range entries {
		if e.Row < 0 || int(e.Row) >= n || e.Col < 0 || int(e.Col) >= n {
			return nil, fmt.Errorf("bfm: sparse entry %d at (%d, %d) outside %d x %d", k, e.Row, e.Col, n, n)
		}
		if math.IsNaN(e.Val) || math.IsInf(e.Val, 0) {
			return nil, fmt.Errorf("bfm: sparse entry %d at (%d, %d) is %v, want finite", k, e.Row, e.Col, e.Val)
		}
		count[e.Row+1]++
	}
	for i := 0; i < n; i++ {
		count[i+1] += count[i]
	}
	col := make([]int32, len(entries))
	val := make([]float64, len(entries))
	next := slices.Clone(count[:n])
	for _, e := range entries {
		p := next[e.Row]
		col[p], val[p] = e.Col, e.Val
		next[e.Row]++
	}
	// Sort each row by column and merge duplicates in place.
	a := &CSR{N: n, RowPtr: make([]int, n+1)}
	w := 0
	type cv struct {
		c int32
		v float64
	}
	var buf []cv
	for i := 0; i < n; i++ {
		lo, hi := count[i], count[i+1]
		buf = buf[:0]
		for p := lo; p < hi; p++ {
			buf = append(buf, cv{col[p], val[p]})
		}
		slices.SortStableFunc(buf, func(x, y cv) int { return int(x.c) - int(y.c) })
		a.RowPtr[i] = w
		for j, e := range buf {
			if j > 0 && e.c == col[w-1] {
				val[w-1] += e.v
				continue
			}
			col[w], val[w] = e.c, e.v
			w++
		}
	}
	a.RowPtr[n] = w
	a.Col, a.Val = col[:w:w], val[:w:w]
	return a, nil
}

// NNZ returns the number of stored entries.
func (a *CSR) NNZ() int { return len(a.Val) }

// At returns entry (i, j), zero when it is not stored.
func (a *CSR) At(i, j int) float64 {
	lo, hi := a.RowPtr[i], a.RowPtr[i+1]
	k, ok := slices.BinarySearch(a.Col[lo:hi], int32(j))
	if !ok {
		return 0
	}
	return a.Val[lo+k]
}

// Diagonal returns the diagonal entries A_ii.
func (a *CSR) Diagonal() []float64 {
	d := make([]float64, a.N)
	for i := range d {
		d[i] = a.At(i, i)
	}
	return d
}

// csrParallelNNZ is the number of stored entries above which MulVec splits
// its rows across goroutines: below it the goroutine start-up costs more
// than the product.
const csrParallelNNZ = 1 << 17

// MulVec computes dst = A x. It splits the rows into contiguous ranges
// across the worker pool when the matrix has at least 2^17 entries (each
// row's sum is the same either way). It panics if the lengths do not match
// A (a programming error, as in gonum).
func (a *CSR) MulVec(dst, x []float64) {
	if len(dst) != a.N || len(x) != a.N {
		panic("bfm: CSR.MulVec length mismatch")
	}
	if a.NNZ() < csrParallelNNZ {
		a.mulRows(dst, x, 0, a.N)
		return
	}
	workpool.Chunks(a.N, workpool.Heavy, func(lo, hi int) { a.mulRows(dst, x, lo, hi) })
}

func (a *CSR) mulRows(dst, x []float64, lo, hi int) {
	for i := lo; i < hi; i++ {
		s := 0.0
		for p := a.RowPtr[i]; p < a.RowPtr[i+1]; p++ {
			s += a.Val[p] * x[a.Col[p]]
		}
		dst[i] = s
	}
}

// Preconditioner selects the preconditioner of SolveCG.
type Preconditioner int

// Preconditioners. The zero value is incomplete Cholesky.
const (
	// PrecondIC0 is the zero-fill incomplete Cholesky factorisation
	// A ~ L L^T with L on the lower-triangular pattern of A. It falls back
	// to Jacobi when a pivot is not positive.
	PrecondIC0 Preconditioner = iota
	// PrecondJacobi divides by the diagonal of A.
	PrecondJacobi
	// PrecondNone is plain conjugate gradients.
	PrecondNone
)

// String names the preconditioner.
func (p Preconditioner) String() string {
	switch p {
	case PrecondIC0:
		return "ic0"
	case PrecondJacobi:
		return "jacobi"
	case PrecondNone:
		return "none"
	}
	return fmt.Sprintf("Preconditioner(%d)", int(p))
}

// CGOptions controls SolveCG.
type CGOptions struct {
	// Tol is the relative residual |b - A x| / |b| to reach; 0 means 1e-10.
	Tol float64
	// MaxIter bounds the iterations; 0 means 10 n + 100.
	MaxIter int
	// Precond selects the preconditioner (default IC(0)).
	Precond Preconditioner
}

// CGResult reports how SolveCG ended.
type CGResult struct {
	Iterations int
	// Residual is the final relative residual |b - A x| / |b|.
	Residual float64
	// Precond is the preconditioner actually used (IC(0) may fall back to
	// Jacobi).
	Precond Preconditioner
}

// ErrNotConverged is wrapped by SolveCG when MaxIter is reached.
var ErrNotConverged = errors.New("conjugate gradients did not converge")

// SolveCG solves A x = b for a symmetric positive definite A by the
// preconditioned conjugate-gradient method (Hestenes and Stiefel 1952;
// Saad, Iterative Methods, Alg. 9.1). x holds the initial guess on entry and
// the solution on return. Errors: length mismatch, a non-positive diagonal
// (A is not SPD), a breakdown p^T A p <= 0, or no convergence within MaxIter
// (wrapping ErrNotConverged, x then holds the last iterate).
func SolveCG(a *CSR, b, x []float64, opt CGOptions) (CGResult, error) {
	n := a.N
	if len(b) != n || len(x) != n {
		return CGResult{}, fmt.Errorf("bfm: SolveCG: len(b) = %d, len(x) = %d, want %d", len(b), len(x), n)
	}
	tol := opt.Tol
	if tol <= 0 {
		tol = 1e-10
	}
	maxIter := opt.MaxIter
	if maxIter <= 0 {
		maxIter = 10*n + 100
	}
	diag := a.Diagonal()
	for i, d := range diag {
		if !(d > 0) {
			return CGResult{}, fmt.Errorf("bfm: SolveCG: diagonal entry %d is %v, want > 0 (matrix not SPD)", i, d)
		}
	}
	res := CGResult{Precond: opt.Precond}
	var ic *ic0Factor
	switch opt.Precond {
	case PrecondIC0:
		f, ok := newIC0(a)
		if ok {
			ic = f
		} else {
			res.Precond = PrecondJacobi
		}
	case PrecondJacobi, PrecondNone:
	default:
		return CGResult{}, fmt.Errorf("bfm: SolveCG: unknown preconditioner %d", int(opt.Precond))
	}
	applyM := func(z, r []float64) {
		switch {
		case ic != nil:
			ic.solve(z, r)
		case res.Precond == PrecondJacobi:
			for i := range z {
				z[i] = r[i] / diag[i]
			}
		default:
			copy(z, r)
		}
	}

	bn := csrNorm(b)
	if bn == 0 {
		clear(x)
		return res, nil
	}
	r := make([]float64, n)
	z := make([]float64, n)
	p := make([]float64, n)
	ap := make([]float64, n)
	a.MulVec(ap, x)
	for i := range r {
		r[i] = b[i] - ap[i]
	}
	res.Residual = csrNorm(r) / bn
	if res.Residual <= tol {
		return res, nil
	}
	applyM(z, r)
	copy(p, z)
	rz := csrDot(r, z)
	for it := 1; it <= maxIter; it++ {
		a.MulVec(ap, p)
		pap := csrDot(p, ap)
		if !(pap > 0) {
			res.Iterations = it
			return res, fmt.Errorf("bfm: SolveCG: breakdown at iteration %d: p^T A p = %v (matrix not SPD)", it, pap)
		}
		alpha := rz / pap
		rr := 0.0
		for i := range x {
			x[i] += alpha * p[i]
			r[i] -= alpha * ap[i]
			rr += r[i] * r[i]
		}
		res.Iterations = it
		res.Residual = math.Sqrt(rr) / bn
		if res.Residual <= tol {
			return res, nil
		}
		applyM(z, r)
		rzNew := csrDot(r, z)
		beta := rzNew / rz
		rz = rzNew
		for i := range p {
			p[i] = z[i] + beta*p[i]
		}
	}
	return res, fmt.Errorf("bfm: SolveCG: relative residual %.3g after %d iterations, want <= %.3g: %w",
		res.Residual, res.Iterations, tol, ErrNotConverged)
}

func csrDot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func csrNorm(a []float64) float64 { return math.Sqrt(csrDot(a, a)) }

// ic0Factor is the lower-triangular factor L of A ~ L L^T with the sparsity
// of the lower triangle of A (diagonal last in each row).
type ic0Factor struct {
	n      int
	rowPtr []int
	col    []int32
	val    []float64
}

// newIC0 computes the zero-fill incomplete Cholesky factor (Saad Alg. 10.4,
// row form): for k < i on the pattern, L_ik = (A_ik - sum_{j<k} L_ij L_kj) / L_kk,
// L_ii = sqrt(A_ii - sum_{j<i} L_ij^2). It reports false on a non-positive
// pivot.
func newIC0(a *CSR) (*ic0Factor, bool) {
	f := &ic0Factor{n: a.N, rowPtr: make([]int, a.N+1)}
	for i := 0; i < a.N; i++ {
		for p := a.RowPtr[i]; p < a.RowPtr[i+1]; p++ {
			if int(a.Col[p]) <= i {
				f.col = append(f.col, a.Col[p])
				f.val = append(f.val, a.Val[p])
			}
		}
		f.rowPtr[i+1] = len(f.col)
	}
	for i := 0; i < a.N; i++ {
		lo, hi := f.rowPtr[i], f.rowPtr[i+1]
		if hi == lo || int(f.col[hi-1]) != i {
			return nil, false
		}
		for p := lo; p < hi-1; p++ {
			k := int(f.col[p])
			// sum_{j<k} L_ij L_kj over the sorted rows i and k.
			s := 0.0
			q, qEnd := f.rowPtr[k], f.rowPtr[k+1]-1
			for r := lo; r < p && q < qEnd; {
				switch ci, ck := f.col[r], f.col[q]; {
				case ci == ck:
					s += f.val[r] * f.val[q]
					r++
					q++
				case ci < ck:
					r++
				default:
					q++
				}
			}
			f.val[p] = (f.val[p] - s) / f.val[f.rowPtr[k+1]-1]
		}
		d := f.val[hi-1]
		for p := lo; p < hi-1; p++ {
			d -= f.val[p] * f.val[p]
		}
		if !(d > 0) {
			return nil, false
		}
		f.val[hi-1] = math.Sqrt(d)
	}
	return f, true
}

// solve computes z = (L L^T)^{-1} r by a forward and a backward sweep.
func (f *ic0Factor) solve(z, r []float64) {
	copy(z, r)
	for i := 0; i < f.n; i++ {
		lo, hi := f.rowPtr[i], f.rowPtr[i+1]
		s := z[i]
		for p := lo; p < hi-1; p++ {
			s -= f.val[p] * z[f.col[p]]
		}
		z[i] = s / f.val[hi-1]
	}
	for i := f.n - 1; i >= 0; i-- {
		lo, hi := f.rowPtr[i], f.rowPtr[i+1]
		z[i] /= f.val[hi-1]
		zi := z[i]
		for p := lo; p < hi-1; p++ {
			z[f.col[p]] -= f.val[p] * zi
		}
	}
}
