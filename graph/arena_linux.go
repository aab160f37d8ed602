package graph

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFloats returns n zeroed elements of size bytes each from an anonymous
// mapping outside the Go heap, advised to use transparent huge pages: the
// arena of a VGG step is gigabytes, and touching it through 4 KiB pages
// costs a page fault per page on first use (dear on virtual machines) and a
// TLB miss per page afterwards. The mapping is released with unmapFloats.
// Where the mapping fails it falls back to the Go heap (unmap is then nil).
func mapFloats(n, size int) (mem unsafe.Pointer, unmap func() error) {
	if n == 0 {
		return nil, nil
	}
	b, err := unix.Mmap(-1, 0, n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return unsafe.Pointer(unsafe.SliceData(make([]byte, n*size))), nil
	}
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		// Advice only (a kernel without transparent huge pages refuses
		// it): the mapping works the same with small pages.
		hugePagesRefused = true
	}
	return unsafe.Pointer(&b[0]), func() error { return unix.Munmap(b) }
}

// hugePagesRefused records that the kernel refused MADV_HUGEPAGE.
var hugePagesRefused bool
