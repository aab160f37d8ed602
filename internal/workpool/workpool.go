// Package workpool runs loops over [0, n) on up to GOMAXPROCS goroutines.
// It is the one worker pool of stn3d: kernels, the optimiser, image I/O and
// file readers all use it.
//
// Every function runs inline (on the calling goroutine, no goroutines
// started) when one worker suffices: GOMAXPROCS is 1, n is 1, or the work
// n*costPerItem is below MinWork operations, where starting goroutines
// (about a microsecond each) would cost more than it saves. Pass
// costPerItem = Heavy for items that are always worth a goroutine (an
// image decode, a file write).
package workpool

import (
	"errors"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
)

// MinWork is the number of inner-loop operations below which a loop runs
// inline.
const MinWork = 1 << 15

// Heavy is a costPerItem that makes any loop of two or more items parallel.
const Heavy = MinWork

// Workers returns how many goroutines a loop of n items of costPerItem
// operations each uses (1 = inline).
func Workers(n, costPerItem int) int {
	if n <= 1 {
		return 1
	}
	w := min(runtime.GOMAXPROCS(0), n)
	if w <= 1 || float64(n)*float64(costPerItem) < MinWork {
		return 1
	}
	return w
}

// Chunks calls fn(lo, hi) over [0, n) split into contiguous ranges of equal
// size (the last may be shorter), one per worker. The split depends only on
// n and the worker count, so a reduction per chunk is reproducible on one
// machine. fn must be safe for disjoint ranges.
func Chunks(n, costPerItem int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := Workers(n, costPerItem)
	if workers <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, min(chunk, n))
	wg.Wait()
}

// Run hands the indices 0..n-1 out one at a time from a shared counter to
// up to Workers(n, costPerItem) workers, so a worker that is descheduled on
// a busy machine does not hold back a fixed share. Each worker ranges over
// its items (and can keep its own scratch buffers across them); every index
// is yielded exactly once across all workers, and a worker may get none.
// The first error a worker returns stops the hand-out of further indices;
// Run returns the errors of all workers joined in worker order.
func Run(n, costPerItem int, worker func(items iter.Seq[int]) error) error {
	if n <= 0 {
		return nil
	}
	workers := Workers(n, costPerItem)
	var next atomic.Int64
	var stop atomic.Bool
	items := func(yield func(int) bool) {
		for !stop.Load() {
			i := int(next.Add(1) - 1)
			if i >= n || !yield(i) {
				return
			}
		}
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[w] = worker(items); errs[w] != nil {
				stop.Store(true)
			}
		}()
	}
	if errs[0] = worker(items); errs[0] != nil {
		stop.Store(true)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Each is Run for workers that cannot fail.
func Each(n, costPerItem int, worker func(items iter.Seq[int])) {
	if n <= 0 {
		return
	}
	workers := Workers(n, costPerItem)
	var next atomic.Int64
	items := func(yield func(int) bool) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n || !yield(i) {
				return
			}
		}
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			worker(items)
		}()
	}
	worker(items)
	wg.Wait()
}

// For calls fn(i) for every i in [0, n), items handed out as by Run.
func For(n, costPerItem int, fn func(i int)) {
	if Workers(n, costPerItem) <= 1 { // inline, without allocating
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	Each(n, costPerItem, func(items iter.Seq[int]) {
		for i := range items {
			fn(i)
		}
	})
}
