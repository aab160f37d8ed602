package hdf5

import (
	"fmt"
	"sort"
	"strings"
)

// Header message types for attributes.
const (
	msgAttribute     = 0x0C
	msgAttributeInfo = 0x15
)

// AttrNames returns the sorted names of the attributes of the object
// (group or dataset) at path.
func (f *File) AttrNames(path string) ([]string, error) {
	attrs, err := f.attrs(path)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Attr returns attribute name of the object at path as a small Dataset
// (read it with Float64s or Strings).
func (f *File) Attr(path, name string) (*Dataset, error) {
	attrs, err := f.attrs(path)
	if err != nil {
		return nil, err
	}
	a, ok := attrs[name]
	if !ok {
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("hdf5: %s: %q has no attribute %q (it has [%s])", f.name, "/"+strings.Join(splitPath(path), "/"), name, strings.Join(names, " "))
	}
	return a, nil
}

// attrs decodes every attribute of the object at path, compact (header
// messages) and dense (fractal heap + v2 B-tree of type 8).
func (f *File) attrs(path string) (map[string]*Dataset, error) {
	addr, err := f.resolve(path, 0)
	if err != nil {
		return nil, err
	}
	o, err := f.readObject(addr)
	if err != nil {
		return nil, err
	}
	full := "/" + strings.Join(splitPath(path), "/")
	out := map[string]*Dataset{}
	add := func(b []byte, at uint64) error {
		a, name, err := f.parseAttribute(b, at, full)
		if err != nil {
			return err
		}
		out[name] = a
		return nil
	}
	for i := range o.msgs {
		m := &o.msgs[i]
		switch m.typ {
		case msgAttribute:
			if err := add(m.data, m.off); err != nil {
				return nil, err
			}
		case msgAttributeInfo:
			d := f.decoder(m.data, m.off, "attribute info message")
			d.u8()
			flags := d.u8()
			if flags&1 != 0 {
				d.u16() // maximum creation index
			}
			heap, nameIdx := d.addr(), d.addr()
			if d.err != nil {
				return nil, d.err
			}
			if heap == undef || nameIdx == undef {
				continue
			}
			h, err := f.openFractalHeap(heap)
			if err != nil {
				return nil, err
			}
			err = f.walkBTreeV2(nameIdx, 8, func(rec []byte, at uint64) error {
				if len(rec) < 8 || h.idLen > 8 {
					return f.formatErr(at+f.base, "attribute name record of %d bytes", len(rec))
				}
				b, bat, err := h.object(rec[:h.idLen])
				if err != nil {
					return err
				}
				return add(b, bat)
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// parseAttribute decodes an attribute message (IV.A.2.m) into a Dataset
// with compact storage.
func (f *File) parseAttribute(b []byte, at uint64, owner string) (*Dataset, string, error) {
	d := f.decoder(b, at, "attribute message")
	ver := d.u8()
	flags := d.u8()
	nameSize := int(d.u16())
	dtSize := int(d.u16())
	dsSize := int(d.u16())
	if ver == 3 {
		d.u8() // name character set
	}
	if d.err != nil {
		return nil, "", d.err
	}
	if ver < 1 || ver > 3 {
		return nil, "", f.formatErr(at+f.base, "attribute message version %d, expected 1 to 3", ver)
	}
	if ver > 1 && flags&3 != 0 {
		return nil, "", f.unsupported(at+f.base, "attribute with a shared datatype or dataspace")
	}
	pad := func(n int) int {
		if ver == 1 {
			return (n + 7) &^ 7
		}
		return n
	}
	nb := d.bytes(nameSize)
	d.skip(pad(nameSize) - nameSize)
	dtAt := d.pos() - f.base
	dtb := d.bytes(dtSize)
	d.skip(pad(dtSize) - dtSize)
	dsAt := d.pos() - f.base
	dsb := d.bytes(dsSize)
	d.skip(pad(dsSize) - dsSize)
	if d.err != nil {
		return nil, "", d.err
	}
	name := string(nb)
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	ds := &Dataset{f: f, path: owner + "@" + name, layout: layoutCompact, layoutAt: at}
	if err := ds.parseDataspace(&message{typ: msgDataspace, data: dsb, off: dsAt}); err != nil {
		return nil, "", err
	}
	dt, err := f.parseDatatype(dtb, dtAt, 0)
	if err != nil {
		return nil, "", fmt.Errorf("attribute %q of %q: %w", name, owner, err)
	}
	ds.dt = dt
	ds.datatypeAt = dtAt
	ds.compact = d.b[d.p:]
	return ds, name, nil
}
