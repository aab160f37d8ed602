package detect

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stn3d/stn3d/graph"
)

// randomTensors returns seeded random weights of arch.
func randomTensors(seed uint64) []graph.WeightTensor {
	r := rand.New(rand.NewPCG(seed, 1))
	var ts []graph.WeightTensor
	for _, l := range arch {
		w := make([]float32, l.cout*l.cin*l.k*l.k)
		for i := range w {
			w[i] = float32(r.NormFloat64() * math.Sqrt(2/float64(l.cin*l.k*l.k)))
		}
		b := make([]float32, l.cout)
		for i := range b {
			b[i] = float32(0.1 * r.NormFloat64())
		}
		ts = append(ts, graph.WeightTensor{Name: l.name + ".w", Shape: []int{l.cout, l.cin, l.k, l.k}, Data: w},
			graph.WeightTensor{Name: l.name + ".b", Shape: []int{l.cout}, Data: b})
	}
	return ts
}

// naiveForward is the network written out directly in float64.
func naiveForward(n *net, x []float32, h, w int) ([]float64, int, int) {
	cur := make([]float64, len(x))
	for i, v := range x {
		cur[i] = float64(v)
	}
	for li, l := range arch {
		out := make([]float64, l.cout*h*w)
		p := l.k / 2
		for co := 0; co < l.cout; co++ {
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					s := float64(n.b[li][co])
					for ci := 0; ci < l.cin; ci++ {
						for u := 0; u < l.k; u++ {
							for v := 0; v < l.k; v++ {
								y, x := i+u-p, j+v-p
								if y < 0 || y >= h || x < 0 || x >= w {
									continue
								}
								s += float64(n.w[li][((co*l.cin+ci)*l.k+u)*l.k+v]) * cur[(ci*h+y)*w+x]
							}
						}
					}
					if l.relu {
						s = math.Max(s, 0)
					}
					out[(co*h+i)*w+j] = s
				}
			}
		}
		if l.pool {
			ho, wo := h/2, w/2
			po := make([]float64, l.cout*ho*wo)
			for c := 0; c < l.cout; c++ {
				for i := 0; i < ho; i++ {
					for j := 0; j < wo; j++ {
						a := out[(c*h+2*i)*w+2*j]
						a = math.Max(a, out[(c*h+2*i)*w+2*j+1])
						a = math.Max(a, out[(c*h+2*i+1)*w+2*j])
						a = math.Max(a, out[(c*h+2*i+1)*w+2*j+1])
						po[(c*ho+i)*wo+j] = a
					}
				}
			}
			out, h, w = po, ho, wo
		}
		cur = out
	}
	return cur, h, w
}

func TestForwardMatchesNaive(t *testing.T) {
	n, err := netFromTensors(randomTensors(7))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(8, 9))
	var ws workspace
	// Odd sizes exercise the floor of the pools; the second, smaller call
	// reuses the workspace.
	for _, hw := range [][2]int{{37, 45}, {16, 24}} {
		h, w := hw[0], hw[1]
		x := make([]float32, 3*h*w)
		for i := range x {
			x[i] = r.Float32() - 0.5
		}
		got, oh, ow := n.forward(&ws, x, h, w)
		want, wh, ww := naiveForward(n, x, h, w)
		if oh != wh || ow != ww || oh != h/8 || ow != w/8 {
			t.Fatalf("%dx%d: output %dx%d, want %dx%d", h, w, oh, ow, wh, ww)
		}
		if len(got) != NumOut*oh*ow {
			t.Fatalf("output has %d values, want %d", len(got), NumOut*oh*ow)
		}
		for i := range want {
			if math.Abs(float64(got[i])-want[i]) > 1e-3*(1+math.Abs(want[i])) {
				t.Fatalf("%dx%d: out[%d] = %v, want %v", h, w, i, got[i], want[i])
			}
		}
	}
}

func TestForwardNoAllocs(t *testing.T) {
	n, err := netFromTensors(randomTensors(1))
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 3*64*48)
	var ws workspace
	n.forward(&ws, x, 64, 48)
	if a := testing.AllocsPerRun(5, func() { n.forward(&ws, x, 64, 48) }); a != 0 {
		t.Errorf("forward allocates %v times per call with a warm workspace, want 0", a)
	}
}

func TestNetFromTensorsErrors(t *testing.T) {
	ts := randomTensors(1)
	if _, err := netFromTensors(ts[1:]); err == nil {
		t.Error("missing conv1.w accepted")
	}
	bad := randomTensors(1)
	bad[2].Shape = []int{24, 12, 1, 9}
	if _, err := netFromTensors(bad); err == nil {
		t.Error("wrong conv2.w shape accepted")
	}
}
