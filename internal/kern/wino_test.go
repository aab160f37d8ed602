package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"
)

func TestWinoArgOffsets(t *testing.T) {
	var i winoInArgs
	var o winoOutArgs
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"in.v", unsafe.Offsetof(i.v), 8}, {"in.vxi", unsafe.Offsetof(i.vxi), 16}, {"in.w", unsafe.Offsetof(i.w), 24},
		{"in.h", unsafe.Offsetof(i.h), 32}, {"in.nty", unsafe.Offsetof(i.nty), 40}, {"in.ntx", unsafe.Offsetof(i.ntx), 48},
		{"in.nvec", unsafe.Offsetof(i.nvec), 56}, {"in.masks", unsafe.Offsetof(i.masks), 64}, {"in.tmp", unsafe.Offsetof(i.tmp), 72},
		{"out.mxi", unsafe.Offsetof(o.mxi), 8}, {"out.y", unsafe.Offsetof(o.y), 16}, {"out.wo", unsafe.Offsetof(o.wo), 24},
		{"out.ho", unsafe.Offsetof(o.ho), 32}, {"out.nty", unsafe.Offsetof(o.nty), 40}, {"out.ntx", unsafe.Offsetof(o.ntx), 48},
		{"out.nvec", unsafe.Offsetof(o.nvec), 56}, {"out.masks", unsafe.Offsetof(o.masks), 64}, {"out.tmp", unsafe.Offsetof(o.tmp), 72},
		{"out.bias", unsafe.Offsetof(o.bias), 80}, {"out.relu", unsafe.Offsetof(o.relu), 88},
		{"in.off", unsafe.Offsetof(i.off), 80}, {"out.off", unsafe.Offsetof(o.off), 96},
	} {
		if c.got != c.want {
			t.Errorf("offset of %s = %d, the assembly uses %d", c.name, c.got, c.want)
		}
	}
}

func TestWino(t *testing.T) {
	levelOrSkip(t, AVX512)
	r := rand.New(rand.NewPCG(31, 32))
	for _, s := range [][4]int{{1, 1, 4, 4}, {3, 8, 5, 7}, {16, 16, 14, 14}, {32, 64, 28, 28}, {5, 13, 9, 70}, {8, 24, 17, 3}, {64, 16, 56, 56}, {4, 8, 1, 66}} {
		cin, cout, h, w := s[0], s[1], s[2], s[3]
		for _, nimg := range []int{1, 3, 20} {
			t.Run(fmt.Sprint(s, nimg), func(t *testing.T) {
				wn, err := NewWino(cin, cout, h, w, false)
				if err != nil {
					t.Fatal(err)
				}
				x, wt, bias := randSlice(r, nimg*cin*h*w), randSlice(r, cout*cin*9), randSlice(r, cout)
				buf := make([]float32, nimg*cout*h*w+32)
				for i := range buf {
					buf[i] = 12345
				}
				y := buf[16 : 16+nimg*cout*h*w]
				for _, relu := range []bool{false, true} {
					wn.Forward(y, x, wt, bias, nimg, relu)
					for b := 0; b < nimg; b++ {
						want := naiveConv(x[b*cin*h*w:(b+1)*cin*h*w], wt, bias, cin, cout, h, w, 1, relu)
						// errors scale with the sum of |terms|: sqrt(9 cin) for these inputs
						maxErr(t, fmt.Sprintf("image %d relu=%v", b, relu), y[b*cout*h*w:(b+1)*cout*h*w], want, 2e-6*math.Sqrt(float64(9*cin))*10)
					}
					for i := 0; i < 16; i++ {
						if buf[i] != 12345 || buf[len(buf)-1-i] != 12345 {
							t.Fatal("store outside y")
						}
					}
				}
				// input gradient form: flipped weights
				gx, _ := NewWino(cout, cin, h, w, true)
				c3, _ := NewConv3(Generic, cin, cout, h, w, 1)
				ref, _ := c3.GradX()
				pk := make([]float32, ref.PackedLen())
				ref.PackFlipped(pk, wt)
				g := randSlice(r, nimg*cout*h*w)
				dx := make([]float32, nimg*cin*h*w)
				gx.Forward(dx, g, wt, nil, nimg, false)
				want := make([]float32, cin*h*w)
				ref.Forward(want, g[:cout*h*w], pk, nil, false, 0, ref.Tiles())
				w64 := make([]float64, len(want))
				for i, v := range want {
					w64[i] = float64(v)
				}
				maxErr(t, "flipped", dx[:cin*h*w], w64, 2e-5*math.Sqrt(float64(9*cout)))
			})
		}
	}
}

func BenchmarkWino(b *testing.B) {
	for _, s := range [][5]int{{32, 64, 56, 56, 4}, {64, 128, 28, 28, 4}, {128, 256, 14, 14, 12}, {64, 64, 224, 224, 1}, {512, 512, 14, 14, 12}} {
		cin, cout, h, w, n := s[0], s[1], s[2], s[3], s[4]
		r := rand.New(rand.NewPCG(1, 2))
		flops := float64(2 * cin * cout * 9 * h * w * n)
		b.Run(fmt.Sprint(s[:4]), func(b *testing.B) {
			levelOrSkip(b, AVX512)
			wn, _ := NewWino(cin, cout, h, w, false)
			x, wt := randSlice(r, n*cin*h*w), randSlice(r, cout*cin*9)
			y := make([]float32, n*cout*h*w)
			prev := runtime.GOMAXPROCS(1)
			defer runtime.GOMAXPROCS(prev)
			timed(b, flops, func() { wn.Forward(y, x, wt, nil, n, true) })
		})
	}
}

// TestWinoGroupsBitIdentical: a narrow layer's images share the transforms'
// lanes in groups; each lane is still its own tile, so an image's output
// has the same bits whether it is convolved alone or in a batch, whatever
// its neighbours.
func TestWinoGroupsBitIdentical(t *testing.T) {
	levelOrSkip(t, AVX512)
	r := rand.New(rand.NewPCG(35, 36))
	for _, s := range [][4]int{{16, 24, 14, 14}, {32, 16, 28, 28}, {8, 8, 5, 3}} {
		cin, cout, h, w := s[0], s[1], s[2], s[3]
		wn, err := NewWino(cin, cout, h, w, false)
		if err != nil {
			t.Fatal(err)
		}
		if wn.group < 2 {
			t.Fatalf("%v: group %d, want images grouped", s, wn.group)
		}
		const nimg = 7
		x, wt, bias := randSlice(r, nimg*cin*h*w), randSlice(r, cout*cin*9), randSlice(r, cout)
		batch := make([]float32, nimg*cout*h*w)
		wn.Forward(batch, x, wt, bias, nimg, true)
		for b := 0; b < nimg; b++ {
			one := make([]float32, cout*h*w)
			wn.Forward(one, x[b*cin*h*w:(b+1)*cin*h*w], wt, bias, 1, true)
			for i, v := range one {
				if math.Float32bits(v) != math.Float32bits(batch[b*cout*h*w+i]) {
					t.Fatalf("%v image %d value %d: %v alone, %v in the batch", s, b, i, v, batch[b*cout*h*w+i])
				}
			}
		}
	}
}
