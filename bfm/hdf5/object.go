package hdf5

// Object headers (format spec IV.A): version 1 (8-byte aligned messages,
// continuation blocks without a signature) and version 2 ("OHDR"/"OCHK",
// lookup3 checksums).

// Header message types used here.
const (
	msgNil          = 0x00
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgFillOld      = 0x04
	msgFill         = 0x05
	msgLink         = 0x06
	msgLayout       = 0x08
	msgFilters      = 0x0B
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
)

// message is one header message: its type, raw body and the absolute file
// offset of the body (for error messages).
type message struct {
	typ   uint16
	flags uint8
	data  []byte
	off   uint64 // file address of data[0] (relative to the base address)
}

// object is a parsed object header.
type object struct {
	addr uint64
	msgs []message
}

func (o *object) find(typ uint16) *message {
	for i := range o.msgs {
		if o.msgs[i].typ == typ {
			return &o.msgs[i]
		}
	}
	return nil
}

// maxHeaderBlocks bounds the number of continuation blocks of one header.
const maxHeaderBlocks = 4096

// readObject parses the object header at addr.
func (f *File) readObject(addr uint64) (*object, error) {
	pre, err := f.readUpTo(addr, 16, "object header")
	if err != nil {
		return nil, err
	}
	if len(pre) >= 4 && string(pre[:4]) == "OHDR" {
		return f.readObjectV2(addr)
	}
	return f.readObjectV1(addr, pre)
}

func (f *File) readObjectV1(addr uint64, pre []byte) (*object, error) {
	d := f.decoder(pre, addr, "object header (v1)")
	ver := d.u8()
	d.skip(1)
	nmsg := d.u16()
	d.u32() // reference count
	size := d.u32()
	if d.err != nil {
		return nil, d.err
	}
	if ver != 1 {
		return nil, f.formatErr(addr+f.base, "object header version %d, expected 1 or an \"OHDR\" signature", ver)
	}
	o := &object{addr: addr}
	type block struct{ addr, size uint64 }
	// v1 messages start after the 12-byte prefix padded to 16 bytes.
	queue := []block{{addr + 16, uint64(size)}}
	seen := map[uint64]bool{}
	total := uint64(0)
	for len(queue) > 0 {
		if total += queue[0].size; total > uint64(f.size) {
			return nil, f.formatErr(addr+f.base, "object header blocks add up to more than the file size %d", f.size)
		}
		if len(seen) >= maxHeaderBlocks {
			return nil, f.formatErr(addr+f.base, "object header has more than %d continuation blocks", maxHeaderBlocks)
		}
		b := queue[0]
		queue = queue[1:]
		if seen[b.addr] {
			return nil, f.formatErr(b.addr+f.base, "object header continuation loops back to offset %d", b.addr+f.base)
		}
		seen[b.addr] = true
		buf, err := f.read(b.addr, b.size, "object header block")
		if err != nil {
			return nil, err
		}
		d := f.decoder(buf, b.addr, "object header message (v1)")
		for d.p+8 <= len(buf) {
			typ := d.u16()
			msize := int(d.u16())
			flags := d.u8()
			d.skip(3)
			at := d.pos() - f.base
			body := d.bytes(msize)
			if d.err != nil {
				return nil, d.err
			}
			if typ == msgContinuation {
				c, err := f.continuation(body, at)
				if err != nil {
					return nil, err
				}
				queue = append(queue, c)
				continue
			}
			o.msgs = append(o.msgs, message{typ: typ, flags: flags, data: body, off: at})
		}
	}
	_ = nmsg // the count includes messages of continuation blocks; not needed
	return o, nil
}

func (f *File) continuation(body []byte, at uint64) (struct{ addr, size uint64 }, error) {
	d := f.decoder(body, at, "continuation message")
	c := struct{ addr, size uint64 }{d.addr(), d.length()}
	if d.err != nil {
		return c, d.err
	}
	if _, err := f.abs(c.addr, c.size, "object header continuation block"); err != nil {
		return c, err
	}
	return c, nil
}

func (f *File) readObjectV2(addr uint64) (*object, error) {
	pre, err := f.readUpTo(addr, 4+1+1+16+4+8, "object header (v2)")
	if err != nil {
		return nil, err
	}
	d := f.decoder(pre, addr, "object header (v2)")
	d.sig("OHDR")
	ver := d.u8()
	flags := d.u8()
	if d.err == nil && ver != 2 {
		return nil, f.formatErr(addr+f.base+4, "object header version %d, expected 2", ver)
	}
	if flags&0x20 != 0 {
		d.skip(16) // access, modification, change, birth times
	}
	if flags&0x10 != 0 {
		d.skip(4) // attribute phase change values
	}
	size := d.uN(1 << (flags & 3))
	if d.err != nil {
		return nil, d.err
	}
	prefix := uint64(d.p)
	if size > uint64(f.size) {
		return nil, f.formatErr(addr+f.base, "object header chunk size %d exceeds the file size %d", size, f.size)
	}
	buf, err := f.read(addr, prefix+size+4, "object header (v2)")
	if err != nil {
		return nil, err
	}
	d = f.decoder(buf, addr, "object header (v2)")
	d.skip(int(prefix + size))
	d.checksum(0)
	if d.err != nil {
		return nil, d.err
	}
	o := &object{addr: addr}
	type block struct{ addr, size uint64 }
	var queue []block
	parse := func(buf []byte, baddr uint64, start, end int) error {
		d := f.decoder(buf[:end], baddr, "object header message (v2)")
		d.p = start
		hdr := 4
		if flags&0x04 != 0 {
			hdr = 6
		}
		for d.p+hdr <= end {
			typ := uint16(d.u8())
			msize := int(d.u16())
			mflags := d.u8()
			if flags&0x04 != 0 {
				d.skip(2) // creation order
			}
			at := d.pos() - f.base
			body := d.bytes(msize)
			if d.err != nil {
				return d.err
			}
			if typ == msgContinuation {
				c, err := f.continuation(body, at)
				if err != nil {
					return err
				}
				queue = append(queue, block(c))
				continue
			}
			o.msgs = append(o.msgs, message{typ: typ, flags: mflags, data: body, off: at})
		}
		return nil
	}
	if err := parse(buf, addr, int(prefix), int(prefix+size)); err != nil {
		return nil, err
	}
	seen := map[uint64]bool{addr: true}
	total := size
	for len(queue) > 0 {
		if total += queue[0].size; total > uint64(f.size) {
			return nil, f.formatErr(addr+f.base, "object header blocks add up to more than the file size %d", f.size)
		}
		if len(seen) >= maxHeaderBlocks {
			return nil, f.formatErr(addr+f.base, "object header has more than %d continuation blocks", maxHeaderBlocks)
		}
		b := queue[0]
		queue = queue[1:]
		if seen[b.addr] {
			return nil, f.formatErr(b.addr+f.base, "object header continuation loops back to offset %d", b.addr+f.base)
		}
		seen[b.addr] = true
		if b.size < 8 {
			return nil, f.formatErr(b.addr+f.base, "object header continuation block of %d bytes is too small", b.size)
		}
		buf, err := f.read(b.addr, b.size, "object header continuation block")
		if err != nil {
			return nil, err
		}
		d := f.decoder(buf, b.addr, "object header continuation block")
		d.sig("OCHK")
		d.skip(len(buf) - 8)
		d.checksum(0)
		if d.err != nil {
			return nil, d.err
		}
		if err := parse(buf, b.addr, 4, len(buf)-4); err != nil {
			return nil, err
		}
	}
	return o, nil
}
