package graph

import (
	"errors"
	"fmt"
	"math"

	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Recogniser inputs (RecognitionOptions.Input).
const (
	// RecogniseTexture feeds the recogniser the STN's pose-normalised
	// texture, centred as 2 (x - 0.5) like the crop, with the visibility
	// mask as a fourth channel, as Bas et al. 2017 (Sec. 5) suggest for
	// recognition.
	RecogniseTexture = "texture"
	// RecogniseCrop feeds it the plain input image resampled on the same
	// Rows x Cols grid, centred as 2 (x - 0.5), with a constant ones
	// channel: the no-STN baseline, with the very same recogniser,
	// parameter for parameter. (Un-centred, the crop's DC part dominated
	// the features and the branch did not start learning in 6,000 steps.)
	RecogniseCrop = "crop"
)

// RecognitionOptions configures the identity branch of a Network.
type RecognitionOptions struct {
	// Input is RecogniseTexture or RecogniseCrop.
	Input string
	// Classes is the number of training identities K.
	Classes int
	// Weight multiplies the identity loss in the total.
	Weight float64
	// Recogniser is the CNN; its Seed 0 takes the localiser's seed + 1.
	Recogniser RecogniserOptions
}

// RecogniserOptions configures BuildRecogniser.
type RecogniserOptions struct {
	// Channels are the widths of the conv blocks (default 32, 64, 128, 128).
	Channels []int
	// Embedding is the embedding size E (default 128).
	Embedding int
	// Classes is the number of identities K of the classifier.
	Classes int
	Seed    uint64
	// InputGrad lets the gradient flow into the input (the STN's texture,
	// for end-to-end training); a fixed input (a plain crop) needs none.
	InputGrad bool
}

// Recogniser holds the nodes of a recognition CNN.
type Recogniser struct {
	// Embedding (B,E) is the face descriptor: compare two faces by the
	// cosine of their embeddings.
	Embedding *gorgonia.Node
	// Logits (B,K) score the training identities.
	Logits *gorgonia.Node
	// Params are the learnable nodes ("rec.*").
	Params []*gorgonia.Node
}

// BuildRecogniser adds a recognition CNN reading x (B,C,H,W): blocks of
// [conv3x3 pad 1 + bias -> ReLU -> maxpool 2x2] with the given channel
// widths, FC -> embedding (E, linear), FC -> logits (K). Layers are
// He-initialised N(0, 2/fan_in); the classifier N(0, 1/E). H and W must be
// divisible by 2^len(Channels).
func BuildRecogniser(g *gorgonia.ExprGraph, x *gorgonia.Node, opt RecogniserOptions) (*Recogniser, error) {
	if len(opt.Channels) == 0 {
		opt.Channels = []int{32, 64, 128, 128}
	}
	if opt.Embedding == 0 {
		opt.Embedding = 128
	}
	if opt.Classes < 2 {
		return nil, fmt.Errorf("graph: recogniser: %d classes, want >= 2 identities", opt.Classes)
	}
	if opt.Embedding < 1 {
		return nil, fmt.Errorf("graph: recogniser: embedding size %d, want >= 1", opt.Embedding)
	}
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("graph: recogniser: input shape %v, want (B,C,H,W)", s)
	}
	div := 1 << len(opt.Channels)
	if s[2]%div != 0 || s[3]%div != 0 {
		return nil, fmt.Errorf("graph: recogniser: input %dx%d is not divisible by 2^%d (one halving per block)", s[2], s[3], len(opt.Channels))
	}
	lb := &layerBuilder{g: g, dt: x.Dtype(), seed: opt.Seed, first: !opt.InputGrad}
	h := x
	var err error
	for i, c := range opt.Channels {
		if c < 1 {
			return nil, fmt.Errorf("graph: recogniser: block %d has %d channels, want >= 1", i+1, c)
		}
		if h, err = lb.conv(h, fmt.Sprintf("rec.conv%d", i+1), c); err != nil {
			return nil, fmt.Errorf("graph: recogniser: %w", err)
		}
		if h, err = maxPool(h); err != nil {
			return nil, fmt.Errorf("graph: recogniser: pool %d: %w", i+1, err)
		}
	}
	hs := h.Shape()
	flat := hs[1] * hs[2] * hs[3]
	if h, err = gorgonia.Reshape(h, tensor.Shape{hs[0], flat}); err != nil {
		return nil, fmt.Errorf("graph: recogniser: %w", err)
	}
	r := &Recogniser{}
	if r.Embedding, err = lb.fc(h, "rec.embed", opt.Embedding, math.Sqrt(2/float64(flat)), nil, nil, false); err != nil {
		return nil, fmt.Errorf("graph: recogniser: %w", err)
	}
	if r.Logits, err = lb.fc(r.Embedding, "rec.classes", opt.Classes, math.Sqrt(1/float64(opt.Embedding)), nil, nil, false); err != nil {
		return nil, fmt.Errorf("graph: recogniser: %w", err)
	}
	r.Params = lb.params
	return r, nil
}

// recognitionInput builds the recogniser's input for a network: the STN's
// texture and mask (RecogniseTexture) or the image resampled on the grid
// with a ones channel (RecogniseCrop), both (B, C+1, Rows, Cols).
func recognitionInput(g *gorgonia.ExprGraph, img *gorgonia.Node, stn *STN, kind string) (*gorgonia.Node, error) {
	is := img.Shape()
	b, c, rows, cols := is[0], is[1], stn.Rows, stn.Cols
	dt := img.Dtype()
	switch kind {
	case RecogniseTexture:
		mask, err := gorgonia.Reshape(stn.Mask, tensor.Shape{b, 1, rows, cols})
		if err != nil {
			return nil, err
		}
		v, err := centre(g, dt, stn.Output)
		if err != nil {
			return nil, err
		}
		return gorgonia.Concat(1, v, mask)
	case RecogniseCrop:
		// A regular rows x cols lattice over the whole image, pixel
		// centres from 0 to side-1 (the sampler's convention).
		n := rows * cols
		pts := make([]float64, b*n*2)
		for bi := 0; bi < b; bi++ {
			for r := 0; r < rows; r++ {
				for q := 0; q < cols; q++ {
					k := (bi*n + r*cols + q) * 2
					pts[k] = float64(q) * float64(is[3]-1) / float64(cols-1)
					pts[k+1] = float64(r) * float64(is[2]-1) / float64(rows-1)
				}
			}
		}
		pn := gorgonia.NewTensor(g, dt, 3, gorgonia.WithShape(b, n, 2), gorgonia.WithName("rec.lattice"),
			gorgonia.WithValue(denseOf(dt, pts, b, n, 2)))
		v, err := ops.BilinearSample(img, pn)
		if err != nil {
			return nil, err
		}
		if v, err = gorgonia.Reshape(v, tensor.Shape{b, c, rows, cols}); err != nil {
			return nil, err
		}
		if v, err = centre(g, dt, v); err != nil {
			return nil, err
		}
		ones := make([]float64, b*n)
		for i := range ones {
			ones[i] = 1
		}
		on := gorgonia.NewTensor(g, dt, 4, gorgonia.WithShape(b, 1, rows, cols), gorgonia.WithName("rec.ones"),
			gorgonia.WithValue(denseOf(dt, ones, b, 1, rows, cols)))
		return gorgonia.Concat(1, v, on)
	}
	return nil, fmt.Errorf("recognition input %q: want %q or %q", kind, RecogniseTexture, RecogniseCrop)
}

// centre maps image values in [0, 1] to [-1, 1]: 2 (x - 0.5), the
// recogniser's input normalisation for both inputs.
func centre(g *gorgonia.ExprGraph, dt tensor.Dtype, x *gorgonia.Node) (*gorgonia.Node, error) {
	v, err := gorgonia.Sub(x, scalarNode(g, dt, 0.5))
	if err != nil {
		return nil, err
	}
	return gorgonia.Mul(v, scalarNode(g, dt, 2))
}

// addRecognition builds the identity branch of m: the labels input, the
// recogniser on recognitionInput and the identity loss, added with its
// weight to the network's total loss.
func (m *Network) addRecognition(opt RecognitionOptions, seed uint64) error {
	if opt.Classes < 2 {
		return fmt.Errorf("graph: network: recognition with %d identities, want >= 2", opt.Classes)
	}
	if !(opt.Weight >= 0) || math.IsInf(opt.Weight, 0) {
		return fmt.Errorf("graph: network: identity loss weight %v, want finite and >= 0", opt.Weight)
	}
	g, dt := m.Graph, m.Images.Dtype()
	in, err := recognitionInput(g, m.Images, m.STN, opt.Input)
	if err != nil {
		return fmt.Errorf("graph: network: %w", err)
	}
	ro := opt.Recogniser
	ro.Classes = opt.Classes
	ro.InputGrad = opt.Input == RecogniseTexture
	if ro.Seed == 0 {
		ro.Seed = seed + 1
	}
	if m.Recogniser, err = BuildRecogniser(g, in, ro); err != nil {
		return err
	}
	m.Labels = gorgonia.NewMatrix(g, dt, gorgonia.WithShape(m.BatchSize, opt.Classes), gorgonia.WithName("labels"))
	m.labelT = tensor.New(tensor.Of(dt), tensor.WithShape(m.BatchSize, opt.Classes))
	ce, err := ops.SoftmaxCrossEntropy(m.Recogniser.Logits, m.Labels)
	if err != nil {
		return fmt.Errorf("graph: network: %w", err)
	}
	if m.Losses.Identity, err = gorgonia.Sum(ce); err != nil {
		return fmt.Errorf("graph: network: identity loss: %w", err)
	}
	weighted, err := gorgonia.Mul(scalarNode(g, dt, opt.Weight), m.Losses.Identity)
	if err != nil {
		return fmt.Errorf("graph: network: identity loss: %w", err)
	}
	if m.Losses.Total, err = gorgonia.Add(m.Losses.Total, weighted); err != nil {
		return fmt.Errorf("graph: network: total loss: %w", err)
	}
	m.params = append(m.params, m.Recogniser.Params...)
	return nil
}

// fillLabels writes the one-hot identity rows of a batch (ids[i] < 0: an
// unlabelled image, a zero row).
func (m *Network) fillLabels(ids []int) error {
	k := m.Labels.Shape()[1]
	if len(ids) != m.BatchSize {
		return fmt.Errorf("batch has %d identities, want %d", len(ids), m.BatchSize)
	}
	oneHot := make([]float32, m.BatchSize*k)
	for i, id := range ids {
		if id >= k {
			return fmt.Errorf("identity %d of image %d: want < %d (the training identities)", id, i, k)
		}
		if id >= 0 {
			oneHot[i*k+id] = 1
		}
	}
	fill(m.labelT, oneHot)
	return gorgonia.Let(m.Labels, m.labelT)
}

// Embed returns the recogniser's embedding of each image (n x 3 x S x S
// values, any n >= 1), computed by a forward-only machine created on first
// use.
func (m *Network) Embed(images []float32) ([][]float32, error) {
	if m.Recogniser == nil {
		return nil, errors.New("graph: embed: the network has no recogniser")
	}
	if m.embedVM == nil {
		vm, err := newMachine(m.Graph, []*gorgonia.Node{m.Recogniser.Embedding}, m.arena, true)
		if err != nil {
			return nil, fmt.Errorf("graph: embed: %w", err)
		}
		m.embedVM = vm
	}
	var out [][]float32
	err := m.runChunks(m.embedVM, "embed", images, func(k int) error {
		e := toFloat64s(m.Recogniser.Embedding.Value().Data())
		dim := len(e) / m.BatchSize
		for b := 0; b < k; b++ {
			v := make([]float32, dim)
			for i := range v {
				v[i] = float32(e[b*dim+i])
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}
