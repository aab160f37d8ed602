package kern

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Single-threaded kernel throughput on the small localiser's and VGG's 3x3
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
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.Forward(y, x, p, nil, true, 0, c.Tiles())
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(name+"/gradw", func(b *testing.B) {
				levelOrSkip(b, l)
				const n = 4
				c, _ := NewConv3(l, cin, cout, h, w, 1)
				x, g := randSlice(r, n*cin*h*w), randSlice(r, n*cout*h*w)
				dw := make([]float32, cout*cin*9)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					c.GradW(dw, x, g, n, 0, c.GradWUnits())
				}
				b.ReportMetric(n*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
