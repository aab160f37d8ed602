package graph

import (
	"fmt"
	"math"
)

// IEEE 754 binary16 ("half", float16): 1 sign bit, 5 exponent bits (bias
// 15), 10 fraction bits. Normal numbers span 2^-14 (6.1e-5) to 65504 with a
// relative rounding error of at most 2^-11 (4.9e-4); subnormals reach down to
// 2^-24 (6.0e-8). The weights format stores float32 tensors as float16
// (dtype 3) where size matters more than the last bits (the embedded
// default model).

// MaxFloat16 is the largest finite float16 value.
const MaxFloat16 = 65504

// Float16Bits rounds f to the nearest float16 (ties to even) and returns its
// bits. Values beyond MaxFloat16 after rounding become infinities, NaN stays
// NaN (a quiet NaN with the top fraction bit set).
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	frac := b & 0x7fffff
	switch {
	case exp == 0xff: // infinity or NaN
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp == 0 && frac == 0:
		return sign
	}
	// Unbiased exponent; float32 subnormals (exp 0) are far below the
	// float16 range and round to zero below.
	e := exp - 127
	if e > 15 {
		return sign | 0x7c00
	}
	mant := frac | 0x800000 // 24-bit significand with the implicit 1
	if exp == 0 {
		mant = frac
		e = -126
	}
	var shift int // bits of mant dropped to leave the float16 significand
	var he uint32 // biased float16 exponent of the result
	if e >= -14 {
		shift = 13
		he = uint32(e + 15)
	} else {
		// Subnormal result: significand * 2^-24, exponent field 0.
		shift = 13 + (-14 - e)
		if shift > 24 {
			return sign // below half the smallest subnormal
		}
		he = 0
	}
	q := mant >> shift
	rem := mant & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && q&1 == 1) {
		q++
	}
	if he == 0 {
		// q < 2^10 is a subnormal; q == 2^10 rounded up into the
		// smallest normal, which the same bits encode.
		return sign | uint16(q)
	}
	// q holds the implicit bit (2^10); a carry to 2^11 bumps the exponent.
	if q >= 1<<11 {
		q >>= 1
		he++
	}
	if he >= 31 {
		return sign | 0x7c00
	}
	return sign | uint16(he<<10) | uint16(q&0x3ff)
}

// Float16Value returns the float32 equal to the float16 with bits h (every
// float16 is exactly a float32).
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := int(h>>10) & 0x1f
	frac := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		if frac != 0 {
			return math.Float32frombits(sign | 0x7fc00000 | frac<<13)
		}
		return math.Float32frombits(sign | 0x7f800000)
	case 0:
		// Subnormal: frac * 2^-24, exact in float32.
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | frac<<13)
}

// checkFloat16 reports the first value of t that float16 cannot hold (NaN,
// infinity, or a magnitude beyond MaxFloat16).
func checkFloat16(t *WeightTensor) error {
	for i, v := range t.Data {
		if v != v || math.Abs(float64(v)) > MaxFloat16 {
			return fmt.Errorf("tensor %q: value %g at %d: want a finite value of magnitude <= %d for float16", t.Name, v, i, MaxFloat16)
		}
	}
	return nil
}
