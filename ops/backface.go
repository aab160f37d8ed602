package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BackfaceMask is the self-occlusion mask of Bas et al. 2017, Sec. 3.2:
// x (B,3,N) are the rotated 3D vertices (model coordinates: x right, y up,
// +z towards the viewer, orthographic camera; any length unit) of a
// rows x cols geometry image (N = rows*cols, vertex k = row*cols + col,
// row 0 = top of the face, col growing with x). The result (B,N) is 1 where
// the vertex normal has a positive z component (faces the viewer) and 0
// otherwise.
//
// The grid is triangulated by bfm.GridTriangles(rows, cols), the
// triangulation the meshes of stn3d share: it is mirror-symmetric about the
// vertical mid-line, so the mask of a mirrored pose (every vertex k's
// (x, y, z) moved to mirror(k) as (-x, y, z)) is the mirrored mask, up to
// rounding where a normal's z is within rounding of 0. Quad (r, c) with
// corners a=(r,c), b=(r,c+1), d=(r+1,c), e=(r+1,c+1) is cut as
// bfm.GridQuadSplit(cols, c) says: along a-e on the left half, along b-d on
// the right half, and, in the middle quad column of an even-width grid,
// into a fan of four triangles around the centre m = (a+b+d+e)/4 (m is a
// vertex of the triangulation but not of the output). Every triangle
// (i,j,k) winds counter-clockwise on a frontal surface, so its normal
// (p_j-p_i)x(p_k-p_i) points to +z there; its z component is the doubled
// signed area (x_j-x_i)(y_k-y_i) - (y_j-y_i)(x_k-x_i) of the triangle's
// projection, which depends on x and y alone. The vertex normal is the sum
// of the (area-weighted, unnormalised) normals of the triangles that use
// the vertex. Sums are taken in float64 with each product rounded (no
// fused multiply-add), in the order of the CUDA kernel
// (kernels/backface.cu), so both take the same decisions. The mask is a
// constant for differentiation: DiffWRT is {false}.
func BackfaceMask(x *gorgonia.Node, rows, cols int) (*gorgonia.Node, error) {
	const name = "ops.BackfaceMask"
	ax := arg{"x", x}
	if _, err := checkArgs(name, ax); err != nil {
		return nil, err
	}
	if err := checkDims(name, ax, 3, "(B,3,N)"); err != nil {
		return nil, err
	}
	if rows < 2 || cols < 2 {
		return nil, fmt.Errorf("%s: grid %d x %d has no triangles; want rows, cols >= 2", name, rows, cols)
	}
	s := x.Shape()
	if s[1] != 3 || s[2] != rows*cols {
		return nil, fmt.Errorf("%s: x must have shape (B,3,%d) for a %d x %d grid, got %s", name, rows*cols, rows, cols, shapeString(s))
	}
	n, err := gorgonia.ApplyOp(backfaceOp{rows: rows, cols: cols}, x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// quadCornerNZ returns, for the corners a, b, d, e (bfm.CornerA..CornerE)
// of the quad with top-left vertex (r, c), the sum of the z components of
// the normals of the quad's triangles (split s = bfm.GridQuadSplit(cols, c),
// triangles s.Triangles()) that use the corner, added in triangle order.
// TestBackfaceMatchesTriangulation checks it against bfm.GridTriangles.
func quadCornerNZ[T float](px, py []T, cols, r, c int, s bfm.QuadSplit) (nz [4]float64) {
	a := r*cols + c
	b, d := a+1, a+cols
	e := d + 1
	xa, ya := float64(px[a]), float64(py[a])
	xb, yb := float64(px[b]), float64(py[b])
	xd, yd := float64(px[d]), float64(py[d])
	xe, ye := float64(px[e]), float64(py[e])
	switch s {
	case bfm.SplitAE: // (a,d,e), (a,e,b)
		t1, t2 := area2(xa, ya, xd, yd, xe, ye), area2(xa, ya, xe, ye, xb, yb)
		return [4]float64{t1 + t2, t2, t1, t1 + t2}
	case bfm.SplitBD: // (a,d,b), (b,d,e)
		t1, t2 := area2(xa, ya, xd, yd, xb, yb), area2(xb, yb, xd, yd, xe, ye)
		return [4]float64{t1, t1 + t2, t1 + t2, t2}
	}
	// bfm.SplitFan: (m,a,d), (m,d,e), (m,e,b), (m,b,a), m the corners' mean.
	xm, ym := (xa+xb+xd+xe)/4, (ya+yb+yd+ye)/4
	f1, f2 := area2(xm, ym, xa, ya, xd, yd), area2(xm, ym, xd, yd, xe, ye)
	f3, f4 := area2(xm, ym, xe, ye, xb, yb), area2(xm, ym, xb, yb, xa, ya)
	return [4]float64{f1 + f4, f3 + f4, f1 + f2, f2 + f3}
}

// area2 returns the z component (x_j-x_i)(y_k-y_i) - (y_j-y_i)(x_k-x_i) of
// the normal (p_j-p_i)x(p_k-p_i) of triangle (i, j, k): its doubled signed
// area seen from +z. float64(...) rounds each product, so that no compiler
// fuses the difference into a multiply-add (the CUDA kernels are built with
// -fmad=false).
func area2(xi, yi, xj, yj, xk, yk float64) float64 {
	return float64((xj-xi)*(yk-yi)) - float64((yj-yi)*(xk-xi))
}

func backfaceKernel[T float](out, x []T, b, rows, cols int) {
	n := rows * cols
	workpool.Chunks(b*rows, 60*cols, func(lo, hi int) {
		// The quads of a row are the "below" quads of its vertex row and
		// the "above" quads of the next: computed once, carried over in
		// quads (one row of them; on the stack for grids up to 256 wide).
		var stack [2][256][4]float64
		above, below := stack[0][:], stack[1][:]
		if cols-1 > len(above) {
			above, below = make([][4]float64, cols-1), make([][4]float64, cols-1)
		}
		above, below = above[:max(cols-1, 0)], below[:max(cols-1, 0)]
		for u := lo; u < hi; u++ {
			bi, r := u/rows, u%rows
			px := x[bi*3*n : bi*3*n+n]
			py := x[bi*3*n+n : bi*3*n+2*n]
			o := out[bi*n+r*cols : bi*n+(r+1)*cols]
			// Quads (r-1, c): carried from the last row of this chunk, or
			// computed (first row of the chunk or of an image: r-1 < 0 has
			// none, all zero).
			switch {
			case r == 0:
				clear(above)
			case u == lo:
				for c := range above {
					above[c] = quadCornerNZ(px, py, cols, r-1, c, bfm.GridQuadSplit(cols, c))
				}
			default:
				above, below = below, above
			}
			if r < rows-1 {
				for c := range below {
					below[c] = quadCornerNZ(px, py, cols, r, c, bfm.GridQuadSplit(cols, c))
				}
			} else {
				clear(below)
			}
			// Vertex (r, c) is e of quad (r-1,c-1), d of quad (r-1,c), b of
			// quad (r,c-1) and a of quad (r,c); quads outside the grid
			// contribute 0. Summed in this order, as before the carry.
			for c := range o {
				var upPrev, up, dnPrev, dn [4]float64
				if c > 0 {
					upPrev, dnPrev = above[c-1], below[c-1]
				}
				if c < cols-1 {
					up, dn = above[c], below[c]
				}
				nz := upPrev[bfm.CornerE] + up[bfm.CornerD] + dnPrev[bfm.CornerB] + dn[bfm.CornerA]
				if nz > 0 {
					o[c] = 1
				} else {
					o[c] = 0
				}
			}
		}
	})
}

// backfaceOp: x (B,3,rows*cols) -> mask (B,rows*cols).
type backfaceOp struct {
	plain
	rows, cols int
}

func (op backfaceOp) Arity() int    { return 1 }
func (op backfaceOp) Type() hm.Type { return fnType(2, 3) }
func (op backfaceOp) String() string {
	return fmt.Sprintf("BackfaceMask{rows=%d,cols=%d}", op.rows, op.cols)
}
func (op backfaceOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op backfaceOp) Hashcode() uint32      { return hashOf(op) }
func (op backfaceOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op backfaceOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op backfaceOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op backfaceOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) != 3 || s[1] != 3 || s[2] != op.rows*op.cols {
		return nil, shapeErr(op, fmt.Sprintf("want x (B,3,%d)", op.rows*op.cols), in)
	}
	return tensor.Shape{s[0], s[2]}, nil
}

func (op backfaceOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b := in[0].Shape()[0]
	return dispatch(out,
		func() { backfaceKernel(data[float32](out), data[float32](in[0]), b, op.rows, op.cols) },
		func() { backfaceKernel(data[float64](out), data[float64](in[0]), b, op.rows, op.cols) })
}

// DiffWRT reports that the mask is a constant: no gradient flows to x.
func (op backfaceOp) DiffWRT(inputs int) []bool { return []bool{false} }

// SymDiff returns nil: the mask passes no gradient.
func (op backfaceOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, nil
}
