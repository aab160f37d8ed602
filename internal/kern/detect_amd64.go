//go:build !purego

package kern

import "golang.org/x/sys/cpu"

func detect() Level {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL:
		return AVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return AVX2
	}
	return Generic
}
