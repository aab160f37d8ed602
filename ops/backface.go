package ops

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// BackfaceMask is the self-occlusion mask of Bas et al. 2017, Sec. 3.2:
// x (B,3,N) are the rotated 3D vertices (model coordinates: x right, y up,
// +z towards the viewer, orthographic camera) of a rows x cols geometry
// image (N = rows*cols, vertex k = row*cols + col, row 0 = top of the face,
// col growing with x). The result (B,N) is 1 where the vertex normal has a
// positive z component (faces the viewer) and 0 otherwise.
//
// The grid is triangulated per quad a=(r,c), b=(r,c+1), d=(r+1,c),
// e=(r+1,c+1) into (a,d,b) and (b,d,e), wound so that a frontal surface
// (row 0 at the top, y up) has normal (d-a)x(b-a) = +z. The vertex normal is
// the sum of the (area-weighted, unnormalised) normals of its up to six
// adjacent triangles; only its z component is needed, which depends on x, y
// alone. The mask is a constant for differentiation: DiffWRT is {false}.
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

// quadNZ returns the z components of the normals of the two triangles of
// the quad with top-left vertex (r, c).
func quadNZ[T float](px, py []T, cols, r, c int) (t1, t2 float64) {
	a := r*cols + c
	b, d := a+1, a+cols
	e := d + 1
	xa, ya := float64(px[a]), float64(py[a])
	xb, yb := float64(px[b]), float64(py[b])
	xd, yd := float64(px[d]), float64(py[d])
	xe, ye := float64(px[e]), float64(py[e])
	t1 = (xd-xa)*(yb-ya) - (yd-ya)*(xb-xa)
	t2 = (xd-xb)*(ye-yb) - (yd-yb)*(xe-xb)
	return t1, t2
}

func backfaceKernel[T float](out, x []T, b, rows, cols int) {
	n := rows * cols
	parallelFor(b*rows, 30*cols, func(lo, hi int) {
		for u := lo; u < hi; u++ {
			bi, r := u/rows, u%rows
			px := x[bi*3*n : bi*3*n+n]
			py := x[bi*3*n+n : bi*3*n+2*n]
			o := out[bi*n+r*cols : bi*n+(r+1)*cols]
			// Sliding window over the quads above (row r-1) and below (row
			// r) of the vertex: quad c-1 is carried over from the last step.
			// Triangle 1 of quad (r-1, c-1) does not touch the vertex.
			var up2, dn1, dn2 float64 // quads (r-1, c-1) and (r, c-1)
			for c := range o {
				var cu1, cu2, cd1, cd2 float64 // quads (r-1, c) and (r, c)
				if c < cols-1 {
					if r > 0 {
						cu1, cu2 = quadNZ(px, py, cols, r-1, c)
					}
					if r < rows-1 {
						cd1, cd2 = quadNZ(px, py, cols, r, c)
					}
				}
				// Vertex (r, c) is e of quad (r-1,c-1), d of quad (r-1,c),
				// b of quad (r,c-1) and a of quad (r,c); the quads outside
				// the grid contribute 0.
				nz := up2 + cu1 + cu2 + dn1 + dn2 + cd1
				if nz > 0 {
					o[c] = 1
				} else {
					o[c] = 0
				}
				up2, dn1, dn2 = cu2, cd1, cd2
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
