// Package hdf5 is a small, read-only HDF5 reader written in pure Go (no cgo).
//
// It reads what h5py and the HDF5 C library (1.8 - 1.14, as used by Statismo
// to write the Basel Face Model 2017) produce for numeric and string datasets:
//
//   - superblock versions 0, 1, 2 and 3;
//   - object headers version 1 and 2, with continuation blocks;
//   - groups stored as symbol tables (v1 B-tree + local heap), as link
//     messages in the object header (compact storage) and as dense link
//     storage (fractal heap + v2 B-tree name index), soft links;
//   - datasets with compact, contiguous and chunked layout; chunk indexes:
//     v1 B-tree, single chunk, implicit, fixed array, extensible array (the
//     libver='latest' index for one unlimited dimension) and v2 B-tree
//     (several unlimited dimensions); filters deflate, shuffle and
//     fletcher32 (checksum verified); fill values; chunks are decoded by
//     up to GOMAXPROCS goroutines;
//   - datatypes: fixed-point (8..64 bits, signed or not), IEEE floating
//     point (32/64 bits), either byte order; fixed-length and
//     variable-length strings (global heap);
//   - attributes of groups and datasets, compact or dense.
//
// Data are returned in row-major (C) order, the order h5py shows. Every
// offset and size read from the file is checked against the file size before
// anything is read or allocated; a malformed file gives a *FormatError that
// names the file and the byte offset, a valid file that uses a feature this
// package lacks gives an *UnsupportedError. Metadata checksums (Jenkins
// lookup3, version-2 structures) are verified.
//
// Not supported (an *UnsupportedError says so): compound, enumerated,
// array, reference, time, bit-field and opaque datatypes, variable-length
// sequences, half floats, shared (committed) datatypes, external and virtual
// storage, external links, huge fractal-heap objects, paged fixed or
// extensible arrays (more than 1024 chunks in one array page), filters other
// than the three above (szip, lzf, blosc, ...).
//
// A File may be used from several goroutines at once.
package hdf5

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// FormatError reports a malformed or truncated file.
type FormatError struct {
	File   string // path or name given to Open / OpenReaderAt
	Offset int64  // byte offset in the file where the problem was found
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("hdf5: %s: offset %d: %s", e.File, e.Offset, e.Msg)
}

// UnsupportedError reports a valid HDF5 feature that this package cannot read.
type UnsupportedError struct {
	File   string
	Offset int64
	Msg    string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("hdf5: %s: offset %d: unsupported: %s", e.File, e.Offset, e.Msg)
}

// undef is the "undefined address" value (all bits set).
const undef = ^uint64(0)

// maxDepth bounds every recursion over file structures (B-trees, heaps,
// soft links) so that a corrupt file cannot make the reader loop.
const maxDepth = 64

var signature = []byte{0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'}

// File is an open HDF5 file.
type File struct {
	name   string
	r      io.ReaderAt
	closer io.Closer
	size   int64

	sbVersion int
	sizeOff   int    // size of offsets (addresses), bytes
	sizeLen   int    // size of lengths, bytes
	base      uint64 // base address: every address is relative to it
	root      uint64 // root group object header address
	rootCache *symbolCache

	// maxData bounds the decoded bytes of one dataset (see maxExpansion).
	maxData uint64

	mu     sync.Mutex
	gheaps map[uint64]map[uint16][]byte // global heap collections by address
}

// symbolCache is the v0/v1 superblock's cached symbol table of the root group.
type symbolCache struct {
	btree, heap uint64
}

// Open opens the HDF5 file at path.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hdf5: %w", err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("hdf5: %w", err)
	}
	f, err := OpenReaderAt(path, fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// OpenReaderAt reads an HDF5 file of the given size from r; name is used in
// error messages only. Close does not close r.
func OpenReaderAt(name string, r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("hdf5: %s: negative size %d", name, size)
	}
	f := &File{name: name, r: r, size: size, gheaps: map[uint64]map[uint16][]byte{}}
	f.maxData = uint64(size)*maxExpansion + 1<<20
	if err := f.readSuperblock(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the file. Datasets obtained from it can no longer be read.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	if err != nil {
		return fmt.Errorf("hdf5: close %s: %w", f.name, err)
	}
	return nil
}

// Name returns the path or name the file was opened with.
func (f *File) Name() string { return f.name }

func (f *File) formatErr(off uint64, format string, args ...any) error {
	return &FormatError{File: f.name, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

func (f *File) unsupported(off uint64, format string, args ...any) error {
	return &UnsupportedError{File: f.name, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

// abs converts a file address to an absolute byte offset, checking that n
// bytes starting there lie inside the file.
func (f *File) abs(addr, n uint64, what string) (uint64, error) {
	if addr == undef {
		return 0, f.formatErr(0, "%s has an undefined address", what)
	}
	a := addr + f.base
	if a < addr || a > uint64(f.size) || n > uint64(f.size)-a {
		return 0, f.formatErr(a, "%s of %d bytes at offset %d runs past the end of the file (size %d)", what, n, a, f.size)
	}
	return a, nil
}

// read returns n bytes at file address addr, after checking the bounds.
func (f *File) read(addr, n uint64, what string) ([]byte, error) {
	a, err := f.abs(addr, n, what)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if err := f.readAt(buf, a, what); err != nil {
		return nil, err
	}
	return buf, nil
}

// readAt fills b from absolute offset off. Per io.ReaderAt, a full read
// may come with io.EOF; only a short read is an error.
func (f *File) readAt(b []byte, off uint64, what string) error {
	if len(b) == 0 {
		return nil
	}
	m, err := f.r.ReadAt(b, int64(off))
	if m == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return f.formatErr(off, "reading %s (%d of %d bytes): %v", what, m, len(b), err)
}

// readUpTo returns at most n bytes at addr (fewer at the end of the file).
func (f *File) readUpTo(addr, n uint64, what string) ([]byte, error) {
	a, err := f.abs(addr, 0, what)
	if err != nil {
		return nil, err
	}
	if rest := uint64(f.size) - a; n > rest {
		n = rest
	}
	return f.read(addr, n, what)
}

// decoder reads little-endian fields from a byte slice that was read from
// file offset off. The first out-of-range read sets err; later reads return
// zero, so a caller checks err once after a group of fields.
type decoder struct {
	f   *File
	b   []byte
	off uint64 // absolute file offset of b[0]
	p   int
	err error
	// what names the structure, for error messages.
	what string
}

func (f *File) decoder(b []byte, addr uint64, what string) *decoder {
	return &decoder{f: f, b: b, off: addr + f.base, what: what}
}

func (d *decoder) pos() uint64 { return d.off + uint64(d.p) }

func (d *decoder) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || n > len(d.b)-d.p {
		d.err = d.f.formatErr(d.pos(), "%s is truncated (need %d more bytes, have %d)", d.what, n, len(d.b)-d.p)
		return false
	}
	return true
}

func (d *decoder) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	s := d.b[d.p : d.p+n]
	d.p += n
	return s
}

func (d *decoder) skip(n int) { d.bytes(n) }

func (d *decoder) uN(n int) uint64 {
	s := d.bytes(n)
	var v uint64
	for i := len(s) - 1; i >= 0; i-- {
		v = v<<8 | uint64(s[i])
	}
	return v
}

func (d *decoder) u8() uint8   { return uint8(d.uN(1)) }
func (d *decoder) u16() uint16 { return uint16(d.uN(2)) }
func (d *decoder) u32() uint32 { return uint32(d.uN(4)) }
func (d *decoder) u64() uint64 { return d.uN(8) }

// addr reads a file address ("size of offsets" bytes); all bits set means
// undefined.
func (d *decoder) addr() uint64 {
	n := d.f.sizeOff
	v := d.uN(n)
	if n < 8 && v == (uint64(1)<<(8*n))-1 {
		return undef
	}
	return v
}

// length reads a "size of lengths" field.
func (d *decoder) length() uint64 { return d.uN(d.f.sizeLen) }

func (d *decoder) sig(s string) {
	b := d.bytes(len(s))
	if d.err == nil && string(b) != s {
		d.err = d.f.formatErr(d.pos()-uint64(len(s)), "%s: signature %q, expected %q", d.what, b, s)
	}
}

// checksum verifies the lookup3 checksum stored after b[start:d.p].
func (d *decoder) checksum(start int) {
	if d.err != nil {
		return
	}
	want := lookup3(d.b[start:d.p], 0)
	at := d.pos()
	if got := d.u32(); d.err == nil && got != want {
		d.err = d.f.formatErr(at, "%s: checksum mismatch (stored %#08x, computed %#08x)", d.what, got, want)
	}
}

func (f *File) readSuperblock() error {
	// The signature may sit at 0, 512, 1024, 2048, ...
	var at int64 = -1
	for off := int64(0); off+8 <= f.size; {
		b := make([]byte, 8)
		if err := f.readAt(b, uint64(off), "signature"); err != nil {
			return err
		}
		if bytes.Equal(b, signature) {
			at = off
			break
		}
		if off == 0 {
			off = 512
		} else {
			off *= 2
		}
	}
	if at < 0 {
		return f.formatErr(0, "no HDF5 signature found (file size %d)", f.size)
	}
	hdr, err := f.readUpTo(uint64(at), 256, "superblock")
	if err != nil {
		return err
	}
	d := &decoder{f: f, b: hdr, off: uint64(at), what: "superblock"}
	d.skip(8)
	f.sbVersion = int(d.u8())
	switch f.sbVersion {
	case 0, 1:
		d.skip(4) // free-space version, root symtab version, reserved, shared header version
		f.sizeOff, f.sizeLen = int(d.u8()), int(d.u8())
		d.skip(1)
		d.skip(2 + 2 + 4) // group leaf K, group internal K, flags
		if f.sbVersion == 1 {
			d.skip(4) // indexed storage internal K, reserved
		}
		if err := f.checkSizes(d); err != nil {
			return err
		}
		f.base = d.uN(f.sizeOff)
		d.addr() // free-space info
		d.addr() // end of file
		d.addr() // driver info
		// Root group symbol table entry.
		d.length() // link name offset
		f.root = d.addr()
		cache := d.u32()
		d.skip(4)
		scratch := d.bytes(16)
		if d.err == nil && cache == 1 {
			sd := &decoder{f: f, b: scratch, off: d.pos() - 16, what: "root scratch pad"}
			c := &symbolCache{btree: sd.addr(), heap: sd.addr()}
			if sd.err == nil {
				f.rootCache = c
			}
		}
	case 2, 3:
		f.sizeOff, f.sizeLen = int(d.u8()), int(d.u8())
		d.skip(1) // flags
		if err := f.checkSizes(d); err != nil {
			return err
		}
		f.base = d.uN(f.sizeOff)
		d.addr() // superblock extension
		d.addr() // end of file
		f.root = d.addr()
		d.checksum(0)
	default:
		return f.unsupported(uint64(at)+8, "superblock version %d", f.sbVersion)
	}
	if d.err != nil {
		return d.err
	}
	if f.base == undef {
		f.base = 0
	}
	if f.base > uint64(f.size) {
		return f.formatErr(uint64(at), "base address %d lies past the end of the file (size %d)", f.base, f.size)
	}
	if f.root == undef {
		return f.formatErr(uint64(at), "root group has an undefined address")
	}
	return nil
}

func (f *File) checkSizes(d *decoder) error {
	if d.err != nil {
		return d.err
	}
	for _, s := range []int{f.sizeOff, f.sizeLen} {
		switch s {
		case 2, 4, 8:
		default:
			return f.formatErr(d.pos()-1, "superblock: size of offsets/lengths is %d, expected 2, 4 or 8", s)
		}
	}
	return nil
}

// lookup3 is Bob Jenkins' hashlittle (lookup3.c), the checksum HDF5 uses for
// version-2 metadata.
func lookup3(k []byte, initval uint32) uint32 {
	rot := func(x uint32, n uint) uint32 { return x<<n | x>>(32-n) }
	a := 0xdeadbeef + uint32(len(k)) + initval
	b, c := a, a
	le := func(p []byte) uint32 { return uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24 }
	for len(k) > 12 {
		a += le(k[0:])
		b += le(k[4:])
		c += le(k[8:])
		a -= c
		a ^= rot(c, 4)
		c += b
		b -= a
		b ^= rot(a, 6)
		a += c
		c -= b
		c ^= rot(b, 8)
		b += a
		a -= c
		a ^= rot(c, 16)
		c += b
		b -= a
		b ^= rot(a, 19)
		a += c
		c -= b
		c ^= rot(b, 4)
		b += a
		k = k[12:]
	}
	if len(k) == 0 {
		return c
	}
	var t [12]byte
	copy(t[:], k)
	a += le(t[0:])
	b += le(t[4:])
	c += le(t[8:])
	c ^= b
	c -= rot(b, 14)
	a ^= c
	a -= rot(c, 11)
	b ^= a
	b -= rot(a, 25)
	c ^= b
	c -= rot(b, 16)
	a ^= c
	a -= rot(c, 4)
	b ^= a
	b -= rot(a, 14)
	c ^= b
	c -= rot(b, 24)
	return c
}
