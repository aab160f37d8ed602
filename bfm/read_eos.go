package bfm

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// The eos (Surrey Face Model) binary format is a cereal BinaryInputArchive:
// raw little-endian values without header or padding.
//
//	size     uint64          int   int32        bool  1 byte
//	string   uint64 length + bytes
//	matrix   int32 rows, int32 cols, rows*cols float32, column-major
//	vector   uint64 count + elements
//	PcaModel mean (3N x 1), orthonormal basis (3N x K), eigenvalues (K x 1,
//	         VARIANCES), triangles (vector of 3 x int32, 0-based)
//	MorphableModel: uint32 version (1..4), shape PcaModel, colour PcaModel
//	         (rows 0 when absent), [v>=2] optional expression (bool 1 = absent,
//	         int32 variant index: 0 PcaModel, 1 vector<Blendshape>), [v>=3]
//	         optional landmark definitions (bool, uint64 n, n x (string,
//	         int32)), texture coordinates (uint64 n, n x 2 float64), [v=4]
//	         texture triangles (uint64 n, n x 3 int32).
//	Blendshape: string name, matrix (3N x 1) displacement.

// eosReader decodes cereal primitives from an in-memory file, checking every
// count against the bytes that remain before allocating.
type eosReader struct {
	file string
	b    []byte
	off  int
}

func (r *eosReader) need(n uint64, field string) error {
	if rem := uint64(len(r.b) - r.off); n > rem {
		return formatErr(r.file, int64(r.off), field, fmt.Sprintf("%d more bytes", n), "only %d (file truncated)", rem)
	}
	return nil
}

func (r *eosReader) u32(field string) (uint32, error) {
	if err := r.need(4, field); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

func (r *eosReader) i32(field string) (int32, error) {
	v, err := r.u32(field)
	return int32(v), err
}

func (r *eosReader) u64(field string) (uint64, error) {
	if err := r.need(8, field); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(r.b[r.off:])
	r.off += 8
	return v, nil
}

func (r *eosReader) boolean(field string) (bool, error) {
	if err := r.need(1, field); err != nil {
		return false, err
	}
	v := r.b[r.off]
	if v > 1 {
		return false, formatErr(r.file, int64(r.off), field, "a bool (0 or 1)", "%d", v)
	}
	r.off++
	return v == 1, nil
}

func (r *eosReader) str(field string) (string, error) {
	start := r.off
	n, err := r.u64(field)
	if err != nil {
		return "", err
	}
	if err := r.need(n, field); err != nil {
		r.off = start
		return "", formatErr(r.file, int64(start), field, "a string", "length %d with only %d bytes left", n, len(r.b)-r.off-8)
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

// count reads a uint64 element count and checks that count*size bytes remain.
func (r *eosReader) count(field string, size uint64) (int, error) {
	start := r.off
	n, err := r.u64(field)
	if err != nil {
		return 0, err
	}
	if rem := uint64(len(r.b) - r.off); n > rem/size {
		return 0, formatErr(r.file, int64(start), field, fmt.Sprintf("at most %d elements of %d bytes", rem/size, size), "a count of %d (file truncated or corrupt)", n)
	}
	return int(n), nil
}

// matrix reads an Eigen float matrix; data is column-major.
func (r *eosReader) matrix(field string) (rows, cols int, data []float64, err error) {
	start := r.off
	nr, err := r.i32(field + " rows")
	if err != nil {
		return 0, 0, nil, err
	}
	nc, err := r.i32(field + " cols")
	if err != nil {
		return 0, 0, nil, err
	}
	if nr < 0 || nc < 0 {
		return 0, 0, nil, formatErr(r.file, int64(start), field, "non-negative matrix dimensions", "%d x %d", nr, nc)
	}
	n := uint64(nr) * uint64(nc)
	if rem := uint64(len(r.b) - r.off); n > rem/4 {
		return 0, 0, nil, formatErr(r.file, int64(start), field, fmt.Sprintf("%d x %d float32 values (%d bytes)", nr, nc, 4*n), "only %d bytes left (file truncated)", rem)
	}
	data = make([]float64, n)
	for i := range data {
		data[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(r.b[r.off+4*i:])))
	}
	r.off += int(4 * n)
	return int(nr), int(nc), data, nil
}

func (r *eosReader) triangles(field string) ([][3]int32, error) {
	n, err := r.count(field, 12)
	if err != nil {
		return nil, err
	}
	t := make([][3]int32, n)
	for i := range t {
		for c := 0; c < 3; c++ {
			t[i][c] = int32(binary.LittleEndian.Uint32(r.b[r.off:]))
			r.off += 4
		}
	}
	return t, nil
}

// eosPCA is one PcaModel as stored.
type eosPCA struct {
	mean      []float64
	basis     []float64 // 3N x K column-major, orthonormal columns
	k         int
	variances []float64
	tris      [][3]int32
	offset    int
}

func (r *eosReader) pca(field string) (*eosPCA, error) {
	p := &eosPCA{offset: r.off}
	mr, mc, mean, err := r.matrix(field + " mean")
	if err != nil {
		return nil, err
	}
	br, bc, basis, err := r.matrix(field + " orthonormal_pca_basis")
	if err != nil {
		return nil, err
	}
	er, ec, ev, err := r.matrix(field + " eigenvalues")
	if err != nil {
		return nil, err
	}
	tris, err := r.triangles(field + " triangle_list")
	if err != nil {
		return nil, err
	}
	if mr == 0 { // absent model (e.g. no colour model)
		return nil, nil
	}
	switch {
	case mc != 1 || mr%3 != 0:
		return nil, formatErr(r.file, int64(p.offset), field+" mean", "a 3N x 1 matrix", "%d x %d", mr, mc)
	case br != mr:
		return nil, formatErr(r.file, int64(p.offset), field+" orthonormal_pca_basis", fmt.Sprintf("%d rows (as the mean)", mr), "%d x %d", br, bc)
	case er*ec != bc:
		return nil, formatErr(r.file, int64(p.offset), field+" eigenvalues", fmt.Sprintf("%d values (one per basis column)", bc), "%d x %d", er, ec)
	}
	nv := int32(mr / 3)
	for i, t := range tris {
		for _, v := range t {
			if v < 0 || v >= nv {
				return nil, formatErr(r.file, int64(p.offset), fmt.Sprintf("%s triangle %d", field, i), fmt.Sprintf("vertex indices in [0, %d)", nv), "%v", t)
			}
		}
	}
	for i, v := range ev {
		if v < 0 || math.IsNaN(v) {
			return nil, formatErr(r.file, int64(p.offset), fmt.Sprintf("%s eigenvalue %d", field, i), "a non-negative variance", "%v", v)
		}
	}
	p.mean, p.basis, p.k, p.variances, p.tris = mean, basis, bc, ev, tris
	return p, nil
}

// scaledBasis returns the basis columns multiplied by sqrt(variance), so that
// weights are N(0, I): P = U diag(sqrt(lambda)) (Eq. 1 of Bas et al. 2017).
func (p *eosPCA) scaledBasis() [][]float64 {
	n := len(p.mean)
	out := make([][]float64, p.k)
	for d := range out {
		s := math.Sqrt(p.variances[d])
		col := p.basis[d*n : (d+1)*n]
		for i := range col {
			col[i] *= s
		}
		out[d] = col
	}
	return out
}

// Blendshape is one named expression displacement (3V values, interleaved).
type Blendshape struct {
	Name         string
	Displacement []float64
}

func (r *eosReader) blendshapes(field string) ([]Blendshape, error) {
	n, err := r.count(field, 16)
	if err != nil {
		return nil, err
	}
	out := make([]Blendshape, n)
	for i := range out {
		name, err := r.str(fmt.Sprintf("%s %d name", field, i))
		if err != nil {
			return nil, err
		}
		start := r.off
		rows, cols, d, err := r.matrix(fmt.Sprintf("%s %q", field, name))
		if err != nil {
			return nil, err
		}
		if cols != 1 || rows%3 != 0 || (i > 0 && rows != len(out[0].Displacement)) {
			return nil, formatErr(r.file, int64(start), fmt.Sprintf("%s %q", field, name), "a 3N x 1 displacement of the same N as the others", "%d x %d", rows, cols)
		}
		out[i] = Blendshape{Name: name, Displacement: d}
	}
	return out, nil
}

// ReadEOS reads an eos / Surrey Face Model MorphableModel binary (class
// versions 1 to 4). The shape model becomes the identity components
// "shape_pc01".. (basis times sqrt(eigenvalue), eos eigenvalues being
// variances); an expression PcaModel or blendshapes stored in the file are
// appended as expression components. A colour model's mean becomes Albedo
// (its basis is dropped). UVs are converted from eos's v-down to our v = 1
// at the top (v' = 1 - v). Landmark definitions whose names are iBUG numbers
// 1..68 fill Landmarks["ibug68"]. Units are millimetres.
func ReadEOS(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading eos model: %w", err)
	}
	return decodeEOS(b, path)
}

func decodeEOS(b []byte, path string) (*Model, error) {
	r := &eosReader{file: path, b: b}
	version, err := r.u32("class version")
	if err != nil {
		return nil, err
	}
	if version < 1 || version > 4 {
		return nil, formatErr(path, 0, "class version", "an eos MorphableModel version 1..4", "%d", version)
	}
	if len(b) >= 8 && binary.LittleEndian.Uint32(b[4:8]) == 0 {
		return nil, formatErr(path, 4, "shape model mean rows", "a non-empty shape model (3N > 0 rows)",
			"0 rows (an eos blendshapes file? read it with ReadEOSBlendshapes)")
	}
	shape, err := r.pca("shape model")
	if err != nil {
		return nil, err
	}
	if shape == nil {
		return nil, formatErr(path, 4, "shape model", "a non-empty shape PcaModel", "an empty one")
	}
	nv := len(shape.mean) / 3
	color, err := r.pca("colour model")
	if err != nil {
		return nil, err
	}
	m := &Model{
		Name:      trimExt(filepath.Base(path)),
		Format:    "eos",
		Source:    path,
		Units:     "mm",
		Mean:      shape.mean,
		Basis:     shape.scaledBasis(),
		Triangles: shape.tris,
	}
	for d := range m.Basis {
		m.Components = append(m.Components, Component{Name: fmt.Sprintf("shape_pc%02d", d+1), Kind: Identity})
	}
	if color != nil {
		if len(color.mean) != len(shape.mean) {
			return nil, formatErr(path, int64(color.offset), "colour model mean", fmt.Sprintf("%d values (as the shape)", len(shape.mean)), "%d", len(color.mean))
		}
		m.Albedo = make([][3]float64, nv)
		for v := range m.Albedo {
			m.Albedo[v] = [3]float64{color.mean[3*v], color.mean[3*v+1], color.mean[3*v+2]}
		}
	}
	if version >= 2 {
		if err := r.expression(m); err != nil {
			return nil, err
		}
	}
	if version >= 3 {
		if err := r.landmarkDefs(m); err != nil {
			return nil, err
		}
	}
	start := r.off
	nuv, err := r.count("texture_coordinates", 16)
	if err != nil {
		return nil, err
	}
	if nuv != 0 && nuv != nv {
		return nil, formatErr(path, int64(start), "texture_coordinates", fmt.Sprintf("0 or %d (one per vertex)", nv), "%d", nuv)
	}
	if nuv > 0 {
		m.UV = make([][2]float64, nuv)
		for i := range m.UV {
			u := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.off:]))
			v := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.off+8:]))
			r.off += 16
			m.UV[i] = [2]float64{u, 1 - v}
		}
	}
	if version >= 4 {
		if _, err := r.triangles("texture_triangle_indices"); err != nil {
			return nil, err
		}
	}
	if r.off != len(r.b) {
		return nil, formatErr(path, int64(r.off), "end of model", "end of file", "%d trailing bytes", len(r.b)-r.off)
	}
	return m, nil
}

func (r *eosReader) expression(m *Model) error {
	absent, err := r.boolean("expression model (optional flag)")
	if err != nil || absent {
		return err
	}
	start := r.off
	idx, err := r.i32("expression model variant index")
	if err != nil {
		return err
	}
	switch idx {
	case 0:
		p, err := r.pca("expression model")
		if err != nil {
			return err
		}
		if p == nil {
			return nil
		}
		if len(p.mean) != len(m.Mean) {
			return formatErr(r.file, int64(p.offset), "expression model mean", fmt.Sprintf("%d values (as the shape)", len(m.Mean)), "%d", len(p.mean))
		}
		// The expression mean is a displacement from the neutral mean.
		for i, v := range p.mean {
			m.Mean[i] += v
		}
		for d, col := range p.scaledBasis() {
			m.Basis = append(m.Basis, col)
			m.Components = append(m.Components, Component{Name: fmt.Sprintf("expression_pc%02d", d+1), Kind: Expression})
		}
	case 1:
		bs, err := r.blendshapes("expression blendshapes")
		if err != nil {
			return err
		}
		if len(bs) > 0 && len(bs[0].Displacement) != len(m.Mean) {
			return formatErr(r.file, int64(start), "expression blendshapes", fmt.Sprintf("%d values (as the shape)", len(m.Mean)), "%d", len(bs[0].Displacement))
		}
		for _, b := range bs {
			m.Basis = append(m.Basis, b.Displacement)
			m.Components = append(m.Components, Component{Name: b.Name, Kind: Expression})
		}
	default:
		return formatErr(r.file, int64(start), "expression model variant index", "0 (PcaModel) or 1 (blendshapes)", "%d", idx)
	}
	return nil
}

func (r *eosReader) landmarkDefs(m *Model) error {
	absent, err := r.boolean("landmark_definitions (optional flag)")
	if err != nil || absent {
		return err
	}
	n, err := r.count("landmark_definitions", 12)
	if err != nil {
		return err
	}
	var ibug []int
	for i := 0; i < n; i++ {
		name, err := r.str(fmt.Sprintf("landmark_definitions %d name", i))
		if err != nil {
			return err
		}
		start := r.off
		v, err := r.i32(fmt.Sprintf("landmark %q vertex", name))
		if err != nil {
			return err
		}
		if v < 0 || int(v) >= m.NumVertices() {
			return formatErr(r.file, int64(start), fmt.Sprintf("landmark %q", name), fmt.Sprintf("a vertex index in [0, %d)", m.NumVertices()), "%d", v)
		}
		if k, err := strconv.Atoi(name); err == nil && k >= 1 && k <= 68 {
			if ibug == nil {
				ibug = make([]int, 68)
				for j := range ibug {
					ibug[j] = -1
				}
			}
			ibug[k-1] = int(v)
		}
	}
	if ibug != nil {
		if m.Landmarks == nil {
			m.Landmarks = map[string][]int{}
		}
		m.Landmarks[SchemeIBUG68] = ibug
	}
	return nil
}

// ReadEOSBlendshapes reads an eos blendshapes file (a cereal
// vector<Blendshape>, e.g. expression_blendshapes_3448.bin) as an expression
// model: Mean is zero, every blendshape a basis vector of kind Expression
// named after it. Blendshapes carry no variance, so a weight of 1 is the
// full expression as sculpted (mm), not one standard deviation.
func ReadEOSBlendshapes(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading eos blendshapes: %w", err)
	}
	r := &eosReader{file: path, b: b}
	bs, err := r.blendshapes("blendshapes")
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, formatErr(path, 0, "blendshapes", "at least one blendshape", "none")
	}
	if r.off != len(b) {
		return nil, formatErr(path, int64(r.off), "end of blendshapes", "end of file", "%d trailing bytes", len(b)-r.off)
	}
	m := &Model{Name: trimExt(filepath.Base(path)), Format: "eos-blendshapes", Source: path, Units: "mm",
		Mean: make([]float64, len(bs[0].Displacement))}
	for _, s := range bs {
		m.Basis = append(m.Basis, s.Displacement)
		m.Components = append(m.Components, Component{Name: s.Name, Kind: Expression})
	}
	return m, nil
}

func trimExt(base string) string {
	return base[:len(base)-len(filepath.Ext(base))]
}
