package kern

// ReluMask writes dst[i] = g[i] where y[i] > 0 and 0 elsewhere (the
// gradient through a ReLU with output y); dst may be g.
func ReluMask(l Level, dst, g, y []float32) {
	n := len(g)
	if n == 0 {
		return
	}
	_, _ = dst[n-1], y[n-1]
	if l == AVX512 {
		reluMaskAVX512(&dst[0], &g[0], &y[0], n)
		return
	}
	for i, v := range g {
		if y[i] > 0 {
			dst[i] = v
		} else {
			dst[i] = 0
		}
	}
}

// Sum returns the sum of x in an order fixed by len(x) and the level.
func Sum(l Level, x []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	if l == AVX512 {
		return sumAVX512(&x[0], len(x))
	}
	var s float32
	for _, v := range x {
		s += v
	}
	return s
}
