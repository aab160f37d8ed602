package graph

import (
	"errors"
	"fmt"
	"math"

	"github.com/stn3d/stn3d/internal/kern"
	"github.com/stn3d/stn3d/internal/workpool"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Solver kinds accepted by OptimizerConfig.Kind.
const (
	SolverSGD  = "sgd"
	SolverAdam = "adam"
)

// Schedule kinds accepted by Schedule.Kind.
const (
	ScheduleConstant = "constant"
	ScheduleStep     = "step"
	ScheduleCosine   = "cosine"
)

// Schedule maps a 0-based step number to a learning rate.
//
//   - constant: lr(t) = Base.
//   - step:     lr(t) = Base * Gamma^(number of entries of Milestones <= t).
//   - cosine:   lr(t) = Min + (Base-Min) * (1 + cos(pi * min(t, Total)/Total)) / 2.
//
// With Warmup > 0 the first Warmup steps are scaled linearly,
// lr(t) *= (t+1)/Warmup for t < Warmup; the main schedule is evaluated at
// t - Warmup afterwards (so a cosine's Total counts post-warm-up steps).
type Schedule struct {
	Kind       string
	Base       float64
	Gamma      float64
	Milestones []int
	Total      int
	Min        float64
	Warmup     int
}

// Validate reports an inconsistent schedule.
func (s Schedule) Validate() error {
	if !(s.Base >= 0) || math.IsInf(s.Base, 0) {
		return fmt.Errorf("graph: schedule base learning rate %v: want a finite value >= 0", s.Base)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("graph: schedule warmup %d: want >= 0", s.Warmup)
	}
	switch s.Kind {
	case ScheduleConstant, "":
	case ScheduleStep:
		if !(s.Gamma > 0) {
			return fmt.Errorf("graph: step schedule gamma %v: want > 0", s.Gamma)
		}
		for i := 1; i < len(s.Milestones); i++ {
			if s.Milestones[i] <= s.Milestones[i-1] {
				return fmt.Errorf("graph: step schedule milestones %v: want strictly increasing", s.Milestones)
			}
		}
	case ScheduleCosine:
		if s.Total <= 0 {
			return fmt.Errorf("graph: cosine schedule total %d: want > 0", s.Total)
		}
	default:
		return fmt.Errorf("graph: schedule kind %q: want %q, %q or %q", s.Kind, ScheduleConstant, ScheduleStep, ScheduleCosine)
	}
	return nil
}

// LR returns the learning rate at 0-based step t.
func (s Schedule) LR(t int) float64 {
	warm := 1.0
	if t < s.Warmup {
		warm = float64(t+1) / float64(s.Warmup)
		t = 0
	} else {
		t -= s.Warmup
	}
	lr := s.Base
	switch s.Kind {
	case ScheduleStep:
		for _, m := range s.Milestones {
			if t >= m {
				lr *= s.Gamma
			}
		}
	case ScheduleCosine:
		u := float64(min(t, s.Total)) / float64(s.Total)
		lr = s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*u))/2
	}
	return lr * warm
}

// ParamMult scales the learning rate and the weight decay of one parameter
// (Caffe's lr_mult / decay_mult). The reference trains the new theta layer
// with weights {LR: 4, Decay: 1} and bias {LR: 8, Decay: 0}.
type ParamMult struct {
	LR    float64
	Decay float64
}

// OptimizerConfig configures an Optimizer.
type OptimizerConfig struct {
	// Kind is SolverSGD or SolverAdam.
	Kind string
	// Schedule gives the base learning rate per step.
	Schedule Schedule
	// Momentum mu of SGD (0.9 in the reference).
	Momentum float64
	// WeightDecay lambda (5e-4 in the reference): L2 decay added to the
	// gradient, g += lambda * decay_mult * w, for both solvers.
	WeightDecay float64
	// Beta1, Beta2, Eps of Adam (0 selects 0.9, 0.999, 1e-8).
	Beta1, Beta2, Eps float64
	// ClipNorm > 0 rescales all gradients together when their global L2
	// norm (after weight decay) exceeds it: g *= ClipNorm / norm.
	ClipNorm float64
}

// NonFiniteError reports a NaN or Inf gradient; the update was refused and
// no parameter or optimiser state changed.
type NonFiniteError struct {
	Step  int
	Param string
	Index int
	Value float64
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("graph: step %d: gradient of %q has non-finite value %v at flat index %d; update refused",
		e.Step, e.Param, e.Value, e.Index)
}

// Optimizer updates parameter node values in place from their gradients.
// It keeps one state buffer per parameter (SGD: velocity; Adam: first and
// second moments) allocated once in NewOptimizer; Step's only allocations
// are the slice headers tensor.Dense.Data() builds (a few per parameter).
//
// SGD with momentum (Caffe form), per element with a = LR mult, d = decay mult:
//
//	g' = g + lambda*d*w;  v = mu*v + lr*a*g';  w = w - v
//
// Adam (Kingma & Ba 2015, L2 decay folded into g as above), t = 1, 2, ...:
//
//	m = b1*m + (1-b1)*g';  v = b2*v + (1-b2)*g'^2
//	w = w - lr*a * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
type Optimizer struct {
	cfg    OptimizerConfig
	params []*gorgonia.Node
	mults  []ParamMult
	// state[i] holds parameter i's SGD velocity or Adam first moment (m)
	// and Adam's second moment (v, nil for SGD), in the parameter's own
	// dtype: float32 state halves the memory traffic of the update, which
	// is memory-bound. Checkpoints store it as float64, which holds every
	// float32 exactly, so a resume is exact.
	state []paramState
	// wd, gd hold the current step's value and gradient slices (filled in
	// pass 1 of Step, reused in pass 2).
	wd, gd []any
	// spans cut every parameter into optimChunk pieces (built on the first
	// Step); sums holds pass 1's result per span.
	spans []optimSpan
	sums  []spanResult
	step  int
	// LastGradNorm is the global gradient norm seen by the last Step
	// (before clipping).
	LastGradNorm float64
	// LastLR is the base learning rate used by the last Step.
	LastLR float64
}

// paramState is one parameter's optimiser buffers; exactly one of the
// float32 and float64 pairs is used.
type paramState struct {
	m32, v32 []float32
	m64, v64 []float64
}

// len returns the number of elements of the state.
func (s paramState) len() int { return max(len(s.m32), len(s.m64)) }

// NewOptimizer validates cfg and allocates state for params. mults maps a
// parameter name to its multipliers; absent names get {1, 1}.
func NewOptimizer(cfg OptimizerConfig, params []*gorgonia.Node, mults map[string]ParamMult) (*Optimizer, error) {
	switch cfg.Kind {
	case SolverSGD:
	case SolverAdam:
		if cfg.Beta1 == 0 {
			cfg.Beta1 = 0.9
		}
		if cfg.Beta2 == 0 {
			cfg.Beta2 = 0.999
		}
		if cfg.Eps == 0 {
			cfg.Eps = 1e-8
		}
		if cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1 {
			return nil, fmt.Errorf("graph: adam betas (%v, %v): want each in [0, 1)", cfg.Beta1, cfg.Beta2)
		}
	default:
		return nil, fmt.Errorf("graph: optimizer kind %q: want %q or %q", cfg.Kind, SolverSGD, SolverAdam)
	}
	if err := cfg.Schedule.Validate(); err != nil {
		return nil, err
	}
	if cfg.Momentum < 0 || cfg.Momentum >= 1 {
		return nil, fmt.Errorf("graph: momentum %v: want in [0, 1)", cfg.Momentum)
	}
	if cfg.WeightDecay < 0 || cfg.ClipNorm < 0 {
		return nil, fmt.Errorf("graph: weight decay %v / clip norm %v: want >= 0", cfg.WeightDecay, cfg.ClipNorm)
	}
	o := &Optimizer{cfg: cfg, params: params, wd: make([]any, len(params)), gd: make([]any, len(params))}
	seen := make(map[string]bool, len(params))
	for _, p := range params {
		if seen[p.Name()] {
			return nil, fmt.Errorf("graph: optimizer: duplicate parameter name %q", p.Name())
		}
		seen[p.Name()] = true
		if p.Shape().TotalSize() <= 0 {
			return nil, fmt.Errorf("graph: optimizer: parameter %q has shape %v", p.Name(), p.Shape())
		}
		mu := ParamMult{LR: 1, Decay: 1}
		if m, ok := mults[p.Name()]; ok {
			mu = m
		}
		o.mults = append(o.mults, mu)
		n := p.Shape().TotalSize()
		var st paramState
		switch p.Dtype() {
		case tensor.Float32:
			st.m32 = make([]float32, n)
			if cfg.Kind == SolverAdam {
				st.v32 = make([]float32, n)
			}
		case tensor.Float64:
			st.m64 = make([]float64, n)
			if cfg.Kind == SolverAdam {
				st.v64 = make([]float64, n)
			}
		default:
			return nil, fmt.Errorf("graph: optimizer: parameter %q has dtype %v, want float32 or float64", p.Name(), p.Dtype())
		}
		o.state = append(o.state, st)
	}
	for name := range mults {
		if !seen[name] {
			return nil, fmt.Errorf("graph: optimizer: multiplier for unknown parameter %q", name)
		}
	}
	return o, nil
}

// StepCount returns the number of updates applied so far.
func (o *Optimizer) StepCount() int { return o.step }

// Config returns the optimiser's configuration (with defaults filled in).
func (o *Optimizer) Config() OptimizerConfig { return o.cfg }

// Params returns the parameters the optimiser updates.
func (o *Optimizer) Params() []*gorgonia.Node { return o.params }

func nodeData(n *gorgonia.Node) (any, error) {
	v := n.Value()
	if v == nil {
		return nil, fmt.Errorf("graph: parameter %q has no value", n.Name())
	}
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("graph: parameter %q value is %T, want a tensor", n.Name(), v)
	}
	return t.Data(), nil
}

func gradData(n *gorgonia.Node) (any, error) {
	g, err := n.Grad()
	if err != nil {
		return nil, fmt.Errorf("graph: gradient of %q: %w", n.Name(), err)
	}
	t, ok := g.(tensor.Tensor)
	if !ok {
		return nil, fmt.Errorf("graph: gradient of %q is %T, want a tensor", n.Name(), g)
	}
	return t.Data(), nil
}

// optimChunk is the number of elements one worker handles at a time in
// Step. A fixed size (not one chunk per CPU) keeps the global-norm sum, and
// so the whole update, bit-identical on machines with different core counts.
const optimChunk = 1 << 15

// optimSpan is one chunk [lo, hi) of parameter param.
type optimSpan struct{ param, lo, hi int }

// spanResult is pass 1's answer for one span: the sum of squares of the
// decayed gradient and the first non-finite element (bad = -1 if none).
type spanResult struct {
	sumSq float64
	bad   int
	val   float64
}

// sumSqFinite returns sum(g+lambda*w)^2 and the first non-finite index of
// g (-1 if none) with its value.
func sumSqFinite[T float32 | float64](g, w []T, lambda float64) (float64, int, float64) {
	var s float64
	for i, x := range g {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, i, f
		}
		f += lambda * float64(w[i])
		s += f * f
	}
	return s, -1, 0
}

// sgdUpdate is SGD with momentum and L2 decay on the clipped gradient
// (scale = clip factor): v <- mu*v + lr*(g + lambda*w)*scale; w <- w - v.
// It zeroes g for the next accumulation. Arithmetic is in T.
func sgdUpdate[T float32 | float64](w, g, vel []T, lr, mu, lambda, scale float64) {
	tl, tm, tlam, ts := T(lr), T(mu), T(lambda), T(scale)
	for i := range w {
		gi := (g[i] + tlam*w[i]) * ts
		g[i] = 0
		vi := tm*vel[i] + tl*gi
		vel[i] = vi
		w[i] -= vi
	}
}

// adamUpdate is Adam (Kingma and Ba 2015, Algorithm 1) on the clipped,
// decayed gradient g' = (g + lambda*w)*scale: m <- b1*m + (1-b1)*g';
// v <- b2*v + (1-b2)*g'^2; w <- w - (lr/c1)*m/(sqrt(v/c2)+eps) with the bias
// corrections c1 = 1-b1^t, c2 = 1-b2^t. It zeroes g for the next
// accumulation. Arithmetic is in T (the square root of a float32 compiles
// to one SQRTSS).
func adamUpdate[T float32 | float64](w, g, m, v []T, lr, b1, b2, c1, c2, eps, lambda, scale float64) {
	tb1, tb2, ta1, ta2 := T(b1), T(b2), T(1-b1), T(1-b2)
	step, ic2, teps := T(lr/c1), 1/c2, T(eps)
	tlam, ts := T(lambda), T(scale)
	for i := range w {
		gi := (g[i] + tlam*w[i]) * ts
		g[i] = 0
		mi := tb1*m[i] + ta1*gi
		vi := tb2*v[i] + ta2*gi*gi
		m[i], v[i] = mi, vi
		w[i] -= step * mi / (T(math.Sqrt(float64(vi)*ic2)) + teps)
	}
}

// spanSums runs pass 1 of Step on span sp (float32 through internal/kern,
// vectorised where the CPU allows: the sum's order is fixed per level).
func spanSums[T float32 | float64](w, g []T, sp optimSpan, lambda float64) spanResult {
	if g32, ok := any(g).([]float32); ok {
		gs := g32[sp.lo:sp.hi]
		s, bad := kern.SumSqDecay(kern.Active(), gs, any(w).([]float32)[sp.lo:sp.hi], lambda)
		if bad >= 0 {
			return spanResult{bad: bad + sp.lo, val: float64(gs[bad])}
		}
		return spanResult{sumSq: s, bad: -1}
	}
	s, bad, val := sumSqFinite(g[sp.lo:sp.hi], w[sp.lo:sp.hi], lambda)
	if bad >= 0 {
		bad += sp.lo
	}
	return spanResult{sumSq: s, bad: bad, val: val}
}

// Step applies one update from the gradients currently held by the
// parameter nodes (after a TapeMachine RunAll), then zeroes those
// gradients. If any gradient element is NaN or Inf it returns a
// *NonFiniteError, leaves parameters and state unchanged and zeroes the
// gradients so that the next batch starts clean. Both passes (the norm and
// finiteness check, then the update) run over fixed-size chunks in parallel.
func (o *Optimizer) Step() error {
	for i, p := range o.params {
		wd, err := nodeData(p)
		if err != nil {
			return err
		}
		gd, err := gradData(p)
		if err != nil {
			return err
		}
		switch w := wd.(type) {
		case []float32:
			if g, ok := gd.([]float32); !ok || len(g) != len(w) {
				return fmt.Errorf("graph: gradient of %q: dtype or size differs from its value", p.Name())
			}
		case []float64:
			if g, ok := gd.([]float64); !ok || len(g) != len(w) {
				return fmt.Errorf("graph: gradient of %q: dtype or size differs from its value", p.Name())
			}
		default:
			return fmt.Errorf("graph: parameter %q has data %T, want []float32 or []float64", p.Name(), wd)
		}
		if n := dataLen(wd); n != o.state[i].len() {
			return fmt.Errorf("graph: parameter %q has %d values, optimizer state %d", p.Name(), n, o.state[i].len())
		}
		o.wd[i], o.gd[i] = wd, gd
	}
	if o.spans == nil {
		for i := range o.params {
			n := o.state[i].len()
			for lo := 0; lo < n; lo += optimChunk {
				o.spans = append(o.spans, optimSpan{param: i, lo: lo, hi: min(lo+optimChunk, n)})
			}
		}
		o.sums = make([]spanResult, len(o.spans))
	}

	// Pass 1: finiteness and global norm (with decay folded in), summed in
	// span order so the result does not depend on scheduling.
	workpool.For(len(o.spans), workpool.Heavy, func(k int) {
		sp := o.spans[k]
		lambda := o.cfg.WeightDecay * o.mults[sp.param].Decay
		switch w := o.wd[sp.param].(type) {
		case []float32:
			o.sums[k] = spanSums(w, o.gd[sp.param].([]float32), sp, lambda)
		case []float64:
			o.sums[k] = spanSums(w, o.gd[sp.param].([]float64), sp, lambda)
		}
	})
	var ss float64
	for k, r := range o.sums {
		if r.bad >= 0 {
			o.zeroGrads()
			return &NonFiniteError{Step: o.step, Param: o.params[o.spans[k].param].Name(), Index: r.bad, Value: r.val}
		}
		ss += r.sumSq
	}
	norm := math.Sqrt(ss)
	o.LastGradNorm = norm
	if math.IsInf(norm, 0) {
		o.zeroGrads()
		return &NonFiniteError{Step: o.step, Param: "(global norm)", Index: -1, Value: norm}
	}
	scale := 1.0
	if o.cfg.ClipNorm > 0 && norm > o.cfg.ClipNorm {
		scale = o.cfg.ClipNorm / norm
	}
	lr := o.cfg.Schedule.LR(o.step)
	o.LastLR = lr
	t := float64(o.step + 1)
	c1 := 1 - math.Pow(o.cfg.Beta1, t)
	c2 := 1 - math.Pow(o.cfg.Beta2, t)

	// Pass 2: the update, which also zeroes each gradient chunk.
	workpool.For(len(o.spans), workpool.Heavy, func(k int) {
		sp := o.spans[k]
		i := sp.param
		plr := lr * o.mults[i].LR
		lambda := o.cfg.WeightDecay * o.mults[i].Decay
		st, lo, hi := o.state[i], sp.lo, sp.hi
		switch w := o.wd[i].(type) {
		case []float32:
			g := o.gd[i].([]float32)[lo:hi]
			if o.cfg.Kind == SolverSGD {
				sgdUpdate(w[lo:hi], g, st.m32[lo:hi], plr, o.cfg.Momentum, lambda, scale)
			} else {
				// adamUpdate's arithmetic, vectorised (same roundings).
				b1, b2 := o.cfg.Beta1, o.cfg.Beta2
				kern.Adam(kern.Active(), w[lo:hi], g, st.m32[lo:hi], st.v32[lo:hi], float32(b1), float32(b2), float32(1-b1), float32(1-b2),
					float32(plr/c1), float32(o.cfg.Eps), float32(lambda), float32(scale), 1/c2)
			}
		case []float64:
			g := o.gd[i].([]float64)[lo:hi]
			if o.cfg.Kind == SolverSGD {
				sgdUpdate(w[lo:hi], g, st.m64[lo:hi], plr, o.cfg.Momentum, lambda, scale)
			} else {
				adamUpdate(w[lo:hi], g, st.m64[lo:hi], st.v64[lo:hi], plr, o.cfg.Beta1, o.cfg.Beta2, c1, c2, o.cfg.Eps, lambda, scale)
			}
		}
	})
	clear(o.wd)
	clear(o.gd)
	o.step++
	return nil
}

// dataLen returns the length of the []float32 or []float64 in d.
func dataLen(d any) int {
	switch x := d.(type) {
	case []float32:
		return len(x)
	case []float64:
		return len(x)
	}
	return -1
}

// zeroGrads clears the parameters' gradient buffers: Gorgonia accumulates
// into bound dual values across runs, and its own solvers zero them after
// each update too.
func (o *Optimizer) zeroGrads() {
	for _, p := range o.params {
		if g, err := p.Grad(); err == nil {
			if t, ok := g.(tensor.Tensor); ok {
				t.Zero()
			}
		}
	}
}

// State returns the optimiser state for checkpointing: one named slice per
// buffer ("<param>.m", and "<param>.v" for Adam) and the step count. The
// slices are float64 copies (exact for float32 state).
func (o *Optimizer) State() (step int, bufs map[string][]float64) {
	bufs = make(map[string][]float64, 2*len(o.params))
	put := func(name string, b32 []float32, b64 []float64) {
		if b64 != nil {
			bufs[name] = append([]float64(nil), b64...)
			return
		}
		out := make([]float64, len(b32))
		for i, v := range b32 {
			out[i] = float64(v)
		}
		bufs[name] = out
	}
	adam := o.cfg.Kind == SolverAdam
	for i, p := range o.params {
		st := o.state[i]
		put(p.Name()+".m", st.m32, st.m64)
		if adam {
			put(p.Name()+".v", st.v32, st.v64)
		}
	}
	return o.step, bufs
}

// SetState restores what State returned; every buffer must be present with
// the right length (and, for float32 state, values a float32 can hold).
func (o *Optimizer) SetState(step int, bufs map[string][]float64) error {
	if step < 0 {
		return fmt.Errorf("graph: optimizer state step %d: want >= 0", step)
	}
	var errs []error
	check := func(name string, n int, f32 bool) {
		src, ok := bufs[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("graph: optimizer state %q missing", name))
		case len(src) != n:
			errs = append(errs, fmt.Errorf("graph: optimizer state %q has %d values, want %d", name, len(src), n))
		case f32:
			for j, v := range src {
				if math.Abs(v) > math.MaxFloat32 && !math.IsInf(v, 0) {
					errs = append(errs, fmt.Errorf("graph: optimizer state %q[%d] = %g overflows float32", name, j, v))
					return
				}
			}
		}
	}
	adam := o.cfg.Kind == SolverAdam
	for i, p := range o.params {
		st := o.state[i]
		check(p.Name()+".m", st.len(), st.m32 != nil)
		if adam {
			check(p.Name()+".v", st.len(), st.m32 != nil)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	get := func(name string, b32 []float32, b64 []float64) {
		src := bufs[name]
		if b64 != nil {
			copy(b64, src)
			return
		}
		for j, v := range src {
			b32[j] = float32(v)
		}
	}
	for i, p := range o.params {
		st := o.state[i]
		get(p.Name()+".m", st.m32, st.m64)
		if adam {
			get(p.Name()+".v", st.v32, st.v64)
		}
	}
	o.step = step
	return nil
}
