package dataset

import (
	"image"
	"sync"
	"testing"
	"time"
)

// TestPixelBudget: holders never exceed the capacity together; a request
// above it is clamped and runs alone.
func TestPixelBudget(t *testing.T) {
	b := newPixelBudget(100)
	var wg sync.WaitGroup
	for _, n := range []int64{60, 60, 30, 30, 500, 10} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release := b.acquire(n)
			time.Sleep(5 * time.Millisecond)
			release()
			release() // a second call gives nothing back
		}()
	}
	wg.Wait()
	if b.used != 0 || b.users != 0 {
		t.Errorf("after release: used %d by %d, want 0", b.used, b.users)
	}
	if b.peak > 100 || b.peak < 60 {
		t.Errorf("peak %d pixels, want in [60, 100]", b.peak)
	}
}

// TestDecodeImageHonoursBudget decodes 8 images of 100 pixels in parallel
// under a budget of 250: at most two decode at once.
func TestDecodeImageHonoursBudget(t *testing.T) {
	saved := decodeBudget
	decodeBudget = newPixelBudget(250)
	defer func() { decodeBudget = saved }()
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 10, 10)))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = DecodeImage(data, 0)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if decodeBudget.peakUsers > 2 || decodeBudget.peak > 250 || decodeBudget.peak < 100 {
		t.Errorf("peak %d pixels by %d decodes, want <= 250 by <= 2", decodeBudget.peak, decodeBudget.peakUsers)
	}
	if decodeBudget.used != 0 {
		t.Errorf("%d pixels still held", decodeBudget.used)
	}
}
