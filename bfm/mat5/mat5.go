// Package mat5 reads MATLAB level-5 MAT files (the format MATLAB writes with
// "save -v6" and "save -v7", and scipy.io.savemat writes): a 128-byte text
// header, then a sequence of tagged data elements, each variable an miMATRIX
// element, optionally wrapped in a zlib-compressed miCOMPRESSED element.
//
// Only numeric, logical and char arrays are decoded; cell, struct, object and
// sparse arrays are skipped and listed in File.Notes. Complex arrays keep
// their real part. Every numeric class is widened to float64 and kept in
// MATLAB's column-major order: element (i, j) of an r x c array is
// Data[i + j*r].
//
// The reader never trusts a size field: every count is checked against the
// bytes that remain before anything is allocated, and a zlib stream may not
// declare more than the maximum zlib expansion of its compressed bytes.
package mat5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MAT data types (Table 1-1 of the MAT-file format reference).
const (
	miINT8       = 1
	miUINT8      = 2
	miINT16      = 3
	miUINT16     = 4
	miINT32      = 5
	miUINT32     = 6
	miSINGLE     = 7
	miDOUBLE     = 9
	miINT64      = 12
	miUINT64     = 13
	miMATRIX     = 14
	miCOMPRESSED = 15
	miUTF8       = 16
	miUTF16      = 17
	miUTF32      = 18
)

// MATLAB array classes.
const (
	mxCELL   = 1
	mxSTRUCT = 2
	mxOBJECT = 3
	mxCHAR   = 4
	mxSPARSE = 5
	mxDOUBLE = 6
	mxSINGLE = 7
	mxINT8   = 8
	mxUINT8  = 9
	mxINT16  = 10
	mxUINT16 = 11
	mxINT32  = 12
	mxUINT32 = 13
	mxINT64  = 14
	mxUINT64 = 15
)

// Array flag bits (second byte of the flags word).
const (
	flagComplex = 0x08
	flagLogical = 0x02
)

// maxZlibRatio bounds the expansion of deflate (1032:1 in theory); a
// compressed element that declares more is corrupt.
const maxZlibRatio = 1040

var classNames = map[uint32]string{
	mxCELL: "cell", mxSTRUCT: "struct", mxOBJECT: "object", mxCHAR: "char",
	mxSPARSE: "sparse", mxDOUBLE: "double", mxSINGLE: "single",
	mxINT8: "int8", mxUINT8: "uint8", mxINT16: "int16", mxUINT16: "uint16",
	mxINT32: "int32", mxUINT32: "uint32", mxINT64: "int64", mxUINT64: "uint64",
}

// File is a decoded MAT file.
type File struct {
	// Header is the descriptive text of the 116-byte header, trimmed.
	Header string
	// Vars are the decoded variables in file order.
	Vars []*Var
	// Notes lists what was skipped (struct, cell, sparse, object arrays,
	// imaginary parts), one human-readable line each.
	Notes []string

	name string
}

// Var is one decoded numeric, logical or char array.
type Var struct {
	Name string
	// Class is the MATLAB class: "double", "single", "int8" ... "uint64",
	// "char" or "logical".
	Class string
	// Dims are the array dimensions (at least two).
	Dims []int
	// Data holds every element widened to float64, column-major. For char
	// arrays it holds the character codes.
	Data []float64
	// Text is the content of a char array: rows joined by "\n", each row
	// read across the columns. Empty for other classes.
	Text string
}

// Len returns the number of elements, the product of Dims.
func (v *Var) Len() int { return len(v.Data) }

// At returns element (i, j) of a two-dimensional array (column-major:
// Data[i + j*Dims[0]]). It panics if (i, j) is out of range.
func (v *Var) At(i, j int) float64 {
	if i < 0 || j < 0 || i >= v.Dims[0] || i+j*v.Dims[0] >= len(v.Data) {
		panic(fmt.Sprintf("mat5: At(%d, %d) out of range for %q of size %v", i, j, v.Name, v.Dims))
	}
	return v.Data[i+j*v.Dims[0]]
}

// Get returns the variable called name. The error names the file and lists
// the variables it holds.
func (f *File) Get(name string) (*Var, error) {
	for _, v := range f.Vars {
		if v.Name == name {
			return v, nil
		}
	}
	names := make([]string, len(f.Vars))
	for i, v := range f.Vars {
		names[i] = v.Name
	}
	sort.Strings(names)
	held := strings.Join(names, ", ")
	if held == "" {
		held = "none"
	}
	return nil, fmt.Errorf("mat5: %s has no variable %q (it holds: %s)", f.name, name, held)
}

// FormatError reports a corrupt or unsupported MAT file: the file, the
// variable being decoded (empty before the first name is known), the byte
// offset in the file of the element at fault and what went wrong. Offsets
// inside a compressed element are given relative to its decompressed data.
type FormatError struct {
	File   string
	Var    string
	Offset int64
	// Inner is the offset inside the decompressed data, or -1.
	Inner int64
	Msg   string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mat5: %s", e.File)
	if e.Var != "" {
		fmt.Fprintf(&b, ": variable %q", e.Var)
	}
	fmt.Fprintf(&b, ": at byte %d", e.Offset)
	if e.Inner >= 0 {
		fmt.Fprintf(&b, " (byte %d of its decompressed data)", e.Inner)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// ReadFile reads and decodes the MAT file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mat5: %w", err)
	}
	defer fh.Close()
	return Decode(fh, path)
}

// Decode decodes a MAT file from r; name is used in error messages.
func Decode(r io.Reader, name string) (*File, error) {
	buf, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("mat5: reading %s: %w", name, err)
	}
	d := &decoder{name: name, f: &File{name: name}}
	if err := d.header(buf); err != nil {
		return nil, err
	}
	if err := d.elements(buf); err != nil {
		return nil, err
	}
	return d.f, nil
}

type decoder struct {
	name string
	bo   binary.ByteOrder
	f    *File

	// context for errors
	varName  string
	outer    int64 // file offset of the current top-level element
	inZlib   bool
	elemBase int64 // offset of the current buffer within the file or decompressed data
}

func (d *decoder) errf(off int, format string, args ...any) error {
	e := &FormatError{File: d.name, Var: d.varName, Offset: d.elemBase + int64(off), Inner: -1, Msg: fmt.Sprintf(format, args...)}
	if d.inZlib {
		e.Offset = d.outer
		e.Inner = d.elemBase + int64(off)
	}
	return e
}

func (d *decoder) header(buf []byte) error {
	if len(buf) < 128 {
		return &FormatError{File: d.name, Offset: int64(len(buf)), Inner: -1,
			Msg: fmt.Sprintf("expected a 128-byte MAT level-5 header, found %d bytes", len(buf))}
	}
	switch string(buf[126:128]) {
	case "IM":
		d.bo = binary.LittleEndian
	case "MI":
		d.bo = binary.BigEndian
	default:
		return &FormatError{File: d.name, Offset: 126, Inner: -1,
			Msg: fmt.Sprintf("expected endian indicator \"IM\" or \"MI\", found %q (not a MAT level-5 file; v7.3 files are HDF5)", buf[126:128])}
	}
	if v := d.bo.Uint16(buf[124:126]); v != 0x0100 {
		return &FormatError{File: d.name, Offset: 124, Inner: -1,
			Msg: fmt.Sprintf("expected version 0x0100, found 0x%04x", v)}
	}
	d.f.Header = strings.TrimRight(string(bytes.TrimRight(buf[:116], "\x00")), " ")
	return nil
}

// tag is a decoded element tag.
type tag struct {
	typ  uint32
	n    int // bytes of data
	data int // offset of the data in the buffer
	next int // offset of the next element
}

// readTag decodes the tag at off in b. pad says whether the element is padded
// to 8 bytes (every element except miCOMPRESSED).
func (d *decoder) readTag(b []byte, off int) (tag, error) {
	if len(b)-off < 8 {
		return tag{}, d.errf(off, "truncated: expected an 8-byte element tag, found %d bytes", len(b)-off)
	}
	w := d.bo.Uint32(b[off:])
	if w>>16 != 0 { // small data element: 2-byte size, 2-byte type, 4 bytes of data
		n := int(w >> 16)
		typ := w & 0xffff
		if n > 4 {
			return tag{}, d.errf(off, "small data element declares %d bytes, at most 4 allowed", n)
		}
		return tag{typ: typ, n: n, data: off + 4, next: off + 8}, nil
	}
	n64 := uint64(d.bo.Uint32(b[off+4:]))
	rem := uint64(len(b) - off - 8)
	if n64 > rem {
		return tag{}, d.errf(off, "truncated: element of type %d declares %d bytes, only %d remain", w, n64, rem)
	}
	n := int(n64)
	next := off + 8 + n
	if w != miCOMPRESSED {
		next = off + 8 + (n+7)&^7
		if next > len(b) {
			next = len(b) // tolerate missing padding at the very end
		}
	}
	return tag{typ: w, n: n, data: off + 8, next: next}, nil
}

func (d *decoder) elements(buf []byte) error {
	off := 128
	for off < len(buf) {
		d.varName, d.inZlib, d.elemBase, d.outer = "", false, 0, int64(off)
		if len(buf)-off >= 8 && d.bo.Uint32(buf[off:])>>16 == 0 {
			if n := uint64(d.bo.Uint32(buf[off+4:])); n > uint64(len(buf)-off-8) {
				// Truncated: name the variable if its header survived.
				d.varName = d.peekName(buf[off+8:], d.bo.Uint32(buf[off:]))
			}
		}
		t, err := d.readTag(buf, off)
		if err != nil {
			return err
		}
		switch t.typ {
		case miMATRIX:
			if err := d.matrix(buf[t.data:t.data+t.n], t.data); err != nil {
				return err
			}
		case miCOMPRESSED:
			inner, err := d.inflate(buf[t.data:t.data+t.n], off)
			if err != nil {
				return err
			}
			d.inZlib, d.elemBase = true, 0
			it, err := d.readTag(inner, 0)
			if err != nil {
				return err
			}
			if it.typ != miMATRIX {
				return d.errf(0, "expected an miMATRIX element inside miCOMPRESSED, found type %d", it.typ)
			}
			if err := d.matrix(inner[it.data:it.data+it.n], it.data); err != nil {
				return err
			}
		default:
			return d.errf(off, "expected a top-level miMATRIX (14) or miCOMPRESSED (15) element, found type %d", t.typ)
		}
		off = t.next
	}
	return nil
}

// inflate decompresses one miCOMPRESSED payload. The inner tag's declared
// size is checked against the zlib expansion bound before anything large is
// allocated.
func (d *decoder) inflate(z []byte, off int) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(z))
	if err != nil {
		return nil, d.errf(off, "miCOMPRESSED element: bad zlib stream: %v", err)
	}
	var head [8]byte
	if _, err := io.ReadFull(zr, head[:]); err != nil {
		return nil, d.errf(off, "miCOMPRESSED element: cannot read the inner tag: %v", err)
	}
	n := uint64(d.bo.Uint32(head[4:]))
	if d.bo.Uint32(head[:])>>16 != 0 {
		n = 0
	}
	if limit := uint64(len(z))*maxZlibRatio + 64; n > limit {
		return nil, d.errf(off, "miCOMPRESSED element: inner element declares %d bytes, impossible from %d compressed bytes", n, len(z))
	}
	// Grow with the data actually inflated rather than trusting n up front.
	var bb bytes.Buffer
	bb.Grow(8 + int(min(n, 1<<26)))
	bb.Write(head[:])
	if got, err := io.CopyN(&bb, zr, int64(n)); err != nil {
		return nil, d.errf(off, "miCOMPRESSED element: truncated or corrupt zlib data (expected %d bytes, inflated %d): %v", n, got, err)
	}
	return bb.Bytes(), nil
}

// peekName returns the name of a (possibly truncated) top-level element of
// type typ whose data starts at p, or "" when it cannot be read.
func (d *decoder) peekName(p []byte, typ uint32) string {
	if typ == miCOMPRESSED {
		zr, err := zlib.NewReader(bytes.NewReader(p))
		if err != nil {
			return ""
		}
		head := make([]byte, 512)
		n, err := io.ReadFull(zr, head)
		if n < 8 || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF)) {
			return ""
		}
		p = head[8:n]
	} else if typ != miMATRIX {
		return ""
	}
	sub := &decoder{name: d.name, bo: d.bo, f: &File{}}
	off := 0
	for i := 0; i < 3; i++ {
		t, err := sub.readTag(p, off)
		if err != nil {
			return ""
		}
		if i == 2 {
			return string(p[t.data : t.data+t.n])
		}
		off = t.next
	}
	return ""
}

// matrix decodes the sub-elements of one miMATRIX element held in b, whose
// first byte sits at base in the current buffer.
func (d *decoder) matrix(b []byte, base int) error {
	saved := d.elemBase
	d.elemBase += int64(base)
	defer func() { d.elemBase = saved }()
	if len(b) == 0 { // an empty miMATRIX is legal (e.g. an empty cell slot)
		return nil
	}
	// Array flags.
	t, err := d.readTag(b, 0)
	if err != nil {
		return err
	}
	if t.typ != miUINT32 || t.n != 8 {
		return d.errf(0, "expected array flags (miUINT32, 8 bytes), found type %d with %d bytes", t.typ, t.n)
	}
	flags := d.bo.Uint32(b[t.data:])
	class := flags & 0xff
	fl := (flags >> 8) & 0xff
	// Dimensions.
	off := t.next
	t, err = d.readTag(b, off)
	if err != nil {
		return err
	}
	if t.typ != miINT32 || t.n%4 != 0 || t.n < 8 {
		return d.errf(off, "expected dimensions (miINT32, at least 2), found type %d with %d bytes", t.typ, t.n)
	}
	dims := make([]int, t.n/4)
	count := 1
	for i := range dims {
		v := int32(d.bo.Uint32(b[t.data+4*i:]))
		if v < 0 {
			return d.errf(off, "negative dimension %d", v)
		}
		dims[i] = int(v)
		if v != 0 && count > math.MaxInt32/int(v) {
			return d.errf(off, "dimensions %v overflow", dims[:i+1])
		}
		count *= int(v)
	}
	// Name.
	off = t.next
	t, err = d.readTag(b, off)
	if err != nil {
		return err
	}
	if t.typ != miINT8 && t.typ != miUINT8 && t.typ != miUTF8 {
		return d.errf(off, "expected the array name (miINT8), found type %d", t.typ)
	}
	d.varName = string(b[t.data : t.data+t.n])
	cname, ok := classNames[class]
	if !ok {
		return d.errf(0, "unknown array class %d", class)
	}
	switch class {
	case mxCELL, mxSTRUCT, mxOBJECT, mxSPARSE:
		d.f.Notes = append(d.f.Notes, fmt.Sprintf("skipped %s array %q (%s)", cname, d.varName, dimString(dims)))
		return nil
	}
	v := &Var{Name: d.varName, Class: cname, Dims: dims}
	if class == mxUINT8 && fl&flagLogical != 0 {
		v.Class = "logical"
	}
	off = t.next
	t, err = d.readTag(b, off)
	if err != nil {
		return err
	}
	if class == mxCHAR {
		if err := d.chars(b, off, t, v, count); err != nil {
			return err
		}
	} else {
		data, err := d.numbers(b, off, t, count)
		if err != nil {
			return err
		}
		v.Data = data
	}
	if fl&flagComplex != 0 {
		if _, err := d.readTag(b, t.next); err != nil {
			return err
		}
		d.f.Notes = append(d.f.Notes, fmt.Sprintf("kept only the real part of complex array %q", d.varName))
	}
	d.f.Vars = append(d.f.Vars, v)
	return nil
}

func dimString(dims []int) string {
	s := make([]string, len(dims))
	for i, v := range dims {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, "x")
}

// elemSize returns the byte size of one element of a numeric data type.
func elemSize(typ uint32) int {
	switch typ {
	case miINT8, miUINT8, miUTF8:
		return 1
	case miINT16, miUINT16, miUTF16:
		return 2
	case miINT32, miUINT32, miSINGLE, miUTF32:
		return 4
	case miDOUBLE, miINT64, miUINT64:
		return 8
	}
	return 0
}

// numbers converts a numeric data element to float64. MATLAB may store an
// array in a narrower type than its class (a double array of small integers
// as miUINT8), so the storage type, not the class, drives the conversion.
func (d *decoder) numbers(b []byte, off int, t tag, count int) ([]float64, error) {
	sz := elemSize(t.typ)
	if sz == 0 || t.typ == miUTF8 || t.typ == miUTF16 || t.typ == miUTF32 {
		return nil, d.errf(off, "expected numeric data, found type %d", t.typ)
	}
	if t.n != count*sz {
		return nil, d.errf(off, "expected %d elements (%d bytes of type %d), found %d bytes", count, count*sz, t.typ, t.n)
	}
	p := b[t.data : t.data+t.n]
	out := make([]float64, count)
	bo := d.bo
	switch t.typ {
	case miINT8:
		for i := range out {
			out[i] = float64(int8(p[i]))
		}
	case miUINT8:
		for i := range out {
			out[i] = float64(p[i])
		}
	case miINT16:
		for i := range out {
			out[i] = float64(int16(bo.Uint16(p[2*i:])))
		}
	case miUINT16:
		for i := range out {
			out[i] = float64(bo.Uint16(p[2*i:]))
		}
	case miINT32:
		for i := range out {
			out[i] = float64(int32(bo.Uint32(p[4*i:])))
		}
	case miUINT32:
		for i := range out {
			out[i] = float64(bo.Uint32(p[4*i:]))
		}
	case miSINGLE:
		for i := range out {
			out[i] = float64(math.Float32frombits(bo.Uint32(p[4*i:])))
		}
	case miDOUBLE:
		for i := range out {
			out[i] = math.Float64frombits(bo.Uint64(p[8*i:]))
		}
	case miINT64:
		for i := range out {
			out[i] = float64(int64(bo.Uint64(p[8*i:])))
		}
	case miUINT64:
		for i := range out {
			out[i] = float64(bo.Uint64(p[8*i:]))
		}
	}
	return out, nil
}

// chars decodes a char array stored as UTF-8, UTF-16 (or its miUINT16
// alias), UTF-32 or 8-bit codes.
func (d *decoder) chars(b []byte, off int, t tag, v *Var, count int) error {
	p := b[t.data : t.data+t.n]
	var codes []rune
	switch t.typ {
	case miUTF8:
		if !utf8.Valid(p) {
			return d.errf(off, "char data is not valid UTF-8")
		}
		codes = []rune(string(p))
	case miUINT8, miINT8:
		codes = make([]rune, len(p))
		for i, c := range p {
			codes[i] = rune(c)
		}
	case miUINT16, miUTF16:
		if len(p)%2 != 0 {
			return d.errf(off, "UTF-16 char data has an odd byte count %d", len(p))
		}
		u := make([]uint16, len(p)/2)
		for i := range u {
			u[i] = d.bo.Uint16(p[2*i:])
		}
		if len(u) == count { // one code unit per element, as MATLAB stores it
			codes = make([]rune, len(u))
			for i, c := range u {
				codes[i] = rune(c)
			}
		} else {
			codes = utf16.Decode(u)
		}
	case miUTF32, miUINT32:
		if len(p)%4 != 0 {
			return d.errf(off, "UTF-32 char data has a byte count %d not divisible by 4", len(p))
		}
		codes = make([]rune, len(p)/4)
		for i := range codes {
			codes[i] = rune(d.bo.Uint32(p[4*i:]))
		}
	default:
		return d.errf(off, "expected char data (miUTF8/miUTF16/miUINT16), found type %d", t.typ)
	}
	if len(codes) != count {
		return d.errf(off, "expected %d characters for dimensions %s, found %d", count, dimString(v.Dims), len(codes))
	}
	v.Data = make([]float64, count)
	for i, c := range codes {
		v.Data[i] = float64(c)
	}
	rows := v.Dims[0]
	if rows == 0 || count == 0 {
		return nil
	}
	cols := count / rows
	var sb strings.Builder
	for i := 0; i < rows; i++ {
		if i > 0 {
			sb.WriteByte('\n')
		}
		for j := 0; j < cols; j++ {
			sb.WriteRune(codes[i+j*rows])
		}
	}
	v.Text = sb.String()
	return nil
}

// Sniff reports whether the first 128 bytes of a file look like a MAT
// level-5 header.
func Sniff(head []byte) bool {
	if len(head) < 128 {
		return false
	}
	e := string(head[126:128])
	return e == "IM" || e == "MI"
}
