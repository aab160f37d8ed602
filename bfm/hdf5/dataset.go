package hdf5

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Datatype classes (IV.A.2.d).
const (
	classFixed  = 0
	classFloat  = 1
	classString = 3
	classVLen   = 9
)

var classNames = map[uint8]string{0: "fixed-point", 1: "floating-point", 2: "time", 3: "string",
	4: "bit field", 5: "opaque", 6: "compound", 7: "reference", 8: "enumerated",
	9: "variable-length", 10: "array"}

// datatype is a decoded datatype message.
type datatype struct {
	class     uint8
	size      int
	bigEndian bool
	signed    bool
	pad       uint8 // string padding: 0 null-terminated, 1 null-padded, 2 space-padded
	vlenStr   bool  // variable-length string
}

// Layout classes.
const (
	layoutCompact    = 0
	layoutContiguous = 1
	layoutChunked    = 2
)

// Chunk index types (layout message version 4).
const (
	indexBTreeV1         = 0 // version-3 layout messages
	indexSingle          = 1
	indexImplicit        = 2
	indexFixedArray      = 3
	indexExtensibleArray = 4
	indexBTreeV2         = 5
)

type filter struct {
	id     uint16
	name   string
	flags  uint16
	params []uint32
}

// Dataset is an n-dimensional array stored in the file.
type Dataset struct {
	f        *File
	path     string
	addr     uint64
	shape    []int
	maxShape []int // nil when equal to shape; -1 marks an unlimited dimension
	n        int   // number of elements
	dt       datatype

	layout      int
	dataAddr    uint64 // contiguous data or chunk index address
	dataSize    uint64 // contiguous size in bytes
	compact     []byte
	chunk       []int // chunk dimensions (without the element-size dimension)
	index       int
	singleSize  uint64 // filtered single chunk: stored size
	singleMask  uint32
	filters     []filter
	fill        []byte // one element's fill value, nil for zeros
	layoutAt    uint64 // file offset of the layout message
	datatypeAt  uint64
	filterMsgAt uint64
}

// maxExpansion bounds the bytes a chunked dataset may decode to, relative
// to the file size (deflate cannot expand more than about 1032:1).
const maxExpansion = 1100

// Dataset opens the dataset at path ("/shape/model/mean" or without the
// leading slash). A missing path gives an error that names the file and the
// path and lists the members of the deepest group that exists.
func (f *File) Dataset(path string) (*Dataset, error) {
	addr, err := f.resolve(path, 0)
	if err != nil {
		return nil, err
	}
	full := "/" + strings.Join(splitPath(path), "/")
	o, err := f.readObject(addr)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", full, err)
	}
	if _, isGroup, err := f.groupLinks(o); isGroup {
		return nil, errors.Join(fmt.Errorf("hdf5: %s: %q is a group, not a dataset", f.name, full), err)
	} else if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", full, err)
	}
	ds := &Dataset{f: f, path: full, addr: addr}
	if err := ds.parse(o); err != nil {
		return nil, fmt.Errorf("dataset %q: %w", full, err)
	}
	return ds, nil
}

// Path returns the dataset's absolute path.
func (ds *Dataset) Path() string { return ds.path }

// Shape returns the dimensions (empty for a scalar), slowest-varying first
// as h5py shows them.
func (ds *Dataset) Shape() []int { return append([]int{}, ds.shape...) }

// Len returns the number of elements (1 for a scalar).
func (ds *Dataset) Len() int { return ds.n }

func (ds *Dataset) parse(o *object) error {
	f := ds.f
	for _, typ := range []uint16{msgDataspace, msgDatatype, msgLayout} {
		m := o.find(typ)
		if m == nil {
			return f.formatErr(o.addr+f.base, "object header has no %s message", map[uint16]string{msgDataspace: "dataspace", msgDatatype: "datatype", msgLayout: "data layout"}[typ])
		}
		if m.flags&0x02 != 0 {
			return f.unsupported(m.off+f.base, "shared (committed) header message of type %d", typ)
		}
	}
	if err := ds.parseDataspace(o.find(msgDataspace)); err != nil {
		return err
	}
	m := o.find(msgDatatype)
	ds.datatypeAt = m.off
	dt, err := f.parseDatatype(m.data, m.off, 0)
	if err != nil {
		return err
	}
	ds.dt = dt
	if m := o.find(msgFilters); m != nil {
		if err := ds.parseFilters(m); err != nil {
			return err
		}
	}
	if m := o.find(msgFill); m != nil {
		if err := ds.parseFill(m); err != nil {
			return err
		}
	} else if m := o.find(msgFillOld); m != nil {
		d := f.decoder(m.data, m.off, "fill value message")
		n := d.u32()
		v := d.bytes(int(n))
		if d.err == nil && int(n) == ds.dt.size {
			ds.fill = v
		}
	}
	return ds.parseLayout(o.find(msgLayout))
}

func (ds *Dataset) parseDataspace(m *message) error {
	f := ds.f
	d := f.decoder(m.data, m.off, "dataspace message")
	ver := d.u8()
	rank := int(d.u8())
	flags := d.u8()
	null := false
	switch ver {
	case 1:
		d.skip(5)
	case 2:
		null = d.u8() == 2
	default:
		if d.err == nil {
			return f.formatErr(m.off+f.base, "dataspace version %d, expected 1 or 2", ver)
		}
	}
	if rank > 32 {
		return f.formatErr(m.off+f.base, "dataspace rank %d, at most 32 allowed", rank)
	}
	ds.shape = make([]int, rank)
	n := uint64(1)
	for i := range ds.shape {
		v := d.length()
		if d.err != nil {
			return d.err
		}
		if v > math.MaxInt32*uint64(1<<20) || (v != 0 && n > math.MaxInt64/v) {
			return f.formatErr(m.off+f.base, "dataspace dimension %d is %d: too large", i, v)
		}
		ds.shape[i] = int(v)
		n *= v
	}
	if flags&1 != 0 {
		ds.maxShape = make([]int, rank) // -1: unlimited
		for i := range ds.maxShape {
			v := d.length()
			switch {
			case v == undef || (f.sizeLen < 8 && v == uint64(1)<<(8*f.sizeLen)-1):
				ds.maxShape[i] = -1
			case v > uint64(math.MaxInt32)*(1<<20):
				ds.maxShape[i] = ds.shape[i]
			default:
				ds.maxShape[i] = int(v)
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	if null {
		n = 0
	}
	ds.n = int(n)
	return nil
}

// parseDatatype decodes a datatype message; depth bounds nesting.
func (f *File) parseDatatype(b []byte, at uint64, depth int) (datatype, error) {
	var dt datatype
	d := f.decoder(b, at, "datatype message")
	cv := d.u8()
	bf := d.bytes(3)
	size := d.u32()
	if d.err != nil {
		return dt, d.err
	}
	dt.class = cv & 0x0f
	dt.size = int(size)
	switch dt.class {
	case classFixed:
		dt.bigEndian = bf[0]&1 != 0
		dt.signed = bf[0]&0x08 != 0
		switch size {
		case 1, 2, 4, 8:
		default:
			return dt, f.unsupported(at+f.base, "%d-byte integers", size)
		}
	case classFloat:
		if bf[0]&0x40 != 0 {
			return dt, f.unsupported(at+f.base, "VAX floating-point byte order")
		}
		dt.bigEndian = bf[0]&1 != 0
		if size != 4 && size != 8 {
			return dt, f.unsupported(at+f.base, "%d-byte floating point", size)
		}
	case classString:
		dt.pad = bf[0] & 0x0f
		if size == 0 || uint64(size) > uint64(f.size)+1<<16 {
			return dt, f.formatErr(at+f.base, "fixed-length string of %d bytes", size)
		}
	case classVLen:
		if bf[0]&0x0f != 1 || depth > 0 {
			return dt, f.unsupported(at+f.base, "variable-length sequences (only variable-length strings are read)")
		}
		dt.vlenStr = true
		dt.pad = bf[0] >> 4 & 0x0f
		if int(size) != 4+f.sizeOff+4 {
			return dt, f.formatErr(at+f.base, "variable-length string element of %d bytes, expected %d", size, 4+f.sizeOff+4)
		}
	default:
		name := classNames[dt.class]
		if name == "" {
			return dt, f.formatErr(at+f.base, "unknown datatype class %d", dt.class)
		}
		return dt, f.unsupported(at+f.base, "%s datatype", name)
	}
	return dt, nil
}

func (ds *Dataset) parseFilters(m *message) error {
	f := ds.f
	ds.filterMsgAt = m.off
	d := f.decoder(m.data, m.off, "filter pipeline message")
	ver := d.u8()
	n := int(d.u8())
	if ver == 1 {
		d.skip(6)
	} else if ver != 2 && d.err == nil {
		return f.formatErr(m.off+f.base, "filter pipeline version %d, expected 1 or 2", ver)
	}
	for i := 0; i < n && d.err == nil; i++ {
		var fl filter
		fl.id = d.u16()
		nameLen := 0
		if ver == 1 || fl.id >= 256 {
			nameLen = int(d.u16())
		}
		fl.flags = d.u16()
		nv := int(d.u16())
		if nameLen > 0 {
			nb := d.bytes(nameLen)
			fl.name = strings.TrimRight(string(nb), "\x00")
			if ver == 1 && nameLen%8 != 0 {
				d.skip(8 - nameLen%8)
			}
		}
		if nv > len(m.data) {
			return f.formatErr(m.off+f.base, "filter %d claims %d parameters", fl.id, nv)
		}
		for j := 0; j < nv; j++ {
			fl.params = append(fl.params, d.u32())
		}
		if ver == 1 && nv%2 == 1 {
			d.skip(4)
		}
		ds.filters = append(ds.filters, fl)
	}
	return d.err
}

func (ds *Dataset) parseFill(m *message) error {
	f := ds.f
	d := f.decoder(m.data, m.off, "fill value message")
	ver := d.u8()
	var v []byte
	switch ver {
	case 1, 2:
		d.skip(2)
		defined := d.u8()
		if ver == 1 || defined != 0 {
			if d.p < len(m.data) {
				v = d.bytes(int(d.u32()))
			}
		}
	case 3:
		flags := d.u8()
		if flags&0x20 != 0 {
			v = d.bytes(int(d.u32()))
		}
	default:
		if d.err == nil {
			return f.formatErr(m.off+f.base, "fill value message version %d, expected 1, 2 or 3", ver)
		}
	}
	if d.err != nil {
		return d.err
	}
	if len(v) == ds.dt.size && !ds.dt.vlenStr {
		ds.fill = v
	}
	return nil
}

func (ds *Dataset) parseLayout(m *message) error {
	f := ds.f
	ds.layoutAt = m.off
	d := f.decoder(m.data, m.off, "data layout message")
	ver := d.u8()
	rank := len(ds.shape)
	switch ver {
	case 1, 2:
		nd := int(d.u8())
		ds.layout = int(d.u8())
		d.skip(5)
		if ds.layout != layoutCompact {
			ds.dataAddr = d.addr()
		}
		dims := make([]int, nd)
		for i := range dims {
			dims[i] = int(d.u32())
		}
		switch ds.layout {
		case layoutCompact:
			ds.compact = d.bytes(int(d.u32()))
		case layoutContiguous:
			ds.dataSize = uint64(ds.n) * uint64(ds.dt.size)
		case layoutChunked:
			if nd != rank+1 {
				return f.formatErr(m.off+f.base, "chunk dimensionality %d, expected rank+1 = %d", nd, rank+1)
			}
			ds.chunk = dims[:rank]
		}
	case 3, 4:
		ds.layout = int(d.u8())
		switch ds.layout {
		case layoutCompact:
			ds.compact = d.bytes(int(d.u16()))
		case layoutContiguous:
			ds.dataAddr = d.addr()
			ds.dataSize = d.length()
		case layoutChunked:
			flags := uint8(0)
			if ver == 4 {
				flags = d.u8()
			}
			nd := int(d.u8())
			if d.err == nil && nd != rank+1 {
				return f.formatErr(m.off+f.base, "chunk dimensionality %d, expected rank+1 = %d", nd, rank+1)
			}
			if ver == 3 {
				ds.dataAddr = d.addr()
			}
			enc := 4
			if ver == 4 {
				enc = int(d.u8())
				if d.err == nil && (enc < 1 || enc > 8) {
					return f.formatErr(m.off+f.base, "chunk dimension encoding of %d bytes", enc)
				}
			}
			ds.chunk = make([]int, rank)
			for i := 0; i < nd; i++ {
				v := d.uN(enc)
				if i < rank {
					if v == 0 || v > 1<<32 {
						if d.err == nil {
							return f.formatErr(m.off+f.base, "chunk dimension %d is %d", i, v)
						}
					}
					ds.chunk[i] = int(v)
				}
			}
			if ver == 4 {
				ds.index = int(d.u8())
				switch ds.index {
				case indexSingle:
					if flags&0x02 != 0 {
						ds.singleSize = d.length()
						ds.singleMask = d.u32()
					}
				case indexImplicit:
				case indexFixedArray:
					d.u8() // page bits
				case indexExtensibleArray:
					d.skip(5) // creation parameters, repeated in the array header
				case indexBTreeV2:
					d.skip(6) // node size, split and merge percentages
				default:
					if d.err == nil {
						return f.formatErr(m.off+f.base, "unknown chunk index type %d", ds.index)
					}
				}
				ds.dataAddr = d.addr()
			}
		case 3:
			if ver == 4 {
				return f.unsupported(m.off+f.base, "virtual dataset layout")
			}
			fallthrough
		default:
			if d.err == nil {
				return f.formatErr(m.off+f.base, "data layout class %d, expected 0, 1 or 2", ds.layout)
			}
		}
	default:
		if d.err == nil {
			return f.formatErr(m.off+f.base, "data layout version %d, expected 1 to 4", ver)
		}
	}
	if d.err != nil {
		return d.err
	}
	if ds.layout == layoutChunked && rank == 0 {
		return f.formatErr(m.off+f.base, "chunked layout for a scalar dataset")
	}
	return nil
}

// rawSize returns the byte size of the whole dataset after checking it is
// plausible for the file.
func (ds *Dataset) rawSize() (int, error) {
	f := ds.f
	es := uint64(ds.dt.size)
	total := uint64(ds.n) * es
	if ds.n != 0 && total/uint64(ds.n) != es {
		return 0, f.formatErr(ds.layoutAt+f.base, "dataset %q: %d elements of %d bytes overflow", ds.path, ds.n, es)
	}
	limit := f.maxData
	if total > limit || total > math.MaxInt {
		return 0, f.formatErr(ds.layoutAt+f.base, "dataset %q: %d bytes of data is implausible for a file of %d bytes", ds.path, total, f.size)
	}
	return int(total), nil
}

// readRaw calls fn with consecutive runs of raw elements (file byte order),
// starting at element 0: contiguous data is streamed in blocks, chunked
// data is assembled in memory.
func (ds *Dataset) readRaw(fn func(first int, raw []byte) error) error {
	f := ds.f
	total, err := ds.rawSize()
	if err != nil {
		return err
	}
	es := ds.dt.size
	switch ds.layout {
	case layoutCompact:
		if len(ds.compact) < total {
			return f.formatErr(ds.layoutAt+f.base, "compact data of %d bytes, expected %d", len(ds.compact), total)
		}
		return fn(0, ds.compact[:total])
	case layoutContiguous:
		if ds.dataAddr == undef {
			return fn(0, ds.filled(total))
		}
		if ds.dataSize < uint64(total) {
			return f.formatErr(ds.layoutAt+f.base, "contiguous storage of %d bytes, expected %d", ds.dataSize, total)
		}
		start, err := f.abs(ds.dataAddr, uint64(total), "contiguous data")
		if err != nil {
			return err
		}
		block := max(1, (4<<20)/es) * es
		buf := make([]byte, min(block, total))
		for off := 0; off < total; off += block {
			b := buf[:min(block, total-off)]
			if err := f.readAt(b, start+uint64(off), "contiguous data"); err != nil {
				return err
			}
			if err := fn(off/es, b); err != nil {
				return err
			}
		}
		return nil
	case layoutChunked:
		buf := ds.filled(total)
		if err := ds.readChunks(buf); err != nil {
			return err
		}
		return fn(0, buf)
	}
	return f.formatErr(ds.layoutAt+f.base, "data layout class %d", ds.layout)
}

// filled returns total bytes holding the fill value.
func (ds *Dataset) filled(total int) []byte {
	b := make([]byte, total)
	if ds.fill != nil && !allZero(ds.fill) {
		for i := 0; i+len(ds.fill) <= total; i += len(ds.fill) {
			copy(b[i:], ds.fill)
		}
	}
	return b
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Float64s returns every element converted to float64, row-major. It fails
// for string datatypes. Integers beyond 2^53 lose precision.
func (ds *Dataset) Float64s() ([]float64, error) { return readNumbers[float64](ds) }

// Float32s returns every element converted (rounded) to float32,
// row-major: half the memory of Float64s for float32 data such as a
// morphable model's basis.
func (ds *Dataset) Float32s() ([]float32, error) { return readNumbers[float32](ds) }

func readNumbers[T float32 | float64](ds *Dataset) ([]T, error) {
	dt := ds.dt
	if dt.class != classFixed && dt.class != classFloat {
		return nil, fmt.Errorf("hdf5: %s: dataset %q has a %s datatype, not a number", ds.f.name, ds.path, classNames[dt.class])
	}
	if _, err := ds.rawSize(); err != nil {
		return nil, err
	}
	out := make([]T, ds.n)
	err := ds.readRaw(func(first int, raw []byte) error {
		convertParallel(out[first:first+len(raw)/dt.size], raw, dt)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Strings returns the elements of a fixed- or variable-length string
// dataset, row-major. Fixed-length strings are cut at the first NUL
// (null-terminated), or lose their trailing NULs (null-padded) or spaces
// (space-padded); bytes are returned as stored (ASCII or UTF-8).
func (ds *Dataset) Strings() ([]string, error) {
	dt := ds.dt
	if dt.class != classString && !dt.vlenStr {
		return nil, fmt.Errorf("hdf5: %s: dataset %q has a %s datatype, not strings", ds.f.name, ds.path, classNames[dt.class])
	}
	if _, err := ds.rawSize(); err != nil {
		return nil, err
	}
	out := make([]string, ds.n)
	err := ds.readRaw(func(first int, raw []byte) error {
		for i := 0; i*dt.size < len(raw); i++ {
			e := raw[i*dt.size : (i+1)*dt.size]
			if dt.vlenStr {
				s, err := ds.f.vlenString(e, ds.addr)
				if err != nil {
					return fmt.Errorf("dataset %q element %d: %w", ds.path, first+i, err)
				}
				out[first+i] = s
				continue
			}
			switch dt.pad {
			case 0:
				if j := bytes.IndexByte(e, 0); j >= 0 {
					e = e[:j]
				}
			case 1:
				e = bytes.TrimRight(e, "\x00")
			case 2:
				e = bytes.TrimRight(e, " ")
			}
			out[first+i] = string(e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// vlenString reads a variable-length string element: length (4 bytes),
// global heap collection address, object index (4 bytes).
func (f *File) vlenString(e []byte, at uint64) (string, error) {
	d := f.decoder(e, at, "variable-length string")
	n := d.u32()
	coll := d.addr()
	idx := d.u32()
	if d.err != nil {
		return "", d.err
	}
	if n == 0 || coll == 0 || coll == undef {
		return "", nil
	}
	objs, err := f.globalHeap(coll)
	if err != nil {
		return "", err
	}
	if idx > math.MaxUint16 {
		return "", f.formatErr(coll+f.base, "global heap object index %d", idx)
	}
	obj, ok := objs[uint16(idx)]
	if !ok {
		return "", f.formatErr(coll+f.base, "global heap collection has no object %d", idx)
	}
	if uint64(n) > uint64(len(obj)) {
		return "", f.formatErr(coll+f.base, "string of %d bytes in a global heap object of %d", n, len(obj))
	}
	return string(obj[:n]), nil
}

// globalHeap reads (and caches) a global heap collection (III.E).
func (f *File) globalHeap(addr uint64) (map[uint16][]byte, error) {
	f.mu.Lock()
	objs, ok := f.gheaps[addr]
	f.mu.Unlock()
	if ok {
		return objs, nil
	}
	pre, err := f.read(addr, uint64(8+f.sizeLen), "global heap collection")
	if err != nil {
		return nil, err
	}
	d := f.decoder(pre, addr, "global heap collection")
	d.sig("GCOL")
	d.skip(4)
	size := d.length()
	if d.err != nil {
		return nil, d.err
	}
	if size < uint64(8+f.sizeLen) {
		return nil, f.formatErr(addr+f.base, "global heap collection of %d bytes", size)
	}
	b, err := f.read(addr, size, "global heap collection")
	if err != nil {
		return nil, err
	}
	d = f.decoder(b, addr, "global heap object")
	d.p = 8 + f.sizeLen
	objs = map[uint16][]byte{}
	for d.p+8+f.sizeLen <= len(b) {
		idx := d.u16()
		d.skip(6)
		n := d.length()
		if idx == 0 || d.err != nil {
			break
		}
		if n > uint64(len(b)-d.p) {
			return nil, f.formatErr(d.pos(), "global heap object %d of %d bytes overruns its collection", idx, n)
		}
		objs[idx] = d.bytes(int(n))
		if pad := (8 - int(n)%8) % 8; pad <= len(b)-d.p {
			d.skip(pad)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	f.mu.Lock()
	f.gheaps[addr] = objs
	f.mu.Unlock()
	return objs, nil
}
