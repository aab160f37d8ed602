package graph

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/kern"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// paramWithGrad builds a float64 parameter w in a graph with cost
// sum(c .* w), so that dcost/dw = c, runs it once and returns w.
func paramWithGrad(t *testing.T, name string, w0, c []float64) (*gorgonia.Node, *gorgonia.ExprGraph, gorgonia.VM) {
	t.Helper()
	g := gorgonia.NewGraph()
	w := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(len(w0)), gorgonia.WithName(name),
		gorgonia.WithValue(tensor.New(tensor.WithShape(len(w0)), tensor.WithBacking(append([]float64(nil), w0...)))))
	cn := gorgonia.NewVector(g, tensor.Float64, gorgonia.WithShape(len(c)), gorgonia.WithName(name+"_c"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(len(c)), tensor.WithBacking(append([]float64(nil), c...)))))
	cost := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(w, cn))))
	if _, err := gorgonia.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g, gorgonia.BindDualValues(w))
	return w, g, vm
}

func run(t *testing.T, vm gorgonia.VM) {
	t.Helper()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	vm.Reset()
}

func vals(n *gorgonia.Node) []float64 { return n.Value().Data().([]float64) }

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

func TestSGDMomentumDecayHand(t *testing.T) {
	w, _, vm := paramWithGrad(t, "w", []float64{1, -2}, []float64{0.5, 3})
	defer vm.Close()
	opt, err := NewOptimizer(OptimizerConfig{Kind: SolverSGD, Schedule: Schedule{Kind: ScheduleConstant, Base: 0.1},
		Momentum: 0.9, WeightDecay: 0.01}, []*gorgonia.Node{w}, map[string]ParamMult{"w": {LR: 2, Decay: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	// Hand: lr = 0.2, lambda = 0.005.
	wh := []float64{1, -2}
	vh := []float64{0, 0}
	c := []float64{0.5, 3}
	for step := 0; step < 3; step++ {
		run(t, vm)
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
		for i := range wh {
			gi := c[i] + 0.005*wh[i]
			vh[i] = 0.9*vh[i] + 0.2*gi
			wh[i] -= vh[i]
		}
		for i, got := range vals(w) {
			if !near(got, wh[i], 1e-14) {
				t.Fatalf("step %d w[%d] = %.17g, want %.17g", step, i, got, wh[i])
			}
		}
	}
	// Spot value after the first step: w0 = 1 - 0.2*(0.5+0.005) = 0.899.
	if opt.StepCount() != 3 {
		t.Errorf("StepCount = %d, want 3", opt.StepCount())
	}
}

func TestSGDFirstStepKnownValue(t *testing.T) {
	w, _, vm := paramWithGrad(t, "w", []float64{1}, []float64{0.5})
	defer vm.Close()
	opt, err := NewOptimizer(OptimizerConfig{Kind: SolverSGD, Schedule: Schedule{Base: 0.1}, Momentum: 0.9, WeightDecay: 0.01},
		[]*gorgonia.Node{w}, map[string]ParamMult{"w": {LR: 2, Decay: 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, vm)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	if got := vals(w)[0]; !near(got, 0.899, 1e-15) {
		t.Fatalf("w = %.17g, want 0.899", got)
	}
}

func TestAdamHand(t *testing.T) {
	w, _, vm := paramWithGrad(t, "w", []float64{1, -2, 0.3}, []float64{0.5, -3, 1e-3})
	defer vm.Close()
	opt, err := NewOptimizer(OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 0.01}}, []*gorgonia.Node{w}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, vm)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	// First Adam step moves each weight by -lr*sign(g) (up to eps).
	want := []float64{0.99, -1.99, 0.29}
	for i, got := range vals(w) {
		if !near(got, want[i], 1e-6) {
			t.Errorf("w[%d] = %.10g, want %.10g", i, got, want[i])
		}
	}
	// Second step against a direct evaluation.
	m := []float64{0, 0, 0}
	v := []float64{0, 0, 0}
	wh := []float64{1, -2, 0.3}
	c := []float64{0.5, -3, 1e-3}
	for s := 1; s <= 2; s++ {
		for i := range wh {
			m[i] = 0.9*m[i] + 0.1*c[i]
			v[i] = 0.999*v[i] + 0.001*c[i]*c[i]
			wh[i] -= 0.01 * (m[i] / (1 - math.Pow(0.9, float64(s)))) / (math.Sqrt(v[i]/(1-math.Pow(0.999, float64(s)))) + 1e-8)
		}
	}
	run(t, vm)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	for i, got := range vals(w) {
		if !near(got, wh[i], 1e-13) {
			t.Errorf("step 2 w[%d] = %.17g, want %.17g", i, got, wh[i])
		}
	}
}

func TestClipNorm(t *testing.T) {
	w, _, vm := paramWithGrad(t, "w", []float64{0, 0}, []float64{3, 4})
	defer vm.Close()
	opt, err := NewOptimizer(OptimizerConfig{Kind: SolverSGD, Schedule: Schedule{Base: 1}, ClipNorm: 1}, []*gorgonia.Node{w}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, vm)
	if err := opt.Step(); err != nil {
		t.Fatal(err)
	}
	if got := vals(w); !near(got[0], -0.6, 1e-15) || !near(got[1], -0.8, 1e-15) {
		t.Errorf("clipped update w = %v, want [-0.6 -0.8]", got)
	}
	if opt.LastGradNorm != 5 {
		t.Errorf("LastGradNorm = %v, want 5", opt.LastGradNorm)
	}
}

func TestNonFiniteRefused(t *testing.T) {
	w, _, vm := paramWithGrad(t, "w", []float64{1, 2}, []float64{1, math.NaN()})
	defer vm.Close()
	opt, err := NewOptimizer(OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 1}}, []*gorgonia.Node{w}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, vm)
	err = opt.Step()
	var nf *NonFiniteError
	if !errors.As(err, &nf) || nf.Param != "w" || nf.Index != 1 {
		t.Fatalf("Step error = %v, want NonFiniteError on w[1]", err)
	}
	if got := vals(w); got[0] != 1 || got[1] != 2 || opt.StepCount() != 0 {
		t.Errorf("refused update changed state: w = %v, steps = %d", got, opt.StepCount())
	}
}

func TestSchedules(t *testing.T) {
	cases := []struct {
		s    Schedule
		t    int
		want float64
	}{
		{Schedule{Kind: ScheduleConstant, Base: 0.5}, 100, 0.5},
		{Schedule{Kind: ScheduleStep, Base: 1, Gamma: 0.1, Milestones: []int{10, 20}}, 9, 1},
		{Schedule{Kind: ScheduleStep, Base: 1, Gamma: 0.1, Milestones: []int{10, 20}}, 10, 0.1},
		{Schedule{Kind: ScheduleStep, Base: 1, Gamma: 0.1, Milestones: []int{10, 20}}, 25, 0.01},
		{Schedule{Kind: ScheduleCosine, Base: 1, Min: 0.1, Total: 100}, 0, 1},
		{Schedule{Kind: ScheduleCosine, Base: 1, Min: 0.1, Total: 100}, 50, 0.55},
		{Schedule{Kind: ScheduleCosine, Base: 1, Min: 0.1, Total: 100}, 500, 0.1},
		{Schedule{Kind: ScheduleConstant, Base: 1, Warmup: 4}, 0, 0.25},
		{Schedule{Kind: ScheduleConstant, Base: 1, Warmup: 4}, 3, 1},
		{Schedule{Kind: ScheduleCosine, Base: 1, Total: 10, Warmup: 4}, 9, 0.5},
	}
	for _, c := range cases {
		if err := c.s.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.s.LR(c.t); !near(got, c.want, 1e-12) {
			t.Errorf("%+v LR(%d) = %v, want %v", c.s, c.t, got, c.want)
		}
	}
	bad := []struct {
		s   Schedule
		msg string
	}{
		{Schedule{Kind: "linear", Base: 1}, `schedule kind "linear"`},
		{Schedule{Kind: ScheduleCosine, Base: 1}, "cosine schedule total 0"},
		{Schedule{Kind: ScheduleStep, Base: 1, Gamma: 0.1, Milestones: []int{5, 5}}, "strictly increasing"},
		{Schedule{Base: math.NaN()}, "base learning rate NaN"},
	}
	for _, c := range bad {
		if err := c.s.Validate(); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Validate(%+v) = %v, want error containing %q", c.s, err, c.msg)
		}
	}
}

func TestOptimizerConfigErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	w := gorgonia.NewVector(g, tensor.Float32, gorgonia.WithShape(2), gorgonia.WithName("w"), gorgonia.WithInit(gorgonia.Zeroes()))
	_, err := NewOptimizer(OptimizerConfig{Kind: "rmsprop"}, []*gorgonia.Node{w}, nil)
	if err == nil || !strings.Contains(err.Error(), `optimizer kind "rmsprop"`) {
		t.Errorf("got %v", err)
	}
	_, err = NewOptimizer(OptimizerConfig{Kind: SolverSGD}, []*gorgonia.Node{w}, map[string]ParamMult{"nope": {}})
	if err == nil || !strings.Contains(err.Error(), `unknown parameter "nope"`) {
		t.Errorf("got %v", err)
	}
}

// TestOptimizerStepAllocs bounds Step's allocations: state is allocated
// once; only tensor.Dense.Data()'s slice headers (<= 4 per parameter) may
// be built per call.
func TestOptimizerStepAllocs(t *testing.T) {
	w, _, vm := paramWithGrad(t, "w", make([]float64, 1000), make([]float64, 1000))
	defer vm.Close()
	opt, err := NewOptimizer(OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 0.1}, ClipNorm: 1}, []*gorgonia.Node{w}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, vm)
	allocs := testing.AllocsPerRun(20, func() {
		if err := opt.Step(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 6 {
		t.Errorf("Step allocates %v times per call for one parameter, want <= 6", allocs)
	}
	t.Logf("allocs per Step with one parameter: %v", allocs)
}

// TestAdamChunkedMatchesSerial runs Adam on a parameter that spans several
// optimChunk pieces with GOMAXPROCS 1 and 2 and compares both, bit for bit,
// with a plain serial loop; it also checks that the step zeroes the gradient
// and that a NaN in a late chunk is reported at its global index.
func TestAdamChunkedMatchesSerial(t *testing.T) {
	n := 2*optimChunk + 123
	w0, c := make([]float64, n), make([]float64, n)
	for i := range w0 {
		w0[i] = math.Sin(float64(i))
		c[i] = math.Cos(0.37*float64(i)) * 3
	}
	cfg := OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 0.01}, WeightDecay: 0.001, ClipNorm: 50}
	final := make([][]float64, 0, 2)
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		w, _, vm := paramWithGrad(t, "w", w0, c)
		opt, err := NewOptimizer(cfg, []*gorgonia.Node{w}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for step := 0; step < 3; step++ {
			run(t, vm)
			if err := opt.Step(); err != nil {
				t.Fatal(err)
			}
			g, _ := w.Grad()
			for i, v := range g.Data().([]float64) {
				if v != 0 {
					t.Fatalf("GOMAXPROCS %d step %d: gradient[%d] = %v after Step, want 0", procs, step, i, v)
				}
			}
		}
		final = append(final, append([]float64(nil), vals(w)...))
		vm.Close()
		runtime.GOMAXPROCS(prev)
	}
	// Serial reference: the same maths in one loop.
	wr := append([]float64(nil), w0...)
	m, v := make([]float64, n), make([]float64, n)
	for step := 0; step < 3; step++ {
		var ss float64
		for i := range wr {
			gi := c[i] + 0.001*wr[i]
			ss += gi * gi
		}
		scale := 1.0
		if norm := math.Sqrt(ss); norm > 50 {
			scale = 50 / norm
		}
		tt := float64(step + 1)
		c1, c2 := 1-math.Pow(0.9, tt), 1-math.Pow(0.999, tt)
		for i := range wr {
			gi := (c[i] + 0.001*wr[i]) * scale
			m[i] = 0.9*m[i] + 0.1*gi
			v[i] = 0.999*v[i] + 0.001*gi*gi
			wr[i] -= 0.01 * (m[i] / c1) / (math.Sqrt(v[i]/c2) + 1e-8)
		}
	}
	for i := range wr {
		if final[0][i] != final[1][i] {
			t.Fatalf("w[%d] = %v with GOMAXPROCS 1, %v with 2: want identical", i, final[0][i], final[1][i])
		}
		if !near(final[0][i], wr[i], 1e-12) {
			t.Fatalf("w[%d] = %v, serial reference %v", i, final[0][i], wr[i])
		}
	}

	c[n-5] = math.Inf(-1)
	w, _, vm := paramWithGrad(t, "late", w0, c)
	defer vm.Close()
	opt, err := NewOptimizer(cfg, []*gorgonia.Node{w}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run(t, vm)
	var nf *NonFiniteError
	if err := opt.Step(); !errors.As(err, &nf) || nf.Param != "late" || nf.Index != n-5 || !math.IsInf(nf.Value, -1) {
		t.Fatalf("Step error = %v, want NonFiniteError on late[%d] = -Inf", err, n-5)
	}
}

// TestAdamKernMatchesGo: the vectorised float32 Adam that Step uses rounds
// exactly like adamUpdate, on every level the CPU has.
func TestAdamKernMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n = 1037
	mk := func() []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(r.NormFloat64())
		}
		return v
	}
	w, g, m, v := mk(), mk(), mk(), mk()
	for i := range v {
		v[i] *= v[i]
	}
	lr, b1, b2, eps, lambda, scale := 2e-3, 0.9, 0.999, 1e-8, 5e-4, 0.8
	c1, c2 := 1-math.Pow(b1, 4), 1-math.Pow(b2, 4)
	ww, gg, mm, vv := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
	adamUpdate(ww, gg, mm, vv, lr, b1, b2, c1, c2, eps, lambda, scale)
	for _, l := range kern.Levels {
		if !kern.Supported(l) {
			t.Logf("%v: not supported by this CPU, skipped", l)
			continue
		}
		w2, g2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
		kern.Adam(l, w2, g2, m2, v2, float32(b1), float32(b2), float32(1-b1), float32(1-b2), float32(lr/c1), float32(eps), float32(lambda), float32(scale), 1/c2)
		for i := range w2 {
			if w2[i] != ww[i] || m2[i] != mm[i] || v2[i] != vv[i] || g2[i] != 0 {
				t.Fatalf("%v: element %d: w %v/%v m %v/%v v %v/%v", l, i, w2[i], ww[i], m2[i], mm[i], v2[i], vv[i])
			}
		}
	}
}
