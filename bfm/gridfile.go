package bfm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// Grid file format (version 1), all integers little-endian:
//
//	offset 0   8 bytes  magic "STN3DGRD"
//	offset 8   uint32   version (1)
//	offset 12  uint32   H, length of the header
//	offset 16  H bytes  header JSON (gridHeader: rows, cols, units,
//	                    num_components, components, has_albedo, has_valid,
//	                    landmarks, source, params)
//	then       float32  mean (3N values, x,y,z per grid vertex, N = rows*cols)
//	           float32  basis, num_components x 3N values
//	           float32  albedo, 3N values, if has_albedo
//	           uint8    valid mask, N bytes of 0 or 1, if has_valid
//	last 32 bytes       SHA-256 of every byte before it
//
// Values are stored as float32 (the precision the network trains in);
// LoadGrid widens them to float64.
const (
	gridMagic   = "STN3DGRD"
	gridVersion = 1
	// gridMaxHeader bounds the header JSON (landmarks and params only).
	gridMaxHeader = 16 << 20
	// gridMaxComponents bounds num_components.
	gridMaxComponents = 1 << 16
)

type gridHeader struct {
	Rows          int               `json:"rows"`
	Cols          int               `json:"cols"`
	Units         string            `json:"units,omitempty"`
	NumComponents int               `json:"num_components"`
	Components    []Component       `json:"components,omitempty"`
	HasAlbedo     bool              `json:"has_albedo"`
	HasValid      bool              `json:"has_valid"`
	Landmarks     map[string][]int  `json:"landmarks,omitempty"`
	Source        string            `json:"source,omitempty"`
	Params        map[string]string `json:"params,omitempty"`
}

// payloadSize returns the number of payload bytes the header implies.
func (h *gridHeader) payloadSize() int64 {
	n := int64(h.Rows) * int64(h.Cols)
	fields := int64(1 + h.NumComponents)
	if h.HasAlbedo {
		fields++
	}
	s := 4 * 3 * n * fields
	if h.HasValid {
		s += n
	}
	return s
}

// SaveGrid writes g to path in the grid file format (see the comment at the
// top of gridfile.go), atomically (internal/atomicfile: a temporary file in
// the same directory is written, synced and renamed over path). It rejects a
// grid that fails GridModel.Validate (inconsistent sizes, values that are
// not finite float32 numbers).
func SaveGrid(path string, g *GridModel) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("bfm: save grid %s: %w", path, err)
	}
	if err := atomicfile.Write(path, func(w io.Writer) error { return EncodeGrid(w, g) }); err != nil {
		return fmt.Errorf("bfm: save grid %s: %w", path, err)
	}
	return nil
}

// EncodeGrid writes g in the grid file format to w. Its last 32 bytes, the
// SHA-256 of everything before them, identify the geometry image (GridID).
func EncodeGrid(w io.Writer, g *GridModel) error {
	if err := g.Validate(); err != nil {
		return fmt.Errorf("bfm: encode grid: %w", err)
	}
	h := gridHeader{
		Rows: g.Rows, Cols: g.Cols, Units: g.Units,
		NumComponents: len(g.Basis), Components: g.Components,
		HasAlbedo: len(g.Albedo) > 0, HasValid: g.Valid != nil,
		Landmarks: g.Landmarks, Source: g.Source, Params: g.Params,
	}
	hj, err := json.Marshal(&h)
	if err != nil {
		return fmt.Errorf("bfm: encode grid: header: %w", err)
	}
	if len(hj) > gridMaxHeader {
		return fmt.Errorf("bfm: encode grid: header JSON is %d bytes, limit %d", len(hj), gridMaxHeader)
	}
	sum := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 1<<16)
	var pre [16]byte
	copy(pre[:8], gridMagic)
	binary.LittleEndian.PutUint32(pre[8:], gridVersion)
	binary.LittleEndian.PutUint32(pre[12:], uint32(len(hj)))
	bw.Write(pre[:])
	bw.Write(hj)
	buf := make([]byte, 0, 1<<14)
	writeF := func(v []float64) {
		for len(v) > 0 {
			k := min(len(v), cap(buf)/4)
			buf = buf[:0]
			for _, x := range v[:k] {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(x)))
			}
			bw.Write(buf)
			v = v[k:]
		}
	}
	writeF(g.Mean)
	for _, b := range g.Basis {
		writeF(b)
	}
	if h.HasAlbedo {
		flat := make([]float64, 0, 3*len(g.Albedo))
		for _, c := range g.Albedo {
			flat = append(flat, c[0], c[1], c[2])
		}
		writeF(flat)
	}
	if h.HasValid {
		mask := make([]byte, len(g.Valid))
		for k, ok := range g.Valid {
			if ok {
				mask[k] = 1
			}
		}
		bw.Write(mask)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

// GridID returns the identity of a geometry image: the SHA-256 its grid
// file ends with, in hex. Two grids with the same ID load to the same
// values (as float32).
func GridID(g *GridModel) (string, error) {
	var b bytes.Buffer
	if err := EncodeGrid(&b, g); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b.Bytes()[b.Len()-sha256.Size:]), nil
}

// LoadGrid reads a grid file written by SaveGrid. A wrong magic or version,
// a header that does not parse or is inconsistent, a file size other than
// the header implies (truncation), a SHA-256 mismatch (corruption), or a
// loaded grid that fails GridModel.Validate is reported as a *FormatError
// naming the file and the failed check (Field "magic", "version", "header",
// "size", "sha256", "valid" or "payload").
func LoadGrid(path string) (*GridModel, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: load grid: %w", err)
	}
	return DecodeGrid(path, data)
}

// DecodeGrid parses a grid file held in data (as EncodeGrid writes it);
// name is the file named in errors (see LoadGrid).
func DecodeGrid(path string, data []byte) (*GridModel, error) {
	const fixed = 16 + sha256.Size
	if len(data) < fixed {
		return nil, formatErr(path, -1, "size", fmt.Sprintf("at least %d bytes", fixed), "%d bytes (truncated)", len(data))
	}
	if string(data[:8]) != gridMagic {
		return nil, formatErr(path, 0, "magic", "\""+gridMagic+"\"", "%q", data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != gridVersion {
		return nil, formatErr(path, 8, "version", fmt.Sprint(gridVersion), "%d", v)
	}
	hl := int64(binary.LittleEndian.Uint32(data[12:]))
	body, trailer := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	sum := sha256.Sum256(body)
	sumOK := bytes.Equal(sum[:], trailer)
	if hl > gridMaxHeader || 16+hl > int64(len(body)) {
		if !sumOK {
			return nil, formatErr(path, 12, "size", fmt.Sprintf("a header of at most %d bytes inside the file", min(int64(len(body))-16, gridMaxHeader)),
				"header length %d in a %d-byte file (truncated or corrupt)", hl, len(data))
		}
		return nil, formatErr(path, 12, "header", fmt.Sprintf("a header of at most %d bytes", gridMaxHeader), "%d", hl)
	}
	var h gridHeader
	dec := json.NewDecoder(bytes.NewReader(data[16 : 16+hl]))
	dec.DisallowUnknownFields()
	herr := dec.Decode(&h)
	if herr == nil {
		herr = gridHeaderCheck(&h)
	}
	if herr == nil {
		if want := 16 + hl + h.payloadSize() + sha256.Size; want != int64(len(data)) {
			return nil, formatErr(path, -1, "size",
				fmt.Sprintf("%d bytes for %d x %d x %d components (albedo %v, mask %v)", want, h.Rows, h.Cols, h.NumComponents, h.HasAlbedo, h.HasValid),
				"%d bytes (truncated or trailing data)", len(data))
		}
	}
	if !sumOK {
		return nil, formatErr(path, int64(len(body)), "sha256", fmt.Sprintf("%x", sum[:8]), "%x (file corrupt)", trailer[:8])
	}
	if herr != nil {
		return nil, formatErr(path, 16, "header", "valid header JSON", "%v", herr)
	}

	n := h.Rows * h.Cols
	g := &GridModel{
		Rows: h.Rows, Cols: h.Cols, Units: h.Units,
		Components: h.Components, Landmarks: h.Landmarks,
		Source: h.Source, Params: h.Params,
	}
	off := 16 + int(hl)
	readF := func() []float64 {
		v := make([]float64, 3*n)
		for i := range v {
			v[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(data[off+4*i:])))
		}
		off += 4 * 3 * n
		return v
	}
	g.Mean = readF()
	g.Basis = make([][]float64, h.NumComponents)
	for d := range g.Basis {
		g.Basis[d] = readF()
	}
	if h.HasAlbedo {
		flat := readF()
		g.Albedo = make([][3]float64, n)
		for k := range g.Albedo {
			g.Albedo[k] = [3]float64{flat[3*k], flat[3*k+1], flat[3*k+2]}
		}
	}
	if h.HasValid {
		g.Valid = make([]bool, n)
		for k := range g.Valid {
			switch data[off+k] {
			case 0:
			case 1:
				g.Valid[k] = true
			default:
				return nil, formatErr(path, int64(off+k), "valid", "0 or 1", "%d", data[off+k])
			}
		}
	}
	if err := g.Validate(); err != nil { // values SaveGrid would not write (NaN, infinity)
		return nil, formatErr(path, -1, "payload", "a grid model that SaveGrid accepts", "%v", err)
	}
	return g, nil
}

// gridHeaderCheck validates header values before any allocation.
func gridHeaderCheck(h *gridHeader) error {
	if h.Rows < minGridSide || h.Cols < minGridSide || h.Rows > maxGridSide || h.Cols > maxGridSide {
		return fmt.Errorf("size %d x %d, want rows and cols in [%d, %d]", h.Rows, h.Cols, minGridSide, maxGridSide)
	}
	if h.NumComponents < 0 || h.NumComponents > gridMaxComponents {
		return fmt.Errorf("num_components %d, want in [0, %d]", h.NumComponents, gridMaxComponents)
	}
	if len(h.Components) != 0 && len(h.Components) != h.NumComponents {
		return fmt.Errorf("%d components described, num_components %d", len(h.Components), h.NumComponents)
	}
	n := h.Rows * h.Cols
	for s, idx := range h.Landmarks {
		for l, k := range idx {
			if k < -1 || k >= n {
				return fmt.Errorf("landmark %s[%d] = %d, want -1 or a grid vertex in [0, %d)", s, l, k, n)
			}
		}
	}
	return nil
}
