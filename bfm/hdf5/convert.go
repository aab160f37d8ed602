package hdf5

import (
	"encoding/binary"
	"math"

	"github.com/stn3d/stn3d/internal/workpool"
)

// convertMinRun is the number of elements below which convertParallel
// converts inline.
const convertMinRun = 1 << 19

// convertParallel converts raw elements to T, splitting runs of at least
// convertMinRun elements into contiguous parts across the worker pool.
func convertParallel[T float32 | float64](dst []T, raw []byte, dt datatype) {
	if len(dst) < convertMinRun {
		convert(dst, raw, dt)
		return
	}
	workpool.Chunks(len(dst), workpool.Heavy, func(lo, hi int) {
		convert(dst[lo:hi], raw[lo*dt.size:hi*dt.size], dt)
	})
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
