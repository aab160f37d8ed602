package graph

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Localiser kinds.
const (
	LocaliserSmall   = "small"
	LocaliserVGGFace = "vggface"
)

// Parameter names of the new, randomly initialised regression layer.
const (
	ThetaWeightName = "theta.w"
	ThetaBiasName   = "theta.b"
)

// LocaliserOptions configures BuildLocaliser.
type LocaliserOptions struct {
	// Kind is LocaliserSmall (input 3x112x112) or LocaliserVGGFace (3x224x224).
	Kind string
	// D is the number of shape components regressed after the 6 pose values.
	D int
	// InitScale is s at initialisation in pixels per model unit (> 0). The
	// caller computes it from the grid model's extent and the input size
	// (see InitScaleFor). The reference used 1 (BFM in its own units).
	InitScale float64
	// ScaleBase b of s = b^(log s): math.E (paper; 0 selects it) or 0.99
	// (the reference code). The log-scale bias is log_b(InitScale).
	ScaleBase float64
	// Seed drives the He / N(0, 2/fan_in) initialisation.
	Seed uint64
	// Dtype is tensor.Float32 (default) or tensor.Float64.
	Dtype tensor.Dtype
	// BiasScale optionally gives each output of the theta layer a unit u_k:
	// theta = (feat W + b) * u (elementwise), with b initialised to bias/u
	// so that theta at init is unchanged. nil (the reference) means u = 1.
	// Use it with Adam, whose per-element step is ~lr whatever the gradient
	// scale: with u_t = S/2 px the translation moves in half-image units,
	// so the regressed quantities (radians, half-images, log scale, unit
	// shape weights) are all of order one. Pair it with a learning-rate
	// warmup: Adam's first, coherent steps are large. See
	// DefaultBiasScale. Length 6+D, every entry > 0.
	BiasScale []float64
	// InputMean (per RGB channel) is subtracted from the image and the
	// result multiplied by InputScale (0 means 1) before the first conv:
	// x = (img - mean) * scale. Zero-centred inputs let a localiser trained
	// from scratch respond to the image rather than to its mean level. The
	// STN still samples the raw image.
	InputMean  [3]float64
	InputScale float64
}

// DefaultBiasScale returns units for BiasScale: 1 rad for r, S/2 pixels
// for t, 1 for log s and 1 for each alpha.
func DefaultBiasScale(size, d int) []float64 {
	u := make([]float64, ThetaFixedN+d)
	for i := range u {
		u[i] = 1
	}
	u[ThetaTrans], u[ThetaTrans+1] = float64(size)/2, float64(size)/2
	return u
}

// Localiser is the regression CNN img (B,3,H,W) -> theta (B, 6+D).
type Localiser struct {
	Kind  string
	Theta *gorgonia.Node
	// Params lists every learnable node in build order: conv/fc weights
	// and biases, ending with theta.w and theta.b.
	Params []*gorgonia.Node
	// InputSize is the side of the square input (112 or 224).
	InputSize int
}

// InputSizeFor returns the input side a localiser kind expects.
func InputSizeFor(kind string) (int, error) {
	switch kind {
	case LocaliserSmall:
		return 112, nil
	case LocaliserVGGFace:
		return 224, nil
	}
	return 0, fmt.Errorf("graph: localiser kind %q: want %q or %q", kind, LocaliserSmall, LocaliserVGGFace)
}

// InitScaleFor returns a sensible initial scale in pixels per model unit:
// the model's larger x/y extent (max - min over the mean's vertices) is
// made to span fill (e.g. 0.75) of the image side.
func InitScaleFor(mean []float64, imageSide int, fill float64) (float64, error) {
	if len(mean) < 6 || len(mean)%3 != 0 {
		return 0, fmt.Errorf("graph: init scale: mean has %d values, want 3N with N >= 2", len(mean))
	}
	minX, maxX := math.Inf(1), math.Inf(-1)
	minY, maxY := math.Inf(1), math.Inf(-1)
	for i := 0; i < len(mean); i += 3 {
		minX, maxX = math.Min(minX, mean[i]), math.Max(maxX, mean[i])
		minY, maxY = math.Min(minY, mean[i+1]), math.Max(maxY, mean[i+1])
	}
	ext := math.Max(maxX-minX, maxY-minY)
	if !(ext > 0) || math.IsInf(ext, 0) {
		return 0, fmt.Errorf("graph: init scale: model extent %v: want a finite value > 0", ext)
	}
	if !(fill > 0) {
		return 0, fmt.Errorf("graph: init scale: fill %v: want > 0", fill)
	}
	return fill * float64(imageSide) / ext, nil
}

type layerBuilder struct {
	g      *gorgonia.ExprGraph
	dt     tensor.Dtype
	seed   uint64
	n      uint64
	params []*gorgonia.Node
	// first marks that the next conv reads the network input.
	first bool
}

// normal returns n values N(0, std^2) from a per-layer seeded PCG.
func (lb *layerBuilder) normal(n int, std float64) tensor.Tensor {
	lb.n++
	r := rand.New(rand.NewPCG(lb.seed, lb.n))
	if lb.dt == tensor.Float64 {
		d := make([]float64, n)
		for i := range d {
			d[i] = r.NormFloat64() * std
		}
		return tensor.New(tensor.WithBacking(d))
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(r.NormFloat64() * std)
	}
	return tensor.New(tensor.WithBacking(d))
}

func (lb *layerBuilder) param(name string, shape tensor.Shape, v tensor.Tensor) *gorgonia.Node {
	if v == nil {
		v = tensor.New(tensor.Of(lb.dt), tensor.WithShape(shape...))
	} else if err := v.Reshape(shape...); err != nil {
		panic("graph: internal reshape " + err.Error())
	}
	n := gorgonia.NewTensor(lb.g, lb.dt, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(v))
	lb.params = append(lb.params, n)
	return n
}

// conv adds conv3x3 pad 1 (+ bias) -> ReLU.
func (lb *layerBuilder) conv(x *gorgonia.Node, name string, cout int) (*gorgonia.Node, error) {
	cin := x.Shape()[1]
	fanIn := cin * 9
	w := lb.param(name+".w", tensor.Shape{cout, cin, 3, 3}, lb.normal(cout*cin*9, math.Sqrt(2/float64(fanIn))))
	b := lb.param(name+".b", tensor.Shape{cout}, nil)
	// conv 3x3 pad 1 + bias + ReLU as one op (ops.Conv2D: im2col + GEMM,
	// parallel over the batch, workspaces reused across steps). The first
	// layer reads the input image, whose gradient nobody needs.
	conv := ops.Conv2D
	if lb.first {
		conv = ops.Conv2DNoInputGrad
		lb.first = false
	}
	y, err := conv(x, w, b, 1, 1, true)
	if err != nil {
		return nil, fmt.Errorf("%s: conv: %w", name, err)
	}
	return y, nil
}

func maxPool(x *gorgonia.Node) (*gorgonia.Node, error) {
	return ops.MaxPool2x2(x)
}

// fc adds x (B, in) * W (in, out) + b (or + u*b when unit u is non-nil);
// wStd is the weight's std.
func (lb *layerBuilder) fc(x *gorgonia.Node, name string, out int, wStd float64, bias tensor.Tensor, unit []float64, relu bool) (*gorgonia.Node, error) {
	in := x.Shape()[1]
	w := lb.param(name+".w", tensor.Shape{in, out}, lb.normal(in*out, wStd))
	b := lb.param(name+".b", tensor.Shape{1, out}, bias)
	// x W + b (+ ReLU) as one op (ops.Dense: GEMMs split across workers).
	y, err := ops.Dense(x, w, b, relu)
	if err != nil {
		return nil, fmt.Errorf("%s: dense: %w", name, err)
	}
	if unit != nil {
		u := gorgonia.NewMatrix(lb.g, lb.dt, gorgonia.WithShape(1, out), gorgonia.WithName(name+".unit"),
			gorgonia.WithValue(denseOf(lb.dt, append([]float64(nil), unit...), 1, out)))
		if y, err = gorgonia.BroadcastHadamardProd(y, u, nil, []byte{0}); err != nil {
			return nil, fmt.Errorf("%s: output unit: %w", name, err)
		}
	}
	return y, nil
}

// BuildLocaliser adds a localiser to g reading img (B, 3, S, S) and returns
// its theta node.
//
// small: four blocks [conv3x3 pad 1 + bias -> ReLU -> maxpool 2x2] with 32,
// 64, 128, 256 channels (112 -> 7), FC 256*7*7 -> 256 -> ReLU, FC 256 -> 6+D.
// Parameters conv1..conv4, fc5, theta.
//
// vggface: VGG-16 (conv1_1..conv5_3, pools after each block, fc6 and fc7 of
// 4096 with ReLU, no dropout) to relu7, then theta: 4096 -> 6+D; the names
// match scripts/convert_vggface.py.
//
// All layers but theta are He-initialised, N(0, 2/fan_in), biases 0. theta.w
// is N(0, 2/fan_in) * 1e-3 (the reference) and theta.b is zero except
// t = ((S-1)/2, (S-1)/2), the image centre in our pixel convention, and
// log s = log_b(InitScale); so theta at init is close to identity rotation,
// centred, at InitScale pixels per model unit, with mean shape. With
// BiasScale u, theta = (feat theta.w + theta.b) * u and theta.b holds the
// bias above divided by u.
func BuildLocaliser(g *gorgonia.ExprGraph, img *gorgonia.Node, opt LocaliserOptions) (*Localiser, error) {
	size, err := InputSizeFor(opt.Kind)
	if err != nil {
		return nil, err
	}
	if opt.D < 0 {
		return nil, fmt.Errorf("graph: localiser D = %d: want >= 0", opt.D)
	}
	if !(opt.InitScale > 0) || math.IsInf(opt.InitScale, 0) {
		return nil, fmt.Errorf("graph: localiser InitScale %v: want a finite value > 0 (pixels per model unit)", opt.InitScale)
	}
	base := opt.ScaleBase
	if base == 0 {
		base = math.E
	}
	if !(base > 0) || base == 1 {
		return nil, fmt.Errorf("graph: localiser ScaleBase %v: want > 0 and != 1", base)
	}
	dt := opt.Dtype
	if dt == (tensor.Dtype{}) {
		dt = tensor.Float32
	}
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("graph: localiser dtype %v: want float32 or float64", dt)
	}
	if img.Dtype() != dt {
		return nil, fmt.Errorf("graph: localiser input dtype %v, want %v", img.Dtype(), dt)
	}
	sh := img.Shape()
	if len(sh) != 4 || sh[1] != 3 || sh[2] != size || sh[3] != size {
		return nil, fmt.Errorf("graph: %s localiser input shape %v, want (B, 3, %d, %d)", opt.Kind, sh, size, size)
	}
	lb := &layerBuilder{g: g, dt: dt, seed: opt.Seed, first: true}
	x := img
	if opt.InputMean != ([3]float64{}) || (opt.InputScale != 0 && opt.InputScale != 1) {
		scale := opt.InputScale
		if scale == 0 {
			scale = 1
		}
		if x, err = ops.Standardize(img, opt.InputMean[:], scale); err != nil {
			return nil, fmt.Errorf("graph: %s localiser: %w", opt.Kind, err)
		}
	}
	var feat *gorgonia.Node
	switch opt.Kind {
	case LocaliserSmall:
		for i, c := range []int{32, 64, 128, 256} {
			if x, err = lb.conv(x, fmt.Sprintf("conv%d", i+1), c); err != nil {
				return nil, fmt.Errorf("graph: small localiser: %w", err)
			}
			if x, err = maxPool(x); err != nil {
				return nil, fmt.Errorf("graph: small localiser: pool%d: %w", i+1, err)
			}
		}
		if x, err = gorgonia.Reshape(x, tensor.Shape{sh[0], 256 * 7 * 7}); err != nil {
			return nil, fmt.Errorf("graph: small localiser: flatten: %w", err)
		}
		if feat, err = lb.fc(x, "fc5", 256, math.Sqrt(2.0/(256*7*7)), nil, nil, true); err != nil {
			return nil, fmt.Errorf("graph: small localiser: %w", err)
		}
	case LocaliserVGGFace:
		blocks := [][]int{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}}
		for bi, chans := range blocks {
			for li, c := range chans {
				if x, err = lb.conv(x, fmt.Sprintf("conv%d_%d", bi+1, li+1), c); err != nil {
					return nil, fmt.Errorf("graph: vggface localiser: %w", err)
				}
			}
			if x, err = maxPool(x); err != nil {
				return nil, fmt.Errorf("graph: vggface localiser: pool%d: %w", bi+1, err)
			}
		}
		if x, err = gorgonia.Reshape(x, tensor.Shape{sh[0], 512 * 7 * 7}); err != nil {
			return nil, fmt.Errorf("graph: vggface localiser: flatten: %w", err)
		}
		for _, name := range []string{"fc6", "fc7"} {
			if x, err = lb.fc(x, name, 4096, math.Sqrt(2/float64(x.Shape()[1])), nil, nil, true); err != nil {
				return nil, fmt.Errorf("graph: vggface localiser: %w", err)
			}
		}
		feat = x
	}
	out := ThetaFixedN + opt.D
	if opt.BiasScale != nil {
		if len(opt.BiasScale) != out {
			return nil, fmt.Errorf("graph: localiser BiasScale has %d entries, want 6+D = %d", len(opt.BiasScale), out)
		}
		for i, u := range opt.BiasScale {
			if !(u > 0) || math.IsInf(u, 0) {
				return nil, fmt.Errorf("graph: localiser BiasScale[%d] = %v: want a finite value > 0", i, u)
			}
		}
	}
	bias := make([]float64, out)
	bias[ThetaTrans] = float64(size-1) / 2
	bias[ThetaTrans+1] = float64(size-1) / 2
	bias[ThetaScale] = math.Log(opt.InitScale) / math.Log(base)
	if opt.BiasScale != nil {
		for i, u := range opt.BiasScale {
			bias[i] /= u
		}
	}
	var bt tensor.Tensor
	if dt == tensor.Float64 {
		bt = tensor.New(tensor.WithBacking(bias))
	} else {
		b32 := make([]float32, out)
		for i, v := range bias {
			b32[i] = float32(v)
		}
		bt = tensor.New(tensor.WithBacking(b32))
	}
	fanIn := feat.Shape()[1]
	theta, err := lb.fc(feat, "theta", out, math.Sqrt(2/float64(fanIn))*1e-3, bt, opt.BiasScale, false)
	if err != nil {
		return nil, fmt.Errorf("graph: %s localiser: %w", opt.Kind, err)
	}
	return &Localiser{Kind: opt.Kind, Theta: theta, Params: lb.params, InputSize: size}, nil
}

// ReferenceMultipliers returns the reference's solver multipliers: the new
// theta layer learns with LR x4 (weights) and x8 (bias), no decay on the
// bias; every other parameter gets {1, 1}.
func ReferenceMultipliers() map[string]ParamMult {
	return map[string]ParamMult{
		ThetaWeightName: {LR: 4, Decay: 1},
		ThetaBiasName:   {LR: 8, Decay: 0},
	}
}

// LoadPretrained loads a weights file into every localiser parameter
// except the theta layer (the file's theta tensors, if any, are ignored).
// Every other parameter must be present with a matching shape; tensors the
// localiser does not use (fc8 of VGG-Face) are ignored.
func (l *Localiser) LoadPretrained(path string) error {
	ts, err := ReadWeights(path)
	if err != nil {
		return err
	}
	var keep []WeightTensor
	for _, t := range ts {
		if !strings.HasPrefix(t.Name, "theta.") {
			keep = append(keep, t)
		}
	}
	var body []*gorgonia.Node
	for _, p := range l.Params {
		if !strings.HasPrefix(p.Name(), "theta.") {
			body = append(body, p)
		}
	}
	loaded, err := LoadIntoNodes(body, keep, true)
	if err != nil {
		return fmt.Errorf("graph: pretrained %s: %w", path, err)
	}
	if len(loaded) != len(body) {
		got := map[string]bool{}
		for _, n := range loaded {
			got[n] = true
		}
		var missing []string
		for _, p := range body {
			if !got[p.Name()] {
				missing = append(missing, p.Name())
			}
		}
		return fmt.Errorf("graph: pretrained %s: %w", path, errors.New("missing tensors "+strings.Join(missing, ", ")))
	}
	return nil
}
