package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The convolution layers of graph's "small" localiser at batch 16, float32.
const smallBatch = 16

var smallConvLayers = []struct {
	name            string
	cin, cout, side int
}{
	{"conv1", 3, 32, 112},
	{"conv2", 32, 64, 56},
	{"conv3", 64, 128, 28},
	{"conv4", 128, 256, 14},
}

// heNormal32 returns n float32 values N(0, 2/fanIn), seeded.
func heNormal32(seed uint64, n, fanIn int) []float32 {
	r := rand.New(rand.NewPCG(seed, 3))
	std := math.Sqrt(2 / float64(fanIn))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

func param32(g *gorgonia.ExprGraph, name string, v []float32, shape ...int) *gorgonia.Node {
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	return gorgonia.NewTensor(g, tensor.Float32, len(shape), gorgonia.WithShape(shape...), gorgonia.WithName(name), gorgonia.WithValue(t))
}

// builtinConvReLU is conv3x3 pad 1 + bias + ReLU from gorgonia's built-ins,
// as graph/localiser.go builds it today.
func builtinConvReLU(x, w, b *gorgonia.Node) (*gorgonia.Node, error) {
	y, err := gorgonia.Conv2d(x, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	if y, err = gorgonia.BroadcastAdd(y, b, nil, []byte{0, 2, 3}); err != nil {
		return nil, err
	}
	return gorgonia.Rectify(y)
}

// runStep times RunAll + Reset of a compiled machine (one forward and
// backward pass), after one warm-up run.
func runStep(b *testing.B, g *gorgonia.ExprGraph) {
	m := gorgonia.NewTapeMachine(g)
	defer m.Close()
	if err := m.RunAll(); err != nil {
		b.Fatal(err)
	}
	m.Reset()
	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.RunAll(); err != nil {
			b.Fatal(err)
		}
		m.Reset()
	}
	b.StopTimer()
	b.ReportMetric((processCPU()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// processCPU returns the user + system CPU time of this process so far. On
// a shared machine CPU seconds per op are steadier than wall time; ideal
// wall time on P free cores is about cpu-s/op / P.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConv2DSmallLayers times forward + backward (dL/dx, dL/dw, dL/db
// of L = sum(y)) of each conv+bias+ReLU layer of the small localiser at
// batch 16, float32: this package's Conv2D against gorgonia's Conv2d +
// BroadcastAdd + Rectify.
func BenchmarkConv2DSmallLayers(b *testing.B) {
	b.Logf("BLAS: %s", BLASName())
	for li, l := range smallConvLayers {
		for _, impl := range []string{"ours", "builtin"} {
			b.Run(l.name+"/"+impl, func(b *testing.B) {
				g := gorgonia.NewGraph()
				x := param32(g, "x", heNormal32(uint64(li), smallBatch*l.cin*l.side*l.side, 1), smallBatch, l.cin, l.side, l.side)
				w := param32(g, "w", heNormal32(uint64(li+10), l.cout*l.cin*9, l.cin*9), l.cout, l.cin, 3, 3)
				bias := param32(g, "b", make([]float32, l.cout), 1, l.cout, 1, 1)
				var y *gorgonia.Node
				var err error
				if impl == "ours" {
					y, err = Conv2D(x, w, bias, 1, 1, true)
				} else {
					y, err = builtinConvReLU(x, w, bias)
				}
				if err != nil {
					b.Fatal(err)
				}
				cost, err := gorgonia.Sum(y)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := gorgonia.Grad(cost, x, w, bias); err != nil {
					b.Fatal(err)
				}
				runStep(b, g)
			})
		}
	}
}

// buildSmallLocaliser builds graph's "small" localiser (3x112x112 -> four
// [conv3x3 pad 1 + bias -> ReLU -> maxpool 2x2] blocks of 32, 64, 128, 256
// channels -> FC 12544 -> 256 -> ReLU -> FC 256 -> 6+D) at batch 16, float32,
// from this package's Conv2D / MaxPool2x2 (ours) or from gorgonia's
// built-ins, and asks for the gradient of sum(theta) with respect to every
// parameter. The FC layers are this package's Dense (oursFC) or gorgonia
// Reshape + Mul + BroadcastAdd (+ Rectify).
func buildSmallLocaliser(batch int, ours, oursFC bool, d int) (*gorgonia.ExprGraph, *gorgonia.Node, gorgonia.Nodes, error) {
	g := gorgonia.NewGraph()
	img := param32(g, "img", heNormal32(1, batch*3*112*112, 1), batch, 3, 112, 112)
	var params gorgonia.Nodes
	x := img
	for i, l := range smallConvLayers {
		w := param32(g, l.name+".w", heNormal32(uint64(100+i), l.cout*l.cin*9, l.cin*9), l.cout, l.cin, 3, 3)
		bias := param32(g, l.name+".b", make([]float32, l.cout), 1, l.cout, 1, 1)
		params = append(params, w, bias)
		var err error
		switch {
		case ours && i == 0:
			x, err = Conv2DNoInputGrad(x, w, bias, 1, 1, true)
		case ours:
			x, err = Conv2D(x, w, bias, 1, 1, true)
		default:
			x, err = builtinConvReLU(x, w, bias)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", l.name, err)
		}
		if ours {
			x, err = MaxPool2x2(x)
		} else {
			x, err = gorgonia.MaxPool2D(x, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s pool: %w", l.name, err)
		}
	}
	fc := func(x *gorgonia.Node, name string, in, out int, relu bool) (*gorgonia.Node, error) {
		w := param32(g, name+".w", heNormal32(uint64(len(params)), in*out, in), in, out)
		bias := param32(g, name+".b", make([]float32, out), 1, out)
		params = append(params, w, bias)
		if oursFC {
			return Dense(x, w, bias, relu) // flattens (B,256,7,7) itself
		}
		var err error
		if len(x.Shape()) != 2 {
			if x, err = gorgonia.Reshape(x, tensor.Shape{batch, in}); err != nil {
				return nil, err
			}
		}
		y, err := gorgonia.Mul(x, w)
		if err != nil {
			return nil, err
		}
		if y, err = gorgonia.BroadcastAdd(y, bias, nil, []byte{0}); err != nil {
			return nil, err
		}
		if relu {
			return gorgonia.Rectify(y)
		}
		return y, nil
	}
	x, err := fc(x, "fc5", 256*7*7, 256, true)
	if err != nil {
		return nil, nil, nil, err
	}
	theta, err := fc(x, "theta", 256, 6+d, false)
	if err != nil {
		return nil, nil, nil, err
	}
	cost, err := gorgonia.Sum(theta)
	if err != nil {
		return nil, nil, nil, err
	}
	grads, err := gorgonia.Grad(cost, params...)
	if err != nil {
		return nil, nil, nil, err
	}
	return g, theta, grads, nil
}

// BenchmarkSmallLocaliser times one forward + backward pass of the whole
// small localiser at batch 16 (D = 10), float32: ours (Conv2D, MaxPool2x2,
// Dense), ours_mulfc (Conv2D, MaxPool2x2, gorgonia Mul FCs) and builtin.
func BenchmarkSmallLocaliser(b *testing.B) {
	b.Logf("BLAS: %s", BLASName())
	for _, impl := range []string{"ours", "ours_mulfc", "builtin"} {
		b.Run(impl, func(b *testing.B) {
			g, _, _, err := buildSmallLocaliser(smallBatch, impl != "builtin", impl == "ours", 10)
			if err != nil {
				b.Fatal(err)
			}
			runStep(b, g)
		})
	}
}
