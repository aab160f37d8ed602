package kern

import (
	"bytes"
	"fmt"
	"sync"
	"unsafe"

	"github.com/stn3d/stn3d/internal/workpool"
)

// Conv3 is a 3x3 convolution with stride 1 and zero padding Pad on every
// side, over one NCHW image at a time, prepared for one Level:
//
//	y[o,i,j] = bias[o] + sum_{c,u,v} w[o,c,u,v] x[c, i+u-Pad, j+v-Pad]
//
// x is (Cin,H,W), w (Cout,Cin,3,3), y (Cout,Ho,Wo) with Ho = H+2Pad-2 and
// Wo = W+2Pad-2.
//
// Forward splits y into tiles of output pixels and panels of output
// channels: a group is up to Lanes consecutive pixels of one output row, a
// tile is GroupsPerTile consecutive groups (in row-major order), a panel is
// MR output channels. Each tile x panel block is accumulated in registers
// over all Cin*9 taps and written once, with bias and ReLU applied.
//
// The input gradient of a convolution is another Conv3 (see GradX); the
// weight gradient is GradW.
type Conv3 struct {
	Level                Level
	Cin, Cout, H, W, Pad int
	Ho, Wo               int

	mr, lanes, gpt int // forward: channels per panel, lanes per group, groups per tile
	wob            int // GradW: output channels per kernel call (WOB)
	gpr            int // groups per output row
	ngroups        int // Ho*gpr

	// colMask[gc*3+v]: lanes of group column gc whose input column for tap
	// column v lies inside the image (and inside the group).
	colMask []uint16
	// lenMask[gc]: lanes of group column gc inside the output row.
	lenMask []uint16
	zero    []float32

	mu         sync.Mutex
	free       [][]float32 // GradW workspaces
	packed     []float32   // Packed's result
	packedFor  []float32   // the weights it was built from
	packedFlip bool
}

const maxGroups = 4

// NewConv3 prepares a convolution for level l (which the CPU must support).
func NewConv3(l Level, cin, cout, h, w, pad int) (*Conv3, error) {
	if !Supported(l) {
		return nil, fmt.Errorf("kern: level %v not supported by this CPU (best %v)", l, best)
	}
	if cin < 1 || cout < 1 || pad < 0 || pad > 2 || h+2*pad < 3 || w+2*pad < 3 {
		return nil, fmt.Errorf("kern: conv3 cin=%d cout=%d %dx%d pad=%d: want positive sizes, pad 0..2 and a padded image of at least 3x3", cin, cout, h, w, pad)
	}
	c := &Conv3{Level: l, Cin: cin, Cout: cout, H: h, W: w, Pad: pad, Ho: h + 2*pad - 2, Wo: w + 2*pad - 2}
	switch l {
	case AVX512:
		c.mr, c.lanes, c.gpt, c.wob = 8, 16, 3, 32
	case AVX2:
		c.mr, c.lanes, c.gpt, c.wob = 4, 8, 2, 8
	default:
		c.mr, c.lanes, c.gpt, c.wob = 4, 8, 2, 8
	}
	c.gpr = (c.Wo + c.lanes - 1) / c.lanes
	c.ngroups = c.Ho * c.gpr
	c.colMask = make([]uint16, c.gpr*3)
	c.lenMask = make([]uint16, c.gpr)
	for gc := 0; gc < c.gpr; gc++ {
		j0 := gc * c.lanes
		n := min(c.lanes, c.Wo-j0)
		c.lenMask[gc] = uint16(1<<n - 1)
		for v := 0; v < 3; v++ {
			var m uint16
			for l := 0; l < n; l++ {
				if col := j0 + l + v - pad; col >= 0 && col < w {
					m |= 1 << l
				}
			}
			c.colMask[gc*3+v] = m
		}
	}
	c.zero = make([]float32, c.Panels()*c.mr)
	return c, nil
}

// GradX returns the convolution that computes this one's input gradient:
// dL/dx = conv(dL/dy, w flipped in space with in and out swapped), with
// padding 2-Pad, so that its output is H x W. Pack its weights with
// PackFlipped from this convolution's w.
func (c *Conv3) GradX() (*Conv3, error) {
	if c.Pad > 2 {
		return nil, fmt.Errorf("kern: conv3 pad %d has no stride-1 input gradient form", c.Pad)
	}
	return NewConv3(c.Level, c.Cout, c.Cin, c.Ho, c.Wo, 2-c.Pad)
}

// Tiles returns the number of pixel tiles of one image.
func (c *Conv3) Tiles() int { return (c.ngroups + c.gpt - 1) / c.gpt }

// Panels returns the number of output-channel panels.
func (c *Conv3) Panels() int { return (c.Cout + c.mr - 1) / c.mr }

// TileWork is the number of multiply-adds of one tile over all panels.
func (c *Conv3) TileWork() int { return c.gpt * c.lanes * c.Cout * c.Cin * 9 }

// PackedLen returns the length of the packed weights.
func (c *Conv3) PackedLen() int { return c.Panels() * c.panelLen() }

func (c *Conv3) panelLen() int { return 9 * c.Cin * c.mr }

// Pack packs w (Cout,Cin,3,3) for Forward: panel p holds, for each tap
// u*3+v and input channel ci, the MR values w[p*MR+r, ci, u, v] (zero past
// Cout).
func (c *Conv3) Pack(dst, w []float32) {
	c.pack(dst, func(o, ci, tap int) float32 { return w[(o*c.Cin+ci)*9+tap] })
}

// PackFlipped packs the weights of an input-gradient convolution (see
// GradX) from the forward convolution's w, which is (Cin,Cout,3,3) in this
// convolution's terms: the weight of output o, input ci and tap (u,v) is
// w[ci, o, 2-u, 2-v].
func (c *Conv3) PackFlipped(dst, w []float32) {
	c.pack(dst, func(o, ci, tap int) float32 { return w[(ci*c.Cout+o)*9+8-tap] })
}

// Packed returns w packed by Pack (or, with flipped, PackFlipped), kept from
// the last call while w holds the same values (they are compared with a
// copy, a fraction of the packing's cost): inference reuses it, training
// repacks after every update. The result is valid until the next call.
func (c *Conv3) Packed(w []float32, flipped bool) []float32 {
	n := c.Cout * c.Cin * 9
	w = w[:n]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.packedFor != nil && c.packedFlip == flipped && equalFloats(c.packedFor, w) {
		return c.packed
	}
	if len(c.packed) != c.PackedLen() {
		c.packed = make([]float32, c.PackedLen())
	}
	if flipped {
		c.PackFlipped(c.packed, w)
	} else {
		c.Pack(c.packed, w)
	}
	c.packedFor, c.packedFlip = append(c.packedFor[:0], w...), flipped
	return c.packed
}

// equalFloats reports whether a and b hold the same bits.
func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a)), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b)))
}

func (c *Conv3) pack(dst []float32, at func(o, ci, tap int) float32) {
	dst = dst[:c.PackedLen()]
	for p := 0; p < c.Panels(); p++ {
		panel := dst[p*c.panelLen() : (p+1)*c.panelLen()]
		for tap := 0; tap < 9; tap++ {
			for ci := 0; ci < c.Cin; ci++ {
				d := panel[(tap*c.Cin+ci)*c.mr : (tap*c.Cin+ci+1)*c.mr]
				for r := range d {
					if o := p*c.mr + r; o < c.Cout {
						d[r] = at(o, ci, tap)
					} else {
						d[r] = 0
					}
				}
			}
		}
	}
}

// fwdArgs is the argument block of the assembly forward kernels; the field
// offsets are fixed (see the .s files and TestArgOffsets).
type fwdArgs struct {
	a      uintptr               // 0: packed weights of the first panel
	cin    int                   // 8
	plane  int                   // 16: bytes per input channel
	b      [maxGroups]uintptr    // 24: &x[0, i, j0] of each group (address arithmetic only)
	c      [maxGroups]uintptr    // 56: &y[o0, i, j0] of each group
	ldc    int                   // 88: bytes per output channel
	tapoff [9]int                // 96: byte offset of tap (u,v): ((u-Pad)*W + v-Pad)*4
	mask   [9][maxGroups]uint16  // 168: AVX-512 load masks per tap and group
	smask  [maxGroups]uint16     // 240: AVX-512 store masks
	bias   uintptr               // 248: bias of the first panel's channels
	relu   int                   // 256: 1 = ReLU
	rows   int                   // 264: channels of the panel to store (<= MR)
	npanel int                   // 272: panels to compute
	mptr   [9][maxGroups]uintptr // 280: AVX2 load masks (addresses of 8 int32)
	sptr   [maxGroups]uintptr    // 568: AVX2 store masks
	ntaps  int                   // 600: taps (9; 1 for the GEMMs of Winograd)
}

// maskBank32[m] is the AVX2 form of the 8-lane mask m.
var maskBank32 = func() [256][8]int32 {
	var b [256][8]int32
	for m := range b {
		for l := 0; l < 8; l++ {
			if m>>l&1 == 1 {
				b[m][l] = -1
			}
		}
	}
	return b
}()

// Forward computes tiles [t0, t1) of y = relu?(conv(x) + bias) for one
// image (bias may be nil). packed comes from Pack (or PackFlipped).
func (c *Conv3) Forward(y, x, packed, bias []float32, relu bool, t0, t1 int) {
	c.ForwardPanels(y, x, packed, bias, relu, t0, t1, 0, c.Panels())
}

// ForwardPanels is Forward restricted to the output-channel panels [p0, p1).
func (c *Conv3) ForwardPanels(y, x, packed, bias []float32, relu bool, t0, t1, p0, p1 int) {
	_ = x[c.Cin*c.H*c.W-1]
	_ = y[c.Cout*c.Ho*c.Wo-1]
	_ = packed[c.PackedLen()-1]
	if bias == nil {
		bias = c.zero
	} else {
		_ = bias[c.Cout-1]
	}
	if c.Level == Generic {
		for t := t0; t < t1; t++ {
			c.forwardTileGo(y, x, packed, bias, relu, t, p0, p1)
		}
		return
	}
	var a fwdArgs
	a.ntaps = 9
	a.cin = c.Cin
	a.plane = c.H * c.W * 4
	a.ldc = c.Ho * c.Wo * 4
	if relu {
		a.relu = 1
	}
	for u := 0; u < 3; u++ {
		for v := 0; v < 3; v++ {
			a.tapoff[u*3+v] = ((u-c.Pad)*c.W + v - c.Pad) * 4
		}
	}
	xa := uintptr(unsafe.Pointer(&x[0]))
	ya := uintptr(unsafe.Pointer(&y[0]))
	// Panels are taken a chunk at a time, all tiles per chunk: a chunk's
	// packed weights (~192 KiB) stay in L2 while the tiles stream past.
	chunk := max(1, (192<<10)/(4*c.panelLen()))
	for pc0 := p0; pc0 < p1; pc0 += chunk {
		pc1 := min(p1, pc0+chunk)
		for t := t0; t < t1; t++ {
			c.tileArgs(&a, xa, ya, t)
			full := min(pc1, c.Cout/c.mr) // panels with MR channels
			if pc0 < full {
				c.runFwd(&a, packed, bias, pc0, full-pc0, c.mr)
			}
			if last := max(pc0, full); last < pc1 {
				c.runFwd(&a, packed, bias, last, 1, c.Cout-last*c.mr)
			}
		}
	}
}

// tileArgs fills the group pointers and masks of tile t.
func (c *Conv3) tileArgs(a *fwdArgs, xa, ya uintptr, t int) {
	for g := 0; g < c.gpt; g++ {
		q := t*c.gpt + g
		if q >= c.ngroups {
			a.b[g], a.c[g], a.smask[g] = xa, ya, 0
			a.sptr[g] = uintptr(unsafe.Pointer(&maskBank32[0]))
			for tap := 0; tap < 9; tap++ {
				a.mask[tap][g] = 0
				a.mptr[tap][g] = uintptr(unsafe.Pointer(&maskBank32[0]))
			}
			continue
		}
		i, gc := q/c.gpr, q%c.gpr
		j0 := gc * c.lanes
		a.b[g] = xa + uintptr((i*c.W+j0)*4)
		a.c[g] = ya + uintptr((i*c.Wo+j0)*4)
		a.smask[g] = c.lenMask[gc]
		a.sptr[g] = uintptr(unsafe.Pointer(&maskBank32[c.lenMask[gc]&0xff]))
		for u := 0; u < 3; u++ {
			rowOK := i+u-c.Pad >= 0 && i+u-c.Pad < c.H
			for v := 0; v < 3; v++ {
				var m uint16
				if rowOK {
					m = c.colMask[gc*3+v]
				}
				a.mask[u*3+v][g] = m
				a.mptr[u*3+v][g] = uintptr(unsafe.Pointer(&maskBank32[m&0xff]))
			}
		}
	}
}

func (c *Conv3) runFwd(a *fwdArgs, packed, bias []float32, p, n, rows int) {
	a.a = uintptr(unsafe.Pointer(&packed[p*c.panelLen()]))
	a.bias = uintptr(unsafe.Pointer(&bias[p*c.mr]))
	a.rows, a.npanel = rows, n
	off := uintptr(p * c.mr * a.ldc)
	for g := 0; g < c.gpt; g++ {
		a.c[g] += off
	}
	switch c.Level {
	case AVX512:
		convFwdAVX512(a)
	case AVX2:
		convFwdAVX2(a)
	}
	for g := 0; g < c.gpt; g++ {
		a.c[g] -= off
	}
}

// forwardTileGo is the plain-Go forward of one tile over panels [p0, p1).
func (c *Conv3) forwardTileGo(y, x, packed, bias []float32, relu bool, t, p0, p1 int) {
	hw := c.H * c.W
	var acc [16]float32
	for g := 0; g < c.gpt; g++ {
		q := t*c.gpt + g
		if q >= c.ngroups {
			continue
		}
		i, gc := q/c.gpr, q%c.gpr
		j0 := gc * c.lanes
		n := min(c.lanes, c.Wo-j0)
		for p := p0; p < p1; p++ {
			panel := packed[p*c.panelLen():]
			for r := 0; r < c.mr && p*c.mr+r < c.Cout; r++ {
				o := p*c.mr + r
				for l := 0; l < n; l++ {
					acc[l] = 0
				}
				for tap := 0; tap < 9; tap++ {
					u, v := tap/3, tap%3
					row := i + u - c.Pad
					if row < 0 || row >= c.H {
						continue
					}
					for ci := 0; ci < c.Cin; ci++ {
						wv := panel[(tap*c.Cin+ci)*c.mr+r]
						src := x[ci*hw+row*c.W:]
						for l := 0; l < n; l++ {
							if col := j0 + l + v - c.Pad; col >= 0 && col < c.W {
								acc[l] += wv * src[col]
							}
						}
					}
				}
				dst := y[o*c.Ho*c.Wo+i*c.Wo+j0:]
				for l := 0; l < n; l++ {
					s := acc[l] + bias[o]
					if relu {
						s = max(s, 0)
					}
					dst[l] = s
				}
			}
		}
	}
}

// gwBlockPix is the number of output pixels (whole rows) GradW handles at a
// time: the transposed output gradient of a block stays in L2.
const gwBlockPix = 256

// gradWArgs is the argument block of the assembly weight-gradient kernels.
type gradWArgs struct {
	x       uintptr // 0: padded input of one channel at the block's first pixel
	xstride int     // 8: bytes per padded row
	gt      uintptr // 16: transposed output gradient, first pixel, first channel of the unit
	gstride int     // 24: bytes per pixel of gt
	rows    int     // 32
	cols    int     // 40
	rowskip int     // 48: bytes from a row's end to the next row in the padded input
	acc     uintptr // 56: 9 x WOB accumulators [tap][channel]
	accum   int     // 64: 1 = add to acc, 0 = overwrite
}

// GradWWork is the number of multiply-adds of GradW per image.
func (c *Conv3) GradWWork() int { return c.Cout * c.Cin * 9 * c.Ho * c.Wo }

// GradW computes dw = dL/dw (Cout,Cin,3,3) from x (nimg,Cin,H,W) and the
// output gradient g (nimg,Cout,Ho,Wo), summed over the images, on up to
// GOMAXPROCS workers.
//
// It is a GEMM with the output channels in the vector lanes: for one input
// channel and WOB output channels (32 with AVX-512, 8 otherwise) the kernel
// keeps 9 x WOB sums in registers and, per output pixel, loads WOB values of
// the transposed output gradient and broadcasts the 9 input values around
// the pixel from a zero-padded copy. Pixels are taken in blocks of whole
// rows; each worker transposes its output channels of a block and pads its
// input channels of it, then runs its units over the block. Every sum runs
// over the blocks in the same order whatever the split, so dw is
// bit-identical for any number of workers.
func (c *Conv3) GradW(dw, x, g []float32, nimg int) {
	hw, ohw := c.H*c.W, c.Ho*c.Wo
	_ = x[nimg*c.Cin*hw-1]
	_ = g[nimg*c.Cout*ohw-1]
	_ = dw[c.Cout*c.Cin*9-1]
	wob := c.wob
	nob := (c.Cout + wob - 1) / wob
	acc := c.take(c.Cin * nob * 9 * wob)
	defer c.give(acc)
	rows := max(1, min(c.Ho, gwBlockPix/c.Wo))
	nblk := (c.Ho + rows - 1) / rows
	work := c.GradWWork() * nimg
	// Split the output-channel blocks, or the input channels when there are
	// fewer blocks than workers.
	byOB := nob >= workpool.Workers(nob*c.Cin, work/(nob*c.Cin))
	parts := c.Cin
	if byOB {
		parts = nob
	}
	workpool.Chunks(parts, work/parts, func(lo, hi int) {
		ob0, ob1, c0, c1 := lo, hi, 0, c.Cin
		if !byOB {
			ob0, ob1, c0, c1 = 0, nob, lo, hi
		}
		wp := c.W + 2*c.Pad
		ncols := (ob1 - ob0) * wob
		band := c.take((c1 - c0) * (rows + 2) * wp)
		gt := c.take(rows * c.Wo * ncols)
		defer c.give(band, gt)
		first := true
		for b := 0; b < nimg; b++ {
			for blk := 0; blk < nblk; blk++ {
				i0, i1 := blk*rows, min(c.Ho, (blk+1)*rows)
				npix := (i1 - i0) * c.Wo
				c.padBand(band, x[(b*c.Cin+c0)*hw:], c1-c0, i0, i1, wp, (rows+2)*wp)
				transposeBlock(c.Level, gt, g[(b*c.Cout+ob0*wob)*ohw+i0*c.Wo:], min(c.Cout, ob1*wob)-ob0*wob, ncols, npix, ohw)
				for ci := c0; ci < c1; ci++ {
					xb := band[(ci-c0)*(rows+2)*wp:]
					for ob := ob0; ob < ob1; ob++ {
						a := acc[((ci*nob)+ob)*9*wob : ((ci*nob)+ob+1)*9*wob]
						c.gradWTile(a, xb, gt[(ob-ob0)*wob:], wp, ncols, i1-i0, first)
					}
				}
				first = false
			}
		}
	})
	for o := 0; o < c.Cout; o++ {
		ob, oo := o/wob, o%wob
		for ci := 0; ci < c.Cin; ci++ {
			a := acc[((ci*nob)+ob)*9*wob:]
			d := dw[(o*c.Cin+ci)*9 : (o*c.Cin+ci+1)*9]
			for tap := range d {
				d[tap] = a[tap*wob+oo]
			}
		}
	}
}

// padBand copies rows i0-Pad .. i1+2-Pad of n channels of x (H,W planes)
// into band, channel ci at ci*stride as rows of wp values, with zeros
// outside the image.
func (c *Conv3) padBand(band, x []float32, n, i0, i1, wp, stride int) {
	hw := c.H * c.W
	for ci := 0; ci < n; ci++ {
		plane := x[ci*hw : (ci+1)*hw]
		for k := 0; k < i1-i0+2; k++ {
			row := band[ci*stride+k*wp : ci*stride+(k+1)*wp]
			r := i0 + k - c.Pad
			if r < 0 || r >= c.H {
				clear(row)
				continue
			}
			clear(row[:c.Pad])
			copy(row[c.Pad:c.Pad+c.W], plane[r*c.W:(r+1)*c.W])
			clear(row[c.Pad+c.W:])
		}
	}
}

// transposeBlock writes gt[p*ncols+o] = g[o*ohw+p] for p < npix, o < n and
// zero for n <= o < ncols.
func transposeBlock(l Level, gt, g []float32, n, ncols, npix, ohw int) {
	o := 0
	if l == AVX512 {
		for ; o+16 <= n; o += 16 {
			p := 0
			for ; p+16 <= npix; p += 16 {
				transpose16AVX512(&g[o*ohw+p], ohw*4, &gt[p*ncols+o], ncols*4)
			}
			for ; p < npix; p++ {
				for k := o; k < o+16; k++ {
					gt[p*ncols+k] = g[k*ohw+p]
				}
			}
		}
	}
	for ; o < n; o++ {
		src := g[o*ohw : o*ohw+npix]
		for p, v := range src {
			gt[p*ncols+o] = v
		}
	}
	if n < ncols {
		for p := 0; p < npix; p++ {
			clear(gt[p*ncols+n : (p+1)*ncols])
		}
	}
}

// gradWTile adds (or, when first, writes) to acc[tap*WOB+o] the sum over
// the block's pixels p = (i, j) of xb[(i+u)*wp + j+v] * gt[p*ncols+o]. The
// block is summed from zero first, which keeps the rounding error of long
// sums (a VGG layer sums 400,000 products) near that of a pairwise sum.
func (c *Conv3) gradWTile(acc, xb, gt []float32, wp, ncols, rows int, first bool) {
	if c.Level == Generic {
		var sum [9 * 32]float32
		for i := 0; i < rows; i++ {
			for j := 0; j < c.Wo; j++ {
				gp := gt[(i*c.Wo+j)*ncols : (i*c.Wo+j)*ncols+c.wob]
				for tap := 0; tap < 9; tap++ {
					xv := xb[(i+tap/3)*wp+j+tap%3]
					a := sum[tap*c.wob : (tap+1)*c.wob]
					for o, gv := range gp {
						a[o] += xv * gv
					}
				}
			}
		}
		for i, v := range sum[:9*c.wob] {
			if first {
				acc[i] = v
			} else {
				acc[i] += v
			}
		}
		return
	}
	_ = xb[(rows+1)*wp+c.Wo+1]
	_ = gt[((rows-1)*c.Wo+c.Wo-1)*ncols+c.wob-1]
	a := gradWArgs{
		x:       uintptr(unsafe.Pointer(&xb[0])),
		xstride: wp * 4,
		gt:      uintptr(unsafe.Pointer(&gt[0])),
		gstride: ncols * 4,
		rows:    rows,
		cols:    c.Wo,
		rowskip: (wp - c.Wo) * 4,
		acc:     uintptr(unsafe.Pointer(&acc[0])),
	}
	if !first {
		a.accum = 1
	}
	if c.Level == AVX512 {
		convGradWAVX512(&a)
	} else {
		convGradWAVX2(&a)
	}
}

// take returns a workspace of n elements (stale contents) from c's free
// list; give returns workspaces to it.
func (c *Conv3) take(n int) []float32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	best := -1
	for i, b := range c.free {
		if cap(b) >= n && (best < 0 || cap(b) < cap(c.free[best])) {
			best = i
		}
	}
	if best < 0 {
		return make([]float32, n)
	}
	b := c.free[best]
	c.free[best] = c.free[len(c.free)-1]
	c.free = c.free[:len(c.free)-1]
	return b[:n]
}

func (c *Conv3) give(bufs ...[]float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.free = append(c.free, bufs...)
}
