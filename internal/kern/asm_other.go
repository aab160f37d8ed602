//go:build !amd64 || purego

package kern

// Off amd64 (or with purego) only the Generic level exists; these are never
// called.

func convFwdAVX512(a *fwdArgs)     { panic("kern: no AVX-512 kernels in this build") }
func convFwdAVX2(a *fwdArgs)       { panic("kern: no AVX2 kernels in this build") }
func convGradWAVX512(a *gradWArgs) { panic("kern: no AVX-512 kernels in this build") }
func convGradWAVX2(a *gradWArgs)   { panic("kern: no AVX2 kernels in this build") }
func transpose16AVX512(src *float32, sstride int, dst *float32, dstride int) {
	panic("kern: no AVX-512 kernels in this build")
}
func maxPoolAVX512(a *poolArgs)                  { panic("kern: no AVX-512 kernels in this build") }
func maxPoolGradAVX512(a *poolArgs)              { panic("kern: no AVX-512 kernels in this build") }
func reluMaskAVX512(dst, src, y *float32, n int) { panic("kern: no AVX-512 kernels in this build") }
func sumAVX512(x *float32, n int) float32        { panic("kern: no AVX-512 kernels in this build") }
func adamAVX512(a *adamArgs)                     { panic("kern: no AVX-512 kernels in this build") }
func sumSqDecayAVX512(gr, w *float32, n int, lambda float64) (s float64, bad bool) {
	panic("kern: no AVX-512 kernels in this build")
}
func winoInAVX512(a *winoInArgs)        { panic("kern: no AVX-512 kernels in this build") }
func winoOutAVX512(a *winoOutArgs)      { panic("kern: no AVX-512 kernels in this build") }
func denseAVX512(a *denseArgs)          { panic("kern: no AVX-512 kernels in this build") }
func denseRowAVX512(a *denseRowArgs)    { panic("kern: no AVX-512 kernels in this build") }
func denseIdxAVX512(a *denseArgs)       { panic("kern: no AVX-512 kernels in this build") }
func denseRowIdxAVX512(a *denseRowArgs) { panic("kern: no AVX-512 kernels in this build") }
