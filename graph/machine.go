package graph

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/stn3d/stn3d/ops"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// machine runs the part of a Gorgonia graph that a set of roots needs, in
// Gorgonia's topological order, and is what Network uses instead of
// gorgonia's TapeMachine (which reallocates every value on every run and
// runs every node of the graph, needed or not).
//
// Every output of a Fresh op (all of package ops) gets a buffer planned once,
// at construction, from the nodes' lifetimes: a value lives from the step
// that computes it to the last step that reads it (the roots to the end of
// the run), and outputs whose lifetimes do not overlap share memory. The
// buffers are offsets into an arena shared by the machines of one Network
// (they never run at the same time); the op writes into its buffer through
// UsePreallocDo, so after the first run nothing of that size is allocated.
// Outputs of other ops (Gorgonia's own: reshapes, slices, small loss
// arithmetic) are allocated by the op as usual; since such an output may
// share memory with its inputs, their lifetimes are extended to its own.
//
// After a run the roots' values are bound to their nodes (n.Value(), and
// p.Grad() through a gradient node); other nodes keep no value, because
// their memory is reused.
type machine struct {
	nodes []*gorgonia.Node // leaves, then steps interleaved, in order
	leaf  []bool
	steps []mstep
	vals  []gorgonia.Value // per node, this run
	roots []int            // node indices bound after a run
	arena *arena
	gen   int // arena generation the views were built for
	// Need32, Need64: arena elements this machine's plan uses.
	need32, need64 int
	// opTime, when non-nil, accumulates the wall time of each op (by its
	// String up to the first '{' or '('), for benchmarks.
	opTime map[string]time.Duration
	// opTimeShapes keys opTime by op and output shape (one entry per
	// layer) instead of by op alone.
	opTimeShapes bool
}

type mstep struct {
	node int // index into machine.nodes
	op   gorgonia.Op
	pre  gorgonia.UsePreallocDoer // non-nil for planned outputs
	args []int
	in   []gorgonia.Value
	// planned output: arena offset and size (elements) and the view.
	off, size int
	dt        tensor.Dtype
	shape     tensor.Shape
	out       *tensor.Dense
}

// arena is the memory of the planned buffers of one or more machines. It
// grows to the largest plan; growing it bumps gen so that every machine
// rebuilds its views.
//
// The memory is mapped outside the Go heap (mapFloats). A mapping that a
// larger plan outgrows is kept until release, because values bound to
// nodes by an earlier run may still point into it.
type arena struct {
	f32   []float32
	f64   []float64
	gen   int
	unmap []func() error
}

func (a *arena) reserve(n32, n64 int) {
	if n32 > len(a.f32) {
		p, unmap := mapFloats(n32, 4)
		a.f32 = unsafe.Slice((*float32)(p), n32)
		a.keep(unmap)
	}
	if n64 > len(a.f64) {
		p, unmap := mapFloats(n64, 8)
		a.f64 = unsafe.Slice((*float64)(p), n64)
		a.keep(unmap)
	}
}

func (a *arena) keep(unmap func() error) {
	if unmap != nil {
		a.unmap = append(a.unmap, unmap)
	}
	a.gen++
}

// release frees the arena's memory. Values the machines bound to nodes
// point into it and must not be read afterwards; a machine that runs again
// maps a new arena.
func (a *arena) release() error {
	var err error
	for _, f := range a.unmap {
		err = errors.Join(err, f())
	}
	a.f32, a.f64, a.unmap = nil, nil, nil
	a.gen++
	return err
}

// bytes returns the arena's size.
func (a *arena) bytes() int { return 4*len(a.f32) + 8*len(a.f64) }

// planAlign is the alignment of planned buffers in elements (64 bytes for
// float32).
const planAlign = 16

// newMachine compiles the nodes of g that roots need. A forward-only
// machine (inference: it computes no gradients) runs the inference form of
// ops that have one (ops.Inferencer: e.g. Winograd convolutions).
func newMachine(g *gorgonia.ExprGraph, roots []*gorgonia.Node, a *arena, inference bool) (*machine, error) {
	if len(roots) == 0 {
		return nil, errors.New("graph: machine: no roots")
	}
	sorted, err := gorgonia.Sort(g)
	if err != nil {
		return nil, fmt.Errorf("graph: machine: %w", err)
	}
	children := func(n *gorgonia.Node) []*gorgonia.Node {
		it := g.From(n.ID())
		out := make([]*gorgonia.Node, 0, it.Len())
		for it.Next() {
			out = append(out, it.Node().(*gorgonia.Node))
		}
		return out
	}
	need := map[*gorgonia.Node]bool{}
	stack := append([]*gorgonia.Node(nil), roots...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if need[n] {
			continue
		}
		need[n] = true
		stack = append(stack, children(n)...)
	}
	m := &machine{arena: a}
	index := map[*gorgonia.Node]int{}
	for i := len(sorted) - 1; i >= 0; i-- { // Sort puts the roots first
		n := sorted[i]
		if !need[n] {
			continue
		}
		index[n] = len(m.nodes)
		m.nodes = append(m.nodes, n)
		m.leaf = append(m.leaf, n.Op() == nil)
	}
	if len(index) != len(need) {
		return nil, errors.New("graph: machine: a needed node is missing from the graph's order")
	}
	stepOf := make([]int, len(m.nodes)) // node index -> step index (-1 for leaves)
	for i, n := range m.nodes {
		stepOf[i] = -1
		if m.leaf[i] {
			continue
		}
		s := mstep{node: i, op: n.Op(), off: -1}
		if inf, ok := s.op.(ops.Inferencer); ok && inference {
			s.op = inf.ForInference()
		}
		for _, c := range children(n) {
			ci, ok := index[c]
			if !ok || ci >= i {
				return nil, fmt.Errorf("graph: machine: node %v reads %v out of order", n, c)
			}
			s.args = append(s.args, ci)
		}
		s.in = make([]gorgonia.Value, len(s.args))
		stepOf[i] = len(m.steps)
		m.steps = append(m.steps, s)
	}
	for _, r := range roots {
		m.roots = append(m.roots, index[r])
	}
	if inference {
		m.fuse(stepOf)
	}

	// Lifetimes in steps: last[s] is the last step reading step s's value.
	ns := len(m.steps)
	last := make([]int, ns)
	for si := range m.steps {
		last[si] = si
		for _, a := range m.steps[si].args {
			if sa := stepOf[a]; sa >= 0 {
				last[sa] = max(last[sa], si)
			}
		}
	}
	for _, r := range m.roots {
		if sr := stepOf[r]; sr >= 0 {
			last[sr] = ns
		}
	}
	fresh := make([]bool, ns)
	for si, s := range m.steps {
		_, fresh[si] = s.op.(ops.Fresh)
	}
	for si := ns - 1; si >= 0; si-- {
		if fresh[si] {
			continue
		}
		for _, a := range m.steps[si].args {
			if sa := stepOf[a]; sa >= 0 {
				last[sa] = max(last[sa], last[si])
			}
		}
	}

	// First-fit offsets over the live intervals, per dtype.
	type block struct{ off, size, last int }
	var live32, live64 []block
	place := func(live *[]block, si, size int) int {
		kept := (*live)[:0]
		for _, b := range *live {
			if b.last >= si {
				kept = append(kept, b)
			}
		}
		*live = kept
		off := 0
		for moved := true; moved; {
			moved = false
			for _, b := range *live {
				if off < b.off+b.size && b.off < off+size {
					off = b.off + b.size
					moved = true
				}
			}
		}
		*live = append(*live, block{off, size, last[si]})
		return off
	}
	for si := range m.steps {
		s := &m.steps[si]
		n := m.nodes[s.node]
		pre, ok := s.op.(gorgonia.UsePreallocDoer)
		if !fresh[si] || !ok {
			continue
		}
		shape := n.Shape()
		if len(shape) == 0 || shape.TotalSize() <= 0 {
			continue
		}
		size := shape.TotalSize()
		aligned := (size + planAlign - 1) / planAlign * planAlign
		switch n.Dtype() {
		case tensor.Float32:
			s.off = place(&live32, si, aligned)
			m.need32 = max(m.need32, s.off+aligned)
		case tensor.Float64:
			s.off = place(&live64, si, aligned)
			m.need64 = max(m.need64, s.off+aligned)
		default:
			continue
		}
		s.pre, s.size, s.dt, s.shape = pre, size, n.Dtype(), shape
	}
	m.vals = make([]gorgonia.Value, len(m.nodes))
	m.gen = -1
	return m, nil
}

// fuse rewrites, in a forward-only machine, a convolution whose output only
// a 2x2 max pool reads (and no root) into one fused step
// (ops.FuseConvPool): the convolution's step is dropped and the pool's step
// computes both from the convolution's inputs. stepOf (node index -> step
// index) is updated.
func (m *machine) fuse(stepOf []int) {
	readers := make([]int, len(m.nodes))
	for _, s := range m.steps {
		for _, a := range s.args {
			readers[a]++
		}
	}
	for _, r := range m.roots {
		readers[r]++
	}
	dead := make([]bool, len(m.steps))
	for si := range m.steps {
		s := &m.steps[si]
		if len(s.args) != 1 || stepOf[s.args[0]] < 0 || readers[s.args[0]] != 1 {
			continue
		}
		pi := stepOf[s.args[0]]
		p := m.steps[pi]
		f, ok := ops.FuseConvPool(p.op, s.op)
		if !ok {
			continue
		}
		s.op, s.args, s.in = f, p.args, make([]gorgonia.Value, len(p.args))
		dead[pi] = true
	}
	kept := m.steps[:0]
	for si, s := range m.steps {
		if dead[si] {
			stepOf[s.node] = -1
			continue
		}
		stepOf[s.node] = len(kept)
		kept = append(kept, s)
	}
	m.steps = kept
}

// views (re)builds the planned outputs' tensors over the arena.
func (m *machine) views() {
	m.arena.reserve(m.need32, m.need64)
	if m.gen == m.arena.gen {
		return
	}
	for i := range m.steps {
		s := &m.steps[i]
		if s.pre == nil {
			continue
		}
		var back any
		if s.dt == tensor.Float32 {
			back = m.arena.f32[s.off : s.off+s.size : s.off+s.size]
		} else {
			back = m.arena.f64[s.off : s.off+s.size : s.off+s.size]
		}
		s.out = tensor.New(tensor.WithShape(s.shape.Clone()...), tensor.WithBacking(back))
	}
	m.gen = m.arena.gen
}

// run executes every step once and binds the roots' values.
func (m *machine) run() error {
	m.views()
	for i, n := range m.nodes {
		if !m.leaf[i] {
			continue
		}
		v := n.Value()
		if v == nil {
			return fmt.Errorf("graph: machine: no value bound to input %v", n)
		}
		m.vals[i] = v
	}
	for i := range m.steps {
		s := &m.steps[i]
		for j, a := range s.args {
			s.in[j] = m.vals[a]
		}
		var v gorgonia.Value
		var err error
		var t0 time.Time
		if m.opTime != nil {
			t0 = time.Now()
		}
		if s.pre != nil {
			v, err = s.pre.UsePreallocDo(s.out, s.in...)
		} else {
			v, err = s.op.Do(s.in...)
		}
		if m.opTime != nil {
			name := s.op.String()
			if i := strings.IndexAny(name, "{("); i > 0 {
				name = name[:i]
			}
			if m.opTimeShapes {
				name = fmt.Sprintf("%s %v", name, m.nodes[s.node].Shape())
			}
			m.opTime[name] += time.Since(t0)
		}
		if err != nil {
			return fmt.Errorf("graph: machine: %v: %w", m.nodes[s.node], err)
		}
		m.vals[s.node] = v
	}
	for _, r := range m.roots {
		if m.leaf[r] {
			continue
		}
		if err := gorgonia.UnsafeLet(m.nodes[r], m.vals[r]); err != nil {
			return fmt.Errorf("graph: machine: binding %v: %w", m.nodes[r], err)
		}
	}
	clear(m.vals)
	for i := range m.steps {
		clear(m.steps[i].in)
	}
	return nil
}
