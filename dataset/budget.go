package dataset

import "sync"

// DecodeBudgetPixels bounds the pixels that image decodes (DecodeImage) and
// crop squares (CropSample) of this process hold at once, whatever the
// number of goroutines: 64 megapixels, about 512 MB at the 8 bytes a pixel
// a decode holds. Small images go in parallel; an image at DefaultMaxPixels
// waits for most others to finish; a larger one (a raised limit) runs
// alone.
const DecodeBudgetPixels = 64_000_000

// decodeBudget is the process-wide pixel budget.
var decodeBudget = newPixelBudget(DecodeBudgetPixels)

// pixelBudget is a weighted semaphore counting pixels.
type pixelBudget struct {
	mu        sync.Mutex
	cond      *sync.Cond
	capacity  int64
	used      int64
	peak      int64 // largest used seen (tests)
	peakUsers int   // largest number of holders seen (tests)
	users     int
}

func newPixelBudget(capacity int64) *pixelBudget {
	b := &pixelBudget{capacity: capacity}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// acquire waits until n pixels (at most the capacity, at least 1) fit in
// the budget, takes them and returns the function that gives them back.
// A request larger than the capacity waits until the budget is empty.
func (b *pixelBudget) acquire(n int64) (release func()) {
	n = max(1, min(n, b.capacity))
	b.mu.Lock()
	for b.used > 0 && b.used+n > b.capacity {
		b.cond.Wait()
	}
	b.used += n
	b.users++
	b.peak = max(b.peak, b.used)
	b.peakUsers = max(b.peakUsers, b.users)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			b.users--
			b.mu.Unlock()
			b.cond.Broadcast()
		})
	}
}
