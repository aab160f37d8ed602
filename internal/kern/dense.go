package kern

import (
	"runtime"
	"unsafe"

	"github.com/stn3d/stn3d/internal/workpool"
)

// denseArgs is the argument block of denseAVX512.
type denseArgs struct {
	a     [8]uintptr // 0
	b     uintptr    // 64
	ldb   int        // 72
	c     [8]uintptr // 80
	k     int        // 144
	mask0 uint16     // 152
	mask1 uint16     // 154
	_     uint32
	bias  uintptr // 160
	relu  int     // 168
	rows  int     // 176
	accum int     // 184: add C's values first
}

// denseKSlice is the number of rows of w that the blocked product takes at
// a time: 1024 rows of a 32-column block are 128 KiB, which stay in L2
// while every block of 8 rows of x passes.
const denseKSlice = 1024

// denseRowArgs is the argument block of denseRowAVX512.
type denseRowArgs struct {
	x, w  uintptr
	ldw   int
	k     int
	y     uintptr
	masks [16]uint16
}

// rowSplits is the number of fixed slices of k that a one-row product is
// cut into (for the workers); their partial sums are added in slice order.
const rowSplits = 4

// denseRow computes y (1 x n) for one row x with the weights w streamed in
// 256-column blocks; it returns the number of columns done (a multiple of
// 256), the rest being left to the blocked kernel.
func denseRow(y, x, w, bias []float32, n, k int, relu bool) int {
	nb := n / 256
	if nb == 0 || k < rowSplits {
		return 0
	}
	part := make([]float32, rowSplits*nb*256)
	workpool.For(rowSplits*nb, 256*k/rowSplits, func(u int) {
		sp, blk := u/nb, u%nb
		k0, k1 := sp*k/rowSplits, (sp+1)*k/rowSplits
		a := denseRowArgs{x: uintptr(unsafe.Pointer(&x[k0])), w: uintptr(unsafe.Pointer(&w[k0*n+blk*256])), ldw: 4 * n,
			k: k1 - k0, y: uintptr(unsafe.Pointer(&part[(sp*nb+blk)*256]))}
		for j := range a.masks {
			a.masks[j] = 0xffff
		}
		denseRowAVX512(&a)
	})
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
// every output is one fixed-order sum.
func DenseForward(l Level, y, x, w, bias []float32, m, n, k int, relu bool) bool {
	if l != AVX512 || m == 0 || n == 0 {
		return false
	}
	_ = y[m*n-1]
	if k > 0 {
		_, _ = w[k*n-1], x[m*k-1]
	}
	if m == 1 {
		// One row: stream w in 256-column blocks, k cut in fixed slices.
		if done := denseRow(y, x, w, bias, n, k, relu); done > 0 {
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
			DenseForward(l, yr, x, wr, br, 1, rest, k, relu)
			copy(y[done:], yr)
			return true
		}
	}
	zeroRow := make([]float32, max(k, 32))
	if bias == nil {
		bias = make([]float32, n+32)
	} else {
		_ = bias[n-1]
	}

	rb, cb := (m+7)/8, (n+31)/32
	nks := max(1, (k+denseKSlice-1)/denseKSlice)
	zeroBias := make([]float32, 32)
	// Units are column blocks; each takes k in slices and runs all row
	// blocks on a slice before the next, adding to y (fixed order).
	workpool.For(cb, rb*8*32*k, func(u int) {
		c0 := u * 32
		cols := min(32, n-c0)
		var a denseArgs
		a.mask0 = uint16(1<<min(cols, 16) - 1)
		a.mask1 = uint16(1<<max(0, cols-16) - 1)
		a.ldb = 4 * n
		var tail []float32
		biasPtr := uintptr(unsafe.Pointer(&zeroBias[0]))
		if c0+32 <= len(bias) {
			biasPtr = uintptr(unsafe.Pointer(&bias[c0]))
		} else { // a partial block at the end of an exact-length bias
			tail = make([]float32, 32)
			copy(tail, bias[c0:n])
			biasPtr = uintptr(unsafe.Pointer(&tail[0]))
		}
		for ks := 0; ks < nks; ks++ {
			k0, k1 := ks*k/nks, (ks+1)*k/nks
			last := ks == nks-1
			a.k = k1 - k0
			a.b = uintptr(unsafe.Pointer(&zeroRow[0]))
			if k1 > k0 {
				a.b = uintptr(unsafe.Pointer(&w[k0*n+c0]))
			}
			a.accum, a.relu = 0, 0
			if ks > 0 {
				a.accum = 1
			}
			a.bias = uintptr(unsafe.Pointer(&zeroBias[0]))
			if last {
				a.bias = biasPtr
				if relu {
					a.relu = 1
				}
			}
			for rbi := 0; rbi < rb; rbi++ {
				r0 := rbi * 8
				for r := 0; r < 8; r++ {
					a.a[r] = uintptr(unsafe.Pointer(&zeroRow[0]))
					if r0+r < m && k1 > k0 {
						a.a[r] = uintptr(unsafe.Pointer(&x[(r0+r)*k+k0]))
					}
					if r0+r < m {
						a.c[r] = uintptr(unsafe.Pointer(&y[(r0+r)*n+c0]))
					}
				}
				a.rows = min(8, m-r0)
				denseAVX512(&a)
			}
		}
		runtime.KeepAlive(tail)
	})
	runtime.KeepAlive(zeroBias)
	runtime.KeepAlive(zeroRow)
	runtime.KeepAlive(bias)
	return true
}
