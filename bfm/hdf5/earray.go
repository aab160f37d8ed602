package hdf5

import "math/bits"

// Extensible-array chunk index (format spec, "Extensible Array"), written
// under libver='latest' for chunked datasets with one unlimited dimension.
// The array maps a linear chunk index to the chunk's address: the first
// elements sit in the index block, the rest in data blocks reached directly
// from the index block or through super blocks. Super block u holds
// 2^(u/2) data blocks of 2^((u+1)/2) * (data block min elements) elements.

// earray is an opened extensible-array header.
type earray struct {
	ds                          *Dataset
	addr                        uint64
	client, elemSize            int
	maxBits                     int
	idxElems, minPtrs, minElems int
	pageBits                    int
	nelmts                      uint64
	iblock                      uint64
	offBytes                    int // bytes of a block offset field

	// Super block geometry (H5EA__hdr_init).
	ndblks, dblkElems, startIdx, startDblk []uint64
}

func (ds *Dataset) openEArray() (*earray, error) {
	f := ds.f
	n := uint64(4 + 1 + 1 + 6 + 6*f.sizeLen + f.sizeOff + 4)
	b, err := f.read(ds.dataAddr, n, "extensible array header")
	if err != nil {
		return nil, err
	}
	d := f.decoder(b, ds.dataAddr, "extensible array header")
	d.sig("EAHD")
	d.u8()
	a := &earray{ds: ds, addr: ds.dataAddr}
	a.client = int(d.u8())
	a.elemSize = int(d.u8())
	a.maxBits = int(d.u8())
	a.idxElems = int(d.u8())
	a.minElems = int(d.u8())
	a.minPtrs = int(d.u8())
	a.pageBits = int(d.u8())
	d.skip(4 * f.sizeLen) // super/data block counts and sizes
	d.length()            // max index set
	a.nelmts = d.length()
	a.iblock = d.addr()
	d.checksum(0)
	if d.err != nil {
		return nil, d.err
	}
	pow2 := func(x int) bool { return x > 0 && x&(x-1) == 0 }
	minEntry := f.sizeOff
	if a.client == 1 {
		minEntry = f.sizeOff + 4 + 1
	}
	if a.maxBits < 1 || a.maxBits > 64 || !pow2(a.minPtrs) || !pow2(a.minElems) || a.pageBits > 32 ||
		a.elemSize < minEntry || a.elemSize > f.sizeOff+12 || a.client > 1 || bits.Len(uint(a.minElems))-1 > a.maxBits {
		return nil, f.formatErr(ds.dataAddr+f.base, "extensible array header: parameters out of range (element size %d, bits %d, min pointers %d, min elements %d)",
			a.elemSize, a.maxBits, a.minPtrs, a.minElems)
	}
	a.offBytes = (a.maxBits + 7) / 8
	nsblks := 1 + a.maxBits - (bits.Len(uint(a.minElems)) - 1)
	var idx, dblk uint64
	for u := 0; u < nsblks; u++ {
		nd := uint64(1) << (u / 2)
		ne := uint64(a.minElems) << ((u + 1) / 2)
		a.ndblks = append(a.ndblks, nd)
		a.dblkElems = append(a.dblkElems, ne)
		a.startIdx = append(a.startIdx, idx)
		a.startDblk = append(a.startDblk, dblk)
		idx += nd * ne
		dblk += nd
	}
	return a, nil
}

// extensibleArray visits the allocated chunks of an extensible-array index;
// grid gives the number of chunks per dimension of the current extent.
func (ds *Dataset) extensibleArray(grid []int, visit func(k int, addr, size uint64, mask uint32) error) error {
	f := ds.f
	a, err := ds.openEArray()
	if err != nil {
		return err
	}
	nchunks, toGrid := ds.chunkIndexMap(grid, true)
	inner := visit
	visit = func(k int, addr, size uint64, mask uint32) error {
		if g := toGrid(k); g >= 0 {
			return inner(g, addr, size, mask)
		}
		return nil
	}
	if a.iblock == undef {
		return nil
	}
	// Index block: elements, data block addresses, super block addresses.
	ibDblks := 2 * (a.minPtrs - 1)
	ibSblks := 2 * (bits.Len(uint(a.minPtrs)) - 1)
	nSblkAddrs := len(a.ndblks) - ibSblks
	if nSblkAddrs < 0 {
		return f.formatErr(a.addr+f.base, "extensible array with %d super blocks but %d in the index block", len(a.ndblks), ibSblks)
	}
	hdr := 4 + 1 + 1 + f.sizeOff
	size := uint64(hdr+a.idxElems*a.elemSize+(ibDblks+nSblkAddrs)*f.sizeOff) + 4
	b, err := f.read(a.iblock, size, "extensible array index block")
	if err != nil {
		return err
	}
	d := f.decoder(b, a.iblock, "extensible array index block")
	d.sig("EAIB")
	d.skip(int(size) - 8)
	d.checksum(0)
	if d.err != nil {
		return d.err
	}
	d.p = hdr
	elems := d.bytes(a.idxElems * a.elemSize)
	dblkAddrs := make([]uint64, ibDblks)
	for i := range dblkAddrs {
		dblkAddrs[i] = d.addr()
	}
	sblkAddrs := make([]uint64, nSblkAddrs)
	for i := range sblkAddrs {
		sblkAddrs[i] = d.addr()
	}
	if d.err != nil {
		return d.err
	}
	entry := func(k int, e []byte, at uint64) error {
		ed := f.decoder(e, at, "extensible array element")
		addr := ed.addr()
		var sz uint64
		var mask uint32
		if a.client == 1 {
			sz = ed.uN(a.elemSize - f.sizeOff - 4)
			mask = ed.u32()
		}
		if ed.err != nil {
			return ed.err
		}
		if addr == undef {
			return nil
		}
		return visit(k, addr, sz, mask)
	}
	for k := 0; k < min(nchunks, a.idxElems); k++ {
		if err := entry(k, elems[k*a.elemSize:(k+1)*a.elemSize], a.iblock); err != nil {
			return err
		}
	}
	// The remaining chunks, data block by data block.
	for u := range a.ndblks {
		first := uint64(a.idxElems) + a.startIdx[u]
		if first >= uint64(nchunks) {
			break
		}
		var addrs []uint64
		if u < ibSblks {
			lo := a.startDblk[u]
			if lo+a.ndblks[u] > uint64(len(dblkAddrs)) {
				return f.formatErr(a.iblock+f.base, "extensible array super block %d outside the index block", u)
			}
			addrs = dblkAddrs[lo : lo+a.ndblks[u]]
		} else {
			sa := sblkAddrs[u-ibSblks]
			if sa == undef {
				continue
			}
			if addrs, err = a.superBlock(sa, u); err != nil {
				return err
			}
		}
		for j, da := range addrs {
			base := first + uint64(j)*a.dblkElems[u]
			if base >= uint64(nchunks) {
				break
			}
			if da == undef {
				continue
			}
			if err := a.dataBlock(da, u, int(base), nchunks, entry); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *earray) paged(u int) bool {
	return a.pageBits < 63 && a.dblkElems[u] > uint64(1)<<a.pageBits
}

// superBlock returns the data block addresses of super block u.
func (a *earray) superBlock(addr uint64, u int) ([]uint64, error) {
	f := a.ds.f
	if a.paged(u) {
		return nil, f.unsupported(addr+f.base, "paged extensible array data blocks")
	}
	hdr := 4 + 1 + 1 + f.sizeOff + a.offBytes
	if a.ndblks[u] > uint64(f.size) {
		return nil, f.formatErr(addr+f.base, "extensible array super block with %d data blocks", a.ndblks[u])
	}
	size := uint64(hdr) + a.ndblks[u]*uint64(f.sizeOff) + 4
	b, err := f.read(addr, size, "extensible array super block")
	if err != nil {
		return nil, err
	}
	d := f.decoder(b, addr, "extensible array super block")
	d.sig("EASB")
	d.skip(int(size) - 8)
	d.checksum(0)
	if d.err != nil {
		return nil, d.err
	}
	d.p = hdr
	out := make([]uint64, a.ndblks[u])
	for i := range out {
		out[i] = d.addr()
	}
	return out, d.err
}

// dataBlock visits the elements of one data block of super block u whose
// first element has linear index base.
func (a *earray) dataBlock(addr uint64, u, base, nchunks int, entry func(int, []byte, uint64) error) error {
	f := a.ds.f
	if a.paged(u) {
		return f.unsupported(addr+f.base, "paged extensible array data blocks")
	}
	if a.dblkElems[u] > uint64(f.size) {
		return f.formatErr(addr+f.base, "extensible array data block of %d elements", a.dblkElems[u])
	}
	hdr := 4 + 1 + 1 + f.sizeOff + a.offBytes
	n := int(a.dblkElems[u])
	size := uint64(hdr+n*a.elemSize) + 4
	b, err := f.read(addr, size, "extensible array data block")
	if err != nil {
		return err
	}
	d := f.decoder(b, addr, "extensible array data block")
	d.sig("EADB")
	d.skip(int(size) - 8)
	d.checksum(0)
	if d.err != nil {
		return d.err
	}
	for i := 0; i < n && base+i < nchunks; i++ {
		off := hdr + i*a.elemSize
		if err := entry(base+i, b[off:off+a.elemSize], addr+uint64(off)); err != nil {
			return err
		}
	}
	return nil
}

// chunkIndexMap describes how a fixed or extensible array numbers chunks:
// row-major over the chunk grid of the maximum dimensions, with (for an
// extensible array, swizzle) the unlimited dimension moved to the front, as
// H5VM_swizzle_coords does. It returns how many array entries cover the
// current extent (all entries for a fixed array) and a map from entry to the row-major index in grid (-1
// for a chunk outside the current extent).
func (ds *Dataset) chunkIndexMap(grid []int, swizzle bool) (int, func(int) int) {
	rank := len(grid)
	order := make([]int, 0, rank)
	unlim := 0
	maxGrid := append([]int(nil), grid...)
	for i := range grid {
		if ds.maxShape != nil && ds.maxShape[i] > ds.shape[i] {
			maxGrid[i] = (ds.maxShape[i] + ds.chunk[i] - 1) / ds.chunk[i]
		}
		if swizzle && ds.maxShape != nil && ds.maxShape[i] < 0 {
			unlim = i
		}
	}
	if swizzle {
		order = append(order, unlim)
	}
	for i := 0; i < rank; i++ {
		if !swizzle || i != unlim {
			order = append(order, i)
		}
	}
	total := maxGrid[order[0]]
	if swizzle {
		total = grid[order[0]] // the unlimited dimension: only the current extent
	}
	for _, i := range order[1:] {
		total *= maxGrid[i]
	}
	coords := make([]int, rank)
	return total, func(e int) int {
		for j := rank - 1; j >= 1; j-- {
			i := order[j]
			coords[i] = e % maxGrid[i]
			e /= maxGrid[i]
		}
		coords[order[0]] = e
		k := 0
		for i, c := range coords {
			if c >= grid[i] {
				return -1
			}
			k = k*grid[i] + c
		}
		return k
	}
}
