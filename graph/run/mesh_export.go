package run

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"github.com/stn3d/stn3d/internal/atomicfile"

	"github.com/stn3d/stn3d/bfm"
)

// ExportMesh is a triangle mesh ready to be written as OBJ or PLY: one
// position, texture coordinate and colour per vertex, triangles indexing
// Vertices (0-based).
type ExportMesh struct {
	Vertices [][3]float64
	// UV are OBJ texture coordinates (u right, v up, both in [0, 1]).
	UV [][2]float64
	// Colors are 8-bit RGB per vertex.
	Colors    [][3]uint8
	Triangles [][3]int32
	// GridVertex maps each exported vertex back to its grid vertex
	// (row*Cols + col), or for a centre vertex of the triangulation to
	// N + its index in bfm.GridTriangulation.Centres.
	GridVertex []int
}

// GridMesh builds the exported mesh of a fitted geometry image: verts holds
// one position per grid vertex (N = Rows*Cols, in whatever frame the caller
// chose), tex the C x N texture (channel-major, values in [0, 1], C = 3 or
// 1) that colours the vertices. The triangles are the geometry image's one
// triangulation (bfm.GridTriangles), the one the visibility mask uses, so
// the exported surface is the one whose normals decided the mask; with an
// even number of columns its middle quad column is a fan around a centre
// vertex, exported after the grid vertices at the mean position, texture
// coordinate and colour of its four corners. Grid vertices that are not
// valid (GridModel.Valid false), and centres with an invalid corner, are
// omitted together with every triangle that uses one; the remaining
// vertices are renumbered in order. Texel (row, col) gets the texture
// coordinate (u, v) = (col/(Cols-1), 1 - row/(Rows-1)), so that the texture
// PNG (row 0 at the top) maps onto the mesh with OBJ's v-up convention.
func GridMesh(gm *bfm.GridModel, verts [][3]float64, tex []float32) (*ExportMesh, error) {
	if err := gm.Validate(); err != nil {
		return nil, fmt.Errorf("grid mesh: %w", err)
	}
	n := gm.N()
	if len(verts) != n {
		return nil, fmt.Errorf("grid mesh: %d vertices, want %d = %d x %d", len(verts), n, gm.Rows, gm.Cols)
	}
	c := len(tex) / n
	if (c != 1 && c != 3) || len(tex) != c*n {
		return nil, fmt.Errorf("grid mesh: texture has %d values, want 1 or 3 x %d", len(tex), n)
	}
	tri := bfm.GridTriangles(gm.Rows, gm.Cols)
	all := tri.AppendCentres(verts)
	valid := func(k int) bool { return gm.Valid == nil || gm.Valid[k] }
	m := &ExportMesh{Triangles: make([][3]int32, 0, len(tri.Triangles))}
	index := make([]int32, len(all))
	for v := range all {
		src := tri.Sources(v)
		var uv [2]float64
		var rgb [3]float64
		ok := true
		for _, k := range src {
			if !valid(int(k)) {
				ok = false
				break
			}
			r, col := int(k)/gm.Cols, int(k)%gm.Cols
			uv[0] += float64(col) / float64(gm.Cols-1)
			uv[1] += 1 - float64(r)/float64(gm.Rows-1)
			for ch := range rgb {
				rgb[ch] += float64(tex[min(ch, c-1)*n+int(k)])
			}
		}
		if !ok {
			index[v] = -1
			continue
		}
		index[v] = int32(len(m.Vertices))
		w := 1 / float64(len(src))
		var col [3]uint8
		for ch := range col {
			col[ch] = toByte(float32(rgb[ch] * w))
		}
		m.Vertices = append(m.Vertices, all[v])
		m.UV = append(m.UV, [2]float64{uv[0] * w, uv[1] * w})
		m.Colors = append(m.Colors, col)
		m.GridVertex = append(m.GridVertex, v)
	}
	for _, t := range tri.Triangles {
		a, b, d := index[t[0]], index[t[1]], index[t[2]]
		if a < 0 || b < 0 || d < 0 {
			continue
		}
		m.Triangles = append(m.Triangles, [3]int32{a, b, d})
	}
	return m, nil
}

// FlipWinding reverses the order of every triangle's corners, turning
// the right-hand-rule normals around. bfm.GridTriangles winds counter-clockwise
// seen from +z in a y-up frame; in an image frame (y down) that becomes
// clockwise, so a mesh exported in image pixels is flipped to keep its
// normals pointing towards +z (the viewer).
func (m *ExportMesh) FlipWinding() {
	for i, t := range m.Triangles {
		m.Triangles[i] = [3]int32{t[0], t[2], t[1]}
	}
}

// toByte maps a texture value in [0, 1] to 0..255 (rounded, clamped; NaN
// gives 0).
func toByte(v float32) uint8 {
	f := float64(v) * 255
	if !(f > 0) {
		return 0
	}
	if f >= 255 {
		return 255
	}
	return uint8(math.Round(f))
}

func (m *ExportMesh) check() error {
	nv := len(m.Vertices)
	if len(m.UV) != nv || len(m.Colors) != nv {
		return fmt.Errorf("graph: mesh: %d vertices, %d uvs, %d colours: want equal counts", nv, len(m.UV), len(m.Colors))
	}
	for i, v := range m.Vertices {
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("graph: mesh: vertex %d is %v: want finite coordinates", i, v)
			}
		}
	}
	for i, t := range m.Triangles {
		for _, k := range t {
			if k < 0 || int(k) >= nv {
				return fmt.Errorf("graph: mesh: triangle %d index %d outside 0..%d", i, k, nv-1)
			}
		}
	}
	return nil
}

// EncodeOBJ writes m as Wavefront OBJ: "mtllib" (when mtl is not empty)
// and "usemtl face", one "v x y z" and one "vt u v" per vertex, and one
// "f a/a b/b c/c" per triangle (1-based; position and texture indices are
// equal).
func EncodeOBJ(w io.Writer, m *ExportMesh, mtl string) error {
	if err := m.check(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	buf := make([]byte, 0, 96)
	fmt.Fprintf(bw, "# stn3d fitted mesh: %d vertices, %d triangles\n", len(m.Vertices), len(m.Triangles))
	if mtl != "" {
		fmt.Fprintf(bw, "mtllib %s\nusemtl face\n", mtl)
	}
	for _, v := range m.Vertices {
		buf = append(buf[:0], "v "...)
		buf = appendFloats(buf, v[:])
		bw.Write(append(buf, '\n'))
	}
	for _, t := range m.UV {
		buf = append(buf[:0], "vt "...)
		buf = appendFloats(buf, t[:])
		bw.Write(append(buf, '\n'))
	}
	for _, t := range m.Triangles {
		buf = append(buf[:0], 'f')
		for _, k := range t {
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(k)+1, 10)
			buf = append(buf, '/')
			buf = strconv.AppendInt(buf, int64(k)+1, 10)
		}
		bw.Write(append(buf, '\n'))
	}
	return bw.Flush()
}

// EncodeMTL writes the material "face" used by EncodeOBJ, textured with
// the image file texture (a path relative to the .mtl file).
func EncodeMTL(w io.Writer, texture string) error {
	_, err := fmt.Fprintf(w, "# stn3d material\nnewmtl face\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd %s\n", texture)
	return err
}

// EncodePLY writes m as ASCII PLY 1.0 with float x, y, z, uchar red, green,
// blue per vertex and a uchar-counted int vertex_indices list per face.
func EncodePLY(w io.Writer, m *ExportMesh) error {
	if err := m.check(); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "ply\nformat ascii 1.0\ncomment stn3d fitted mesh\nelement vertex %d\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\nproperty uchar green\nproperty uchar blue\nelement face %d\nproperty list uchar int vertex_indices\nend_header\n",
		len(m.Vertices), len(m.Triangles))
	buf := make([]byte, 0, 96)
	for i, v := range m.Vertices {
		buf = appendFloats(buf[:0], v[:])
		for _, c := range m.Colors[i] {
			buf = append(buf, ' ')
			buf = strconv.AppendUint(buf, uint64(c), 10)
		}
		bw.Write(append(buf, '\n'))
	}
	for _, t := range m.Triangles {
		buf = append(buf[:0], '3')
		for _, k := range t {
			buf = append(buf, ' ')
			buf = strconv.AppendInt(buf, int64(k), 10)
		}
		bw.Write(append(buf, '\n'))
	}
	return bw.Flush()
}

// appendFloats appends space-separated shortest-round-trip float32-precision
// values (the precision of the network's outputs).
func appendFloats(buf []byte, v []float64) []byte {
	for i, x := range v {
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = strconv.AppendFloat(buf, x, 'g', 7, 64)
	}
	return buf
}

// WriteMeshFiles writes m atomically as objPath (+ mtlPath referencing
// texture, a file name relative to the .mtl) and plyPath; an empty path
// skips that file.
func WriteMeshFiles(m *ExportMesh, objPath, mtlPath, texture, plyPath string) error {
	if objPath != "" {
		var b bytes.Buffer
		mtl := ""
		if mtlPath != "" {
			mtl = filepath.Base(mtlPath)
		}
		if err := EncodeOBJ(&b, m, mtl); err != nil {
			return fmt.Errorf("%s: %w", objPath, err)
		}
		if err := atomicfile.WriteFile(objPath, b.Bytes()); err != nil {
			return err
		}
	}
	if mtlPath != "" {
		var b bytes.Buffer
		if err := EncodeMTL(&b, texture); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(mtlPath, b.Bytes()); err != nil {
			return err
		}
	}
	if plyPath != "" {
		var b bytes.Buffer
		if err := EncodePLY(&b, m); err != nil {
			return fmt.Errorf("%s: %w", plyPath, err)
		}
		if err := atomicfile.WriteFile(plyPath, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}
