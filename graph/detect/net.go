package detect

import (
	"fmt"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/ops"
)

// The detector network: a small fully convolutional net (conv 3x3 pad 1 +
// ReLU, 2x2 max pools) that maps an RGB image of any size to a grid of
// cells, one per 8 x 8 input pixels, each with a face logit and a box
// (centre offset in cells, log width and height relative to RefSize). Its
// receptive field is 54 pixels; it is trained for faces whose size
// sqrt(w h) of the 68-landmark box is in [BandMin, BandMax] pixels, and an
// image pyramid brings every face into that band at some level.
const (
	Stride  = 8
	BandMin = 16.0
	BandMax = 32.0
	// RefSize is the geometric mean of the band: log-size targets are
	// log(w / RefSize), log(h / RefSize).
	RefSize = 22.627416997969522 // sqrt(16 * 32)
	// NumOut is the number of outputs per cell: logit, dx, dy, log w, log h.
	NumOut = 5
)

// layer is one conv (k x k, pad k/2, stride 1) with optional ReLU and an
// optional 2x2 max pool after it.
type layer struct {
	name      string
	cin, cout int
	k         int
	relu      bool
	pool      bool
}

// arch is the detector's layer list; the last layer is the 1x1 head whose
// outputs are NumOut channels: the training graph builds it as two heads,
// "cls" (1) and "reg" (4), which the weights file stores as one.
var arch = []layer{
	{"conv1", 3, 16, 3, true, true},
	{"conv2", 16, 32, 3, true, true},
	{"conv3", 32, 32, 3, true, true},
	{"conv4", 32, 64, 3, true, false},
	{"conv5", 64, 96, 3, true, false},
	{"head", 96, NumOut, 1, false, false},
}

// inputMean is subtracted from [0, 1] pixel values before the first conv.
const inputMean = 0.5

// net holds the weights of arch for plain-slice inference.
type net struct {
	w, b [][]float32 // per layer: w (cout, cin*k*k), b (cout)
}

// netFromTensors checks ts against arch (names LAYER.w (cout,cin,k,k) and
// LAYER.b (cout)) and copies them.
func netFromTensors(ts []graph.WeightTensor) (*net, error) {
	byName := map[string]graph.WeightTensor{}
	for _, t := range ts {
		byName[t.Name] = t
	}
	n := &net{}
	for _, l := range arch {
		w, ok := byName[l.name+".w"]
		if !ok {
			return nil, fmt.Errorf("detect: weights lack %s.w", l.name)
		}
		b, ok := byName[l.name+".b"]
		if !ok {
			return nil, fmt.Errorf("detect: weights lack %s.b", l.name)
		}
		if want := []int{l.cout, l.cin, l.k, l.k}; !sameShape(w.Shape, want) {
			return nil, fmt.Errorf("detect: %s.w has shape %v, want %v", l.name, w.Shape, want)
		}
		if !sameShape(b.Shape, []int{l.cout}) {
			return nil, fmt.Errorf("detect: %s.b has shape %v, want [%d]", l.name, b.Shape, l.cout)
		}
		n.w = append(n.w, values(w))
		n.b = append(n.b, values(b))
	}
	return n, nil
}

func sameShape(a, b []int) bool {
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

// values returns a copy of t's values as float32.
func values(t graph.WeightTensor) []float32 {
	if t.Data != nil {
		return append([]float32(nil), t.Data...)
	}
	out := make([]float32, len(t.Data64))
	for i, v := range t.Data64 {
		out[i] = float32(v)
	}
	return out
}

// outSize returns the cell grid of an h x w input.
func outSize(h, w int) (int, int) {
	for _, l := range arch {
		if l.pool {
			h, w = h/2, w/2
		}
	}
	return h, w
}

// workspace holds the buffers of one forward pass, grown on demand and
// reused: a forward pass on an input no larger than the last allocates
// nothing.
type workspace struct {
	a, b []float32 // activations (ping-pong)
	col  []float32 // im2col
	gemm []float32 // GEMM packing
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// forward runs the net on x (3, h, w) and returns the output (NumOut, oh,
// ow) in a buffer of ws (valid until the next call).
func (n *net) forward(ws *workspace, x []float32, h, w int) ([]float32, int, int) {
	cur := x
	for li, l := range arch {
		hw := h * w
		kk := l.cin * l.k * l.k
		var in []float32
		if l.k == 1 {
			in = cur
		} else {
			ws.col = grow(ws.col, kk*hw)
			im2col3(ws.col, cur, l.cin, h, w)
			in = ws.col
		}
		ws.gemm = grow(ws.gemm, ops.SgemmWorkspace(l.cout, hw, kk))
		out := &ws.a
		if li%2 == 1 {
			out = &ws.b
		}
		*out = grow(*out, l.cout*hw)
		y := *out
		ops.Sgemm(l.cout, hw, kk, n.w[li], kk, in, hw, y, hw, ws.gemm)
		if l.pool {
			// Pool before the bias and ReLU, on a quarter of the values:
			// both are monotone (and rounding to float32 is), so
			// max_i relu(a_i + b) = relu(max_i a_i + b) exactly.
			ho, wo := h/2, w/2
			maxPool2(y, y, l.cout, h, w) // in place: output rows are written behind the reads
			h, w = ho, wo
		}
		biasAct(y[:l.cout*h*w], n.b[li], h*w, l.relu)
		cur = y[:l.cout*h*w]
	}
	return cur, h, w
}

// biasAct adds bias[c] to plane c of y (planes of n values) and, with
// relu, clamps below at 0.
func biasAct(y, bias []float32, n int, relu bool) {
	for c, bv := range bias {
		yc := y[c*n : (c+1)*n]
		if !relu {
			for i := range yc {
				yc[i] += bv
			}
			continue
		}
		for i, v := range yc {
			yc[i] = max(v+bv, 0)
		}
	}
}

// im2col3 fills col (cin*9, h*w) from x (cin, h, w) for a 3x3 conv, pad 1,
// stride 1.
func im2col3(col, x []float32, cin, h, w int) {
	hw := h * w
	for c := 0; c < cin; c++ {
		img := x[c*hw : (c+1)*hw]
		for u := 0; u < 3; u++ {
			for v := 0; v < 3; v++ {
				row := col[((c*3+u)*3+v)*hw : ((c*3+u)*3+v+1)*hw]
				for i := 0; i < h; i++ {
					dst := row[i*w : (i+1)*w]
					r := i - 1 + u
					if r < 0 || r >= h {
						clear(dst)
						continue
					}
					src := img[r*w : (r+1)*w]
					switch v {
					case 0:
						dst[0] = 0
						copy(dst[1:], src[:w-1])
					case 1:
						copy(dst, src)
					case 2:
						copy(dst[:w-1], src[1:])
						dst[w-1] = 0
					}
				}
			}
		}
	}
}

// maxPool2 writes the 2x2 max pool (floor) of x (planes, h, w) into out,
// which may be x itself.
func maxPool2(out, x []float32, planes, h, w int) {
	ho, wo := h/2, w/2
	for p := 0; p < planes; p++ {
		src := x[p*h*w:]
		dst := out[p*ho*wo:]
		for i := 0; i < ho; i++ {
			r0 := src[2*i*w : 2*i*w+2*wo]
			r1 := src[(2*i+1)*w : (2*i+1)*w+2*wo]
			d := dst[i*wo : (i+1)*wo]
			for j := range d {
				d[j] = max(r0[2*j], r0[2*j+1], r1[2*j], r1[2*j+1])
			}
		}
	}
}
