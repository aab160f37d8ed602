package kern

import (
	"math"
	"unsafe"
)

// poolArgs is the argument block of the assembly pooling kernels.
type poolArgs struct {
	x     uintptr // 0: input (rows*2 rows of w)
	g     uintptr // 8: output gradient (rows rows of w/2)
	out   uintptr // 16: pooled output, or dL/dx
	w     int     // 24: input width
	rows  int     // 32: output rows
	nfull int     // 40: chunks of 16 outputs per row
	tin0  int     // 48: input masks of the last, partial chunk
	tin1  int     // 56
	tout  int     // 64: output mask of the partial chunk (0: none)
	relu  int     // 72
}

func newPoolArgs(w, rows int) poolArgs {
	n := (w / 2) % 16
	return poolArgs{w: w, rows: rows, nfull: w / 2 / 16,
		tin0: 1<<min(2*n, 16) - 1, tin1: 1<<max(0, 2*n-16) - 1, tout: 1<<n - 1}
}

// MaxPool2x2 writes out (rows, w/2) = the 2x2, stride-2 max pooling of x
// (2*rows, w), w even: rows of consecutive planes are simply consecutive
// rows. NaN propagates (Go's max).
func MaxPool2x2(l Level, out, x []float32, rows, w int) {
	if rows == 0 {
		return
	}
	_ = x[2*rows*w-1]
	_ = out[rows*w/2-1]
	if l == AVX512 {
		a := newPoolArgs(w, rows)
		a.x, a.out = uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&out[0]))
		maxPoolAVX512(&a)
		return
	}
	wo := w / 2
	for i := 0; i < rows; i++ {
		r0, r1 := x[2*i*w:(2*i+1)*w], x[(2*i+1)*w:(2*i+2)*w]
		d := out[i*wo : (i+1)*wo]
		for j := range d {
			d[j] = max(max(r0[2*j], r0[2*j+1]), max(r1[2*j], r1[2*j+1]))
		}
	}
}

// MaxPool2x2Grad writes dx (2*rows, w), the gradient of MaxPool2x2 for the
// output gradient g (rows, w/2): each g goes to the first maximum of its
// window (top-left, top-right, bottom-left, bottom-right; +0 and -0 equal),
// nothing for a window holding a NaN; with relu, only where the window's
// maximum is > 0, which is the gradient through a ReLU before the pool.
func MaxPool2x2Grad(l Level, dx, x, g []float32, rows, w int, relu bool) {
	if rows == 0 {
		return
	}
	_ = x[2*rows*w-1]
	_ = dx[2*rows*w-1]
	_ = g[rows*w/2-1]
	if l == AVX512 {
		a := newPoolArgs(w, rows)
		a.x, a.g, a.out = uintptr(unsafe.Pointer(&x[0])), uintptr(unsafe.Pointer(&g[0])), uintptr(unsafe.Pointer(&dx[0]))
		if relu {
			a.relu = 1
		}
		maxPoolGradAVX512(&a)
		return
	}
	wo := w / 2
	for i := 0; i < rows; i++ {
		r0, r1 := x[2*i*w:(2*i+1)*w], x[(2*i+1)*w:(2*i+2)*w]
		d0, d1 := dx[2*i*w:(2*i+1)*w], dx[(2*i+1)*w:(2*i+2)*w]
		for j, gv := range g[i*wo : (i+1)*wo] {
			a, b, c, e := r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1]
			m := max(max(a, b), max(c, e))
			var ga, gb, gc, ge float32
			if !math.IsNaN(float64(m)) && (!relu || m > 0) {
				switch m {
				case a:
					ga = gv
				case b:
					gb = gv
				case c:
					gc = gv
				default:
					ge = gv
				}
			}
			d0[2*j], d0[2*j+1], d1[2*j], d1[2*j+1] = ga, gb, gc, ge
		}
	}
}
