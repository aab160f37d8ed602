package hdf5

import (
	"encoding/binary"
	"math"
	"runtime"
	"sync"
)

// convertParallel converts raw elements to float64, splitting large runs
// across GOMAXPROCS goroutines.
func convertParallel[T float32 | float64](dst []T, raw []byte, dt datatype) {
	const minPart = 1 << 18
	parts := min(runtime.GOMAXPROCS(0), len(dst)/minPart)
	if parts <= 1 {
		convert(dst, raw, dt)
		return
	}
	var wg sync.WaitGroup
	step := (len(dst) + parts - 1) / parts
	for lo := 0; lo < len(dst); lo += step {
		hi := min(lo+step, len(dst))
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			convert(dst[lo:hi], raw[lo*dt.size:hi*dt.size], dt)
		}(lo, hi)
	}
	wg.Wait()
}

// convert decodes len(dst) elements of type dt from raw (rounding to
// float32 when T is). Each case uses a concrete byte order so that the
// loads inline.
func convert[T float32 | float64](dst []T, raw []byte, dt datatype) {
	le, be := binary.LittleEndian, binary.BigEndian
	switch {
	case dt.class == classFloat && dt.size == 4 && !dt.bigEndian:
		for i := range dst {
			dst[i] = T(math.Float32frombits(le.Uint32(raw[4*i:])))
		}
	case dt.class == classFloat && dt.size == 4:
		for i := range dst {
			dst[i] = T(math.Float32frombits(be.Uint32(raw[4*i:])))
		}
	case dt.class == classFloat && !dt.bigEndian:
		for i := range dst {
			dst[i] = T(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case dt.class == classFloat:
		for i := range dst {
			dst[i] = T(math.Float64frombits(be.Uint64(raw[8*i:])))
		}
	case dt.size == 1 && dt.signed:
		for i := range dst {
			dst[i] = T(int8(raw[i]))
		}
	case dt.size == 1:
		for i := range dst {
			dst[i] = T(raw[i])
		}
	default:
		for i := range dst {
			e := raw[i*dt.size : (i+1)*dt.size]
			var u uint64
			switch {
			case dt.size == 2 && dt.bigEndian:
				u = uint64(be.Uint16(e))
			case dt.size == 2:
				u = uint64(le.Uint16(e))
			case dt.size == 4 && dt.bigEndian:
				u = uint64(be.Uint32(e))
			case dt.size == 4:
				u = uint64(le.Uint32(e))
			case dt.bigEndian:
				u = be.Uint64(e)
			default:
				u = le.Uint64(e)
			}
			if dt.signed {
				shift := 64 - 8*uint(dt.size)
				dst[i] = T(int64(u<<shift) >> shift)
			} else {
				dst[i] = T(u)
			}
		}
	}
}
