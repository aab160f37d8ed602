package kern

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"github.com/stn3d/stn3d/internal/workpool"
)

// Wino is a 3x3, stride-1, padding-1 convolution computed with Winograd's
// minimal filtering F(4x4, 3x3) (Lavin and Gray 2016) at the AVX-512 level:
// the image is cut into 6x6 patches at stride 4, each transformed to
// V = B^T d B, the weights to U = G g G^T (36 values per input and output
// channel), and for each of the 36 positions xi the products are summed over
// the input channels as a GEMM, M[xi] = U[xi] V[xi]; the output tile is
// A^T M A. That is 36 multiplications per 16 outputs where the direct form
// needs 144: the 3x3 layers take about a third of the time.
//
// Images are processed in chunks of whole images (enough tiles for the GEMM
// kernel, whose tiles are 48 patches wide), each on one worker with its own
// V and M buffers; nothing is summed across chunks, so the result does not
// depend on the worker count. The transformed weights are kept and rebuilt
// only when the weights change (they are compared with a copy).
//
// Winograd rounds differently from the direct sum: in float32 the relative
// error of an output is of the order 1e-5 to 1e-4 of the magnitude of its
// terms.
type Wino struct {
	Cin, Cout, H, W int
	flip            bool // weights given as the forward layer's, for its input gradient

	nty, ntx, tiles int // tiles per image
	nvec            int // 16-tile vectors per tile row of a unit
	// A unit is what one pass of the transforms covers: one image, or for
	// images at most 32 columns wide a group of G images whose tile rows
	// share the 16 lanes (jPer 16-column blocks each, 4/jPer images), so
	// that a 14 x 14 layer fills 16 lanes instead of 4. unitTiles is the
	// number of tile slots of a unit (nty*ntx, or nty*16 for a group).
	group, jPer, unitTiles int
	chunk, tc              int // images per chunk (whole units), tile slots per chunk (multiple of 16)
	panels                 int
	// inMasks and outMasks hold per vector the load masks, store mask and
	// pad (8 each), and inOff, outOff the byte offsets of the column blocks
	// from a row; for a group, index p-1 serves a unit of p images.
	inMasks  [][]uint16
	outMasks [][]uint16
	inOff    [][6]int
	outOff   [][4]int
	zero     []float32 // the GEMMs' (absent) bias, 8 per panel

	mu     sync.Mutex
	packed []float32 // U: [36][panel][Cin][8]
	raw    []float32 // the weights packed was built from
	free   [][]float32
}

// WinogradOff is set by STN3D_WINOGRAD=0, for comparisons: callers then
// use the direct kernels only.
var WinogradOff = os.Getenv("STN3D_WINOGRAD") == "0"

// winoChunkTiles is the least number of patches per chunk: two GEMM
// strips of 48. A chunk's V and M buffers (36 x (Cin + Cout) values per
// patch) outgrow L2 whatever the size; smaller chunks keep more of them in
// cache: the embedded localiser at batch 64 ran 4% faster with 96 than
// with 192 (BenchmarkInferEmbeddedB64, interleaved), 48 and 64 gave no more.
const winoChunkTiles = 96

// NewWino prepares the Winograd form of a 3x3, pad-1 convolution with cin
// input and cout output channels on h x w images. With flip the weights
// passed to Forward are those of the layer whose input gradient this is:
// (cin, cout, 3, 3) in this convolution's terms, flipped in space (see
// Conv3.GradX). It needs the AVX-512 level.
func NewWino(cin, cout, h, w int, flip bool) (*Wino, error) {
	if !Supported(AVX512) {
		return nil, fmt.Errorf("kern: Winograd needs AVX-512 (best level %v)", best)
	}
	if cin < 1 || cout < 1 || h < 1 || w < 1 {
		return nil, fmt.Errorf("kern: Winograd cin=%d cout=%d %dx%d: want positive sizes", cin, cout, h, w)
	}
	wn := &Wino{Cin: cin, Cout: cout, H: h, W: w, flip: flip}
	wn.nty, wn.ntx = (h+3)/4, (w+3)/4
	wn.tiles = wn.nty * wn.ntx
	wn.group, wn.jPer = 1, 4
	switch {
	case wn.ntx <= 4:
		wn.group, wn.jPer = 4, 1
	case wn.ntx <= 8:
		wn.group, wn.jPer = 2, 2
	}
	if wn.group == 1 {
		wn.nvec = (wn.ntx + 15) / 16
		wn.unitTiles = wn.tiles
	} else {
		wn.nvec = 1
		wn.unitTiles = wn.nty * 16
	}
	units := max(1, (winoChunkTiles+wn.unitTiles-1)/wn.unitTiles)
	wn.chunk = units * wn.group
	wn.tc = (units*wn.unitTiles + 15) / 16 * 16
	wn.panels = (cout + 7) / 8
	wn.zero = make([]float32, 8*wn.panels)
	bits := func(n int) uint16 { return uint16(1<<max(0, min(n, 16)) - 1) }
	colMask := func(c0 int) uint16 { // 16 columns from c0, inside [0, w)
		var m uint16
		for l := 0; l < 16; l++ {
			if c := c0 + l; c >= 0 && c < w {
				m |= 1 << l
			}
		}
		return m
	}
	if wn.group == 1 {
		var in, out []uint16
		for vi := 0; vi < wn.nvec; vi++ {
			im := make([]uint16, 8)
			for j := 0; j < 4; j++ {
				im[j] = colMask(64*vi - 1 + 16*j)
			}
			im[4] = colMask(64*vi+63) & 1
			im[5] = colMask(64*vi+64) & 1
			im[6] = bits(wn.ntx - 16*vi)
			in = append(in, im...)
			om := make([]uint16, 8)
			om[0] = bits(wn.ntx - 16*vi)
			for q := 0; q < 4; q++ {
				om[1+q] = colMask(64*vi + 16*q)
			}
			out = append(out, om...)
		}
		wn.inMasks, wn.outMasks = [][]uint16{in}, [][]uint16{out}
		wn.inOff, wn.outOff = [][6]int{{0, 64, 128, 192, 256, 260}}, [][4]int{{0, 64, 128, 192}}
		return wn, nil
	}
	// Groups: block j holds image j/jPer's columns 16 (j mod jPer) - 1 ..;
	// the two extra loads continue block 3. Images past p are masked out
	// (their offsets point at the first image, never read).
	inPlane, outPlane := 4*cin*h*w, 4*cout*h*w
	for p := 1; p <= wn.group; p++ {
		im, om := make([]uint16, 8), make([]uint16, 8)
		var io [6]int
		var oo [4]int
		for j := 0; j < 4; j++ {
			g, c0 := j/wn.jPer, 16*(j%wn.jPer)
			if g >= p {
				continue
			}
			im[j] = colMask(c0 - 1)
			io[j] = g*inPlane + 4*c0
			om[1+j] = colMask(c0)
			oo[j] = g*outPlane + 4*c0
		}
		if g := 3 / wn.jPer; g < p {
			c := 16*wn.jPer - 1 // the columns after block 3's
			im[4], im[5] = colMask(c)&1, colMask(c+1)&1
			io[4], io[5] = io[3]+64, io[3]+68
		}
		im[6], om[0] = 0xffff, 0xffff
		wn.inMasks, wn.outMasks = append(wn.inMasks, im), append(wn.outMasks, om)
		wn.inOff, wn.outOff = append(wn.inOff, io), append(wn.outOff, oo)
	}
	return wn, nil
}

// ChunkImages returns the number of images Forward takes per chunk: a
// caller that splits a batch itself should split it in such chunks.
func (wn *Wino) ChunkImages() int { return wn.chunk }

// Tiles returns the number of 4x4 output tiles per image.
func (wn *Wino) Tiles() int { return wn.tiles }

// winoInArgs and winoOutArgs are the argument blocks of the transforms.
type winoInArgs struct {
	x, v, vxi      uintptr
	w, h, nty, ntx int
	nvec           int
	masks, tmp     uintptr
	off            [6]int // 80: byte offsets of the column blocks from a row
}

type winoOutArgs struct {
	m, mxi, y      uintptr
	wo, ho         int
	nty, ntx, nvec int
	masks, tmp     uintptr
	bias           float32
	_              float32
	relu           int
	off            [4]int // 96: byte offsets of the column blocks from a row
}

// pack transforms the weights w into U unless they are those of the last
// call.
func (wn *Wino) pack(w []float32) {
	w = w[:wn.Cout*wn.Cin*9]
	if wn.raw != nil && equalFloats(wn.raw, w) {
		return
	}
	wn.raw = append(wn.raw[:0], w...)
	pl := wn.panels * wn.Cin * 8
	if len(wn.packed) != 36*pl {
		wn.packed = make([]float32, 36*pl) // channels past Cout stay zero
	}
	workpool.Chunks(wn.Cout, wn.Cin*200, func(lo, hi int) {
		var g [9]float32
		var t [18]float32 // G g, 6x3
		for o := lo; o < hi; o++ {
			for ci := 0; ci < wn.Cin; ci++ {
				if wn.flip { // w is (Cin, Cout, 3, 3) of the forward layer
					src := w[(ci*wn.Cout+o)*9 : (ci*wn.Cout+o)*9+9]
					for k := range g {
						g[k] = src[8-k]
					}
				} else {
					g = [9]float32(w[(o*wn.Cin+ci)*9 : (o*wn.Cin+ci)*9+9])
				}
				for k := 0; k < 3; k++ {
					c0, c1, c2 := winoG(g[k], g[3+k], g[6+k])
					t[k], t[3+k], t[6+k], t[9+k], t[12+k], t[15+k] = c0[0], c0[1], c1[0], c1[1], c2[0], c2[1]
				}
				base := ((o/8)*wn.Cin+ci)*8 + o%8
				for i := 0; i < 6; i++ {
					c0, c1, c2 := winoG(t[3*i], t[3*i+1], t[3*i+2])
					p := wn.packed[(i*6)*pl+base:]
					p[0], p[pl], p[2*pl], p[3*pl], p[4*pl], p[5*pl] = c0[0], c0[1], c1[0], c1[1], c2[0], c2[1]
				}
			}
		}
	})
}

// winoG returns G [a b c]^T, the 6 values in pairs: a/4, -(a+b+c)/6,
// -(a-b+c)/6, a/24+b/12+c/6, a/24-b/12+c/6, c.
func winoG(a, b, c float32) ([2]float32, [2]float32, [2]float32) {
	ac := a + c
	p, q := a/24+c/6, b/12
	return [2]float32{a / 4, -(ac + b) / 6}, [2]float32{-(ac - b) / 6, p + q}, [2]float32{p - q, c}
}

// Forward computes y (nimg, Cout, H, W) = relu?(conv(x) + bias) for x
// (nimg, Cin, H, W) and weights w (Cout, Cin, 3, 3), or with flip the
// forward layer's (Cin, Cout, 3, 3); bias may be nil.
func (wn *Wino) Forward(y, x, w, bias []float32, nimg int, relu bool) {
	hw := wn.H * wn.W
	_ = x[nimg*wn.Cin*hw-1]
	_ = y[nimg*wn.Cout*hw-1]
	wn.mu.Lock()
	wn.pack(w)
	wn.mu.Unlock() // concurrent Forwards of one layer with different weights are not supported
	nchunk := (nimg + wn.chunk - 1) / wn.chunk
	work := 36 * wn.Cin * wn.Cout * wn.tiles * wn.chunk
	workpool.For(nchunk, work, func(ch int) {
		v := wn.take(36 * wn.Cin * wn.tc)
		m := wn.take(36 * wn.Cout * wn.tc)
		tmp := wn.take(36 * 16)
		defer wn.give(v, m, tmp)
		b0, b1 := ch*wn.chunk, min(nimg, (ch+1)*wn.chunk)
		nunit := (b1 - b0 + wn.group - 1) / wn.group
		ia := winoInArgs{vxi: uintptr(wn.tc * 4), w: wn.W, h: wn.H, nty: wn.nty, ntx: wn.ntx, nvec: wn.nvec,
			tmp: uintptr(unsafe.Pointer(&tmp[0]))}
		if wn.group > 1 {
			ia.ntx = 16
		}
		for u := 0; u < nunit; u++ {
			b, p := b0+u*wn.group, min(wn.group, b1-b0-u*wn.group) // first image, images
			ia.masks = uintptr(unsafe.Pointer(&wn.inMasks[p-1][0]))
			ia.off = wn.inOff[p-1]
			for ci := 0; ci < wn.Cin; ci++ {
				ia.x = uintptr(unsafe.Pointer(&x[(b*wn.Cin+ci)*hw]))
				ia.v = uintptr(unsafe.Pointer(&v[ci*36*wn.tc+u*wn.unitTiles]))
				winoInAVX512(&ia)
			}
		}
		wn.gemm(m, v, nunit*wn.unitTiles)
		oa := winoOutArgs{mxi: uintptr(wn.tc * 4), wo: wn.W, ho: wn.H, nty: wn.nty, ntx: ia.ntx, nvec: wn.nvec,
			tmp: uintptr(unsafe.Pointer(&tmp[0]))}
		if relu {
			oa.relu = 1
		}
		for u := 0; u < nunit; u++ {
			b, p := b0+u*wn.group, min(wn.group, b1-b0-u*wn.group)
			oa.masks = uintptr(unsafe.Pointer(&wn.outMasks[p-1][0]))
			oa.off = wn.outOff[p-1]
			for o := 0; o < wn.Cout; o++ {
				oa.m = uintptr(unsafe.Pointer(&m[o*36*wn.tc+u*wn.unitTiles]))
				oa.y = uintptr(unsafe.Pointer(&y[(b*wn.Cout+o)*hw]))
				oa.bias = 0
				if bias != nil {
					oa.bias = bias[o]
				}
				winoOutAVX512(&oa)
			}
		}
		runtime.KeepAlive(x)
		runtime.KeepAlive(y)
		runtime.KeepAlive(wn.inMasks)
		runtime.KeepAlive(wn.outMasks)
	})
}

// gemm computes M[xi] (Cout x ntile) = U[xi] V[xi] for the 36 positions
// with the forward kernel (one tap, groups of 16 patches).
func (wn *Wino) gemm(m, v []float32, ntile int) {
	var a fwdArgs
	a.ntaps = 1
	a.cin = wn.Cin
	a.plane = 36 * wn.tc * 4 // V is [Cin][36][tc], M [Cout][36][tc]
	a.ldc = 36 * wn.tc * 4
	a.bias = uintptr(unsafe.Pointer(&wn.zero[0])) // the kernel steps through a bias per panel
	pl := wn.panels * wn.Cin * 8
	full := wn.Cout / 8
	for xi := 0; xi < 36; xi++ {
		vb := uintptr(unsafe.Pointer(&v[xi*wn.tc]))
		mb := uintptr(unsafe.Pointer(&m[xi*wn.tc]))
		for t0 := 0; t0 < ntile; t0 += 48 {
			for g := 0; g < 3; g++ {
				n := min(16, max(0, ntile-t0-16*g))
				a.b[g] = vb + uintptr((t0+16*g)*4)
				a.c[g] = mb + uintptr((t0+16*g)*4)
				if n == 0 {
					a.b[g], a.c[g] = vb, mb
				}
				a.mask[0][g] = uint16(1<<n - 1)
				a.smask[g] = a.mask[0][g]
			}
			for p := 0; p < wn.panels; {
				a.a = uintptr(unsafe.Pointer(&wn.packed[xi*pl+p*wn.Cin*8]))
				off := uintptr(p * 8 * a.ldc)
				for g := 0; g < 3; g++ {
					a.c[g] += off
				}
				if p < full {
					a.rows, a.npanel = 8, full-p
				} else {
					a.rows, a.npanel = wn.Cout-8*p, 1
				}
				convFwdAVX512(&a)
				for g := 0; g < 3; g++ {
					a.c[g] -= off
				}
				p += a.npanel
			}
		}
	}
}

func (wn *Wino) take(n int) []float32 {
	wn.mu.Lock()
	defer wn.mu.Unlock()
	for i, b := range wn.free {
		if cap(b) >= n {
			wn.free[i] = wn.free[len(wn.free)-1]
			wn.free = wn.free[:len(wn.free)-1]
			return b[:n]
		}
	}
	return make([]float32, n)
}

func (wn *Wino) give(bufs ...[]float32) {
	wn.mu.Lock()
	defer wn.mu.Unlock()
	wn.free = append(wn.free, bufs...)
}
