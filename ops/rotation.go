package ops

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AxisAngleToRotation converts axis-angle vectors r (B,3), in radians, to
// rotation matrices (B,3,3), row-major, by Rodrigues' formula (Bas et al.
// 2017, Eq. 2):
//
//	R = cos th I + sin th [k]x + (1 - cos th) k k^T,   th = |r|, k = r/th,
//
// evaluated as R = I + A(th) K + B(th) K^2 with K = [r]x,
// A = sin th / th and B = (1 - cos th) / th^2. Its exact derivative is
//
//	dR/dr_i = A [e_i]x + B ([e_i]x K + K [e_i]x) + r_i (C K + D K^2),
//
// with C = A'(th)/th and D = B'(th)/th. Below th = 0.1 the four
// coefficients come from their Taylor series, so value and gradient are
// finite and accurate for tiny angles and exact at r = 0 (R = I,
// dR/dr_i = [e_i]x). Arithmetic is done in float64 for both dtypes.
func AxisAngleToRotation(r *gorgonia.Node) (*gorgonia.Node, error) {
	const name = "ops.AxisAngleToRotation"
	ar := arg{"r", r}
	if _, err := checkArgs(name, ar); err != nil {
		return nil, err
	}
	if err := checkDims(name, ar, 2, "(B,3)"); err != nil {
		return nil, err
	}
	if r.Shape()[1] != 3 {
		return nil, fmt.Errorf("%s: r must have shape (B,3), got %s", name, shapeString(r.Shape()))
	}
	n, err := gorgonia.ApplyOp(rotationOp{}, r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// rodriguesCoeffs returns A, B, C, D (see AxisAngleToRotation) for th^2.
func rodriguesCoeffs(th2 float64) (a, b, c, d float64) {
	if th2 < 0.01 {
		// Taylor series in th^2; the first omitted terms are below 1e-17.
		t2, t4, t6, t8 := th2, th2*th2, th2*th2*th2, th2*th2*th2*th2
		a = 1 - t2/6 + t4/120 - t6/5040 + t8/362880
		b = 0.5 - t2/24 + t4/720 - t6/40320 + t8/3628800
		c = -1.0/3 + t2/30 - t4/840 + t6/45360 - t8/3991680
		d = -1.0/12 + t2/180 - t4/6720 + t6/453600 - t8/47900160
		return a, b, c, d
	}
	th := math.Sqrt(th2)
	s, co := math.Sincos(th)
	h := math.Sin(th / 2)
	omc := 2 * h * h // 1 - cos th without cancellation
	a = s / th
	b = omc / th2
	c = (th*co - s) / (th2 * th)
	d = (th*s - 2*omc) / (th2 * th2)
	return a, b, c, d
}

// skew returns [v]x row-major.
func skew(v0, v1, v2 float64) [9]float64 {
	return [9]float64{0, -v2, v1, v2, 0, -v0, -v1, v0, 0}
}

func mul3(p, q *[9]float64) (m [9]float64) {
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			m[3*i+j] = p[3*i]*q[j] + p[3*i+1]*q[3+j] + p[3*i+2]*q[6+j]
		}
	}
	return m
}

func dot9(p, q *[9]float64) (s float64) {
	for i := range p {
		s += p[i] * q[i]
	}
	return s
}

func rotationKernel[T float](out, r []T, b int) {
	for bi := 0; bi < b; bi++ {
		r0, r1, r2 := float64(r[3*bi]), float64(r[3*bi+1]), float64(r[3*bi+2])
		a, bb, _, _ := rodriguesCoeffs(r0*r0 + r1*r1 + r2*r2)
		k := skew(r0, r1, r2)
		k2 := mul3(&k, &k)
		o := out[9*bi : 9*bi+9]
		for i := range o {
			v := a*k[i] + bb*k2[i]
			if i%4 == 0 {
				v++
			}
			o[i] = T(v)
		}
	}
}

func rotationGradKernel[T float](out, r, g []T, b int) {
	for bi := 0; bi < b; bi++ {
		rv := [3]float64{float64(r[3*bi]), float64(r[3*bi+1]), float64(r[3*bi+2])}
		a, bb, c, d := rodriguesCoeffs(rv[0]*rv[0] + rv[1]*rv[1] + rv[2]*rv[2])
		var gm [9]float64
		for i := range gm {
			gm[i] = float64(g[9*bi+i])
		}
		k := skew(rv[0], rv[1], rv[2])
		k2 := mul3(&k, &k)
		radial := c*dot9(&gm, &k) + d*dot9(&gm, &k2)
		for i := 0; i < 3; i++ {
			var e [9]float64
			switch i {
			case 0:
				e = skew(1, 0, 0)
			case 1:
				e = skew(0, 1, 0)
			default:
				e = skew(0, 0, 1)
			}
			ek, ke := mul3(&e, &k), mul3(&k, &e)
			var sym float64
			for j := range gm {
				sym += gm[j] * (ek[j] + ke[j])
			}
			out[3*bi+i] = T(a*dot9(&gm, &e) + bb*sym + rv[i]*radial)
		}
	}
}

// rotationOp: r (B,3) -> R (B,3,3).
type rotationOp struct{ plain }

func (op rotationOp) Arity() int            { return 1 }
func (op rotationOp) Type() hm.Type         { return fnType(3, 2) }
func (op rotationOp) String() string        { return "AxisAngleToRotation" }
func (op rotationOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op rotationOp) Hashcode() uint32      { return hashOf(op) }
func (op rotationOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op rotationOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op rotationOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op rotationOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	s := in[0]
	if len(s) != 2 || s[1] != 3 {
		return nil, shapeErr(op, "want r (B,3)", in)
	}
	return tensor.Shape{s[0], 3, 3}, nil
}

func (op rotationOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b := in[0].Shape()[0]
	return dispatch(out,
		func() { rotationKernel(data[float32](out), data[float32](in[0]), b) },
		func() { rotationKernel(data[float64](out), data[float64](in[0]), b) })
}

func (op rotationOp) DiffWRT(inputs int) []bool { return []bool{true} }

func (op rotationOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("%v: SymDiff got %d inputs, want 1", op, len(inputs))
	}
	g, err := gorgonia.ApplyOp(rotationGradOp{}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("%v: gradient: %w", op, err)
	}
	return gorgonia.Nodes{g}, nil
}

// rotationGradOp: (r (B,3), G (B,3,3)) -> dL/dr (B,3).
type rotationGradOp struct{ plain }

func (op rotationGradOp) Arity() int            { return 2 }
func (op rotationGradOp) Type() hm.Type         { return fnType(2, 2, 3) }
func (op rotationGradOp) String() string        { return "AxisAngleToRotationGrad" }
func (op rotationGradOp) WriteHash(h hash.Hash) { writeString(h, op.String()) }
func (op rotationGradOp) Hashcode() uint32      { return hashOf(op) }
func (op rotationGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return inferShape(op, in)
}
func (op rotationGradOp) Do(in ...gorgonia.Value) (gorgonia.Value, error) { return run(op, nil, in) }
func (op rotationGradOp) UsePreallocDo(p gorgonia.Value, in ...gorgonia.Value) (gorgonia.Value, error) {
	return run(op, p, in)
}

func (op rotationGradOp) outShape(in []tensor.Shape) (tensor.Shape, error) {
	rs, gs := in[0], in[1]
	if len(rs) != 2 || rs[1] != 3 || !gs.Eq(tensor.Shape{rs[0], 3, 3}) {
		return nil, shapeErr(op, "want r (B,3) and grad (B,3,3)", in)
	}
	return rs.Clone(), nil
}

func (op rotationGradOp) exec(out *tensor.Dense, in []*tensor.Dense) error {
	b := in[0].Shape()[0]
	return dispatch(out,
		func() { rotationGradKernel(data[float32](out), data[float32](in[0]), data[float32](in[1]), b) },
		func() { rotationGradKernel(data[float64](out), data[float64](in[0]), data[float64](in[1]), b) })
}
