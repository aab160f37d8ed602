package kern

import (
	"math"
	"unsafe"
)

// adamArgs is the argument block of adamAVX512.
type adamArgs struct {
	w, g, m, v uintptr
	n          int
	ic2        float64
	b1, b2     float32
	a1, a2     float32
	step, eps  float32
	lam, scale float32
}

// Adam applies one Adam update to w with gradient g and moments m, v (all
// of one length) and zeroes g, with the float32 constants of graph's update
// (b1, b2, 1-b1, 1-b2, lr/c1, eps, decay, clip scale) and ic2 = 1/c2:
//
//	gi = (g + lam*w)*scale; m = b1*m + a1*gi; v = b2*v + a2*gi*gi
//	w -= step*m / (float32(sqrt(float64(v)*ic2)) + eps)
//
// Every level rounds exactly like that Go expression (no fused
// multiply-adds; the square root in float64), so the result does not
// depend on the level.
func Adam(l Level, w, g, m, v []float32, b1, b2, a1, a2, step, eps, lam, scale float32, ic2 float64) {
	n := len(w)
	if n == 0 {
		return
	}
	_, _, _ = g[n-1], m[n-1], v[n-1]
	if l == AVX512 {
		a := adamArgs{w: uintptr(unsafe.Pointer(&w[0])), g: uintptr(unsafe.Pointer(&g[0])),
			m: uintptr(unsafe.Pointer(&m[0])), v: uintptr(unsafe.Pointer(&v[0])), n: n, ic2: ic2,
			b1: b1, b2: b2, a1: a1, a2: a2, step: step, eps: eps, lam: lam, scale: scale}
		adamAVX512(&a)
		return
	}
	for i := range w {
		gi := (g[i] + lam*w[i]) * scale
		g[i] = 0
		mi := b1*m[i] + a1*gi
		vi := b2*v[i] + a2*gi*gi
		m[i], v[i] = mi, vi
		w[i] -= step * mi / (float32(math.Sqrt(float64(vi)*ic2)) + eps)
	}
}

// SumSqDecay returns sum_i (float64(g[i]) + lambda*float64(w[i]))^2 in an
// order fixed by the level and len(g), and the first index where g is NaN or
// infinite (-1 if none; the sum is then meaningless).
func SumSqDecay(l Level, g, w []float32, lambda float64) (float64, int) {
	n := len(g)
	if n == 0 {
		return 0, -1
	}
	_ = w[n-1]
	if l == AVX512 {
		s, bad := sumSqDecayAVX512(&g[0], &w[0], n, lambda)
		if !bad {
			return s, -1
		}
	}
	var s float64
	for i, x := range g {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, i
		}
		f += lambda * float64(w[i])
		s += f * f
	}
	return s, -1
}
