package graph

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"

	"github.com/stn3d/stn3d/internal/atomicfile"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Weights file format ("STN3DWT", version 1), all integers little-endian:
//
//	magic    [8]byte  "STN3DWT\x00"
//	version  uint32   1
//	count    uint32   number of tensors that follow
//	count records, each:
//	  nameLen uint16          1..1024
//	  name    [nameLen]byte   UTF-8, e.g. "conv1_1.w"
//	  dtype   uint8           1 = float32, 2 = float64, 3 = float16
//	  ndim    uint8           0..8
//	  dims    [ndim]uint32    each >= 1; size = product (1 when ndim = 0)
//	  data    size values     IEEE-754 little-endian, row-major (float16:
//	                          binary16, read back as float32)
//	  crc     uint32          CRC-32 (IEEE) of the record from nameLen to data
//
// Pretrained weights use dtype 1 (float32); checkpoints may use 2 so that a
// float64 graph resumes bit for bit; the embedded default model uses 3
// (EncodeWeightsFloat16) to halve its size. Layouts follow Gorgonia: a conv filter
// is (Cout, Cin, kH, kW), a conv bias (1, Cout, 1, 1), a fully connected
// weight (in, out) applied as x*W with x flattened row-major from (C, H, W),
// and its bias (1, out). scripts/convert_vggface.py writes this format.

const (
	weightsMagic   = "STN3DWT\x00"
	weightsVersion = 1
	maxNameLen     = 1024
	maxDims        = 8
	dtypeF32       = 1
	dtypeF64       = 2
	dtypeF16       = 3
)

// WeightTensor is one named tensor of a weights file. Exactly one of Data
// (float32) and Data64 (float64) is set, with product(Shape) values.
type WeightTensor struct {
	Name   string
	Shape  []int
	Data   []float32
	Data64 []float64
}

// Len returns the number of values.
func (t *WeightTensor) Len() int {
	if t.Data64 != nil {
		return len(t.Data64)
	}
	return len(t.Data)
}

func (t *WeightTensor) check() error {
	if len(t.Name) == 0 || len(t.Name) > maxNameLen {
		return fmt.Errorf("tensor name %q: want 1..%d bytes", t.Name, maxNameLen)
	}
	if len(t.Shape) > maxDims {
		return fmt.Errorf("tensor %q: %d dims, want <= %d", t.Name, len(t.Shape), maxDims)
	}
	n := 1
	for _, d := range t.Shape {
		if d < 1 || d > math.MaxUint32 {
			return fmt.Errorf("tensor %q: shape %v: want dims >= 1", t.Name, t.Shape)
		}
		n *= d
	}
	if (t.Data == nil) == (t.Data64 == nil) {
		return fmt.Errorf("tensor %q: exactly one of Data and Data64 must be set", t.Name)
	}
	if t.Len() != n {
		return fmt.Errorf("tensor %q: %d values for shape %v (want %d)", t.Name, t.Len(), t.Shape, n)
	}
	return nil
}

// EncodeWeights writes ts in the weights format, float32 tensors as
// float32 and float64 ones as float64.
func EncodeWeights(w io.Writer, ts []WeightTensor) error { return encodeWeights(w, ts, false) }

// EncodeWeightsFloat16 writes ts in the weights format with every float32
// tensor rounded to float16 (nearest, ties to even: a relative error of at
// most 2^-11); a value float16 cannot hold (NaN, infinite, |v| > 65504) is
// an error naming the tensor. Float64 tensors stay float64.
func EncodeWeightsFloat16(w io.Writer, ts []WeightTensor) error { return encodeWeights(w, ts, true) }

func encodeWeights(w io.Writer, ts []WeightTensor, half bool) error {
	var hdr [16]byte
	copy(hdr[:8], weightsMagic)
	binary.LittleEndian.PutUint32(hdr[8:], weightsVersion)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(ts)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	seen := make(map[string]bool, len(ts))
	buf := make([]byte, 0, 64*1024)
	for i := range ts {
		t := &ts[i]
		if err := t.check(); err != nil {
			return fmt.Errorf("graph: encode weights: %w", err)
		}
		if seen[t.Name] {
			return fmt.Errorf("graph: encode weights: duplicate tensor %q", t.Name)
		}
		f16 := half && t.Data != nil
		if f16 {
			if err := checkFloat16(t); err != nil {
				return fmt.Errorf("graph: encode weights: %w", err)
			}
		}
		seen[t.Name] = true
		crc := crc32.NewIEEE()
		mw := io.MultiWriter(w, crc)
		buf = buf[:0]
		buf = binary.LittleEndian.AppendUint16(buf, uint16(len(t.Name)))
		buf = append(buf, t.Name...)
		switch {
		case t.Data64 != nil:
			buf = append(buf, dtypeF64)
		case f16:
			buf = append(buf, dtypeF16)
		default:
			buf = append(buf, dtypeF32)
		}
		buf = append(buf, byte(len(t.Shape)))
		for _, d := range t.Shape {
			buf = binary.LittleEndian.AppendUint32(buf, uint32(d))
		}
		if _, err := mw.Write(buf); err != nil {
			return err
		}
		// Data in chunks to bound the scratch buffer.
		const chunk = 8192
		for off := 0; off < t.Len(); off += chunk {
			end := min(off+chunk, t.Len())
			buf = buf[:0]
			switch {
			case t.Data64 != nil:
				for _, v := range t.Data64[off:end] {
					buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
				}
			case f16:
				for _, v := range t.Data[off:end] {
					buf = binary.LittleEndian.AppendUint16(buf, Float16Bits(v))
				}
			default:
				for _, v := range t.Data[off:end] {
					buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				}
			}
			if _, err := mw.Write(buf); err != nil {
				return err
			}
		}
		var c [4]byte
		binary.LittleEndian.PutUint32(c[:], crc.Sum32())
		if _, err := w.Write(c[:]); err != nil {
			return err
		}
	}
	return nil
}

// DecodeWeights reads the weights format from r. Errors say which tensor
// and field failed; a short read is io.ErrUnexpectedEOF.
func DecodeWeights(r io.Reader) ([]WeightTensor, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("header: %w", eofUnexpected(err))
	}
	if string(hdr[:8]) != weightsMagic {
		return nil, fmt.Errorf("bad magic %q, want %q", hdr[:8], weightsMagic)
	}
	if v := binary.LittleEndian.Uint32(hdr[8:]); v != weightsVersion {
		return nil, fmt.Errorf("version %d, want %d", v, weightsVersion)
	}
	count := binary.LittleEndian.Uint32(hdr[12:])
	if count > 1<<20 {
		return nil, fmt.Errorf("tensor count %d: implausible (max %d)", count, 1<<20)
	}
	ts := make([]WeightTensor, 0, min(count, 1024))
	seen := map[string]bool{}
	scratch := make([]byte, 64*1024)
	for i := 0; i < int(count); i++ {
		crc := crc32.NewIEEE()
		tr := io.TeeReader(r, crc)
		var b2 [2]byte
		if _, err := io.ReadFull(tr, b2[:]); err != nil {
			return nil, fmt.Errorf("tensor %d of %d: name length: %w", i, count, eofUnexpected(err))
		}
		nl := int(binary.LittleEndian.Uint16(b2[:]))
		if nl == 0 || nl > maxNameLen {
			return nil, fmt.Errorf("tensor %d of %d: name length %d, want 1..%d", i, count, nl, maxNameLen)
		}
		nb := make([]byte, nl+2)
		if _, err := io.ReadFull(tr, nb); err != nil {
			return nil, fmt.Errorf("tensor %d of %d: name: %w", i, count, eofUnexpected(err))
		}
		t := WeightTensor{Name: string(nb[:nl])}
		dt, nd := nb[nl], int(nb[nl+1])
		if dt != dtypeF32 && dt != dtypeF64 && dt != dtypeF16 {
			return nil, fmt.Errorf("tensor %q: dtype code %d, want 1 (float32), 2 (float64) or 3 (float16)", t.Name, dt)
		}
		if nd > maxDims {
			return nil, fmt.Errorf("tensor %q: %d dims, want <= %d", t.Name, nd, maxDims)
		}
		db := make([]byte, 4*nd)
		if _, err := io.ReadFull(tr, db); err != nil {
			return nil, fmt.Errorf("tensor %q: dims: %w", t.Name, eofUnexpected(err))
		}
		n := 1
		for k := 0; k < nd; k++ {
			d := int(binary.LittleEndian.Uint32(db[4*k:]))
			if d < 1 {
				return nil, fmt.Errorf("tensor %q: dim %d is %d, want >= 1", t.Name, k, d)
			}
			if n > (1<<34)/d {
				return nil, fmt.Errorf("tensor %q: shape too large", t.Name)
			}
			n *= d
			t.Shape = append(t.Shape, d)
		}
		// The data grows as it is read, never ahead of it: a header that
		// declares a huge shape in a short file fails at its end instead
		// of allocating the shape first.
		size := 4
		first := min(n, 1<<16)
		switch dt {
		case dtypeF64:
			size = 8
			t.Data64 = make([]float64, 0, first)
		case dtypeF16:
			size = 2
			t.Data = make([]float32, 0, first)
		default:
			t.Data = make([]float32, 0, first)
		}
		for off := 0; off < n; {
			m := min(n-off, len(scratch)/size)
			b := scratch[:m*size]
			if _, err := io.ReadFull(tr, b); err != nil {
				return nil, fmt.Errorf("tensor %q: data: %w", t.Name, eofUnexpected(err))
			}
			switch dt {
			case dtypeF64:
				t.Data64 = growTo(t.Data64, m, n)
				for k := 0; k < m; k++ {
					t.Data64 = append(t.Data64, math.Float64frombits(binary.LittleEndian.Uint64(b[8*k:])))
				}
			case dtypeF16:
				t.Data = growTo(t.Data, m, n)
				for k := 0; k < m; k++ {
					t.Data = append(t.Data, Float16Value(binary.LittleEndian.Uint16(b[2*k:])))
				}
			default:
				t.Data = growTo(t.Data, m, n)
				for k := 0; k < m; k++ {
					t.Data = append(t.Data, math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:])))
				}
			}
			off += m
		}
		var c [4]byte
		if _, err := io.ReadFull(r, c[:]); err != nil {
			return nil, fmt.Errorf("tensor %q: crc: %w", t.Name, eofUnexpected(err))
		}
		if got, want := crc.Sum32(), binary.LittleEndian.Uint32(c[:]); got != want {
			return nil, fmt.Errorf("tensor %q: CRC32 mismatch (stored %08x, computed %08x)", t.Name, want, got)
		}
		if seen[t.Name] {
			return nil, fmt.Errorf("duplicate tensor %q", t.Name)
		}
		seen[t.Name] = true
		ts = append(ts, t)
	}
	return ts, nil
}

// growTo makes room for m more elements in s, doubling its capacity but
// never beyond total.
func growTo[T any](s []T, m, total int) []T {
	if cap(s)-len(s) >= m {
		return s
	}
	c := min(total, max(2*cap(s), len(s)+m))
	return slices.Grow(s, c-len(s))
}

func eofUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadWeights reads a weights file; errors name the file.
func ReadWeights(path string) ([]WeightTensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("graph: read weights: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	ts, err := DecodeWeights(br)
	if err != nil {
		return nil, fmt.Errorf("graph: read weights %s: %w", path, err)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("graph: read weights %s: trailing bytes after %d tensors", path, len(ts))
	}
	return ts, nil
}

// WriteWeights writes ts to path atomically (temp file, fsync, rename).
func WriteWeights(path string, ts []WeightTensor) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return EncodeWeights(w, ts) }); err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	return nil
}

// TensorsFromNodes copies the values of nodes into weight tensors named
// after the nodes (float32 nodes give Data, float64 nodes Data64).
func TensorsFromNodes(nodes []*gorgonia.Node) ([]WeightTensor, error) {
	out := make([]WeightTensor, 0, len(nodes))
	for _, n := range nodes {
		d, err := nodeData(n)
		if err != nil {
			return nil, err
		}
		t := WeightTensor{Name: n.Name(), Shape: append([]int(nil), n.Shape()...)}
		switch x := d.(type) {
		case []float32:
			t.Data = append([]float32(nil), x...)
		case []float64:
			t.Data64 = append([]float64(nil), x...)
		default:
			return nil, fmt.Errorf("graph: node %q has data %T", n.Name(), d)
		}
		out = append(out, t)
	}
	return out, nil
}

// LoadIntoNodes copies tensors into the nodes of the same name, converting
// float32/float64 as needed. Shapes must match exactly. With partial false,
// every node must have a tensor; tensors without a node are reported as an
// error unless partial is true (a pretrained file may lack the new layer
// and hold layers the localiser does not use). It returns the names loaded.
func LoadIntoNodes(nodes []*gorgonia.Node, ts []WeightTensor, partial bool) ([]string, error) {
	byName := make(map[string]*WeightTensor, len(ts))
	for i := range ts {
		byName[ts[i].Name] = &ts[i]
	}
	var loaded []string
	var errs []error
	used := map[string]bool{}
	for _, n := range nodes {
		t, ok := byName[n.Name()]
		if !ok {
			if !partial {
				errs = append(errs, fmt.Errorf("parameter %q: no tensor of that name", n.Name()))
			}
			continue
		}
		used[t.Name] = true
		if !tensor.Shape(t.Shape).Eq(n.Shape()) && !(t.Len() == n.Shape().TotalSize() && sameNonUnit(t.Shape, n.Shape())) {
			errs = append(errs, fmt.Errorf("parameter %q: tensor shape %v, want %v", n.Name(), t.Shape, n.Shape()))
			continue
		}
		d, err := nodeData(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch x := d.(type) {
		case []float32:
			if t.Data != nil {
				copy(x, t.Data)
			} else {
				for i, v := range t.Data64 {
					x[i] = float32(v)
				}
			}
		case []float64:
			if t.Data64 != nil {
				copy(x, t.Data64)
			} else {
				for i, v := range t.Data {
					x[i] = float64(v)
				}
			}
		}
		loaded = append(loaded, n.Name())
	}
	if !partial {
		for _, t := range ts {
			if !used[t.Name] {
				errs = append(errs, fmt.Errorf("tensor %q: no parameter of that name", t.Name))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return loaded, fmt.Errorf("graph: load weights: %w", err)
	}
	return loaded, nil
}

// sameNonUnit reports whether two shapes agree once unit dims are dropped
// (a bias stored as (C) loads into a (1, C, 1, 1) node).
func sameNonUnit(a, b []int) bool {
	strip := func(s []int) []int {
		var o []int
		for _, d := range s {
			if d != 1 {
				o = append(o, d)
			}
		}
		return o
	}
	x, y := strip(a), strip(b)
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if x[i] != y[i] {
			return false
		}
	}
	return true
}
