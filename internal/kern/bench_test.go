package kern

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the calling thread's user+system CPU time: on a machine
// shared with other jobs it measures the kernel rather than the queue.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs f b.N times on a locked thread and reports GFLOP per CPU
// second (flops per call) besides the usual wall-clock figures.
func timed(b *testing.B, flops float64, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	b.ResetTimer()
	t0 := cpuTime()
	for i := 0; i < b.N; i++ {
		f()
	}
	if d := cpuTime() - t0; d > 0 {
		b.ReportMetric(flops*float64(b.N)/d.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// Single-threaded kernel throughput in GFLOP per CPU second on the small localiser's and VGG's 3x3
// layers, one image (forward, input gradient) or batch 4 (weight gradient).
func BenchmarkConv3(b *testing.B) {
	shapes := [][4]int{{3, 32, 112, 112}, {32, 64, 56, 56}, {64, 128, 28, 28}, {128, 256, 14, 14}, {64, 64, 224, 224}, {512, 512, 14, 14}}
	for _, l := range Levels {
		for _, s := range shapes {
			cin, cout, h, w := s[0], s[1], s[2], s[3]
			if l == Generic && h > 100 {
				continue
			}
			r := rand.New(rand.NewPCG(1, 2))
			name := fmt.Sprintf("%v/%dx%dx%dx%d", l, cin, cout, h, w)
			flops := float64(2 * cin * cout * 9 * h * w)
			b.Run(name+"/fwd", func(b *testing.B) {
				levelOrSkip(b, l)
				c, _ := NewConv3(l, cin, cout, h, w, 1)
				x, wt := randSlice(r, cin*h*w), randSlice(r, cout*cin*9)
				p := make([]float32, c.PackedLen())
				c.Pack(p, wt)
				y := make([]float32, cout*h*w)
				timed(b, flops, func() { c.Forward(y, x, p, nil, true, 0, c.Tiles()) })
			})
			b.Run(name+"/gradw", func(b *testing.B) {
				levelOrSkip(b, l)
				const n = 4
				c, _ := NewConv3(l, cin, cout, h, w, 1)
				x, g := randSlice(r, n*cin*h*w), randSlice(r, n*cout*h*w)
				dw := make([]float32, cout*cin*9)
				prev := runtime.GOMAXPROCS(1) // one worker: the CPU time is this thread's
				defer runtime.GOMAXPROCS(prev)
				timed(b, n*flops, func() { c.GradW(dw, x, g, n) })
			})
		}
	}
}
