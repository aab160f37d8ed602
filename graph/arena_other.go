//go:build !linux

package graph

import "unsafe"

// mapFloats returns n zeroed elements of size bytes each from the Go heap
// (the Linux build maps them with huge pages).
func mapFloats(n, size int) (mem unsafe.Pointer, unmap func() error) {
	if n == 0 {
		return nil, nil
	}
	return unsafe.Pointer(unsafe.SliceData(make([]byte, n*size))), nil
}
