package kern

import (
	"fmt"
	"unsafe"
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
	wmr            int // GradW: output channels per unit
	gpr            int // groups per output row
	ngroups        int // Ho*gpr

	// colMask[gc*3+v]: lanes of group column gc whose input column for tap
	// column v lies inside the image (and inside the group).
	colMask []uint16
	// lenMask[gc]: lanes of group column gc inside the output row.
	lenMask []uint16
	// wmasks is GradW's per-group mask table for the assembly kernels.
	wmasks16 []uint16
	wmasks32 []int32
	zero     []float32
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
		c.mr, c.lanes, c.gpt, c.wmr = 8, 16, 3, 8
	case AVX2:
		c.mr, c.lanes, c.gpt, c.wmr = 4, 8, 2, 2
	default:
		c.mr, c.lanes, c.gpt, c.wmr = 4, 8, 2, 4
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
	c.wmasks16 = make([]uint16, 4*c.gpr)
	c.wmasks32 = make([]int32, 4*c.gpr*8)
	for gc := 0; gc < c.gpr; gc++ {
		ms := [4]uint16{c.lenMask[gc], c.colMask[gc*3], c.colMask[gc*3+1], c.colMask[gc*3+2]}
		copy(c.wmasks16[4*gc:], ms[:])
		for k, m := range ms {
			for l := 0; l < 8; l++ {
				if m>>l&1 == 1 {
					c.wmasks32[(4*gc+k)*8+l] = -1
				}
			}
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
	full := min(p1, c.Cout/c.mr) // panels with MR channels
	for t := t0; t < t1; t++ {
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
		if p0 < full {
			c.runFwd(&a, packed, bias, p0, full-p0, c.mr)
		}
		if last := max(p0, full); last < p1 {
			c.runFwd(&a, packed, bias, last, 1, c.Cout-last*c.mr)
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

// GradWUnits returns the number of work units of GradW: blocks of output
// channels x input channels x tap rows.
func (c *Conv3) GradWUnits() int { return (c.Cout + c.wmr - 1) / c.wmr * c.Cin * 3 }

// GradWUnitWork is the number of multiply-adds of one GradW unit per image.
func (c *Conv3) GradWUnitWork() int { return c.wmr * 3 * c.Ho * c.gpr * c.lanes }

// gradWArgs is the argument block of the assembly weight-gradient kernels.
type gradWArgs struct {
	g       uintptr // 0: &G[0, o0, i0, 0]
	x       uintptr // 8: &x[0, ci, i0+u-Pad, -Pad] (address arithmetic only)
	hw      int     // 16: bytes per G channel
	gimg    int     // 24: bytes per G image
	ximg    int     // 32: bytes per x image
	nimg    int     // 40
	rows    int     // 48: output rows
	grow    int     // 56: bytes per G row
	xrow    int     // 64: bytes per x row
	ngrp    int     // 72: groups per row
	masks   uintptr // 80: per group 4 masks (G lanes, x lanes of tap columns 0, 1, 2)
	out     uintptr // 88: &dw[o0, ci, u, 0]
	ostride int     // 96: bytes per dw output channel
	orows   int     // 104: output channels of the unit
}

// GradW computes units [u0, u1) of dw = dL/dw (Cout,Cin,3,3) from x
// (nimg,Cin,H,W) and the output gradient g (nimg,Cout,Ho,Wo), summing over
// the images. Unit q covers output channels [ob*WMR, ob*WMR+WMR) for ob =
// q/(Cin*3), input channel (q/3)%Cin and tap row q%3, and overwrites those
// entries of dw. The sum over pixels is in a fixed order, so the result does
// not depend on how units are shared out.
func (c *Conv3) GradW(dw, x, g []float32, nimg, u0, u1 int) {
	hw, ohw := c.H*c.W, c.Ho*c.Wo
	_ = x[nimg*c.Cin*hw-1]
	_ = g[nimg*c.Cout*ohw-1]
	_ = dw[c.Cout*c.Cin*9-1]
	for q := u0; q < u1; q++ {
		ob, ci, u := q/(c.Cin*3), q/3%c.Cin, q%3
		o0 := ob * c.wmr
		rows := min(c.wmr, c.Cout-o0)
		i0, i1 := max(0, c.Pad-u), min(c.Ho, c.H+c.Pad-u)
		if i0 >= i1 {
			for r := 0; r < rows; r++ {
				d := dw[((o0+r)*c.Cin+ci)*9+u*3:]
				d[0], d[1], d[2] = 0, 0, 0
			}
			continue
		}
		if c.Level == Generic || rows < c.wmr {
			c.gradWUnitGo(dw, x, g, nimg, o0, rows, ci, u, i0, i1)
			continue
		}
		a := gradWArgs{
			g:       uintptr(unsafe.Pointer(&g[0])) + uintptr((o0*ohw+i0*c.Wo)*4),
			x:       uintptr(unsafe.Pointer(&x[0])) + uintptr((ci*hw+(i0+u-c.Pad)*c.W)*4) - uintptr(c.Pad*4),
			hw:      ohw * 4,
			gimg:    c.Cout * ohw * 4,
			ximg:    c.Cin * hw * 4,
			nimg:    nimg,
			rows:    i1 - i0,
			grow:    c.Wo * 4,
			xrow:    c.W * 4,
			ngrp:    c.gpr,
			out:     uintptr(unsafe.Pointer(&dw[(o0*c.Cin+ci)*9+u*3])),
			ostride: c.Cin * 9 * 4,
			orows:   rows,
		}
		switch c.Level {
		case AVX512:
			a.masks = uintptr(unsafe.Pointer(&c.wmasks16[0]))
			convGradWAVX512(&a)
		case AVX2:
			a.masks = uintptr(unsafe.Pointer(&c.wmasks32[0]))
			convGradWAVX2(&a)
		}
	}
}

// gradWUnitGo is the plain-Go GradW of one unit.
func (c *Conv3) gradWUnitGo(dw, x, g []float32, nimg, o0, rows, ci, u, i0, i1 int) {
	hw, ohw := c.H*c.W, c.Ho*c.Wo
	for r := 0; r < rows; r++ {
		var s [3]float32
		for b := 0; b < nimg; b++ {
			gp := g[(b*c.Cout+o0+r)*ohw:]
			xp := x[(b*c.Cin+ci)*hw:]
			for i := i0; i < i1; i++ {
				xr := xp[(i+u-c.Pad)*c.W : (i+u-c.Pad+1)*c.W]
				gr := gp[i*c.Wo : (i+1)*c.Wo]
				for v := 0; v < 3; v++ {
					var acc float32
					for j, gv := range gr {
						if col := j + v - c.Pad; col >= 0 && col < c.W {
							acc += gv * xr[col]
						}
					}
					s[v] += acc
				}
			}
		}
		d := dw[((o0+r)*c.Cin+ci)*9+u*3:]
		d[0], d[1], d[2] = s[0], s[1], s[2]
	}
}
