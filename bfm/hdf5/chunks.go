package hdf5

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"iter"
	"math/bits"

	"github.com/stn3d/stn3d/internal/workpool"
)

// chunkRef locates one stored chunk.
type chunkRef struct {
	addr, size uint64
	mask       uint32 // bit i set: filter i was skipped for this chunk
	grid       int    // row-major index of the chunk in the chunk grid
}

// readChunks decodes every stored chunk into buf (the whole dataset,
// row-major, pre-filled with the fill value). The index is walked first;
// the chunks are then read, unfiltered and placed by up to GOMAXPROCS
// workers (chunks cover disjoint parts of buf).
func (ds *Dataset) readChunks(buf []byte) error {
	f := ds.f
	rank := len(ds.shape)
	es := ds.dt.size
	chunkElems := uint64(1)
	for _, c := range ds.chunk {
		chunkElems *= uint64(c)
		if chunkElems > f.maxData {
			return f.formatErr(ds.layoutAt+f.base, "chunk of %v elements is implausibly large", ds.chunk)
		}
	}
	if chunkElems*uint64(es) > f.maxData {
		return f.formatErr(ds.layoutAt+f.base, "chunk of %v elements of %d bytes is implausibly large", ds.chunk, es)
	}
	chunkBytes := int(chunkElems) * es
	if ds.dataAddr == undef || ds.n == 0 {
		return nil // nothing written: fill value
	}
	// The chunk grid: ceil(dim/chunk) chunks per dimension.
	grid := make([]int, rank)
	nchunks := 1
	for i := range grid {
		grid[i] = (ds.shape[i] + ds.chunk[i] - 1) / ds.chunk[i]
		nchunks *= grid[i]
	}
	var refs []chunkRef
	seen := make([]bool, nchunks)
	add := func(r chunkRef) error {
		if r.grid < 0 || r.grid >= nchunks {
			return f.formatErr(ds.dataAddr+f.base, "chunk %d outside the %d-chunk grid", r.grid, nchunks)
		}
		if seen[r.grid] {
			return f.formatErr(ds.dataAddr+f.base, "chunk %d listed twice in the chunk index", r.grid)
		}
		seen[r.grid] = true
		refs = append(refs, r)
		return nil
	}
	var err error
	switch ds.index {
	case indexBTreeV1:
		err = f.walkBTreeV1(ds.dataAddr, 1, rank+1, func(key []byte, child uint64) error {
			kd := f.decoder(key, ds.dataAddr, "chunk B-tree key")
			r := chunkRef{addr: child, size: uint64(kd.u32()), mask: kd.u32()}
			for i := 0; i < rank; i++ {
				o := kd.u64()
				if kd.err == nil && (o >= uint64(ds.shape[i]) || o%uint64(ds.chunk[i]) != 0) {
					return f.formatErr(kd.pos()-8, "chunk offset %d in dimension %d: not a multiple of %d inside [0, %d)", o, i, ds.chunk[i], ds.shape[i])
				}
				r.grid = r.grid*grid[i] + int(o)/ds.chunk[i]
			}
			if kd.err != nil {
				return kd.err
			}
			return add(r)
		})
	case indexSingle:
		size := uint64(chunkBytes)
		if ds.singleSize != 0 {
			size = ds.singleSize
		}
		err = add(chunkRef{addr: ds.dataAddr, size: size, mask: ds.singleMask})
	case indexImplicit:
		if len(ds.filters) > 0 {
			return f.formatErr(ds.layoutAt+f.base, "implicit chunk index with filters")
		}
		if uint64(nchunks) > uint64(f.size) || uint64(chunkBytes) > uint64(f.size) {
			return f.formatErr(ds.layoutAt+f.base, "%d implicitly indexed chunks of %d bytes exceed the file size %d", nchunks, chunkBytes, f.size)
		}
		if _, err := f.abs(ds.dataAddr, uint64(nchunks)*uint64(chunkBytes), "implicitly indexed chunks"); err != nil {
			return err
		}
		for k := 0; k < nchunks && err == nil; k++ {
			err = add(chunkRef{addr: ds.dataAddr + uint64(k*chunkBytes), size: uint64(chunkBytes), grid: k})
		}
	case indexFixedArray:
		err = ds.fixedArray(grid, func(k int, addr, size uint64, mask uint32) error {
			if addr == undef {
				return nil
			}
			if size == 0 {
				size = uint64(chunkBytes)
			}
			return add(chunkRef{addr: addr, size: size, mask: mask, grid: k})
		})
	case indexExtensibleArray:
		err = ds.extensibleArray(grid, func(k int, addr, size uint64, mask uint32) error {
			if size == 0 {
				size = uint64(chunkBytes)
			}
			return add(chunkRef{addr: addr, size: size, mask: mask, grid: k})
		})
	case indexBTreeV2:
		// Records: address, [chunk size, filter mask,] scaled offsets.
		typ := uint8(10)
		if len(ds.filters) > 0 {
			typ = 11
		}
		err = f.walkBTreeV2(ds.dataAddr, typ, func(rec []byte, at uint64) error {
			sizeLen := len(rec) - f.sizeOff - 8*rank
			if typ == 11 {
				sizeLen -= 4
			}
			if sizeLen < 0 || (typ == 10 && sizeLen != 0) || sizeLen > 8 {
				return f.formatErr(at+f.base, "chunk record of %d bytes for rank %d", len(rec), rank)
			}
			rd := f.decoder(rec, at, "chunk record")
			r := chunkRef{addr: rd.addr(), size: uint64(chunkBytes)}
			if typ == 11 {
				r.size = rd.uN(sizeLen)
				r.mask = rd.u32()
			}
			for i := 0; i < rank; i++ {
				c := rd.u64()
				if rd.err == nil && c >= uint64(grid[i]) {
					return nil // beyond the current extent
				}
				r.grid = r.grid*grid[i] + int(c)
			}
			if rd.err != nil {
				return rd.err
			}
			return add(r)
		})
	default:
		return f.unsupported(ds.layoutAt+f.base, "chunk index type %d", ds.index)
	}
	if err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := f.abs(r.addr, r.size, "chunk"); err != nil {
			return err
		}
	}
	// Chunks are decoded in parallel (each worker with its own scratch,
	// chunks handed out one at a time) once the dataset reaches 1 MiB;
	// smaller ones inline. The first error stops the hand-out.
	cost := workpool.Heavy
	if len(buf) < 1<<20 {
		cost = 0
	}
	return workpool.Run(len(refs), cost, func(items iter.Seq[int]) error {
		s := chunkScratch{origin: make([]int, rank), idx: make([]int, rank)}
		for i := range items {
			if err := ds.decodeChunk(buf, refs[i], chunkBytes, grid, &s); err != nil {
				return err
			}
		}
		return nil
	})
}

// chunkScratch holds one worker's reusable buffers.
type chunkScratch struct {
	raw, inflated, shuffled []byte
	zr                      io.ReadCloser
	origin, idx             []int
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// decodeChunk reads one chunk, undoes its filters and copies it into buf.
func (ds *Dataset) decodeChunk(buf []byte, r chunkRef, chunkBytes int, grid []int, s *chunkScratch) error {
	f := ds.f
	a, err := f.abs(r.addr, r.size, "chunk")
	if err != nil {
		return err
	}
	s.raw = grow(s.raw, int(r.size))
	if err := f.readAt(s.raw, a, "chunk"); err != nil {
		return err
	}
	data, err := ds.unfilter(s.raw, r.mask, chunkBytes, r.addr, s)
	if err != nil {
		return err
	}
	k := r.grid
	for i := len(grid) - 1; i >= 0; i-- {
		s.origin[i] = (k % grid[i]) * ds.chunk[i]
		k /= grid[i]
	}
	ds.place(buf, data, s.origin, s.idx)
	return nil
}

// fixedArray visits the entries of a fixed-array chunk index.
func (ds *Dataset) fixedArray(grid []int, visit func(k int, addr, size uint64, mask uint32) error) error {
	f := ds.f
	hb, err := f.read(ds.dataAddr, uint64(4+1+1+1+1+f.sizeLen+f.sizeOff+4), "fixed array header")
	if err != nil {
		return err
	}
	d := f.decoder(hb, ds.dataAddr, "fixed array header")
	d.sig("FAHD")
	d.u8()
	client := d.u8()
	entry := int(d.u8())
	pageBits := d.u8()
	n := d.length()
	dblk := d.addr()
	d.checksum(0)
	if d.err != nil {
		return d.err
	}
	nchunks, toGrid := ds.chunkIndexMap(grid, false)
	if n != uint64(nchunks) {
		return f.formatErr(ds.dataAddr+f.base, "fixed array holds %d chunks, expected %d", n, nchunks)
	}
	if pageBits < 64 && n > uint64(1)<<pageBits {
		return f.unsupported(ds.dataAddr+f.base, "paged fixed array chunk index (%d chunks)", n)
	}
	want := f.sizeOff
	if client == 1 {
		want = f.sizeOff + 4 + 1 // at least one byte of chunk size
	}
	if entry < want || entry > f.sizeOff+8+4 {
		return f.formatErr(ds.dataAddr+f.base, "fixed array entry size %d", entry)
	}
	hdr := 4 + 1 + 1 + f.sizeOff
	b, err := f.read(dblk, uint64(hdr)+n*uint64(entry)+4, "fixed array data block")
	if err != nil {
		return err
	}
	d = f.decoder(b, dblk, "fixed array data block")
	d.sig("FADB")
	d.skip(hdr - 4 + int(n)*entry)
	d.checksum(0)
	if d.err != nil {
		return d.err
	}
	d.p = hdr
	for k := 0; k < int(n); k++ {
		addr := d.addr()
		var size uint64
		var mask uint32
		if client == 1 {
			size = d.uN(entry - f.sizeOff - 4)
			mask = d.u32()
		}
		if d.err != nil {
			return d.err
		}
		if g := toGrid(k); g >= 0 {
			if err := visit(g, addr, size, mask); err != nil {
				return err
			}
		}
	}
	return nil
}

// unfilter undoes the filter pipeline (in reverse order) on one chunk,
// using the worker's scratch buffers.
func (ds *Dataset) unfilter(b []byte, mask uint32, want int, addr uint64, s *chunkScratch) ([]byte, error) {
	f := ds.f
	for i := len(ds.filters) - 1; i >= 0; i-- {
		if i < 32 && mask&(1<<i) != 0 {
			continue
		}
		fl := ds.filters[i]
		switch fl.id {
		case 1: // deflate (zlib stream)
			var err error
			if s.zr == nil {
				s.zr, err = zlib.NewReader(bytes.NewReader(b))
			} else {
				err = s.zr.(zlib.Resetter).Reset(bytes.NewReader(b), nil)
			}
			if err != nil {
				s.zr = nil
				return nil, f.formatErr(addr+f.base, "deflate chunk: %v", err)
			}
			s.inflated = grow(s.inflated, want)
			n, err := io.ReadFull(s.zr, s.inflated)
			if err == nil {
				// The stream must end here; reaching its end verifies the
				// Adler-32 checksum.
				var one [1]byte
				m, err2 := s.zr.Read(one[:])
				if m == 0 && err2 == nil {
					m, err2 = s.zr.Read(one[:])
				}
				if m != 0 {
					return nil, f.formatErr(addr+f.base, "deflate chunk decodes to more than %d bytes", want)
				}
				if err2 != io.EOF {
					err = err2
					if err == nil {
						err = errors.New("stream does not end")
					}
				}
			}
			if err != nil {
				return nil, f.formatErr(addr+f.base, "deflate chunk (%d of %d bytes decoded): %v", n, want, err)
			}
			b = s.inflated
		case 2: // shuffle: byte j of element k was stored at j*n + k
			es := ds.dt.size
			if len(fl.params) > 0 && fl.params[0] > 0 {
				es = int(fl.params[0])
			}
			if es > 1 && es <= len(b) {
				n := len(b) / es
				s.shuffled = grow(s.shuffled, len(b))
				out := s.shuffled
				for j := 0; j < es; j++ {
					src := b[j*n : (j+1)*n]
					for k, c := range src {
						out[k*es+j] = c
					}
				}
				copy(out[n*es:], b[n*es:])
				b = out
			}
		case 3: // fletcher32: the checksum of the rest is the last four bytes
			if len(b) < 4 {
				return nil, f.formatErr(addr+f.base, "fletcher32 chunk of %d bytes", len(b))
			}
			n := len(b) - 4
			sum := fletcher32(b[:n])
			stored := uint32(b[n]) | uint32(b[n+1])<<8 | uint32(b[n+2])<<16 | uint32(b[n+3])<<24
			// Files from HDF5 before 1.6.3 stored it byte-reversed.
			if stored != sum && bits.ReverseBytes32(stored) != sum {
				return nil, f.formatErr(addr+f.base, "fletcher32 checksum mismatch (stored %#08x, computed %#08x)", stored, sum)
			}
			b = b[:n]
		default:
			name := fl.name
			if name == "" {
				name = map[uint16]string{4: "szip", 5: "nbit", 6: "scaleoffset", 307: "bzip2", 32000: "lzf", 32001: "blosc"}[fl.id]
			}
			return nil, f.unsupported(ds.filterMsgAt+f.base, "filter %d (%s) in dataset %q", fl.id, name, ds.path)
		}
	}
	if len(b) != want {
		return nil, f.formatErr(addr+f.base, "chunk decodes to %d bytes, expected %d", len(b), want)
	}
	return b, nil
}

// place copies one decoded chunk whose first element sits at origin into
// the row-major dataset buffer, clipping edge chunks; idx is scratch.
func (ds *Dataset) place(buf, chunk []byte, origin, idx []int) {
	rank := len(ds.shape)
	es := ds.dt.size
	last := rank - 1
	run := min(ds.chunk[last], ds.shape[last]-origin[last]) * es
	for i := range idx {
		idx[i] = 0
	}
	for {
		src, dst := 0, 0
		cs, dsd := 1, 1
		valid := true
		for i := last; i >= 0; i-- {
			src += idx[i] * cs
			p := origin[i] + idx[i]
			if p >= ds.shape[i] {
				valid = false
			}
			dst += p * dsd
			cs *= ds.chunk[i]
			dsd *= ds.shape[i]
		}
		if valid {
			copy(buf[dst*es:dst*es+run], chunk[src*es:src*es+run])
		}
		// Next index over all dimensions but the last.
		i := last - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < ds.chunk[i] && origin[i]+idx[i] < ds.shape[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return
		}
	}
}

// fletcher32 is HDF5's Fletcher checksum (H5_checksum_fletcher32): sums of
// big-endian 16-bit words, folded every 360 words, an odd last byte taken
// as the high byte of a word.
func fletcher32(b []byte) uint32 {
	var s1, s2 uint32
	fold := func() {
		s1 = (s1 & 0xffff) + (s1 >> 16)
		s2 = (s2 & 0xffff) + (s2 >> 16)
	}
	words := len(b) / 2
	for words > 0 {
		n := min(words, 360)
		words -= n
		for ; n > 0; n-- {
			s1 += uint32(b[0])<<8 | uint32(b[1])
			s2 += s1
			b = b[2:]
		}
		fold()
	}
	if len(b) == 1 {
		s1 += uint32(b[0]) << 8
		s2 += s1
		fold()
	}
	fold()
	return s2<<16 | s1
}
