//go:build !purego

package kern

// Implemented in conv_avx512_amd64.s and conv_avx2_amd64.s.

//go:noescape
func convFwdAVX512(a *fwdArgs)

//go:noescape
func convFwdAVX2(a *fwdArgs)

//go:noescape
func convGradWAVX512(a *gradWArgs)

//go:noescape
func convGradWAVX2(a *gradWArgs)

//go:noescape
func transpose16AVX512(src *float32, sstride int, dst *float32, dstride int)

//go:noescape
func maxPoolAVX512(a *poolArgs)

//go:noescape
func maxPoolGradAVX512(a *poolArgs)

//go:noescape
func reluMaskAVX512(dst, src, y *float32, n int)

//go:noescape
func sumAVX512(x *float32, n int) float32

//go:noescape
func adamAVX512(a *adamArgs)

//go:noescape
func sumSqDecayAVX512(gr, w *float32, n int, lambda float64) (s float64, bad bool)

//go:noescape
func winoInAVX512(a *winoInArgs)

//go:noescape
func winoOutAVX512(a *winoOutArgs)

//go:noescape
func denseAVX512(a *denseArgs)

//go:noescape
func denseRowAVX512(a *denseRowArgs)

//go:noescape
func denseIdxAVX512(a *denseArgs)

//go:noescape
func denseRowIdxAVX512(a *denseRowArgs)
