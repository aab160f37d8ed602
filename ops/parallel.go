package ops

import (
	"runtime"
	"sync"
)

// minParallelWork is the estimated number of inner-loop operations below
// which parallelFor runs inline: a goroutine costs about a microsecond.
const minParallelWork = 1 << 15

// parallelFor calls fn over [0, n) split into contiguous chunks, one per
// available CPU, when n*costPerItem is large enough to pay for goroutines;
// otherwise it calls fn(0, n) inline. fn must be safe for disjoint ranges.
func parallelFor(n, costPerItem int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 || n*costPerItem < minParallelWork {
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
