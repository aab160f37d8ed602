package kern

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/stn3d/stn3d/internal/workpool"
)

// denseArgs is the argument block of denseAVX512 and denseIdxAVX512.
type denseArgs struct {
	a     [8]uintptr // 0
	b     uintptr    // 64
	ldb   int        // 72
	c     [8]uintptr // 80
	k     int        // 144: rows of B (dense) or entries of idx (sparse)
	mask0 uint16     // 152
	mask1 uint16     // 154
	_     uint32
	bias  uintptr // 160
	relu  int     // 168
	rows  int     // 176
	accum int     // 184: add C's values first
	idx   uintptr // 192: the k (int32) of the sparse kernel
}

// denseKSlice is the number of rows of w that the blocked product takes at
// a time: 1024 rows of a 32-column block are 128 KiB, which stay in L2
// while every block of 8 rows of x passes.
const denseKSlice = 1024

// denseRowArgs is the argument block of denseRowAVX512 and
// denseRowIdxAVX512.
type denseRowArgs struct {
	x, w  uintptr
	ldw   int
	k     int // rows of w (dense) or entries of idx (sparse)
	y     uintptr
	masks [16]uint16
	idx   uintptr // the k (int32) of the sparse kernel
}

// rowSplits is the number of fixed slices of k that a one-row product is
// cut into (for the workers); their partial sums are added in slice order.
const rowSplits = 4

// rowMaxFill and blockMaxFill are the largest fractions of a slice's rows
// that may be listed for the sparse row and block kernels to be used: past
// them, the listed rows' scattered reads cost more than the skipped rows
// save (BenchmarkDenseForward: the block kernel at 25% of the rows takes
// 0.46 of the dense time, at 57% 1.3 of it).
const (
	rowMaxFill   = 0.3
	blockMaxFill = 0.4
)

// DenseWork holds the buffers that DenseForward reuses from call to call
// (the zero value is ready; nil allocates them per call). One DenseWork
// serves one call at a time; a call that finds it busy allocates its own.
type DenseWork struct {
	mu       sync.Mutex
	part     []float32
	zero     []float32
	idx      []int32
	spans    []int
	tailBufs [][]float32
}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// nonzeroRows appends to idx the k in [k0, k1) where some row r (rows
// rows of x, each of length ld, starting at x[r*ld]) has x[r*ld+k] != 0.
func nonzeroRows(idx []int32, x []float32, rows, ld, k0, k1 int) []int32 {
	for k := k0; k < k1; k++ {
		for r := 0; r < rows; r++ {
			if x[r*ld+k] != 0 {
				idx = append(idx, int32(k))
				break
			}
		}
	}
	return idx
}

// denseRow computes y (1 x n) for one row x with the weights w streamed in
// 256-column blocks; it returns the number of columns done (a multiple of
// 256), the rest being left to the blocked kernel. The rows of w whose
// input is exactly zero are not read when they are many (after a ReLU and
// a max pool most are: 91% of the default localiser's fc5 inputs on faces):
// each k-slice lists its non-zero inputs and the sparse kernel adds only
// those, in the same order, so the result is bit-identical.
func denseRow(ws *DenseWork, y, x, w, bias []float32, n, k int, relu bool) int {
	nb := n / 256
	if nb == 0 || k < rowSplits {
		return 0
	}
	ws.part = grow(ws.part, rowSplits*nb*256)
	part := ws.part
	// spans[sp]..spans[sp+1] are slice sp's entries of idx; a negative
	// spans[rowSplits+1+sp] marks a dense slice.
	idx := ws.idx[:0]
	ws.spans = grow(ws.spans, 2*rowSplits+1)
	spans := ws.spans
	for sp := 0; sp < rowSplits; sp++ {
		k0, k1 := sp*k/rowSplits, (sp+1)*k/rowSplits
		spans[sp] = len(idx)
		idx = nonzeroRows(idx, x, 1, 0, k0, k1)
		spans[rowSplits+1+sp] = 1
		if float64(len(idx)-spans[sp]) > rowMaxFill*float64(k1-k0) {
			idx = idx[:spans[sp]]
			spans[rowSplits+1+sp] = -1
		}
	}
	spans[rowSplits] = len(idx)
	ws.idx = idx
	workpool.For(rowSplits*nb, 256*k/rowSplits, func(u int) {
		sp, blk := u/nb, u%nb
		k0, k1 := sp*k/rowSplits, (sp+1)*k/rowSplits
		a := denseRowArgs{ldw: 4 * n, y: uintptr(unsafe.Pointer(&part[(sp*nb+blk)*256]))}
		for j := range a.masks {
			a.masks[j] = 0xffff
		}
		if spans[rowSplits+1+sp] < 0 {
			a.x, a.w, a.k = uintptr(unsafe.Pointer(&x[k0])), uintptr(unsafe.Pointer(&w[k0*n+blk*256])), k1-k0
			denseRowAVX512(&a)
			return
		}
		a.x, a.w, a.k = uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&w[blk*256])), spans[sp+1]-spans[sp]
		if a.k > 0 {
			a.idx = uintptr(unsafe.Pointer(&idx[spans[sp]]))
		}
		denseRowIdxAVX512(&a)
	})
	runtime.KeepAlive(idx)
	for j := 0; j < nb*256; j++ {
		s := part[j]
		for sp := 1; sp < rowSplits; sp++ {
			s += part[sp*nb*256+j]
		}
		if bias != nil {
			s += bias[j]
		}
		if relu {
			s = max(s, 0)
		}
		y[j] = s
	}
	return nb * 256
}

// DenseForward computes y (m x n) = relu?(x (m x k) w (k x n) + bias) at
// level AVX512 (it reports false, doing nothing, at other levels): blocks of
// 8 rows x 32 columns, each accumulated over k in registers with the rows of
// w read in place. bias may be nil. Blocks are shared out to the workers;
// every output is one fixed-order sum. Rows of w whose inputs (for all 8
// rows of a block) are exactly zero are skipped when they are many (the
// sum, in the same order, is bit-identical; a weight that is not finite
// then no longer reaches an output through a zero input). ws may be nil.
func DenseForward(l Level, ws *DenseWork, y, x, w, bias []float32, m, n, k int, relu bool) bool {
	if l != AVX512 || m == 0 || n == 0 {
		return false
	}
	_ = y[m*n-1]
	if k > 0 {
		_, _ = w[k*n-1], x[m*k-1]
	}
	if ws == nil || !ws.mu.TryLock() {
		ws = &DenseWork{}
	} else {
		defer ws.mu.Unlock()
	}
	if m == 1 {
		// One row: stream w in 256-column blocks, k cut in fixed slices.
		if done := denseRow(ws, y, x, w, bias, n, k, relu); done > 0 {
			if done == n {
				return true
			}
			rest := n - done
			yr, wr := make([]float32, rest), make([]float32, k*rest)
			for p := 0; p < k; p++ {
				copy(wr[p*rest:(p+1)*rest], w[p*n+done:(p+1)*n])
			}
			var br []float32
			if bias != nil {
				br = bias[done:n]
			}
			DenseForward(l, nil, yr, x, wr, br, 1, rest, k, relu)
			copy(y[done:], yr)
			return true
		}
	}
	// zero serves as the rows past m, the bias when there is none and a
	// zero bias for the slices before the last. Nothing writes to it (the
	// kernels store to C only), so it stays as make left it: zeros.
	ws.zero = grow(ws.zero, max(k, n+32, 32))
	zero := ws.zero
	if bias == nil {
		bias = zero
	} else {
		_ = bias[n-1]
	}

	rb, cb := (m+7)/8, (n+31)/32
	nks := max(1, (k+denseKSlice-1)/denseKSlice)
	// Each (row block, k slice) lists the k where one of its rows is not
	// zero: idx[spans[i]:spans[i+1]] for i = rbi*nks + ks, or a dense
	// slice when spans[rb*nks+1+i] < 0.
	nu := rb * nks
	ws.spans = grow(ws.spans, 2*nu+1)
	spans := ws.spans
	idx := ws.idx[:0]
	for rbi := 0; rbi < rb; rbi++ {
		r0 := rbi * 8
		for ks := 0; ks < nks; ks++ {
			i := rbi*nks + ks
			k0, k1 := ks*k/nks, (ks+1)*k/nks
			spans[i] = len(idx)
			idx = nonzeroRows(idx, x[r0*k:], min(8, m-r0), k, k0, k1)
			spans[nu+1+i] = 1
			if k1 == k0 || float64(len(idx)-spans[i]) > blockMaxFill*float64(k1-k0) {
				idx = idx[:spans[i]]
				spans[nu+1+i] = -1
			}
		}
	}
	spans[nu] = len(idx)
	ws.idx = idx
	ws.tailBufs = grow(ws.tailBufs, cb)
	tails := ws.tailBufs
	// Units are column blocks; each takes k in slices and runs all row
	// blocks on a slice before the next, adding to y (fixed order).
	workpool.For(cb, rb*8*32*k, func(u int) {
		c0 := u * 32
		cols := min(32, n-c0)
		var a denseArgs
		a.mask0 = uint16(1<<min(cols, 16) - 1)
		a.mask1 = uint16(1<<max(0, cols-16) - 1)
		a.ldb = 4 * n
		biasPtr := uintptr(unsafe.Pointer(&zero[0]))
		if c0+32 <= len(bias) {
			biasPtr = uintptr(unsafe.Pointer(&bias[c0]))
		} else { // a partial block at the end of an exact-length bias
			tails[u] = grow(tails[u], 32)
			clear(tails[u])
			copy(tails[u], bias[c0:n])
			biasPtr = uintptr(unsafe.Pointer(&tails[u][0]))
		}
		for ks := 0; ks < nks; ks++ {
			k0, k1 := ks*k/nks, (ks+1)*k/nks
			last := ks == nks-1
			a.accum, a.relu = 0, 0
			if ks > 0 {
				a.accum = 1
			}
			a.bias = uintptr(unsafe.Pointer(&zero[0]))
			if last {
				a.bias = biasPtr
				if relu {
					a.relu = 1
				}
			}
			for rbi := 0; rbi < rb; rbi++ {
				r0 := rbi * 8
				i := rbi*nks + ks
				sparse := spans[nu+1+i] > 0
				for r := 0; r < 8; r++ {
					a.a[r] = uintptr(unsafe.Pointer(&zero[0]))
					if r0+r < m && k1 > k0 {
						if sparse {
							a.a[r] = uintptr(unsafe.Pointer(&x[(r0+r)*k]))
						} else {
							a.a[r] = uintptr(unsafe.Pointer(&x[(r0+r)*k+k0]))
						}
					}
					if r0+r < m {
						a.c[r] = uintptr(unsafe.Pointer(&y[(r0+r)*n+c0]))
					}
				}
				a.rows = min(8, m-r0)
				if sparse {
					a.k = spans[i+1] - spans[i]
					a.b = uintptr(unsafe.Pointer(&w[c0]))
					a.idx = 0
					if a.k > 0 {
						a.idx = uintptr(unsafe.Pointer(&idx[spans[i]]))
					}
					denseIdxAVX512(&a)
					continue
				}
				a.k = k1 - k0
				a.b = uintptr(unsafe.Pointer(&zero[0]))
				if k1 > k0 {
					a.b = uintptr(unsafe.Pointer(&w[k0*n+c0]))
				}
				denseAVX512(&a)
			}
		}
	})
	runtime.KeepAlive(zero)
	runtime.KeepAlive(bias)
	runtime.KeepAlive(idx)
	runtime.KeepAlive(tails)
	return true
}
