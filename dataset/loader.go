package dataset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/stn3d/stn3d/bfm"
)

// BatchConfig configures a Batcher.
type BatchConfig struct {
	// K is the number of source samples per batch; a batch holds B = 2K
	// images, sample j at position 2j and its horizontal mirror at 2j+1
	// (the siamese pairs of Bas et al. 2017, Sec. 3.3).
	K int `yaml:"k"`
	// Height and Width are the image size every sample must have (crop and
	// resize before batching).
	Height int `yaml:"height"`
	Width  int `yaml:"width"`
	// Scheme names the landmark scheme of Batch.Landmarks ("aflw21",
	// "ibug68"); every sample must carry it.
	Scheme string `yaml:"scheme"`
	// Seed seeds the per-epoch shuffle: epoch e visits the source in the
	// order of a Fisher-Yates shuffle driven by PCG(Seed, e).
	Seed uint64 `yaml:"seed"`
	// Epochs is the number of passes before Next returns io.EOF; 0 = endless.
	// Each epoch has Len/K batches; the remainder of the shuffled order is
	// dropped.
	Epochs int `yaml:"epochs"`
	// Workers is the number of goroutines loading samples (0 = GOMAXPROCS).
	Workers int `yaml:"workers"`
	// Prefetch is the number of batches prepared ahead of the consumer
	// (0 = 2).
	Prefetch int `yaml:"prefetch"`
	// Start is the global batch number (epoch*BatchesPerEpoch + step) of
	// the first batch returned, so that a resumed run sees exactly the
	// batches an uninterrupted one would have seen.
	Start int `yaml:"start"`
	// Mean is subtracted from every channel after scaling 8-bit values to
	// [0, 1] (zero = plain [0, 1] input).
	Mean [3]float32 `yaml:"mean"`
	// HiddenWeight is the landmark weight of a self-occluded point whose
	// position the sample knows (Landmarks.Hidden, rendered data only);
	// 0 = the paper's visible-only loss. In [0, 1].
	HiddenWeight float32 `yaml:"hidden_weight"`
	// MaxTries bounds the samples tried for one batch position (0 =
	// DefaultMaxTries): a sample that fails to load or convert is replaced
	// by the next one in the epoch's order (see Batch.Skipped), and Next
	// fails only when MaxTries samples in a row fail.
	MaxTries int `yaml:"max_tries"`
}

// DefaultMaxTries is BatchConfig.MaxTries when it is 0.
const DefaultMaxTries = 16

// SkippedSample is a source sample that failed to load or to convert and
// was replaced in its batch by the next sample of the epoch's order.
type SkippedSample struct {
	// Index is the source index of the bad sample.
	Index int
	// Err says why, naming the sample.
	Err error
	// pair and try order the skips of one batch.
	pair, try int
}

// Batch is one training batch in the layouts the graph consumes.
type Batch struct {
	// B = 2K images of C = 3 channels, H x W pixels, L landmarks.
	B, C, H, W, L int
	// Images is B x C x H x W, row-major (NCHW), values v/255 - Mean[c].
	Images []float32
	// Landmarks is B x L x 2: (x, y) in pixels, (0, 0) the centre of the
	// top-left pixel. Mirror image 2j+1 has x' = W-1-x and its points
	// permuted by bfm.MirrorPermutation(Scheme).
	Landmarks []float32
	// Weights is B x L: 1 for a visible landmark, HiddenWeight for a
	// self-occluded one with a known position (Landmarks.Hidden), 0 for a
	// missing one (and for NaN coordinates).
	Weights []float32
	// Poses and HasPose hold the ground-truth pose where the sample has one;
	// the mirror has yaw and roll negated.
	Poses   []Pose
	HasPose []bool
	// Index is the source index of each image (mirrors repeat it).
	Index []int
	// Identities are the identity class of each image, Sample.Identity - 1
	// (a person's mirror image is the same person), -1 when unknown.
	Identities []int
	// Epoch and Step locate the batch: Step-th batch of epoch Epoch, both
	// from 0.
	Epoch, Step int
	// Skipped lists the samples that failed and were replaced, by batch
	// position then try. The replacement of the sample at position p of
	// the epoch's order is the first good one of positions p+1, p+2, ...
	// (wrapping around), so a batch is the same in every run and resume
	// whatever the number of workers; a replacement may repeat a sample of
	// the epoch.
	Skipped []SkippedSample
}

// Batcher turns a Source into a stream of batches. Worker goroutines load
// and convert samples in parallel, filling up to Prefetch batches ahead of
// the consumer; batch buffers are recycled, so once warm the Batcher itself
// allocates nothing per batch (the Source may). The order is deterministic
// whatever the number of workers.
//
// Next and Close must be called from one goroutine. Always call Close (it
// cancels the workers and waits for them); a Source.Sample in progress is
// not interrupted, so Close returns once it does.
type Batcher struct {
	src    Source
	cfg    BatchConfig
	perm   []int // mirror permutation of the scheme
	nb     int   // batches per epoch
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	free  chan *batchSlot
	order chan *batchSlot
	jobs  chan batchJob

	held   *batchSlot
	err    error
	closed bool
}

type batchSlot struct {
	batch   Batch
	pending atomic.Int32
	done    chan struct{} // one send per use when pending reaches 0
	mu      sync.Mutex
	err     error
}

type batchJob struct {
	slot  *batchSlot
	j     int   // pair index within the batch
	order []int // the epoch's order of source indices
	pos   int   // position of the pair's sample in order
}

// NewBatcher checks cfg against src and starts the workers. ctx bounds the
// Batcher's life: cancelling it stops the workers (Next then returns the
// context's error).
func NewBatcher(ctx context.Context, src Source, cfg BatchConfig) (*Batcher, error) {
	if src == nil {
		return nil, errors.New("dataset: batcher: nil source")
	}
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("dataset: batch config: %s = %v, want %s", field, v, want)
	}
	switch {
	case cfg.K < 1:
		return nil, bad("k", cfg.K, ">= 1")
	case cfg.Height < 1 || cfg.Width < 1:
		return nil, bad("height x width", fmt.Sprintf("%dx%d", cfg.Height, cfg.Width), "positive sizes")
	case bfm.SchemeSize(cfg.Scheme) == 0:
		return nil, bad("scheme", fmt.Sprintf("%q", cfg.Scheme), fmt.Sprintf("one of %q", bfm.Schemes()))
	case cfg.Epochs < 0:
		return nil, bad("epochs", cfg.Epochs, ">= 0 (0 = endless)")
	case cfg.Workers < 0:
		return nil, bad("workers", cfg.Workers, ">= 0 (0 = GOMAXPROCS)")
	case cfg.Prefetch < 0:
		return nil, bad("prefetch", cfg.Prefetch, ">= 0 (0 = 2)")
	case cfg.MaxTries < 0:
		return nil, bad("max_tries", cfg.MaxTries, ">= 0 (0 = DefaultMaxTries)")
	case !(cfg.HiddenWeight >= 0 && cfg.HiddenWeight <= 1):
		return nil, bad("hidden_weight", cfg.HiddenWeight, "in [0, 1]")
	}
	for c, m := range cfg.Mean {
		if math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return nil, bad(fmt.Sprintf("mean[%d]", c), m, "a finite value")
		}
	}
	n := src.Len()
	if n < cfg.K {
		return nil, fmt.Errorf("dataset: batcher: source has %d samples, fewer than k = %d", n, cfg.K)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = 2
	}
	if cfg.MaxTries == 0 {
		cfg.MaxTries = DefaultMaxTries
	}
	cfg.MaxTries = min(cfg.MaxTries, n)
	ctx, cancel := context.WithCancel(ctx)
	b := &Batcher{
		src: src, cfg: cfg, perm: bfm.MirrorPermutation(cfg.Scheme), nb: n / cfg.K,
		ctx: ctx, cancel: cancel,
	}
	nslots := cfg.Prefetch + 1 // one is held by the consumer
	b.free = make(chan *batchSlot, nslots)
	b.order = make(chan *batchSlot, nslots)
	b.jobs = make(chan batchJob, cfg.K)
	bs, l := 2*cfg.K, bfm.SchemeSize(cfg.Scheme)
	for range nslots {
		s := &batchSlot{done: make(chan struct{}, 1)}
		s.batch = Batch{
			B: bs, C: 3, H: cfg.Height, W: cfg.Width, L: l,
			Images:     make([]float32, bs*3*cfg.Height*cfg.Width),
			Landmarks:  make([]float32, bs*l*2),
			Weights:    make([]float32, bs*l),
			Poses:      make([]Pose, bs),
			HasPose:    make([]bool, bs),
			Index:      make([]int, bs),
			Identities: make([]int, bs),
		}
		b.free <- s
	}
	b.wg.Add(1 + cfg.Workers)
	go b.dispatch()
	for range cfg.Workers {
		go b.work()
	}
	return b, nil
}

// BatchesPerEpoch returns Len/K.
func (b *Batcher) BatchesPerEpoch() int { return b.nb }

// dispatch walks the epochs, handing out free slots in order and one job per
// sample of each.
func (b *Batcher) dispatch() {
	defer b.wg.Done()
	defer close(b.jobs)
	defer close(b.order)
	k := b.cfg.K
	first, firstStep := b.cfg.Start/b.nb, b.cfg.Start%b.nb
	for epoch := first; b.cfg.Epochs == 0 || epoch < b.cfg.Epochs; epoch++ {
		// A fresh slice each epoch: workers may still read the last one.
		idx := make([]int, b.src.Len())
		for i := range idx {
			idx[i] = i
		}
		rng := rand.New(rand.NewPCG(b.cfg.Seed, uint64(epoch)))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		step0 := 0
		if epoch == first {
			step0 = firstStep
		}
		for step := step0; step < b.nb; step++ {
			var s *batchSlot
			select {
			case s = <-b.free:
			case <-b.ctx.Done():
				return
			}
			s.batch.Epoch, s.batch.Step = epoch, step
			s.batch.Skipped = s.batch.Skipped[:0]
			s.err = nil
			s.pending.Store(int32(k))
			select {
			case b.order <- s:
			case <-b.ctx.Done():
				return
			}
			for j := 0; j < k; j++ {
				select {
				case b.jobs <- batchJob{slot: s, j: j, order: idx, pos: step*k + j}:
				case <-b.ctx.Done():
					return
				}
			}
		}
	}
}

// work loads samples until the jobs run out or the context ends.
func (b *Batcher) work() {
	defer b.wg.Done()
	for {
		var jb batchJob
		var ok bool
		select {
		case jb, ok = <-b.jobs:
			if !ok {
				return
			}
		case <-b.ctx.Done():
			return
		}
		if err := b.fillPair(jb); err != nil {
			jb.slot.mu.Lock()
			if jb.slot.err == nil {
				jb.slot.err = err
			}
			jb.slot.mu.Unlock()
		}
		if jb.slot.pending.Add(-1) == 0 {
			jb.slot.done <- struct{}{}
		}
	}
}

// Next returns the next batch, io.EOF after the last epoch, the first error
// a worker met (wrapped, naming the source index) or the context's error.
// The batch stays valid until the next call to Next or Close.
func (b *Batcher) Next() (*Batch, error) {
	if b.err != nil {
		return nil, b.err
	}
	if b.closed {
		return nil, errors.New("dataset: batcher: Next after Close")
	}
	if b.held != nil {
		b.free <- b.held // never blocks: capacity is the number of slots
		b.held = nil
	}
	var s *batchSlot
	select {
	case s0, ok := <-b.order:
		if !ok {
			if err := b.ctx.Err(); err != nil {
				b.err = err
				return nil, err
			}
			b.err = io.EOF
			return nil, io.EOF
		}
		s = s0
	case <-b.ctx.Done():
		b.err = b.ctx.Err()
		return nil, b.err
	}
	select {
	case <-s.done:
	case <-b.ctx.Done():
		b.err = b.ctx.Err()
		return nil, b.err
	}
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		b.err = err
		b.cancel()
		return nil, err
	}
	slices.SortFunc(s.batch.Skipped, func(x, y SkippedSample) int {
		return cmp.Or(cmp.Compare(x.pair, y.pair), cmp.Compare(x.try, y.try))
	})
	b.held = s
	return &s.batch, nil
}

// Close stops the workers and waits for them. It is safe to call more than
// once.
func (b *Batcher) Close() error {
	if !b.closed {
		b.closed = true
		b.cancel()
		b.wg.Wait()
	}
	return nil
}

// fillPair fills pair jb.j of its slot with the sample at position jb.pos
// of the epoch's order or, if that one fails, with the first good one of
// the next MaxTries-1 positions (wrapping around), recording each failure
// in the batch's Skipped list.
func (b *Batcher) fillPair(jb batchJob) error {
	n := len(jb.order)
	var first error
	for try := 0; try < b.cfg.MaxTries; try++ {
		idx := jb.order[(jb.pos+try)%n]
		err := b.fill(jb.slot, jb.j, idx)
		if err == nil {
			return nil
		}
		if try == 0 {
			first = err
		}
		jb.slot.mu.Lock()
		jb.slot.batch.Skipped = append(jb.slot.batch.Skipped, SkippedSample{Index: idx, Err: err, pair: jb.j, try: try})
		jb.slot.mu.Unlock()
		if b.ctx.Err() != nil {
			return b.ctx.Err()
		}
	}
	return fmt.Errorf("dataset: batch: %d samples in a row failed (MaxTries); the first: %w", b.cfg.MaxTries, first)
}

// fill loads source sample idx into pair j of slot: the image at 2j, its
// mirror at 2j+1.
func (b *Batcher) fill(slot *batchSlot, j, idx int) error {
	smp, err := b.src.Sample(idx)
	if err != nil {
		return fmt.Errorf("dataset: batch: sample %d: %w", idx, err)
	}
	bt := &slot.batch
	a, m := 2*j, 2*j+1
	per := 3 * bt.H * bt.W
	img, mir := bt.Images[a*per:(a+1)*per], bt.Images[m*per:(m+1)*per]
	if err := ImageToCHW(img, smp.Image, bt.W, bt.H, b.cfg.Mean); err != nil {
		return fmt.Errorf("dataset: batch: sample %d (%s): %w", idx, smp.Name, err)
	}
	lm, err := b.landmarks(smp, bt.L)
	if err != nil {
		return fmt.Errorf("dataset: batch: sample %d (%s): %w", idx, smp.Name, err)
	}
	mirrorCHW(mir, img, bt.W, bt.H)
	b.fillLandmarks(bt, a, m, lm)
	bt.Index[a], bt.Index[m] = idx, idx
	if smp.Pose != nil {
		p := *smp.Pose
		bt.Poses[a], bt.HasPose[a] = p, true
		bt.Poses[m], bt.HasPose[m] = Pose{Yaw: -p.Yaw, Pitch: p.Pitch, Roll: -p.Roll}, true
	} else {
		bt.Poses[a], bt.HasPose[a] = Pose{}, false
		bt.Poses[m], bt.HasPose[m] = Pose{}, false
	}
	bt.Identities[a], bt.Identities[m] = smp.Identity-1, smp.Identity-1
	return nil
}

// landmarks returns smp's landmarks of the configured scheme after checking
// that they have l points and matching flags.
func (b *Batcher) landmarks(smp Sample, l int) (Landmarks, error) {
	lm, ok := smp.Landmarks[b.cfg.Scheme]
	if !ok {
		return Landmarks{}, fmt.Errorf("no %q landmarks", b.cfg.Scheme)
	}
	if len(lm.Points) != l || (lm.Visible != nil && len(lm.Visible) != l) || (lm.Hidden != nil && len(lm.Hidden) != l) {
		return Landmarks{}, fmt.Errorf("%q has %d points, %d visibility and %d hidden flags, want %d", b.cfg.Scheme, len(lm.Points), len(lm.Visible), len(lm.Hidden), l)
	}
	return lm, nil
}

// mirrorCHW writes the horizontal mirror of the C x h x w planes src to dst.
func mirrorCHW(dst, src []float32, w, h int) {
	for c := 0; c < 3; c++ {
		for y := 0; y < h; y++ {
			o := (c*h + y) * w
			s, d := src[o:o+w], dst[o:o+w]
			for x := range d {
				d[x] = s[w-1-x]
			}
		}
	}
}

// fillLandmarks writes lm (checked by landmarks) and its weights at batch
// position a, and the mirrored points (x' = W-1-x, permuted by the scheme's
// mirror permutation) at m.
func (b *Batcher) fillLandmarks(bt *Batch, a, m int, lm Landmarks) {
	l := bt.L
	pa, pm := bt.Landmarks[a*l*2:(a+1)*l*2], bt.Landmarks[m*l*2:(m+1)*l*2]
	wa, wm := bt.Weights[a*l:(a+1)*l], bt.Weights[m*l:(m+1)*l]
	for i, p := range lm.Points {
		known := finite2(p)
		if !known {
			p = [2]float64{}
		}
		pa[2*i], pa[2*i+1] = float32(p[0]), float32(p[1])
		switch {
		case !known:
			wa[i] = 0
		case lm.Visible == nil || lm.Visible[i]:
			wa[i] = 1
		case lm.Hidden != nil && lm.Hidden[i]:
			wa[i] = b.cfg.HiddenWeight
		default:
			wa[i] = 0
		}
	}
	// x' = (W-1) - x in float64, then rounded, as MirrorSample does it.
	flip := float64(bt.W - 1)
	for i, k := range b.perm {
		p := lm.Points[k]
		if !finite2(p) {
			p = [2]float64{} // zeroed above too
		}
		pm[2*i], pm[2*i+1] = float32(flip-p[0]), float32(p[1])
		wm[i] = wa[k]
	}
}

// finite2 reports whether both coordinates of p are finite.
func finite2(p [2]float64) bool {
	return !math.IsNaN(p[0]) && !math.IsNaN(p[1]) && !math.IsInf(p[0], 0) && !math.IsInf(p[1], 0)
}
