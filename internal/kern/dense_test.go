package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// sparsify zeroes each value of x with probability p (rows of a ReLU
// layer's output after pooling are mostly zero).
func sparsify(r *rand.Rand, x []float32, p float64) []float32 {
	for i := range x {
		if r.Float64() < p {
			x[i] = 0
		}
	}
	return x
}

func TestDenseForward(t *testing.T) {
	levelOrSkip(t, AVX512)
	r := rand.New(rand.NewPCG(41, 42))
	var ws DenseWork // reused across shapes: stale buffers must not leak into results
	for _, s := range [][3]int{{1, 1, 1}, {1, 256, 1000}, {1, 300, 999}, {1, 512, 13}, {20, 70, 3000}, {16, 256, 12544}, {3, 16, 256}, {9, 33, 7}, {64, 40, 31}, {8, 32, 0}} {
		m, n, k := s[0], s[1], s[2]
		for _, zeros := range []float64{0, 0.5, 0.95, 1} {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprint(s, zeros, relu), func(t *testing.T) {
					x, w, bias := sparsify(r, randSlice(r, m*k), zeros), randSlice(r, k*n), randSlice(r, n)
					work := &ws
					if relu {
						work = nil
					}
					checkDense(t, work, x, w, bias, m, n, k, relu)
				})
			}
		}
	}
}

func checkDense(t *testing.T, ws *DenseWork, x, w, bias []float32, m, n, k int, relu bool) {
	t.Helper()
	y := make([]float32, m*n+5)
	y[m*n] = 7
	if !DenseForward(AVX512, ws, y[:m*n], x, w, bias, m, n, k, relu) {
		t.Fatal("not run")
	}
	if y[m*n] != 7 {
		t.Fatal("store past y")
	}
	want := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			s := float64(bias[j])
			for p := 0; p < k; p++ {
				s += float64(x[i*k+p]) * float64(w[p*n+j])
			}
			if relu {
				s = math.Max(s, 0)
			}
			want[i*n+j] = s
		}
	}
	maxErr(t, "y", y[:m*n], want, 1e-5*math.Sqrt(float64(k+1)))
}

// TestDenseSparseKernelsBitIdentical: the sparse kernels, given the k where
// x is not zero, give the same bits as the dense kernels over every k.
func TestDenseSparseKernelsBitIdentical(t *testing.T) {
	levelOrSkip(t, AVX512)
	r := rand.New(rand.NewPCG(5, 6))
	const n, k = 256, 700
	x, w := sparsify(r, randSlice(r, 8*k), 0.9), randSlice(r, k*n)
	// One row against 256 columns.
	idx := nonzeroRows(nil, x, 1, 0, 0, k)
	if len(idx) == 0 || len(idx) > k/2 {
		t.Fatalf("%d of %d rows listed", len(idx), k)
	}
	dense, sparse := make([]float32, 256), make([]float32, 256)
	a := denseRowArgs{x: uintptr(unsafe.Pointer(&x[0])), w: uintptr(unsafe.Pointer(&w[0])), ldw: 4 * n, k: k, y: uintptr(unsafe.Pointer(&dense[0]))}
	for j := range a.masks {
		a.masks[j] = 0xffff
	}
	denseRowAVX512(&a)
	a.k, a.idx, a.y = len(idx), uintptr(unsafe.Pointer(&idx[0])), uintptr(unsafe.Pointer(&sparse[0]))
	denseRowIdxAVX512(&a)
	if !reflect.DeepEqual(dense, sparse) {
		t.Errorf("row kernel: sparse differs from dense")
	}
	// 8 rows against 32 columns, bias and ReLU.
	idx = nonzeroRows(nil, x, 8, k, 0, k)
	bias := randSlice(r, 32)
	yd, ys := make([]float32, 8*32), make([]float32, 8*32)
	var b denseArgs
	b.mask0, b.mask1, b.ldb, b.k, b.rows, b.relu = 0xffff, 0xffff, 4*n, k, 8, 1
	b.b, b.bias = uintptr(unsafe.Pointer(&w[0])), uintptr(unsafe.Pointer(&bias[0]))
	for i := range 8 {
		b.a[i], b.c[i] = uintptr(unsafe.Pointer(&x[i*k])), uintptr(unsafe.Pointer(&yd[i*32]))
	}
	denseAVX512(&b)
	for i := range 8 {
		b.c[i] = uintptr(unsafe.Pointer(&ys[i*32]))
	}
	b.k, b.idx = len(idx), uintptr(unsafe.Pointer(&idx[0]))
	denseIdxAVX512(&b)
	runtime.KeepAlive(x)
	runtime.KeepAlive(w)
	runtime.KeepAlive(idx)
	if !reflect.DeepEqual(yd, ys) {
		t.Errorf("block kernel: sparse differs from dense")
	}
}

// TestDenseWorkReuse: a reused workspace gives the bits of a fresh one.
func TestDenseWorkReuse(t *testing.T) {
	levelOrSkip(t, AVX512)
	r := rand.New(rand.NewPCG(7, 8))
	var ws DenseWork
	for _, s := range [][3]int{{64, 256, 3000}, {1, 256, 3000}, {3, 40, 50}, {64, 256, 3000}} {
		m, n, k := s[0], s[1], s[2]
		x, w, bias := sparsify(r, randSlice(r, m*k), 0.8), randSlice(r, k*n), randSlice(r, n)
		fresh, reused := make([]float32, m*n), make([]float32, m*n)
		DenseForward(AVX512, nil, fresh, x, w, bias, m, n, k, true)
		DenseForward(AVX512, &ws, reused, x, w, bias, m, n, k, true)
		if !reflect.DeepEqual(fresh, reused) {
			t.Errorf("%v: reused workspace changes the result", s)
		}
	}
}

// sparsifyCols zeroes column k of x (m rows of k) in every row with
// probability pCol, and each other value with probability p: the zeros of
// a trained network's features, many of them shared by every image.
func sparsifyCols(r *rand.Rand, x []float32, m, k int, pCol, p float64) []float32 {
	for j := 0; j < k; j++ {
		dead := r.Float64() < pCol
		for i := 0; i < m; i++ {
			if dead || r.Float64() < p {
				x[i*k+j] = 0
			}
		}
	}
	return x
}

// BenchmarkDenseForward: dense inputs ("dense"), inputs with 90% zeros
// independently placed ("zeros90"), and inputs whose zeros are like the
// default localiser's fc5 inputs on faces ("fc5": 91% zeros, a quarter of
// the inputs not zero in some face of a block of 8; 75% of the columns
// zero in every row, 60% of the rest).
func BenchmarkDenseForward(b *testing.B) {
	for _, s := range [][3]int{{1, 256, 12544}, {16, 256, 12544}, {64, 256, 12544}, {8, 4096, 25088}} {
		for _, zeros := range []string{"dense", "zeros90", "fc5"} {
			m, n, k := s[0], s[1], s[2]
			b.Run(fmt.Sprint(s, zeros), func(b *testing.B) {
				levelOrSkip(b, AVX512)
				r := rand.New(rand.NewPCG(1, 2))
				x, w, bias := randSlice(r, m*k), randSlice(r, k*n), randSlice(r, n)
				switch zeros {
				case "zeros90":
					sparsify(r, x, 0.9)
				case "fc5":
					sparsifyCols(r, x, m, k, 0.75, 0.6)
				}
				y := make([]float32, m*n)
				var ws DenseWork
				prev := runtime.GOMAXPROCS(1)
				defer runtime.GOMAXPROCS(prev)
				timed(b, float64(2*m*n*k), func() { DenseForward(AVX512, &ws, y, x, w, bias, m, n, k, true) })
			})
		}
	}
}
