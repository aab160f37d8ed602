// Package kern holds the float32 SIMD kernels of stn3d's convolutions: a
// direct 3x3, stride-1 convolution (forward, and the input gradient as a
// convolution with the flipped weights) and its weight gradient, in Go
// assembly for AVX-512 and for AVX2+FMA, and in plain Go.
//
// The kernel set is chosen once at start-up from the CPU's features
// (golang.org/x/sys/cpu): AVX-512 where the CPU has AVX512F, else AVX2 where
// it has AVX2 and FMA, else Generic (plain Go, also the only level off
// amd64 or with the purego build tag). AVX-512 means AVX512F and AVX512VL. STN3D_SIMD=generic|avx2|avx512 lowers
// the choice (for comparisons; a level the CPU lacks is never chosen).
//
// Every function takes its Level explicitly, so tests run each level the
// machine supports against the same reference and benchmarks compare them.
// The kernels read the unpadded NCHW tensors directly: the taps that fall
// outside the image are masked loads (AVX-512 opmasks, AVX2 VMASKMOVPS), so
// there is no im2col matrix and no padded copy.
package kern

import (
	"fmt"
	"os"
	"strings"
)

// Level is a SIMD instruction-set level.
type Level int

const (
	Generic Level = iota // plain Go
	AVX2                 // AVX2 + FMA, 8 float32 lanes
	AVX512               // AVX-512F, 16 float32 lanes
)

func (l Level) String() string {
	switch l {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Levels lists every level, lowest first.
var Levels = []Level{Generic, AVX2, AVX512}

// best is the highest level this CPU (and build) supports.
var best = detect()

// active is the level the program uses: best, lowered by STN3D_SIMD.
var active = choose(best, os.Getenv("STN3D_SIMD"))

func choose(best Level, env string) Level {
	for _, l := range Levels {
		if strings.EqualFold(env, l.String()) && l < best {
			return l
		}
	}
	return best
}

// Best returns the highest level the CPU supports.
func Best() Level { return best }

// Active returns the level the program's kernels use.
func Active() Level { return active }

// Supported reports whether the CPU can run level l.
func Supported(l Level) bool { return l >= Generic && l <= best }
