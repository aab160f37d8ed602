package hdf5

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"
)

// link is one named member of a group.
type link struct {
	name string
	addr uint64 // object header address of a hard link
	soft string // target path of a soft link ("" for a hard link)
	ext  bool   // external link (not followed)
}

// groupLinks returns the members of the group whose header is o, and false
// if o is not a group.
func (f *File) groupLinks(o *object) ([]link, bool, error) {
	var out []link
	isGroup := false
	if m := o.find(msgSymbolTable); m != nil {
		d := f.decoder(m.data, m.off, "symbol table message")
		bt, heap := d.addr(), d.addr()
		if d.err != nil {
			return nil, true, d.err
		}
		ls, err := f.symbolTable(bt, heap)
		return ls, true, err
	}
	for i := range o.msgs {
		m := &o.msgs[i]
		switch m.typ {
		case msgLink:
			isGroup = true
			l, err := f.parseLink(m.data, m.off)
			if err != nil {
				return nil, true, err
			}
			out = append(out, l)
		case msgLinkInfo:
			isGroup = true
			d := f.decoder(m.data, m.off, "link info message")
			if v := d.u8(); d.err == nil && v != 0 {
				return nil, true, f.formatErr(m.off+f.base, "link info message version %d, expected 0", v)
			}
			flags := d.u8()
			if flags&1 != 0 {
				d.u64() // maximum creation index
			}
			heap, nameIdx := d.addr(), d.addr()
			if d.err != nil {
				return nil, true, d.err
			}
			if heap != undef && nameIdx != undef {
				ls, err := f.denseLinks(heap, nameIdx)
				if err != nil {
					return nil, true, err
				}
				out = append(out, ls...)
			}
		}
	}
	return out, isGroup, nil
}

// parseLink decodes a link message (IV.A.2.g), also the form stored as a
// fractal heap object in dense groups.
func (f *File) parseLink(b []byte, at uint64) (link, error) {
	d := f.decoder(b, at, "link message")
	var l link
	if v := d.u8(); d.err == nil && v != 1 {
		return l, f.formatErr(at+f.base, "link message version %d, expected 1", v)
	}
	flags := d.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = d.u8()
	}
	if flags&0x04 != 0 {
		d.u64() // creation order
	}
	if flags&0x10 != 0 {
		d.u8() // character set
	}
	n := d.uN(1 << (flags & 3))
	if d.err == nil && n > uint64(len(b)) {
		return l, f.formatErr(d.pos(), "link name length %d exceeds the message size %d", n, len(b))
	}
	l.name = string(d.bytes(int(n)))
	switch typ {
	case 0:
		l.addr = d.addr()
	case 1:
		l.soft = string(d.bytes(int(d.u16())))
		if d.err == nil && l.soft == "" {
			l.soft = "."
		}
	case 64:
		l.ext = true
	default:
		if d.err == nil {
			return l, f.unsupported(at+f.base, "link %q has type %d", l.name, typ)
		}
	}
	if d.err != nil {
		return l, d.err
	}
	if l.name == "" {
		return l, f.formatErr(at+f.base, "link with an empty name")
	}
	return l, nil
}

// symbolTable lists a group stored as a v1 B-tree of symbol table nodes
// whose names live in a local heap (III.A.1, III.B, III.D).
func (f *File) symbolTable(btree, heapAddr uint64) ([]link, error) {
	hb, err := f.read(heapAddr, uint64(8+2*f.sizeLen+f.sizeOff), "local heap")
	if err != nil {
		return nil, err
	}
	d := f.decoder(hb, heapAddr, "local heap")
	d.sig("HEAP")
	d.skip(4)
	dsize := d.length()
	d.length() // free list
	daddr := d.addr()
	if d.err != nil {
		return nil, d.err
	}
	heap, err := f.read(daddr, dsize, "local heap data segment")
	if err != nil {
		return nil, err
	}
	var out []link
	entry := f.sizeLen + f.sizeOff + 24 // name offset, header address, cache type, reserved, scratch
	seen := map[uint64]bool{}
	err = f.walkBTreeV1(btree, 0, 0, func(_ []byte, child uint64) error {
		if seen[child] {
			return f.formatErr(child+f.base, "symbol table node listed twice")
		}
		seen[child] = true
		pre, err := f.read(child, 8, "symbol table node")
		if err != nil {
			return err
		}
		d := f.decoder(pre, child, "symbol table node")
		d.sig("SNOD")
		d.skip(2)
		n := int(d.u16())
		if d.err != nil {
			return d.err
		}
		body, err := f.read(child+8, uint64(n*entry), "symbol table node entries")
		if err != nil {
			return err
		}
		d = f.decoder(body, child+8, "symbol table entry")
		for i := 0; i < n; i++ {
			at := d.pos()
			noff := d.length()
			addr := d.addr()
			cache := d.u32()
			d.skip(4)
			scratch := d.uN(4) // cache type 2: offset of a soft link's value
			d.skip(12)
			if d.err != nil {
				return d.err
			}
			name, err := heapString(f, heap, noff, at)
			if err != nil {
				return err
			}
			l := link{name: name, addr: addr}
			if cache == 2 {
				if l.soft, err = heapString(f, heap, scratch, at); err != nil {
					return err
				}
				if l.soft == "" {
					l.soft = "."
				}
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// heapString returns the NUL-terminated string at offset off of a local
// heap's data segment.
func heapString(f *File, heap []byte, off, at uint64) (string, error) {
	if off >= uint64(len(heap)) {
		return "", f.formatErr(at, "name offset %d outside the local heap (size %d)", off, len(heap))
	}
	s := heap[off:]
	end := 0
	for end < len(s) && s[end] != 0 {
		end++
	}
	return string(s[:end]), nil
}

// walkBTreeV1 visits the leaf entries (key, child address) of a version-1
// B-tree of the given node type: 0 = group nodes, 1 = raw data chunks with
// ndims key dimensions.
func (f *File) walkBTreeV1(addr uint64, typ uint8, ndims int, visit func(key []byte, child uint64) error) error {
	keySize := f.sizeLen
	if typ == 1 {
		keySize = 8 + 8*ndims
	}
	seen := map[uint64]bool{}
	budget := uint64(f.size) // node bytes: real trees do not overlap
	var walk func(addr uint64, wantLevel int) error
	walk = func(addr uint64, wantLevel int) error {
		if seen[addr] {
			return f.formatErr(addr+f.base, "B-tree node visited twice (cycle)")
		}
		seen[addr] = true
		hsize := uint64(8 + 2*f.sizeOff)
		pre, err := f.read(addr, hsize, "B-tree node")
		if err != nil {
			return err
		}
		d := f.decoder(pre, addr, "B-tree node")
		d.sig("TREE")
		t := d.u8()
		level := int(d.u8())
		n := uint64(d.u16())
		if d.err != nil {
			return d.err
		}
		if t != typ {
			return f.formatErr(addr+f.base, "B-tree node type %d, expected %d", t, typ)
		}
		if wantLevel >= 0 && level != wantLevel {
			return f.formatErr(addr+f.base, "B-tree node level %d, expected %d", level, wantLevel)
		}
		if level > maxDepth {
			return f.formatErr(addr+f.base, "B-tree node level %d is too deep", level)
		}
		nb := (n+1)*uint64(keySize) + n*uint64(f.sizeOff)
		if nb+hsize > budget {
			return f.formatErr(addr+f.base, "B-tree nodes add up to more than the file size %d", f.size)
		}
		budget -= nb + hsize
		body, err := f.read(addr+hsize, nb, "B-tree node entries")
		if err != nil {
			return err
		}
		d = f.decoder(body, addr+hsize, "B-tree node entries")
		for i := uint64(0); i < n; i++ {
			key := d.bytes(keySize)
			child := d.addr()
			if d.err != nil {
				return d.err
			}
			if level > 0 {
				if err := walk(child, level-1); err != nil {
					return err
				}
			} else if err := visit(key, child); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(addr, -1)
}

// denseLinks lists a group stored in a fractal heap indexed by a v2 B-tree
// of link-name records (type 5).
func (f *File) denseLinks(heapAddr, btreeAddr uint64) ([]link, error) {
	h, err := f.openFractalHeap(heapAddr)
	if err != nil {
		return nil, err
	}
	var out []link
	err = f.walkBTreeV2(btreeAddr, 5, func(rec []byte, at uint64) error {
		if len(rec) < 4+h.idLen {
			return f.formatErr(at+f.base, "link name record of %d bytes, expected %d", len(rec), 4+h.idLen)
		}
		obj, oat, err := h.object(rec[4 : 4+h.idLen])
		if err != nil {
			return err
		}
		l, err := f.parseLink(obj, oat)
		if err != nil {
			return err
		}
		out = append(out, l)
		return nil
	})
	return out, err
}

// walkBTreeV2 visits every record of the version-2 B-tree at addr
// (III.A.2), checking its type.
func (f *File) walkBTreeV2(addr uint64, typ uint8, visit func(rec []byte, at uint64) error) error {
	hb, err := f.read(addr, uint64(4+1+1+4+2+2+1+1+f.sizeOff+2+f.sizeLen+4), "v2 B-tree header")
	if err != nil {
		return err
	}
	d := f.decoder(hb, addr, "v2 B-tree header")
	d.sig("BTHD")
	d.u8()
	t := d.u8()
	nodeSize := uint64(d.u32())
	recSize := int(d.u16())
	depth := int(d.u16())
	d.skip(2)
	root := d.addr()
	rootN := uint64(d.u16())
	d.length()
	d.checksum(0)
	if d.err != nil {
		return d.err
	}
	if t != typ {
		return f.formatErr(addr+f.base, "v2 B-tree type %d, expected %d", t, typ)
	}
	if recSize == 0 || nodeSize < 10 || nodeSize > uint64(f.size) || depth > maxDepth {
		return f.formatErr(addr+f.base, "v2 B-tree header: node size %d, record size %d, depth %d out of range", nodeSize, recSize, depth)
	}
	if root == undef || rootN == 0 {
		return nil
	}
	// Field sizes of the internal nodes, as H5B2__hdr_init computes them.
	encSize := func(n uint64) int { return bits.Len64(n)/8 + 1 }
	maxLeaf := (nodeSize - 10) / uint64(recSize)
	nrecSize := encSize(maxLeaf)
	cumMax := make([]uint64, depth+1)
	cumSize := make([]int, depth+1)
	cumMax[0] = maxLeaf
	for u := 1; u <= depth; u++ {
		ptr := uint64(f.sizeOff + nrecSize + cumSize[u-1])
		maxRec := (nodeSize - 10 - ptr) / (uint64(recSize) + ptr)
		cumMax[u] = (maxRec+1)*cumMax[u-1] + maxRec
		cumSize[u] = encSize(cumMax[u])
	}
	seen := map[uint64]bool{}
	var walk func(addr, n uint64, level int) error
	walk = func(addr, n uint64, level int) error {
		if seen[addr] {
			return f.formatErr(addr+f.base, "v2 B-tree node visited twice (cycle)")
		}
		seen[addr] = true
		if uint64(len(seen))*nodeSize > uint64(f.size) {
			return f.formatErr(addr+f.base, "v2 B-tree nodes add up to more than the file size %d", f.size)
		}
		buf, err := f.read(addr, nodeSize, "v2 B-tree node")
		if err != nil {
			return err
		}
		d := f.decoder(buf, addr, "v2 B-tree node")
		if level == 0 {
			d.sig("BTLF")
		} else {
			d.sig("BTIN")
		}
		d.skip(1)
		if t := d.u8(); d.err == nil && t != typ {
			return f.formatErr(addr+f.base, "v2 B-tree node type %d, expected %d", t, typ)
		}
		if n > uint64(len(buf)) {
			return f.formatErr(addr+f.base, "v2 B-tree node claims %d records", n)
		}
		recs := make([][]byte, n)
		offs := make([]uint64, n)
		for i := range recs {
			offs[i] = d.pos() - f.base
			recs[i] = d.bytes(recSize)
		}
		type child struct{ addr, n uint64 }
		var kids []child
		if level > 0 {
			kids = make([]child, n+1)
			for i := range kids {
				kids[i].addr = d.addr()
				kids[i].n = d.uN(nrecSize)
				if level > 1 {
					d.uN(cumSize[level-1])
				}
			}
		}
		d.checksum(0)
		if d.err != nil {
			return d.err
		}
		for i := uint64(0); i <= n; i++ {
			if level > 0 {
				if err := walk(kids[i].addr, kids[i].n, level-1); err != nil {
					return err
				}
			}
			if i < n {
				if err := visit(recs[i], offs[i]); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root, rootN, depth)
}

// fractalHeap is an opened fractal heap header (III.G).
type fractalHeap struct {
	f          *File
	addr       uint64
	idLen      int
	flags      uint8
	width      uint64
	startBlock uint64
	maxDirect  uint64
	offBytes   int // bytes of a heap offset (max heap size bits / 8)
	lenBytes   int // bytes of an object length in a managed heap ID
	root       uint64
	rootRows   int
}

func (f *File) openFractalHeap(addr uint64) (*fractalHeap, error) {
	n := uint64(4 + 1 + 2 + 2 + 1 + 4 + 12*f.sizeLen + 3*f.sizeOff + 2 + 2 + 2 + 2 + 4)
	buf, err := f.read(addr, n, "fractal heap header")
	if err != nil {
		return nil, err
	}
	d := f.decoder(buf, addr, "fractal heap header")
	d.sig("FRHP")
	d.u8()
	h := &fractalHeap{f: f, addr: addr}
	h.idLen = int(d.u16())
	filterLen := d.u16()
	h.flags = d.u8()
	maxManaged := uint64(d.u32())
	d.length()            // next huge ID
	d.addr()              // huge object B-tree
	d.length()            // free space
	d.addr()              // free space manager
	d.skip(6 * f.sizeLen) // managed space, allocated, iterator, #managed, huge size, #huge
	d.skip(2 * f.sizeLen) // tiny size, #tiny
	h.width = uint64(d.u16())
	h.startBlock = d.length()
	h.maxDirect = d.length()
	maxBits := int(d.u16())
	d.u16() // starting rows
	h.root = d.addr()
	h.rootRows = int(d.u16())
	if d.err != nil {
		return nil, d.err
	}
	if filterLen != 0 {
		return nil, f.unsupported(addr+f.base, "fractal heap with I/O filters")
	}
	d.checksum(0)
	if d.err != nil {
		return nil, d.err
	}
	pow2 := func(x uint64) bool { return x != 0 && x&(x-1) == 0 }
	if h.width == 0 || !pow2(h.width) || !pow2(h.startBlock) || !pow2(h.maxDirect) ||
		h.maxDirect < h.startBlock || maxBits == 0 || maxBits > 64 || h.idLen < 2 {
		return nil, f.formatErr(addr+f.base, "fractal heap header: width %d, start block %d, max direct block %d, max heap bits %d, ID length %d are inconsistent",
			h.width, h.startBlock, h.maxDirect, maxBits, h.idLen)
	}
	h.offBytes = (maxBits + 7) / 8
	h.lenBytes = (bits.Len64(h.maxDirect) - 1 + 7) / 8
	if m := bits.Len64(maxManaged)/8 + 1; m < h.lenBytes {
		h.lenBytes = m
	}
	return h, nil
}

// rowSize is the block size of row r of an indirect block.
func (h *fractalHeap) rowSize(r int) uint64 {
	if r < 2 {
		return h.startBlock
	}
	if r-1 >= 64-bits.Len64(h.startBlock) {
		return 0 // overflow: treated as invalid by callers
	}
	return h.startBlock << (r - 1)
}

// object returns the bytes of the heap object with the given heap ID, and
// their file address.
func (h *fractalHeap) object(id []byte) ([]byte, uint64, error) {
	f := h.f
	switch (id[0] >> 4) & 3 {
	case 0:
	case 2: // tiny: the data sit in the ID itself
		n := int(id[0]&0x0f) + 1
		if n > len(id)-1 {
			return nil, 0, f.formatErr(h.addr+f.base, "tiny heap object of %d bytes in a %d-byte ID", n, len(id))
		}
		return id[1 : 1+n], h.addr, nil
	default:
		return nil, 0, f.unsupported(h.addr+f.base, "huge fractal heap objects")
	}
	d := f.decoder(id, h.addr, "fractal heap ID")
	d.skip(1)
	off := d.uN(h.offBytes)
	n := d.uN(h.lenBytes)
	if d.err != nil {
		return nil, 0, d.err
	}
	if h.root == undef {
		return nil, 0, f.formatErr(h.addr+f.base, "fractal heap object at heap offset %d but the heap is empty", off)
	}
	if h.rootRows == 0 {
		return h.fromDirect(h.root, 0, h.startBlock, off, n)
	}
	return h.fromIndirect(h.root, h.rootRows, 0, off, n, 0)
}

func (h *fractalHeap) fromDirect(addr, blockOff, size, off, n uint64) ([]byte, uint64, error) {
	f := h.f
	rel := off - blockOff
	if off < blockOff || rel > size || n > size-rel {
		return nil, 0, f.formatErr(addr+f.base, "fractal heap object (offset %d, %d bytes) outside its direct block (offset %d, %d bytes)", off, n, blockOff, size)
	}
	hdr := uint64(4 + 1 + f.sizeOff + h.offBytes)
	if rel < hdr {
		return nil, 0, f.formatErr(addr+f.base, "fractal heap object offset %d falls inside the block header", rel)
	}
	pre, err := f.read(addr, hdr, "fractal heap direct block")
	if err != nil {
		return nil, 0, err
	}
	d := f.decoder(pre, addr, "fractal heap direct block")
	d.sig("FHDB")
	if d.err != nil {
		return nil, 0, d.err
	}
	b, err := f.read(addr+rel, n, "fractal heap object")
	return b, addr + rel, err
}

func (h *fractalHeap) fromIndirect(addr uint64, nrows int, blockOff, off, n uint64, depth int) ([]byte, uint64, error) {
	f := h.f
	if depth > maxDepth || nrows > 64 {
		return nil, 0, f.formatErr(addr+f.base, "fractal heap indirect block nesting too deep")
	}
	maxDirectRows := bits.Len64(h.maxDirect) - bits.Len64(h.startBlock) + 2
	nd := nrows
	if nd > maxDirectRows {
		nd = maxDirectRows
	}
	entries := uint64(nrows) * h.width
	if entries > uint64(f.size) {
		return nil, 0, f.formatErr(addr+f.base, "fractal heap indirect block with %d rows", nrows)
	}
	hdr := uint64(4 + 1 + f.sizeOff + h.offBytes)
	buf, err := f.read(addr, hdr+entries*uint64(f.sizeOff)+4, "fractal heap indirect block")
	if err != nil {
		return nil, 0, err
	}
	d := f.decoder(buf, addr, "fractal heap indirect block")
	d.sig("FHIB")
	d.skip(int(hdr) - 4)
	pos := blockOff
	for r := 0; r < nrows; r++ {
		size := h.rowSize(r)
		if size == 0 {
			return nil, 0, f.formatErr(addr+f.base, "fractal heap row %d block size overflows", r)
		}
		for c := uint64(0); c < h.width; c++ {
			child := d.addr()
			if d.err != nil {
				return nil, 0, d.err
			}
			if off >= pos && off-pos < size {
				if child == undef {
					return nil, 0, f.formatErr(addr+f.base, "fractal heap object at heap offset %d lies in an unallocated block", off)
				}
				if r < nd {
					return h.fromDirect(child, pos, size, off, n)
				}
				rows := bits.Len64(size) - 1 - (bits.Len64(h.startBlock) - 1 + bits.Len64(h.width) - 1) + 1
				return h.fromIndirect(child, rows, pos, off, n, depth+1)
			}
			pos += size
		}
	}
	return nil, 0, f.formatErr(addr+f.base, "fractal heap offset %d not found in the indirect block", off)
}

// splitPath turns "/a//b/" into ["a", "b"].
func splitPath(p string) []string {
	var out []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			out = append(out, s)
		}
	}
	return out
}

// NotFoundError reports a path that names no object. Group is the deepest
// group on the path that exists and Members its sorted member names.
type NotFoundError struct {
	File, Path, Group string
	Members           []string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("hdf5: %s: no object %q: group %q has members [%s]", e.File, e.Path, e.Group, strings.Join(e.Members, " "))
}

// resolve follows path from the root group and returns the object header
// address it names.
func (f *File) resolve(path string, hops int) (uint64, error) {
	if hops > 16 {
		return 0, fmt.Errorf("hdf5: %s: %q: too many soft links", f.name, path)
	}
	addr := f.root
	parts := splitPath(path)
	for i, name := range parts {
		o, err := f.readObject(addr)
		if err != nil {
			return 0, err
		}
		links, isGroup, err := f.groupLinks(o)
		if err != nil {
			return 0, err
		}
		here := "/" + strings.Join(parts[:i], "/")
		if !isGroup {
			return 0, fmt.Errorf("hdf5: %s: no object %q: %q is not a group", f.name, "/"+strings.Join(parts, "/"), here)
		}
		var found *link
		for j := range links {
			if links[j].name == name {
				found = &links[j]
				break
			}
		}
		if found == nil {
			return 0, &NotFoundError{File: f.name, Path: "/" + strings.Join(parts, "/"), Group: here, Members: sortedNames(links)}
		}
		switch {
		case found.ext:
			return 0, f.unsupported(o.addr+f.base, "%q is an external link", here+"/"+name)
		case found.soft != "":
			target := found.soft
			if !strings.HasPrefix(target, "/") {
				target = here + "/" + target
			}
			a, err := f.resolve(target, hops+1)
			if err != nil {
				return 0, err
			}
			addr = a
		default:
			addr = found.addr
		}
	}
	return addr, nil
}

func sortedNames(ls []link) []string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.name
	}
	sort.Strings(names)
	return names
}

// List returns the names of the members of a group, sorted ("/" or "" is
// the root group).
func (f *File) List(group string) ([]string, error) {
	addr, err := f.resolve(group, 0)
	if err != nil {
		return nil, err
	}
	o, err := f.readObject(addr)
	if err != nil {
		return nil, err
	}
	links, isGroup, err := f.groupLinks(o)
	if err != nil {
		return nil, err
	}
	if !isGroup {
		return nil, fmt.Errorf("hdf5: %s: %q is not a group", f.name, "/"+strings.Join(splitPath(group), "/"))
	}
	return sortedNames(links), nil
}
