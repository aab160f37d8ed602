package dataset

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stn3d/stn3d/bfm"
)

// memSource is a Source of w x h images whose pixel (x, y) of sample i is
// (i, 10x, 10y + 1), with aflw21 landmarks (x, y) = (i + j, 2j), landmark j
// visible unless j%4 == 3, and pose (yaw, pitch, roll) = (i, 2i, 3i) on even i.
type memSource struct {
	n, w, h int
	fail    int           // index that fails (-1: none)
	bad     map[int]bool  // more indices that fail
	delay   time.Duration // per sample
	cache   []Sample      // prebuilt samples (no allocation in Sample)
	calls   atomic.Int64
}

var errMemSource = errors.New("memsource: broken sample")

func newMemSource(n, w, h int) *memSource {
	s := &memSource{n: n, w: w, h: h, fail: -1}
	s.cache = make([]Sample, n)
	for i := range s.cache {
		s.cache[i] = s.build(i)
	}
	return s
}

func (s *memSource) Len() int { return s.n }

func (s *memSource) build(i int) Sample {
	img := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
	for y := 0; y < s.h; y++ {
		for x := 0; x < s.w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(i), uint8(10 * x), uint8(10*y + 1), 255})
		}
	}
	lm := Landmarks{Points: make([][2]float64, 21), Visible: make([]bool, 21)}
	for j := range lm.Points {
		lm.Points[j] = [2]float64{float64(i + j), float64(2 * j)}
		lm.Visible[j] = j%4 != 3
	}
	smp := Sample{Name: "mem", Image: img, Landmarks: map[string]Landmarks{bfm.SchemeAFLW21: lm}}
	if i%2 == 0 {
		smp.Pose = &Pose{Yaw: float64(i), Pitch: float64(2 * i), Roll: float64(3 * i)}
	}
	return smp
}

func (s *memSource) Sample(i int) (Sample, error) {
	s.calls.Add(1)
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	if i == s.fail || s.bad[i] {
		return Sample{}, errMemSource
	}
	return s.cache[i], nil
}

// pixelPlanes converts img to NCHW floats through image.At (the slow, obvious
// path) for comparison.
func pixelPlanes(img image.Image) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]float32, 3*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			out[y*w+x] = float32(r>>8) / 255
			out[w*h+y*w+x] = float32(g>>8) / 255
			out[2*w*h+y*w+x] = float32(bl>>8) / 255
		}
	}
	return out
}

// checkPairs verifies every pair of bt against src and MirrorSample.
func checkPairs(t *testing.T, bt *Batch, src Source, scheme string) {
	t.Helper()
	plane := 3 * bt.H * bt.W
	for j := 0; j < bt.B/2; j++ {
		a, m := 2*j, 2*j+1
		if bt.Index[a] != bt.Index[m] {
			t.Fatalf("pair %d: indices %d and %d", j, bt.Index[a], bt.Index[m])
		}
		smp, err := src.Sample(bt.Index[a])
		if err != nil {
			t.Fatal(err)
		}
		mir := MirrorSample(smp)
		for k, want := range [2]Sample{smp, mir} {
			pos := 2*j + k
			got, wantPix := bt.Images[pos*plane:(pos+1)*plane], pixelPlanes(want.Image)
			for i := range got {
				if math.Abs(float64(got[i]-wantPix[i])) > 1e-6 {
					t.Fatalf("pair %d image %d value %d = %v, want %v (sample/MirrorSample)", j, k, i, got[i], wantPix[i])
				}
			}
			lm := want.Landmarks[scheme]
			for i, p := range lm.Points {
				gx, gy := bt.Landmarks[(pos*bt.L+i)*2], bt.Landmarks[(pos*bt.L+i)*2+1]
				if gx != float32(p[0]) || gy != float32(p[1]) {
					t.Fatalf("pair %d image %d landmark %d = (%v, %v), want %v", j, k, i, gx, gy, p)
				}
				wantW := float32(0)
				if lm.Visible[i] {
					wantW = 1
				}
				if bt.Weights[pos*bt.L+i] != wantW {
					t.Fatalf("pair %d image %d weight %d = %v, want %v", j, k, i, bt.Weights[pos*bt.L+i], wantW)
				}
			}
			if (want.Pose != nil) != bt.HasPose[pos] || (want.Pose != nil && *want.Pose != bt.Poses[pos]) {
				t.Fatalf("pair %d image %d pose %v (has %v), want %v", j, k, bt.Poses[pos], bt.HasPose[pos], want.Pose)
			}
		}
		// The mirror rule spelled out: x' = W-1-x with the permutation.
		perm := bfm.MirrorPermutation(scheme)
		for i, k := range perm {
			if got, want := bt.Landmarks[(m*bt.L+i)*2], float32(bt.W-1)-bt.Landmarks[(a*bt.L+k)*2]; math.Abs(float64(got-want)) > 1e-4 {
				t.Fatalf("pair %d: mirror landmark %d x = %v, want W-1-x of landmark %d = %v", j, i, got, k, want)
			}
		}
		for c := 0; c < 3; c++ {
			for y := 0; y < bt.H; y++ {
				for x := 0; x < bt.W; x++ {
					o := c*bt.H*bt.W + y*bt.W
					if bt.Images[m*plane+o+x] != bt.Images[a*plane+o+bt.W-1-x] {
						t.Fatalf("pair %d: mirror pixel (%d,%d,%d) is not original (%d,%d,%d)", j, c, y, x, c, y, bt.W-1-x)
					}
				}
			}
		}
	}
}

func TestBatchLayoutMemSource(t *testing.T) {
	src := newMemSource(12, 7, 5)
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 3, Height: 5, Width: 7, Scheme: bfm.SchemeAFLW21, Seed: 3, Epochs: 1, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for step := 0; ; step++ {
		bt, err := b.Next()
		if err == io.EOF {
			if step != 4 {
				t.Fatalf("got %d batches, want 4", step)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if bt.B != 6 || bt.C != 3 || bt.H != 5 || bt.W != 7 || bt.L != 21 || len(bt.Images) != 6*3*35 || len(bt.Landmarks) != 6*21*2 || len(bt.Weights) != 6*21 {
			t.Fatalf("batch shape B=%d C=%d H=%d W=%d L=%d, lens %d %d %d", bt.B, bt.C, bt.H, bt.W, bt.L, len(bt.Images), len(bt.Landmarks), len(bt.Weights))
		}
		if bt.Epoch != 0 || bt.Step != step {
			t.Errorf("batch %d: epoch %d step %d", step, bt.Epoch, bt.Step)
		}
		checkPairs(t, bt, src, bfm.SchemeAFLW21)
	}
}

func TestBatchLayoutSynthetic(t *testing.T) {
	cfg := testSynthConfig()
	cfg.Count = 8
	src, err := NewSynthetic(testFaceModel(), cfg, "train")
	if err != nil {
		t.Fatal(err)
	}
	for _, scheme := range bfm.Schemes() {
		b, err := NewBatcher(context.Background(), src, BatchConfig{K: 4, Height: 64, Width: 64, Scheme: scheme, Epochs: 1, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		bt, err := b.Next()
		if err != nil {
			t.Fatal(err)
		}
		checkPairs(t, bt, src, scheme)
		b.Close()
	}
}

func TestBatcherOrderDeterministic(t *testing.T) {
	src := newMemSource(10, 4, 3)
	run := func(workers int, seed uint64) ([][]int, [][]float32) {
		b, err := NewBatcher(context.Background(), src, BatchConfig{K: 3, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21, Seed: seed, Epochs: 2, Workers: workers, Prefetch: 3})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var idx [][]int
		var imgs [][]float32
		for {
			bt, err := b.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			idx = append(idx, slices.Clone(bt.Index))
			imgs = append(imgs, slices.Clone(bt.Images))
		}
		if _, err := b.Next(); err != io.EOF {
			t.Errorf("Next after the end = %v, want io.EOF", err)
		}
		return idx, imgs
	}
	idx1, img1 := run(1, 7)
	idx3, img3 := run(3, 7)
	if len(idx1) != 6 {
		t.Fatalf("%d batches for 2 epochs of 10/3, want 6", len(idx1))
	}
	for i := range idx1 {
		if !slices.Equal(idx1[i], idx3[i]) || !slices.Equal(img1[i], img3[i]) {
			t.Fatalf("batch %d differs between 1 and 3 workers", i)
		}
	}
	// Each epoch is the seeded shuffle, K pairs per batch, remainder dropped.
	for e := 0; e < 2; e++ {
		want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
		rng := rand.New(rand.NewPCG(7, uint64(e)))
		rng.Shuffle(len(want), func(i, j int) { want[i], want[j] = want[j], want[i] })
		var got []int
		for s := 0; s < 3; s++ {
			for j := 0; j < 3; j++ {
				got = append(got, idx1[3*e+s][2*j])
			}
		}
		if !slices.Equal(got, want[:9]) {
			t.Errorf("epoch %d order %v, want %v", e, got, want[:9])
		}
	}
	if slices.Equal(idx1[0], idx1[3]) {
		t.Error("epochs 0 and 1 start with the same batch")
	}
	idxOther, _ := run(1, 8)
	if slices.Equal(idxOther[0], idx1[0]) && slices.Equal(idxOther[1], idx1[1]) {
		t.Error("seed change left the order unchanged")
	}
}

func TestBatcherMeanAndConversions(t *testing.T) {
	// One grey, one NRGBA, one YCbCr and one paletted image through the
	// fast and generic paths, compared with image.At.
	imgs := []image.Image{image.NewGray(image.Rect(0, 0, 4, 2)), image.NewNRGBA(image.Rect(0, 0, 4, 2)), image.NewYCbCr(image.Rect(0, 0, 4, 2), image.YCbCrSubsampleRatio420), image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}})}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, im := range imgs {
		switch m := im.(type) {
		case *image.Gray:
			for i := range m.Pix {
				m.Pix[i] = uint8(rng.IntN(256))
			}
		case *image.NRGBA:
			for i := range m.Pix {
				m.Pix[i] = uint8(rng.IntN(256))
			}
			for i := 3; i < len(m.Pix); i += 4 {
				m.Pix[i] = 255
			}
		case *image.YCbCr:
			for i := range m.Y {
				m.Y[i] = uint8(rng.IntN(256))
			}
			for i := range m.Cb {
				m.Cb[i], m.Cr[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
			}
		case *image.Paletted:
			for i := range m.Pix {
				m.Pix[i] = uint8(rng.IntN(2))
			}
		}
		mean := [3]float32{0.5, 0.25, 0.125}
		dst := make([]float32, 3*8)
		if err := ImageToCHW(dst, im, 4, 2, mean); err != nil {
			t.Fatal(err)
		}
		want := pixelPlanes(im)
		for i := range want {
			want[i] -= mean[i/8]
			if math.Abs(float64(dst[i]-want[i])) > 1e-6 {
				t.Fatalf("%T value %d = %v, want %v", im, i, dst[i], want[i])
			}
		}
	}
}

// TestBatcherSkipsBadSamples: a sample that fails is replaced by the next
// one of the epoch's order and listed in Batch.Skipped, the same way with
// one worker or three, and from a resumed Start; Next fails only when
// MaxTries samples in a row fail.
func TestBatcherSkipsBadSamples(t *testing.T) {
	src := newMemSource(20, 4, 3)
	src.bad = map[int]bool{5: true, 6: true, 11: true}
	// order returns the epoch's order as the dispatcher builds it.
	order := func(epoch int) []int {
		idx := make([]int, 20)
		for i := range idx {
			idx[i] = i
		}
		rng := rand.New(rand.NewPCG(7, uint64(epoch)))
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		return idx
	}
	type rec struct {
		index   []int
		skipped []int
	}
	run := func(workers, start, batches int) []rec {
		b, err := NewBatcher(context.Background(), src, BatchConfig{K: 2, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21,
			Workers: workers, Seed: 7, Start: start})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		var out []rec
		for i := 0; i < batches; i++ {
			bt, err := b.Next()
			if err != nil {
				t.Fatalf("batch %d: %v", start+i, err)
			}
			checkPairs(t, bt, src, bfm.SchemeAFLW21)
			r := rec{index: append([]int(nil), bt.Index...)}
			for _, sk := range bt.Skipped {
				r.skipped = append(r.skipped, sk.Index)
				if !errors.Is(sk.Err, errMemSource) || sk.Err.Error() != fmt.Sprintf("dataset: batch: sample %d: memsource: broken sample", sk.Index) {
					t.Errorf("skip error %v", sk.Err)
				}
			}
			out = append(out, r)
		}
		return out
	}
	one := run(1, 0, 20) // two epochs of 10 batches
	totalSkips := 0
	for g, r := range one {
		epoch, step := g/10, g%10
		ord := order(epoch)
		var wantIdx, wantSkip []int
		for j := 0; j < 2; j++ {
			p := step*2 + j
			for src.bad[ord[p%20]] {
				wantSkip = append(wantSkip, ord[p%20])
				p++
			}
			wantIdx = append(wantIdx, ord[p%20], ord[p%20])
		}
		if !slices.Equal(r.index, wantIdx) || !slices.Equal(r.skipped, wantSkip) {
			t.Errorf("batch %d: indices %v skipped %v, want %v and %v", g, r.index, r.skipped, wantIdx, wantSkip)
		}
		totalSkips += len(r.skipped)
	}
	if totalSkips != 6 {
		t.Errorf("%d skips in two epochs, want 6 (3 bad samples each)", totalSkips)
	}
	if three := run(3, 0, 20); !reflect.DeepEqual(three, one) {
		t.Errorf("3 workers: %v\n1 worker: %v", three, one)
	}
	if resumed := run(2, 7, 13); !reflect.DeepEqual(resumed, one[7:]) {
		t.Errorf("from batch 7: %v\nuninterrupted: %v", resumed, one[7:])
	}

	// Every sample bad: MaxTries in a row fail.
	for i := range 20 {
		src.bad[i] = true
	}
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 2, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21, Workers: 2, MaxTries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, got := b.Next()
	if !errors.Is(got, errMemSource) || !strings.HasPrefix(got.Error(), "dataset: batch: 4 samples in a row failed (MaxTries); the first: dataset: batch: sample ") {
		t.Fatalf("error = %v, want MaxTries failures", got)
	}
	if _, err := b.Next(); err != got {
		t.Errorf("Next after the error = %v, want the same error", err)
	}

	// A sample of the wrong size or without the scheme.
	wrong := newMemSource(4, 5, 3)
	for _, c := range []struct {
		cfg  BatchConfig
		want string
	}{
		{BatchConfig{K: 2, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21, Workers: 1}, "dataset: batch: 4 samples in a row failed (MaxTries); the first: dataset: batch: sample "},
		{BatchConfig{K: 2, Height: 3, Width: 5, Scheme: bfm.SchemeIBUG68, Workers: 1}, `dataset: batch: 4 samples in a row failed (MaxTries); the first: dataset: batch: sample `},
	} {
		b, err := NewBatcher(context.Background(), wrong, c.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Next()
		b.Close()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("error = %v, want prefix %q", err, c.want)
		}
		if c.cfg.Width == 4 && !strings.HasSuffix(err.Error(), "(mem): image is 5x3, want 4x3") {
			t.Errorf("size error = %v", err)
		}
		if c.cfg.Scheme == bfm.SchemeIBUG68 && !strings.HasSuffix(err.Error(), `(mem): no "ibug68" landmarks`) {
			t.Errorf("scheme error = %v", err)
		}
	}
}

func TestBatcherConfigErrors(t *testing.T) {
	src := newMemSource(4, 4, 3)
	ok := BatchConfig{K: 2, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21}
	mod := func(f func(*BatchConfig)) BatchConfig { c := ok; f(&c); return c }
	for _, c := range []struct {
		cfg  BatchConfig
		want string
	}{
		{mod(func(c *BatchConfig) { c.K = 0 }), "dataset: batch config: k = 0, want >= 1"},
		{mod(func(c *BatchConfig) { c.K = 5 }), "dataset: batcher: source has 4 samples, fewer than k = 5"},
		{mod(func(c *BatchConfig) { c.Width = 0 }), "dataset: batch config: height x width = 3x0, want positive sizes"},
		{mod(func(c *BatchConfig) { c.Scheme = "dlib5" }), `dataset: batch config: scheme = "dlib5", want one of ["aflw21" "ibug68"]`},
		{mod(func(c *BatchConfig) { c.Prefetch = -1 }), "dataset: batch config: prefetch = -1, want >= 0 (0 = 2)"},
		{mod(func(c *BatchConfig) { c.Mean[1] = float32(math.NaN()) }), "dataset: batch config: mean[1] = NaN, want a finite value"},
	} {
		if _, err := NewBatcher(context.Background(), src, c.cfg); err == nil || err.Error() != c.want {
			t.Errorf("error = %v, want %q", err, c.want)
		}
	}
	if _, err := NewBatcher(context.Background(), nil, ok); err == nil || err.Error() != "dataset: batcher: nil source" {
		t.Errorf("nil source: %v", err)
	}
}

// waitGoroutines waits until the goroutine count drops to at most n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if runtime.NumGoroutine() <= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Errorf("%d goroutines still running, want <= %d", runtime.NumGoroutine(), n)
}

func TestBatcherStopsOnCancel(t *testing.T) {
	base := runtime.NumGoroutine()
	src := newMemSource(50, 4, 3)
	src.delay = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	b, err := NewBatcher(ctx, src, BatchConfig{K: 4, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21, Workers: 2, Prefetch: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Next(); err != nil {
		t.Fatal(err)
	}
	cancel()
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; i < 10 && err == nil; i++ {
			_, err = b.Next() // at most the already prepared batches
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Next after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after cancel")
	}
	b.Close()
	waitGoroutines(t, base)
	// Loading stopped: no more than the prefetched batches were requested.
	calls := src.calls.Load()
	time.Sleep(20 * time.Millisecond)
	if src.calls.Load() != calls {
		t.Error("workers still loading after Close")
	}
}

func TestBatcherEarlyClose(t *testing.T) {
	base := runtime.NumGoroutine()
	src := newMemSource(50, 4, 3)
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 2, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21, Workers: 3, Prefetch: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Next(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond) // let the workers fill the prefetch ring and block
	b.Close()
	b.Close()
	waitGoroutines(t, base)
	if _, err := b.Next(); err == nil || err.Error() != "dataset: batcher: Next after Close" {
		t.Errorf("Next after Close = %v", err)
	}
}

func TestBatcherNoAllocsOnceWarm(t *testing.T) {
	src := newMemSource(1000, 16, 16)
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 4, Height: 16, Width: 16, Scheme: bfm.SchemeAFLW21, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for range 5 {
		if _, err := b.Next(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := b.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.1 {
		t.Errorf("%.2f allocations per batch once warm, want 0", allocs)
	}
}

// nanSource wraps memSource and makes landmark 0 of every sample NaN.
// nanSource puts a NaN at landmark 0, flagged Hidden; with hiddenVisible
// it is also not Visible (the hidden-with-position path).
type nanSource struct {
	*memSource
	hiddenVisible bool
}

func (s nanSource) Sample(i int) (Sample, error) {
	smp := s.memSource.build(i)
	lm := smp.Landmarks[bfm.SchemeAFLW21]
	lm.Points[0] = [2]float64{math.NaN(), 3}
	// Whether flagged visible or hidden-with-position, a NaN gets weight 0.
	lm.Hidden = make([]bool, len(lm.Points))
	lm.Hidden[0] = true
	lm.Visible[0] = !s.hiddenVisible
	smp.Landmarks[bfm.SchemeAFLW21] = lm
	return smp, nil
}

func TestBatcherNaNLandmarkHasZeroWeight(t *testing.T) {
	src := nanSource{memSource: newMemSource(2, 4, 3)}
	for _, hidden := range []bool{false, true} {
		src.hiddenVisible = hidden
		checkNaNWeights(t, src)
	}
}

func checkNaNWeights(t *testing.T, src nanSource) {
	t.Helper()
	b, err := NewBatcher(context.Background(), src, BatchConfig{K: 2, Height: 3, Width: 4, Scheme: bfm.SchemeAFLW21, Workers: 1, Epochs: 1, HiddenWeight: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bt, err := b.Next()
	if err != nil {
		t.Fatal(err)
	}
	// Landmark 0 maps to 5 in the mirror (LeftBrowLeftCorner <-> RightBrowRightCorner).
	for _, c := range []struct{ img, lm int }{{0, 0}, {1, 5}, {2, 0}, {3, 5}} {
		x, y := bt.Landmarks[(c.img*bt.L+c.lm)*2], bt.Landmarks[(c.img*bt.L+c.lm)*2+1]
		if w := bt.Weights[c.img*bt.L+c.lm]; w != 0 {
			t.Errorf("image %d landmark %d: weight %v for a NaN point, want 0", c.img, c.lm, w)
		}
		wantX := float32(0)
		if c.img%2 == 1 {
			wantX = 3 // W-1 - 0
		}
		if x != wantX || y != 0 {
			t.Errorf("image %d landmark %d = (%v, %v), want (%v, 0)", c.img, c.lm, x, y, wantX)
		}
	}
}

// TestBatcherHiddenWeight checks the three landmark weights: 1 visible,
// HiddenWeight for a self-occluded point with a known position, 0 for a
// missing one; the mirror carries them through the permutation.
func TestBatcherHiddenWeight(t *testing.T) {
	src := newMemSource(4, 6, 5)
	for i := range src.cache {
		lm := src.cache[i].Landmarks[bfm.SchemeAFLW21]
		lm.Hidden = make([]bool, len(lm.Points))
		for j := range lm.Hidden {
			// Of the invisible points (j%4 == 3) every other one is hidden
			// with a known position, the rest are missing.
			lm.Hidden[j] = j%8 == 3
		}
		src.cache[i].Landmarks[bfm.SchemeAFLW21] = lm
	}
	bat, err := NewBatcher(context.Background(), src, BatchConfig{K: 2, Height: 5, Width: 6, Scheme: bfm.SchemeAFLW21, HiddenWeight: 0.25, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer bat.Close()
	bt, err := bat.Next()
	if err != nil {
		t.Fatal(err)
	}
	perm := bfm.MirrorPermutation(bfm.SchemeAFLW21)
	weight := func(j int) float32 {
		switch {
		case j%4 != 3:
			return 1
		case j%8 == 3:
			return 0.25
		}
		return 0
	}
	seen := map[float32]int{}
	for pair := 0; pair < bt.B/2; pair++ {
		for i := 0; i < bt.L; i++ {
			if got, want := bt.Weights[2*pair*bt.L+i], weight(i); got != want {
				t.Fatalf("pair %d image weight %d = %v, want %v", pair, i, got, want)
			}
			if got, want := bt.Weights[(2*pair+1)*bt.L+i], weight(perm[i]); got != want {
				t.Fatalf("pair %d mirror weight %d = %v, want %v (landmark %d)", pair, i, got, want, perm[i])
			}
			seen[bt.Weights[2*pair*bt.L+i]]++
		}
	}
	if seen[0] == 0 || seen[0.25] == 0 || seen[1] == 0 {
		t.Fatalf("weights seen %v: want all of 0, 0.25 and 1", seen)
	}
	mir, err := MirrorLandmarks(src.cache[0].Landmarks[bfm.SchemeAFLW21], bfm.SchemeAFLW21, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range perm {
		if mir.Hidden[i] != (k%8 == 3) {
			t.Fatalf("MirrorLandmarks hidden[%d] = %v, want hidden[%d] = %v", i, mir.Hidden[i], k, k%8 == 3)
		}
	}
	if _, err := NewBatcher(context.Background(), src, BatchConfig{K: 2, Height: 5, Width: 6, Scheme: bfm.SchemeAFLW21, HiddenWeight: 1.5}); err == nil || err.Error() != "dataset: batch config: hidden_weight = 1.5, want in [0, 1]" {
		t.Fatalf("hidden weight 1.5: %v", err)
	}
}
