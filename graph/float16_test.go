package graph

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFloat16KnownValues(t *testing.T) {
	for _, c := range []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{0.5, 0x3800},
		{65504, 0x7bff},
		{65519.99, 0x7bff},                        // below the midpoint to 65536
		{65520, 0x7c00},                           // the midpoint rounds (to even) to infinity
		{float32(math.Inf(1)), 0x7c00},            //
		{float32(math.Inf(-1)), 0xfc00},           //
		{6.103515625e-05, 0x0400},                 // 2^-14, smallest normal
		{5.960464477539063e-08, 0x0001},           // 2^-24, smallest subnormal
		{2.9802322387695312e-08, 0x0000},          // 2^-25: a tie, to even (zero)
		{2.98023259e-08, 0x0001},                  // just above 2^-25
		{1 + 1.0/2048, 0x3c00},                    // tie between 1 and 1+2^-10: to even
		{1 + 3.0/2048, 0x3c02},                    // tie between 1+2^-10 and 1+2^-9: to even
		{0.1, 0x2e66},                             // 0.0999755859375
		{6.097555160522461e-05, 0x03ff},           // largest subnormal
		{float32(6.1e-5), 0x03ff},                 // rounds to the largest subnormal
		{2047.0 / 2048 * 6.103515625e-05, 0x0400}, // rounds up into the smallest normal
	} {
		if got := Float16Bits(c.f); got != c.bits {
			t.Errorf("Float16Bits(%g) = %#04x, want %#04x", c.f, got, c.bits)
		}
	}
	if h := Float16Bits(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("Float16Bits(NaN) = %#04x, want a NaN", h)
	}
	if v := Float16Value(0x7e00); v == v {
		t.Errorf("Float16Value(0x7e00) = %g, want NaN", v)
	}
}

// TestFloat16RoundTripAll checks every finite float16: its float32 value
// converts back to the same bits, and values strictly between neighbours
// round to the nearer one (ties to even).
func TestFloat16RoundTripAll(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		b := uint16(h)
		if b&0x7c00 == 0x7c00 {
			continue // infinities and NaNs: above
		}
		v := Float16Value(b)
		if got := Float16Bits(v); got != b && !(v == 0 && b == 0x8000 && got == 0x8000) {
			t.Fatalf("round trip of %#04x (%g) gave %#04x", b, v, got)
		}
		if b&0x7fff == 0x7bff {
			continue // no finite neighbour above
		}
		next := Float16Value(b + 1)
		if b&0x8000 != 0 {
			next = Float16Value(b - 1)
			if b == 0x8000 {
				continue
			}
		}
		mid := (float64(v) + float64(next)) / 2
		lo, hi := float32(mid-math.Abs(mid)*1e-6), float32(mid+math.Abs(mid)*1e-6)
		// v < next for positive b; for negative b next has the smaller
		// magnitude, so again v < next: lo rounds to v, hi to next.
		nearV, nearNext := Float16Bits(lo), Float16Bits(hi)
		if Float16Value(nearV) != v || Float16Value(nearNext) != next {
			t.Fatalf("between %g and %g: %g -> %g, %g -> %g", v, next, lo, Float16Value(Float16Bits(lo)), hi, Float16Value(Float16Bits(hi)))
		}
	}
}

// TestFloat16RelativeError bounds the rounding error of random normal
// values by 2^-11 relative.
func TestFloat16RelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		f := float32(math.Exp(r.Float64()*20-9)) * float32(1-2*r.IntN(2)) // 1.2e-4 .. 8e4... clipped below
		if math.Abs(float64(f)) > MaxFloat16 || math.Abs(float64(f)) < 6.2e-5 {
			continue
		}
		g := Float16Value(Float16Bits(f))
		if rel := math.Abs(float64(g-f)) / math.Abs(float64(f)); rel > 1.0/2048 {
			t.Fatalf("%g -> %g: relative error %g > 2^-11", f, g, rel)
		}
	}
}

func TestWeightsFloat16RoundTrip(t *testing.T) {
	ts := []WeightTensor{
		{Name: "a.w", Shape: []int{2, 3}, Data: []float32{1, -0.1, 3.14159, 1e-6, 65504, 0}},
		{Name: "b.b", Shape: []int{2}, Data64: []float64{0.1, 0.2}},
	}
	var buf bytes.Buffer
	if err := EncodeWeightsFloat16(&buf, ts); err != nil {
		t.Fatal(err)
	}
	var full bytes.Buffer
	if err := EncodeWeights(&full, ts); err != nil {
		t.Fatal(err)
	}
	if want := full.Len() - 6*2; buf.Len() != want {
		t.Errorf("float16 file is %d bytes, want %d (2 bytes per float32 value saved)", buf.Len(), want)
	}
	got, err := DecodeWeights(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range ts[0].Data {
		if w := Float16Value(Float16Bits(v)); got[0].Data[i] != w {
			t.Errorf("a.w[%d] = %g, want %g", i, got[0].Data[i], w)
		}
	}
	if got[0].Data[2] != 3.140625 {
		t.Errorf("pi as float16 = %g, want 3.140625", got[0].Data[2])
	}
	if got[1].Data64 == nil || got[1].Data64[0] != 0.1 {
		t.Errorf("float64 tensor changed: %+v", got[1])
	}
	for _, bad := range []float32{70000, float32(math.NaN()), float32(math.Inf(-1))} {
		err := EncodeWeightsFloat16(&bytes.Buffer{}, []WeightTensor{{Name: "big", Shape: []int{2}, Data: []float32{0, bad}}})
		if err == nil || !strings.Contains(err.Error(), `tensor "big": value`) || !strings.Contains(err.Error(), "at 1") {
			t.Errorf("value %g: error %v, want one naming the tensor and index", bad, err)
		}
	}
}
