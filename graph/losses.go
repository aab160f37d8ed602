package graph

import (
	"fmt"

	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// LossWeights are the multipliers of the four terms of Bas et al. 2017,
// Sec. 3.3. The reference code used landmark 0.8998, prior 0.1, siamese
// 1e-4, symmetry 1e-4 on summed losses; our terms are means (see each
// function), so these numbers do not carry over: DefaultLossWeights gives
// ours.
type LossWeights struct {
	Landmark, Prior, Symmetry, Siamese float64
}

// DefaultLossWeights returns weights for the normalised terms below:
// landmark 1 (px^2), prior 0.1 (per image), symmetry 1, siamese 1 (per
// texel-channel, textures in [0,1]).
//
// Balance: with LandmarkNorm = 1 the landmark term is a mean squared pixel
// error (~1..100 during training at 112-224 px), the prior |alpha|^2 is ~D
// for typical faces, and the image terms are mean squared intensity
// differences (~1e-3..1e-1 for images in [0,1]).
func DefaultLossWeights() LossWeights {
	return LossWeights{Landmark: 1, Prior: 0.1, Symmetry: 1, Siamese: 1}
}

// LossOptions configures BuildLosses.
type LossOptions struct {
	Weights LossWeights
	// LandmarkNorm is a length in pixels: distances are divided by it before
	// squaring. 0 or 1 leave the landmark loss in px^2; the image side makes
	// it a fraction of the image, independent of resolution.
	LandmarkNorm float64
	// Eps guards the divisions by weight and visible-pair totals (default
	// 1e-6): with no visible pair or no weighted landmark a term is 0.
	Eps float64
}

// Losses holds each term and the weighted total, all scalars.
type Losses struct {
	Landmark, Prior, Symmetry, Siamese *gorgonia.Node
	// Identity is the identity loss of a recognition network (nil
	// without; see RecognitionOptions).
	Identity *gorgonia.Node
	Total    *gorgonia.Node
}

func scalarNode(g *gorgonia.ExprGraph, dt tensor.Dtype, v float64) *gorgonia.Node {
	if dt == tensor.Float64 {
		return gorgonia.NewConstant(v)
	}
	return gorgonia.NewConstant(float32(v))
}

// LandmarkLoss is the confidence-weighted landmark term (Sec. 3.3):
//
//	L_lm = sum_{b,l} w_bl |p_bl - q_bl|^2 / (sum_{b,l} w_bl + eps) / norm^2
//
// pred (B,2,L) are the STN's projected landmark vertices in pixels,
// target (B,2,L) the annotations in pixels, weight (B,L) the confidences
// (0 = missing). It is a weighted mean over points, so its size does not
// depend on the batch size or L. norm <= 0 is taken as 1 (px^2).
func LandmarkLoss(pred, target, weight *gorgonia.Node, norm, eps float64) (*gorgonia.Node, error) {
	ps, ts, ws := pred.Shape(), target.Shape(), weight.Shape()
	if len(ps) != 3 || ps[1] != 2 || !ps.Eq(ts) || len(ws) != 2 || ws[0] != ps[0] || ws[1] != ps[2] {
		return nil, fmt.Errorf("graph: landmark loss: shapes pred %v, target %v, weight %v: want (B,2,L), (B,2,L), (B,L)", ps, ts, ws)
	}
	if norm <= 0 {
		norm = 1
	}
	dt := pred.Dtype()
	g := pred.Graph()
	d, err := gorgonia.Sub(pred, target)
	if err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	if d, err = gorgonia.Square(d); err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	sq, err := gorgonia.Sum(d, 1) // (B,L)
	if err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	wsq, err := gorgonia.HadamardProd(sq, weight)
	if err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	num, err := gorgonia.Sum(wsq)
	if err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	den, err := gorgonia.Sum(weight)
	if err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	if den, err = gorgonia.Add(den, scalarNode(g, dt, eps)); err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	if den, err = gorgonia.Mul(den, scalarNode(g, dt, norm*norm)); err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	out, err := gorgonia.Div(num, den)
	if err != nil {
		return nil, fmt.Errorf("graph: landmark loss: %w", err)
	}
	return out, nil
}

// PriorLoss is the statistical prior (Sec. 3.3): mean over the batch of
// |alpha_b|^2 = sum_d alpha_bd^2, alpha (B,D). Shape weights are N(0, I),
// so the expected value for plausible faces is D.
func PriorLoss(alpha *gorgonia.Node) (*gorgonia.Node, error) {
	s := alpha.Shape()
	if len(s) != 2 || s[0] < 1 {
		return nil, fmt.Errorf("graph: prior loss: alpha shape %v, want (B,D)", s)
	}
	sq, err := gorgonia.Square(alpha)
	if err != nil {
		return nil, fmt.Errorf("graph: prior loss: %w", err)
	}
	sum, err := gorgonia.Sum(sq)
	if err != nil {
		return nil, fmt.Errorf("graph: prior loss: %w", err)
	}
	out, err := gorgonia.Mul(sum, scalarNode(alpha.Graph(), alpha.Dtype(), 1/float64(s[0])))
	if err != nil {
		return nil, fmt.Errorf("graph: prior loss: %w", err)
	}
	return out, nil
}

// SymmetryLoss is the bilateral symmetry term (Sec. 3.3) on the sampled
// texture tex (B,C,N) with visibility mask (B,N), N = rows*cols, texel
// k = row*cols + col mirrored at col' = cols-1-col:
//
//	L_sym = sum_{b,c,k} P_bk (T_bck - T_bck')^2 / (C (sum_{b,k} P_bk + eps)),
//	P_bk = M_bk M_bk'
//
// (both texels visible). Every pair is counted twice (k and k'), in both
// numerator and denominator: the term is the mean squared difference per
// visible texel and channel, independent of batch and grid size. It is one
// op (ops.PairLoss).
func SymmetryLoss(tex, mask *gorgonia.Node, rows, cols int, eps float64) (*gorgonia.Node, error) {
	out, err := ops.PairLoss(tex, mask, rows, cols, false, eps)
	if err != nil {
		return nil, fmt.Errorf("graph: symmetry loss: %w", err)
	}
	return out, nil
}

// SiameseLoss is the flip (siamese) term (Sec. 3.3). The batch holds each
// image at 2i and its horizontal mirror at 2i+1. With a correct fit the
// mirror's texture is the column flip of the original's, so with
// S = FlipCols(SwapPairs(T)) and P = M * FlipCols(SwapPairs(M)):
//
//	L_sia = sum_{b,c,k} P_bk (T_bck - S_bck)^2 / (C (sum_{b,k} P_bk + eps))
//
// Each pair is compared from both sides (b = 2i and 2i+1), both in the
// numerator and the denominator. B must be even. It is one op
// (ops.PairLoss with pairs).
func SiameseLoss(tex, mask *gorgonia.Node, rows, cols int, eps float64) (*gorgonia.Node, error) {
	if b := tex.Shape()[0]; b%2 != 0 {
		return nil, fmt.Errorf("graph: siamese loss: batch %d: want an even batch of image/mirror pairs", b)
	}
	out, err := ops.PairLoss(tex, mask, rows, cols, true, eps)
	if err != nil {
		return nil, fmt.Errorf("graph: siamese loss: %w", err)
	}
	return out, nil
}

// LossInputs are the nodes BuildLosses combines.
type LossInputs struct {
	// Landmarks (B,2,L) predicted, Target (B,2,L) and Weight (B,L); nil
	// Landmarks disables the term.
	Landmarks, Target, Weight *gorgonia.Node
	// Alpha (B,D); nil (or D = 0) disables the prior.
	Alpha *gorgonia.Node
	// Texture (B,C,Rows*Cols) and Mask (B,Rows*Cols); nil disables the
	// image terms.
	Texture, Mask *gorgonia.Node
	Rows, Cols    int
}

// BuildLosses builds every enabled term and the total
// sum_k weight_k * term_k. A term whose weight is 0 is still built (for
// monitoring) unless its inputs are nil; disabled terms are nil in Losses
// and contribute nothing. Siamese needs an even batch.
func BuildLosses(in LossInputs, opt LossOptions) (*Losses, error) {
	eps := opt.Eps
	if eps == 0 {
		eps = 1e-6
	}
	var l Losses
	var err error
	var terms []*gorgonia.Node
	var ws []float64
	if in.Landmarks != nil {
		if l.Landmark, err = LandmarkLoss(in.Landmarks, in.Target, in.Weight, opt.LandmarkNorm, eps); err != nil {
			return nil, err
		}
		terms, ws = append(terms, l.Landmark), append(ws, opt.Weights.Landmark)
	}
	if in.Alpha != nil && in.Alpha.Shape()[1] > 0 {
		if l.Prior, err = PriorLoss(in.Alpha); err != nil {
			return nil, err
		}
		terms, ws = append(terms, l.Prior), append(ws, opt.Weights.Prior)
	}
	if in.Texture != nil {
		if l.Symmetry, err = SymmetryLoss(in.Texture, in.Mask, in.Rows, in.Cols, eps); err != nil {
			return nil, err
		}
		terms, ws = append(terms, l.Symmetry), append(ws, opt.Weights.Symmetry)
		if in.Texture.Shape()[0]%2 == 0 {
			if l.Siamese, err = SiameseLoss(in.Texture, in.Mask, in.Rows, in.Cols, eps); err != nil {
				return nil, err
			}
			terms, ws = append(terms, l.Siamese), append(ws, opt.Weights.Siamese)
		} else if opt.Weights.Siamese != 0 {
			return nil, fmt.Errorf("graph: siamese weight %v needs an even batch of image/mirror pairs, got %d", opt.Weights.Siamese, in.Texture.Shape()[0])
		}
	}
	if len(terms) == 0 {
		return nil, fmt.Errorf("graph: losses: no term enabled")
	}
	for i, t := range terms {
		wt, err := gorgonia.Mul(t, scalarNode(t.Graph(), t.Dtype(), ws[i]))
		if err != nil {
			return nil, fmt.Errorf("graph: total loss: %w", err)
		}
		if l.Total == nil {
			l.Total = wt
		} else if l.Total, err = gorgonia.Add(l.Total, wt); err != nil {
			return nil, fmt.Errorf("graph: total loss: %w", err)
		}
	}
	return &l, nil
}
