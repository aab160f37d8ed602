package ops

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/gonum"
)

// A blocked float32 GEMM (Goto / BLIS scheme) around the 6x16 AVX2+FMA
// micro-kernel of blas_sgemm_amd64.s, used by the convolutions in the
// default, pure-Go build: gonum's native Sgemm runs at about 6 GFLOP/s on
// the project's machines, this at several times that. Whenever blas32 has
// been switched away from gonum (the openblas build tag, or a caller's
// blas32.Use) the convolutions call blas32 instead.
//
// Blocking: op(B) is packed kc x nc at a time into 16-column panels, op(A)
// mc x kc at a time into 6-row panels (alpha folded in), and each 6x16 tile
// of C accumulates one kc-long product in registers.
const (
	sgemmMR = 6
	sgemmNR = 16
	sgemmKC = 256
	sgemmMC = 120 // multiple of sgemmMR
	sgemmNC = 2048
)

// useOwnSgemm reports whether float32 GEMMs of the convolutions go to
// sgemmBlocked rather than blas32.
func useOwnSgemm() bool {
	if !haveSgemmKernel {
		return false
	}
	_, native := blas32.Implementation().(gonum.Implementation)
	return native
}

// sgemmPackSize is the length of the packing workspace sgemmBlocked needs
// for an m x n x k product.
func sgemmPackSize(m, n, k int) int {
	kc := min(k, sgemmKC)
	mc := roundUp(min(m, sgemmMC), sgemmMR)
	nc := roundUp(min(n, sgemmNC), sgemmNR)
	return kc*mc + kc*nc + sgemmMR*sgemmNR
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// sgemmBlocked computes C = alpha op(A) op(B) + beta C for row-major
// matrices (op(A) m x k, op(B) k x n, C m x n, leading dimensions lda, ldb,
// ldc), like blas32's Sgemm. pack is a workspace of at least
// sgemmPackSize(m, n, k) elements (stale contents are fine). beta = 0
// overwrites C without reading it.
func sgemmBlocked(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, pack []float32) {
	if m == 0 || n == 0 {
		return
	}
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
	if k == 0 || alpha == 0 {
		return
	}
	kcMax := min(k, sgemmKC)
	mcMax := roundUp(min(m, sgemmMC), sgemmMR)
	pa := pack[:kcMax*mcMax]
	pb := pack[kcMax*mcMax : kcMax*mcMax+kcMax*roundUp(min(n, sgemmNC), sgemmNR)]
	tile := pack[len(pa)+len(pb) : len(pa)+len(pb)+sgemmMR*sgemmNR]
	for jc := 0; jc < n; jc += sgemmNC {
		nc := min(sgemmNC, n-jc)
		for pc := 0; pc < k; pc += sgemmKC {
			kc := min(sgemmKC, k-pc)
			packB(pb, tB, b, ldb, pc, kc, jc, nc)
			for ic := 0; ic < m; ic += sgemmMC {
				mc := min(sgemmMC, m-ic)
				packA(pa, tA, a, lda, ic, mc, pc, kc, alpha)
				for jr := 0; jr < nc; jr += sgemmNR {
					nr := min(sgemmNR, nc-jr)
					bp := pb[jr*kc : jr*kc+sgemmNR*kc]
					for ir := 0; ir < mc; ir += sgemmMR {
						mr := min(sgemmMR, mc-ir)
						ap := pa[ir*kc : ir*kc+sgemmMR*kc]
						ci := (ic+ir)*ldc + jc + jr
						if mr == sgemmMR && nr == sgemmNR {
							_ = c[ci+(sgemmMR-1)*ldc+sgemmNR-1] // the kernel writes this far
							sgemmKernel6x16(kc, &ap[0], &bp[0], &c[ci], ldc)
							continue
						}
						clear(tile)
						sgemmKernel6x16(kc, &ap[0], &bp[0], &tile[0], sgemmNR)
						for i := 0; i < mr; i++ {
							dst := c[ci+i*ldc : ci+i*ldc+nr]
							for j, v := range tile[i*sgemmNR : i*sgemmNR+nr] {
								dst[j] += v
							}
						}
					}
				}
			}
		}
	}
}

// packA packs alpha op(A)[ic:ic+mc, pc:pc+kc] into 6-row panels: panel r
// holds, for each p, the 6 values op(A)[ic+6r+i, pc+p] (zero past row m).
func packA(dst []float32, tA bool, a []float32, lda, ic, mc, pc, kc int, alpha float32) {
	for r := 0; r*sgemmMR < mc; r++ {
		panel := dst[r*sgemmMR*kc : (r+1)*sgemmMR*kc]
		rows := min(sgemmMR, mc-r*sgemmMR)
		i0 := ic + r*sgemmMR
		if tA {
			// op(A)[i, p] = a[p*lda + i]: 6 contiguous values per p.
			for p := 0; p < kc; p++ {
				src := a[(pc+p)*lda+i0 : (pc+p)*lda+i0+rows]
				d := panel[p*sgemmMR : p*sgemmMR+sgemmMR]
				for i, v := range src {
					d[i] = alpha * v
				}
				clear(d[rows:])
			}
			continue
		}
		if rows == sgemmMR {
			o := i0*lda + pc
			r0, r1, r2 := a[o:o+kc], a[o+lda:o+lda+kc], a[o+2*lda:o+2*lda+kc]
			o += 3 * lda
			r3, r4, r5 := a[o:o+kc], a[o+lda:o+lda+kc], a[o+2*lda:o+2*lda+kc]
			for p := range r0 {
				d := (*[sgemmMR]float32)(panel[p*sgemmMR:])
				d[0], d[1], d[2] = alpha*r0[p], alpha*r1[p], alpha*r2[p]
				d[3], d[4], d[5] = alpha*r3[p], alpha*r4[p], alpha*r5[p]
			}
			continue
		}
		for i := 0; i < sgemmMR; i++ {
			if i >= rows {
				for p := 0; p < kc; p++ {
					panel[p*sgemmMR+i] = 0
				}
				continue
			}
			src := a[(i0+i)*lda+pc : (i0+i)*lda+pc+kc]
			for p, v := range src {
				panel[p*sgemmMR+i] = alpha * v
			}
		}
	}
}

// packB packs op(B)[pc:pc+kc, jc:jc+nc] into 16-column panels: panel q
// holds, for each p, the 16 values op(B)[pc+p, jc+16q+j] (zero past column n).
func packB(dst []float32, tB bool, b []float32, ldb, pc, kc, jc, nc int) {
	for q := 0; q*sgemmNR < nc; q++ {
		panel := dst[q*sgemmNR*kc : (q+1)*sgemmNR*kc]
		cols := min(sgemmNR, nc-q*sgemmNR)
		j0 := jc + q*sgemmNR
		if !tB {
			// op(B)[p, j] = b[p*ldb + j]: 16 contiguous values per p.
			if cols == sgemmNR {
				for p := 0; p < kc; p++ {
					o := (pc+p)*ldb + j0
					// Through a local: a direct array copy between two
					// slices may overlap and becomes a memmove call.
					v := *(*[sgemmNR]float32)(b[o : o+sgemmNR])
					*(*[sgemmNR]float32)(panel[p*sgemmNR:]) = v
				}
				continue
			}
			for p := 0; p < kc; p++ {
				d := panel[p*sgemmNR : p*sgemmNR+sgemmNR]
				copy(d, b[(pc+p)*ldb+j0:(pc+p)*ldb+j0+cols])
				clear(d[cols:])
			}
			continue
		}
		if cols == sgemmNR {
			packBTrans16(panel, b, ldb, j0*ldb+pc, kc)
			continue
		}
		for j := 0; j < sgemmNR; j++ {
			if j >= cols {
				for p := 0; p < kc; p++ {
					panel[p*sgemmNR+j] = 0
				}
				continue
			}
			src := b[(j0+j)*ldb+pc : (j0+j)*ldb+pc+kc]
			for p, v := range src {
				panel[p*sgemmNR+j] = v
			}
		}
	}
}

// packBTrans16 packs a full 16-column panel of op(B) = B^T: panel[p*16+j] =
// b[o + j*ldb + p]. Reading the 16 rows in step and writing each 64-byte
// group of the panel at once is about six times faster than filling the
// panel one column (strided) at a time.
func packBTrans16(panel, b []float32, ldb, o, kc int) {
	r0, r1, r2, r3 := b[o:o+kc], b[o+ldb:o+ldb+kc], b[o+2*ldb:o+2*ldb+kc], b[o+3*ldb:o+3*ldb+kc]
	o += 4 * ldb
	r4, r5, r6, r7 := b[o:o+kc], b[o+ldb:o+ldb+kc], b[o+2*ldb:o+2*ldb+kc], b[o+3*ldb:o+3*ldb+kc]
	o += 4 * ldb
	r8, r9, r10, r11 := b[o:o+kc], b[o+ldb:o+ldb+kc], b[o+2*ldb:o+2*ldb+kc], b[o+3*ldb:o+3*ldb+kc]
	o += 4 * ldb
	r12, r13, r14, r15 := b[o:o+kc], b[o+ldb:o+ldb+kc], b[o+2*ldb:o+2*ldb+kc], b[o+3*ldb:o+3*ldb+kc]
	for p := range r0 {
		d := (*[sgemmNR]float32)(panel[p*sgemmNR:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13], d[14], d[15] = r12[p], r13[p], r14[p], r15[p]
	}
}

// sgemmKernelGo is the micro-kernel in plain Go: c[i*ldc+j] += sum_p
// a[p*6+i] b[p*16+j] for i < 6, j < 16.
func sgemmKernelGo(k int, a, b, c []float32, ldc int) {
	var acc [sgemmMR][sgemmNR]float32
	for p := 0; p < k; p++ {
		bp := b[p*sgemmNR : p*sgemmNR+sgemmNR]
		for i := 0; i < sgemmMR; i++ {
			av := a[p*sgemmMR+i]
			for j, bv := range bp {
				acc[i][j] += av * bv
			}
		}
	}
	for i := range acc {
		row := c[i*ldc : i*ldc+sgemmNR]
		for j, v := range acc[i] {
			row[j] += v
		}
	}
}

// convGemm is the GEMM of the convolutions: sgemmBlocked for float32 when
// useOwnSgemm, with its packing workspace from s; otherwise gemm (blas32 /
// blas64).
func convGemm[T float](s *scratch, tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	if a32, ok := any(a).([]float32); ok && useOwnSgemm() {
		pack := take[float32](s, sgemmPackSize(m, n, k))
		sgemmBlocked(tA, tB, m, n, k, float32(alpha), a32, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc, pack)
		give(s, pack)
		return
	}
	gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
