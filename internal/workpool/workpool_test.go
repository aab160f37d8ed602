package workpool

import (
	"errors"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForVisitsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		seen := make([]int32, n)
		For(n, Heavy, func(i int) { atomic.AddInt32(&seen[i], 1) })
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: index %d visited %d times", n, i, c)
			}
		}
	}
}

func TestChunksCoverContiguously(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var mu sync.Mutex
	var got [][2]int
	Chunks(10, Heavy, func(lo, hi int) {
		mu.Lock()
		got = append(got, [2]int{lo, hi})
		mu.Unlock()
	})
	covered := make([]int, 10)
	for _, r := range got {
		if r[1]-r[0] != 3 && r[1] != 10 {
			t.Errorf("chunk %v: want size 3 (ceil(10/4)) except the last", r)
		}
		for i := r[0]; i < r[1]; i++ {
			covered[i]++
		}
	}
	for i, c := range covered {
		if c != 1 {
			t.Fatalf("index %d covered %d times (chunks %v)", i, c, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d chunks, want 4", len(got))
	}
}

func TestInlineWhenWorkIsSmall(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	if w := Workers(100, 1); w != 1 {
		t.Errorf("Workers(100, 1) = %d, want 1 (100 ops < MinWork)", w)
	}
	if w := Workers(100, Heavy); w != 4 {
		t.Errorf("Workers(100, Heavy) = %d, want 4", w)
	}
	if w := Workers(1, Heavy); w != 1 {
		t.Errorf("Workers(1, Heavy) = %d, want 1", w)
	}
}

func TestRunStopsAfterError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	boom := errors.New("boom")
	var ran atomic.Int64
	err := Run(1_000_000, Heavy, func(items iter.Seq[int]) error {
		for i := range items {
			ran.Add(1)
			if i == 10 {
				return boom
			}
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if n := ran.Load(); n >= 1_000_000 {
		t.Errorf("%d items ran after the error, want the hand-out stopped", n)
	}
}
