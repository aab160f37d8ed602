package graph

import (
	"fmt"
	"math"
	"sort"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Theta layout, defined by the STN: theta (B, 6+D) = [r(3), t(2), log s(1),
// alpha(D)] (Sec. 3.1). Any localiser that feeds BuildSTN regresses it.
const (
	ThetaRot    = 0 // r_x, r_y, r_z: axis-angle rotation, radians
	ThetaTrans  = 3 // t_x, t_y: translation, pixels
	ThetaScale  = 5 // log s: s = ScaleBase^(log s), pixels per model unit
	ThetaShape  = 6 // alpha_0..alpha_{D-1}: shape weights, N(0, I)
	ThetaFixedN = 6
)

// STNOptions configures BuildSTN.
type STNOptions struct {
	// ScaleBase b of s = b^(log s): 0 selects math.E (the paper); 0.99 is
	// the reference code's choice.
	ScaleBase float64
	// TrainableBasis makes the grid model's mean and basis learnable nodes
	// ("stn.mean", "stn.basis", listed in STN.Params) instead of fixed
	// weights of the 3DMM layer.
	TrainableBasis bool
}

// Scale convention: s is in pixels per model unit and BuildSTN adds no
// fixed unit factor. How big the model appears at log s = 0 is chosen by
// the localiser's initial log-scale bias (LocaliserOptions.InitScale,
// computed with InitScaleFor from the model's extent and the input size).

// STN holds the nodes of a 3DMM spatial transformer built in a caller's
// graph. Shapes use B = batch, C = image channels, N = Rows*Cols grid
// vertices, D = shape components.
type STN struct {
	Rows, Cols, D int

	// Alpha (B,D) shape weights and Scale (B) s = b^(log s), pixels per unit.
	Alpha, Scale *gorgonia.Node
	// Rotation (B,3,3), row-major, from the axis-angle r (Eq. 2).
	Rotation *gorgonia.Node
	// Points3D (B,3,N): the shape R (P alpha + mu), model units, before
	// projection (Eqs. 1, 3).
	Points3D *gorgonia.Node
	// Points2D (B,2,N): image positions in pixels (x right, y down, (0,0)
	// the centre of the top-left pixel): (t_x + s X', t_y - s Y') (Eqs. 3-5).
	Points2D *gorgonia.Node
	// Texture (B,C,N): the image bilinearly sampled at Points2D, zero
	// outside the image.
	Texture *gorgonia.Node
	// Mask (B,N): 1 where the vertex faces the viewer (backface test on
	// Points3D) and the grid vertex is valid (GridModel.Valid); a constant
	// for differentiation.
	Mask *gorgonia.Node
	// Output (B,C,Rows,Cols): Texture * Mask as an image, texel
	// (row, col) = vertex row*Cols + col.
	Output *gorgonia.Node

	// Landmarks maps each scheme of the grid model to (B,2,L') pixel
	// positions of its landmark vertices. Landmarks whose grid vertex is -1
	// (missing from the model) are excluded, never replaced by a nearby
	// vertex: L' <= L = scheme size and LandmarkIndex[scheme] lists, for
	// each of the L' columns, the landmark's 0-based position in the
	// scheme; LandmarkVertex[scheme] the grid vertex used.
	Landmarks      map[string]*gorgonia.Node
	LandmarkIndex  map[string][]int
	LandmarkVertex map[string][]int

	// Mean (3N) and Basis (D,3N) in planar layout (all x, then y, then z).
	Mean, Basis *gorgonia.Node
	// Params lists the STN's own learnable nodes (nil unless TrainableBasis).
	Params []*gorgonia.Node
}

// planar converts x,y,z-interleaved vertices to planar order.
func planar(inter []float64, dst []float64) {
	n := len(inter) / 3
	for v := 0; v < n; v++ {
		dst[v] = inter[3*v]
		dst[n+v] = inter[3*v+1]
		dst[2*n+v] = inter[3*v+2]
	}
}

func denseOf(dt tensor.Dtype, vals []float64, shape ...int) tensor.Tensor {
	if dt == tensor.Float64 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(vals))
	}
	d := make([]float32, len(vals))
	for i, v := range vals {
		d[i] = float32(v)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

// BuildSTN adds the 3DMM-STN of Bas et al. 2017 (Fig. 1) to g: from theta
// (B, 6+D) = [r(3), t(2), log s(1), alpha(D)] and the image img (B,C,H,W)
// it builds
//
//	X  = P alpha + mu                 (3DMM layer, Eq. 1, planar constants)
//	R  = Rodrigues(r)                 (Eq. 2)
//	X' = R X                          (Eq. 3)
//	Y  = s (X'_x, -X'_y) + 1_N (x) t  (Eqs. 3-5; s = b^(log s))
//	V  = bilinear(img, Y),  M = backface(X') [* valid],  W = V * M
//
// gm's mean and basis are converted to the graph's dtype (img's) once.
// The STN does not own g: callers consume its nodes and differentiate
// through them end to end (gradients reach theta and img; the mask is
// constant).
func BuildSTN(g *gorgonia.ExprGraph, img, theta *gorgonia.Node, gm *bfm.GridModel, opt STNOptions) (*STN, error) {
	if err := gm.Validate(); err != nil {
		return nil, fmt.Errorf("graph: stn: %w", err)
	}
	rows, cols, d := gm.Rows, gm.Cols, gm.NumComponents()
	n := rows * cols
	if d < 1 {
		return nil, fmt.Errorf("graph: stn: grid model has no shape components; want D >= 1")
	}
	is, ts := img.Shape(), theta.Shape()
	if len(is) != 4 {
		return nil, fmt.Errorf("graph: stn: image shape %v, want (B,C,H,W)", is)
	}
	if len(ts) != 2 || ts[0] != is[0] || ts[1] != ThetaFixedN+d {
		return nil, fmt.Errorf("graph: stn: theta shape %v, want (%d, %d) = (B, 6+D)", ts, is[0], ThetaFixedN+d)
	}
	dt := img.Dtype()
	if theta.Dtype() != dt || (dt != tensor.Float32 && dt != tensor.Float64) {
		return nil, fmt.Errorf("graph: stn: dtypes image %v, theta %v: want both float32 or both float64", dt, theta.Dtype())
	}
	base := opt.ScaleBase
	if base == 0 {
		base = math.E
	}
	if !(base > 0) || base == 1 || math.IsInf(base, 0) {
		return nil, fmt.Errorf("graph: stn: ScaleBase %v: want finite, > 0 and != 1", base)
	}
	B := is[0]
	s := &STN{Rows: rows, Cols: cols, D: d,
		Landmarks: map[string]*gorgonia.Node{}, LandmarkIndex: map[string][]int{}, LandmarkVertex: map[string][]int{}}

	meanP := make([]float64, 3*n)
	planar(gm.Mean, meanP)
	basisP := make([]float64, d*3*n)
	for k, b := range gm.Basis {
		planar(b, basisP[k*3*n:(k+1)*3*n])
	}
	s.Mean = gorgonia.NewVector(g, dt, gorgonia.WithShape(3*n), gorgonia.WithName("stn.mean"), gorgonia.WithValue(denseOf(dt, meanP, 3*n)))
	s.Basis = gorgonia.NewMatrix(g, dt, gorgonia.WithShape(d, 3*n), gorgonia.WithName("stn.basis"), gorgonia.WithValue(denseOf(dt, basisP, d, 3*n)))
	if opt.TrainableBasis {
		s.Params = []*gorgonia.Node{s.Mean, s.Basis}
	}

	wrap := func(step string, err error) error { return fmt.Errorf("graph: stn: %s: %w", step, err) }
	// Slices of theta keep their batch axis whatever B is: Gorgonia drops
	// size-1 axes of a slice (B = 1 would give a scalar log s), so each
	// part is reshaped back to (B, k) or (B).
	part := func(name string, from, to int, shape ...int) (*gorgonia.Node, error) {
		p, err := gorgonia.Slice(theta, nil, gorgonia.S(from, to))
		if err != nil {
			return nil, wrap("slice "+name, err)
		}
		if !sameShape(p.Shape(), shape) {
			if p, err = gorgonia.Reshape(p, tensor.Shape(shape)); err != nil {
				return nil, wrap("reshape "+name, err)
			}
		}
		return p, nil
	}
	var err error
	r, err := part("r", ThetaRot, ThetaRot+3, B, 3)
	if err != nil {
		return nil, err
	}
	t, err := part("t", ThetaTrans, ThetaTrans+2, B, 2)
	if err != nil {
		return nil, err
	}
	logS, err := part("log s", ThetaScale, ThetaScale+1, B)
	if err != nil {
		return nil, err
	}
	if s.Alpha, err = part("alpha", ThetaShape, ThetaShape+d, B, d); err != nil {
		return nil, err
	}
	x, err := ops.Morphable(s.Alpha, s.Basis, s.Mean)
	if err != nil {
		return nil, wrap("3DMM layer", err)
	}
	if s.Rotation, err = ops.AxisAngleToRotation(r); err != nil {
		return nil, wrap("rotation", err)
	}
	if s.Points3D, err = ops.RotatePoints(s.Rotation, x); err != nil {
		return nil, wrap("rotate", err)
	}
	if s.Scale, err = ops.LogScale(logS, base); err != nil {
		return nil, wrap("scale", err)
	}
	y, err := ops.OrthoProject(s.Points3D, s.Scale)
	if err != nil {
		return nil, wrap("projection", err)
	}
	if s.Points2D, err = ops.KronTranslate(y, t); err != nil {
		return nil, wrap("translation", err)
	}
	pts, err := ops.TransposePoints(s.Points2D)
	if err != nil {
		return nil, wrap("transpose", err)
	}
	if s.Texture, err = ops.BilinearSample(img, pts); err != nil {
		return nil, wrap("sampler", err)
	}
	if s.Mask, err = ops.BackfaceMask(s.Points3D, rows, cols); err != nil {
		return nil, wrap("mask", err)
	}
	if gm.Valid != nil {
		vals := make([]float64, n)
		for i, ok := range gm.Valid {
			if ok {
				vals[i] = 1
			}
		}
		valid := gorgonia.NewMatrix(g, dt, gorgonia.WithShape(1, n), gorgonia.WithName("stn.valid"), gorgonia.WithValue(denseOf(dt, vals, 1, n)))
		if s.Mask, err = gorgonia.BroadcastHadamardProd(s.Mask, valid, nil, []byte{0}); err != nil {
			return nil, wrap("valid mask", err)
		}
	}
	m3, err := gorgonia.Reshape(s.Mask, tensor.Shape{B, 1, n})
	if err != nil {
		return nil, wrap("mask reshape", err)
	}
	w, err := gorgonia.BroadcastHadamardProd(s.Texture, m3, nil, []byte{1})
	if err != nil {
		return nil, wrap("masking", err)
	}
	if s.Output, err = gorgonia.Reshape(w, tensor.Shape{B, is[1], rows, cols}); err != nil {
		return nil, wrap("output reshape", err)
	}

	schemes := make([]string, 0, len(gm.Landmarks))
	for k := range gm.Landmarks {
		schemes = append(schemes, k)
	}
	sort.Strings(schemes)
	for _, scheme := range schemes {
		var idx, verts []int
		for i, v := range gm.Landmarks[scheme] {
			if v == -1 { // range checked by Validate
				continue
			}
			idx = append(idx, i)
			verts = append(verts, v)
		}
		if len(verts) == 0 {
			continue
		}
		lm, err := ops.Gather(s.Points2D, verts)
		if err != nil {
			return nil, wrap("landmarks "+scheme, err)
		}
		s.Landmarks[scheme] = lm
		s.LandmarkIndex[scheme] = idx
		s.LandmarkVertex[scheme] = verts
	}
	return s, nil
}

// sameShape compares shapes axis by axis (tensor.Shape.Eq treats a vector
// (n) and a column (n, 1) as equal).
func sameShape(a tensor.Shape, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
