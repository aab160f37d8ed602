package bfm

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNewCSR(t *testing.T) {
	a, err := NewCSR(3, []Triplet{{2, 0, 1}, {0, 2, 4}, {0, 0, 1}, {2, 0, 2.5}, {1, 1, -3}, {0, 2, 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := [3][3]float64{{1, 0, 5}, {0, -3, 0}, {3.5, 0, 0}}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			if a.At(i, j) != want[i][j] {
				t.Errorf("A[%d][%d] = %v, want %v", i, j, a.At(i, j), want[i][j])
			}
		}
	}
	if a.NNZ() != 4 || a.RowPtr[3] != 4 || a.Col[0] != 0 || a.Col[1] != 2 {
		t.Errorf("storage: rowptr %v cols %v, want duplicates merged and columns sorted", a.RowPtr, a.Col)
	}
	y := make([]float64, 3)
	a.MulVec(y, []float64{1, 2, 3})
	if y[0] != 16 || y[1] != -6 || y[2] != 3.5 {
		t.Errorf("A x = %v, want [16 -6 3.5]", y)
	}
	if _, err := NewCSR(3, []Triplet{{0, 3, 1}}); err == nil || !strings.Contains(err.Error(), "entry 0 at (0, 3) outside 3 x 3") {
		t.Errorf("out of range: err = %v", err)
	}
	if _, err := NewCSR(3, []Triplet{{0, 0, math.Inf(1)}}); err == nil || !strings.Contains(err.Error(), "want finite") {
		t.Errorf("Inf: err = %v", err)
	}
}

// sparseRandomSPD builds a weighted graph Laplacian of a random sparse graph
// plus a positive diagonal: symmetric, strictly diagonally dominant, SPD.
func sparseRandomSPD(n, deg int, seed uint64) (*CSR, [][]float64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	dense := make([][]float64, n)
	for i := range dense {
		dense[i] = make([]float64, n)
		dense[i][i] = 0.1 + rng.Float64()
	}
	for i := 0; i < n; i++ {
		for k := 0; k < deg; k++ {
			j := rng.IntN(n)
			if j == i {
				continue
			}
			w := rng.Float64()
			dense[i][j] -= w
			dense[j][i] -= w
			dense[i][i] += w
			dense[j][j] += w
		}
	}
	var tr []Triplet
	for i := range dense {
		for j, v := range dense[i] {
			if v != 0 {
				tr = append(tr, Triplet{int32(i), int32(j), v})
			}
		}
	}
	a, _ := NewCSR(n, tr)
	return a, dense
}

func TestSolveCGAgainstDense(t *testing.T) {
	const n = 60
	a, dense := sparseRandomSPD(n, 3, 1)
	rng := rand.New(rand.NewPCG(2, 2))
	b := make([]float64, n)
	for i := range b {
		b[i] = rng.NormFloat64()
	}
	want := flatDenseSolve(t, dense, b)
	iters := map[Preconditioner]int{}
	for _, p := range []Preconditioner{PrecondIC0, PrecondJacobi, PrecondNone} {
		x := make([]float64, n)
		res, err := SolveCG(a, b, x, CGOptions{Tol: 1e-13, Precond: p})
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		if res.Precond != p || res.Residual > 1e-13 {
			t.Errorf("%v: result %+v", p, res)
		}
		for i := range x {
			if math.Abs(x[i]-want[i]) > 1e-10*(1+math.Abs(want[i])) {
				t.Fatalf("%v: x[%d] = %v, dense solve %v", p, i, x[i], want[i])
			}
		}
		iters[p] = res.Iterations
	}
	if !(iters[PrecondIC0] < iters[PrecondNone]) {
		t.Errorf("iterations %v: want IC(0) below plain CG", iters)
	}
}

// TestIC0ExactOnTridiagonal: a tridiagonal SPD matrix has no fill-in, so
// IC(0) is its exact Cholesky factor and PCG converges in one iteration.
func TestIC0ExactOnTridiagonal(t *testing.T) {
	const n = 40
	var tr []Triplet
	for i := 0; i < n; i++ {
		tr = append(tr, Triplet{int32(i), int32(i), 2.5})
		if i > 0 {
			tr = append(tr, Triplet{int32(i), int32(i - 1), -1}, Triplet{int32(i - 1), int32(i), -1})
		}
	}
	a, err := NewCSR(n, tr)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = float64(i%7) - 3
	}
	x := make([]float64, n)
	res, err := SolveCG(a, b, x, CGOptions{Tol: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	if res.Iterations != 1 || res.Precond != PrecondIC0 {
		t.Errorf("result %+v, want 1 iteration with IC(0)", res)
	}
	ax := make([]float64, n)
	a.MulVec(ax, x)
	for i := range ax {
		if math.Abs(ax[i]-b[i]) > 1e-12 {
			t.Fatalf("(A x)[%d] = %v, want %v", i, ax[i], b[i])
		}
	}
}

func TestSolveCGErrors(t *testing.T) {
	a, _ := NewCSR(2, []Triplet{{0, 0, 1}, {0, 1, 2}, {1, 0, 2}, {1, 1, 1}}) // eigenvalues 3, -1
	x := make([]float64, 2)
	if _, err := SolveCG(a, []float64{1, -1}, x, CGOptions{Precond: PrecondJacobi}); err == nil || !strings.Contains(err.Error(), "not SPD") {
		t.Errorf("indefinite matrix: err = %v", err)
	}
	neg, _ := NewCSR(2, []Triplet{{0, 0, 1}, {1, 1, -1}})
	if _, err := SolveCG(neg, []float64{1, 1}, x, CGOptions{}); err == nil || !strings.Contains(err.Error(), "diagonal entry 1 is -1") {
		t.Errorf("negative diagonal: err = %v", err)
	}
	if _, err := SolveCG(neg, []float64{1}, x, CGOptions{}); err == nil || !strings.Contains(err.Error(), "len(b) = 1") {
		t.Errorf("length mismatch: err = %v", err)
	}
	big, _ := sparseRandomSPD(200, 3, 4)
	b := make([]float64, 200)
	b[5] = 1
	if _, err := SolveCG(big, b, make([]float64, 200), CGOptions{MaxIter: 2, Precond: PrecondNone}); !errors.Is(err, ErrNotConverged) {
		t.Errorf("2 iterations: err = %v, want ErrNotConverged", err)
	}
	x = []float64{3, 4}
	if res, err := SolveCG(neg, []float64{0, 0}, x, CGOptions{Precond: PrecondJacobi}); err == nil && (x[0] != 0 || x[1] != 0 || res.Iterations != 0) {
		t.Errorf("zero right-hand side: x = %v", x)
	}
}

func TestMulVecParallel(t *testing.T) {
	const n = 30000
	a, _ := sparseRandomSPDLarge(n, 5)
	if a.NNZ() < csrParallelNNZ {
		t.Fatalf("nnz %d below the parallel threshold %d", a.NNZ(), csrParallelNNZ)
	}
	x := make([]float64, n)
	for i := range x {
		x[i] = math.Sin(float64(i))
	}
	y := make([]float64, n)
	a.MulVec(y, x)
	want := make([]float64, n)
	a.mulRows(want, x, 0, n)
	for i := range y {
		if y[i] != want[i] {
			t.Fatalf("row %d: parallel %v, serial %v", i, y[i], want[i])
		}
	}
}

// sparseRandomSPDLarge is sparseRandomSPD without the dense copy.
func sparseRandomSPDLarge(n, deg int) (*CSR, error) {
	rng := rand.New(rand.NewPCG(9, 9))
	var tr []Triplet
	for i := 0; i < n; i++ {
		tr = append(tr, Triplet{int32(i), int32(i), 1})
		for k := 0; k < deg; k++ {
			j := int32(rng.IntN(n))
			w := rng.Float64()
			tr = append(tr, Triplet{int32(i), j, -w}, Triplet{j, int32(i), -w},
				Triplet{int32(i), int32(i), w}, Triplet{j, j, w})
		}
	}
	return NewCSR(n, tr)
}
