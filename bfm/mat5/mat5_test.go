package mat5

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir locates <repo root>/../shared (or $STN3D_SHARED) and skips the
// test when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("STN3D_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory; cannot locate ../shared")
		}
		dir = parent
	}
	s := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(s); err != nil {
		t.Skipf("shared data directory %s absent (set STN3D_SHARED): %v", s, err)
	}
	return s
}

const testdata = "../testdata"

func TestRealBFMUV(t *testing.T) {
	p := filepath.Join(sharedDir(t), "data", "3dmmstn", "BFM_UV.mat")
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Header, "MATLAB 5.0 MAT-file, Platform: MACI64") {
		t.Errorf("header %q", f.Header)
	}
	uv, err := f.Get("UV")
	if err != nil {
		t.Fatal(err)
	}
	if uv.Class != "double" || len(uv.Dims) != 2 || uv.Dims[0] != 53490 || uv.Dims[1] != 2 || uv.Len() != 106980 {
		t.Fatalf("UV: class %s dims %v len %d", uv.Class, uv.Dims, uv.Len())
	}
	// Values from scipy.io.loadmat.
	want := []struct {
		i, j int
		v    float64
	}{{0, 0, 0.23626612698954166}, {0, 1, 0.7827212565014388}, {53489, 0, 1.0},
		{53489, 1, 0.2689000070095062}, {1000, 1, 0.46033910337172534}}
	for _, w := range want {
		if got := uv.At(w.i, w.j); got != w.v {
			t.Errorf("UV(%d,%d) = %v, want %v", w.i, w.j, got, w.v)
		}
	}
	sum := 0.0
	for _, v := range uv.Data {
		sum += v
	}
	if d := sum - 54221.82303308695; d > 1e-7 || d < -1e-7 {
		t.Errorf("sum %v", sum)
	}
	_, err = f.Get("shapeMU")
	if err == nil || err.Error() != "mat5: "+p+` has no variable "shapeMU" (it holds: UV)` {
		t.Errorf("Get error: %v", err)
	}
}

func TestRealMap(t *testing.T) {
	p := filepath.Join(sharedDir(t), "data", "3dmmstn", "map_tddfa_to_basel.mat")
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.Get("map_tddfa_to_basel")
	if err != nil {
		t.Fatal(err)
	}
	if m.Class != "uint16" || m.Dims[0] != 1 || m.Dims[1] != 53215 {
		t.Fatalf("class %s dims %v", m.Class, m.Dims)
	}
	sum := 0.0
	for _, v := range m.Data {
		sum += v
	}
	if sum != 1428249143 || m.At(0, 1000) != 1000 || m.At(0, 53214) != 53489 || m.At(0, 0) != 0 {
		t.Errorf("sum %v, [1000] %v, last %v", sum, m.At(0, 1000), m.At(0, 53214))
	}
}

type classExpect struct {
	Class string    `json:"class"`
	Dims  []int     `json:"dims"`
	Data  []float64 `json:"data"`
	Text  string    `json:"text"`
}

func TestFixtureClasses(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testdata, "mat_classes.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	var vecDims map[string][]int
	var skipped []string
	json.Unmarshal(all["vec_dims"], &vecDims)
	json.Unmarshal(all["skipped"], &skipped)
	for _, comp := range []string{"raw", "z"} {
		for _, oned := range []string{"row", "column"} {
			name := "mat_classes_" + comp + "_" + oned + ".mat"
			f, err := ReadFile(filepath.Join(testdata, name))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			seen := 0
			for key, msg := range all {
				if key == "vec_dims" || key == "skipped" {
					continue
				}
				var e classExpect
				if err := json.Unmarshal(msg, &e); err != nil {
					t.Fatal(err)
				}
				if e.Dims == nil {
					e.Dims = vecDims[oned]
				}
				v, err := f.Get(key)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				seen++
				if v.Class != e.Class || !equalInts(v.Dims, e.Dims) || v.Text != e.Text {
					t.Errorf("%s %s: class %s dims %v text %q, want %s %v %q", name, key, v.Class, v.Dims, v.Text, e.Class, e.Dims, e.Text)
				}
				if len(v.Data) != len(e.Data) {
					t.Errorf("%s %s: %d values, want %d", name, key, len(v.Data), len(e.Data))
					continue
				}
				for i := range e.Data {
					if v.Data[i] != e.Data[i] {
						t.Errorf("%s %s[%d] = %v, want %v", name, key, i, v.Data[i], e.Data[i])
					}
				}
			}
			if seen != 18 || len(f.Vars) != 18 {
				t.Errorf("%s: checked %d, decoded %d variables, want 18", name, seen, len(f.Vars))
			}
			notes := strings.Join(f.Notes, "\n")
			for _, s := range skipped {
				if !strings.Contains(notes, `"`+s+`"`) {
					t.Errorf("%s: notes do not mention skipped %q: %s", name, s, notes)
				}
			}
			if !strings.Contains(notes, `real part of complex array "cplx"`) {
				t.Errorf("%s: notes %s", name, notes)
			}
			if _, err := f.Get("st"); err == nil {
				t.Errorf("%s: struct st should be skipped", name)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAt(t *testing.T) {
	f, err := ReadFile(filepath.Join(testdata, "mat_classes_raw_row.mat"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := f.Get("d") // arange(12).reshape(3,4)*0.5-1.25 (row-major in numpy)
	if got := d.At(1, 2); got != (1*4+2)*0.5-1.25 {
		t.Errorf("At(1,2) = %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("At out of range did not panic")
		}
	}()
	d.At(3, 0)
}

func TestBadFiles(t *testing.T) {
	cases := []struct{ file, want string }{
		{"bad_mat_truncated_z.mat", "mat5: " + filepath.Join(testdata, "bad_mat_truncated_z.mat") + `: variable "shapePC": at byte 374: truncated: element of type 15 declares 2770 bytes, only 318 remain`},
		{"bad_mat_truncated_raw.mat", "mat5: " + filepath.Join(testdata, "bad_mat_truncated_raw.mat") + `: variable "shapePC": at byte 672: truncated: element of type 14 declares 2936 bytes, only 320 remain`},
		{"bad_mat_notmat.mat", "mat5: " + filepath.Join(testdata, "bad_mat_notmat.mat") + `: at byte 126: expected endian indicator "IM" or "MI", found "ot" (not a MAT level-5 file; v7.3 files are HDF5)`},
	}
	for _, c := range cases {
		_, err := ReadFile(filepath.Join(testdata, c.file))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got %v\nwant %s", c.file, err, c.want)
		}
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T is not a *FormatError", c.file, err)
		}
	}
	if _, err := Decode(bytes.NewReader([]byte("MATLAB")), "short.mat"); err == nil ||
		err.Error() != "mat5: short.mat: at byte 6: expected a 128-byte MAT level-5 header, found 6 bytes" {
		t.Errorf("short: %v", err)
	}
}

// TestCorruptions truncates and bit-flips valid files at many positions:
// every result must be a clean error or a successful decode, never a panic,
// and every error must name the file.
func TestCorruptions(t *testing.T) {
	for _, name := range []string{"mat_classes_raw_row.mat", "mat_classes_z_column.mat", "mat_bfm2009_z.mat"} {
		data, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			t.Fatal(err)
		}
		full, err := Decode(bytes.NewReader(data), name)
		if err != nil {
			t.Fatal(err)
		}
		fails := 0
		for cut := 0; cut < len(data); cut += 7 {
			f, err := Decode(bytes.NewReader(data[:cut]), name)
			// A cut at an element boundary is a valid, shorter file.
			if err == nil && len(f.Vars)+len(f.Notes) >= len(full.Vars)+len(full.Notes) {
				t.Errorf("%s cut at %d decoded every variable", name, cut)
			}
			if err != nil {
				fails++
				if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "at byte") {
					t.Errorf("%s cut at %d: %v", name, cut, err)
				}
			}
		}
		if fails == 0 {
			t.Errorf("%s: no truncation failed", name)
		}
		buf := make([]byte, len(data))
		for i := 128; i < len(data); i += 3 {
			copy(buf, data)
			buf[i] ^= 0x5a
			Decode(bytes.NewReader(buf), name) // must not panic or hang
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"mat_classes_raw_row.mat", "mat_classes_z_column.mat", "mat_tddfa_map.mat"} {
		data, err := os.ReadFile(filepath.Join(testdata, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(bytes.NewReader(data), "fuzz.mat")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "mat5: fuzz.mat") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, v := range file.Vars {
			n := 1
			for _, d := range v.Dims {
				n *= d
			}
			if n != v.Len() {
				t.Fatalf("%q: dims %v but %d values", v.Name, v.Dims, v.Len())
			}
		}
	})
}

func BenchmarkReadBFMUV(b *testing.B) {
	p := filepath.Join(sharedDir(b), "data", "3dmmstn", "BFM_UV.mat")
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(data), "BFM_UV.mat"); err != nil {
			b.Fatal(err)
		}
	}
}

// buildMAT writes a one-variable MAT file by hand in the given byte order:
// a double 2x2 array stored as miUINT8 (MATLAB narrows storage types), its
// name in the 4-byte small-data-element form, and a uint16 1x3 array whose
// data is also a small element when it fits.
func buildMAT(bo binary.ByteOrder, endian string) []byte {
	var b bytes.Buffer
	head := make([]byte, 128)
	copy(head, "MATLAB 5.0 MAT-file, hand made")
	for i := 30; i < 116; i++ {
		head[i] = ' '
	}
	bo.PutUint16(head[124:], 0x0100)
	copy(head[126:], endian)
	b.Write(head)
	u32 := func(v uint32) []byte { x := make([]byte, 4); bo.PutUint32(x, v); return x }
	small := func(typ, n uint32, data []byte) []byte { // 4-byte small element
		out := u32(n<<16 | typ)
		d := make([]byte, 4)
		copy(d, data)
		return append(out, d...)
	}
	matrix := func(class uint32, dims []int32, name string, data []byte) []byte {
		var m bytes.Buffer
		m.Write(u32(miUINT32))
		m.Write(u32(8))
		m.Write(u32(class))
		m.Write(u32(0))
		m.Write(u32(miINT32))
		m.Write(u32(uint32(4 * len(dims))))
		for _, d := range dims {
			m.Write(u32(uint32(d)))
		}
		m.Write(small(miINT8, uint32(len(name)), []byte(name)))
		m.Write(data)
		out := append(u32(miMATRIX), u32(uint32(m.Len()))...)
		return append(out, m.Bytes()...)
	}
	// double [1 3; 2 4] stored as miUINT8 1,2,3,4 (column-major), padded.
	d := append(append(u32(miUINT8), u32(4)...), 1, 2, 3, 4, 0, 0, 0, 0)
	b.Write(matrix(mxDOUBLE, []int32{2, 2}, "ab", d))
	// uint16 [7 8] as a small element.
	u := make([]byte, 4)
	bo.PutUint16(u, 7)
	bo.PutUint16(u[2:], 8)
	b.Write(matrix(mxUINT16, []int32{1, 2}, "u", small(miUINT16, 4, u)))
	return b.Bytes()
}

func TestHandBuiltBothEndians(t *testing.T) {
	for _, c := range []struct {
		bo     binary.ByteOrder
		endian string
	}{{binary.LittleEndian, "IM"}, {binary.BigEndian, "MI"}} {
		f, err := Decode(bytes.NewReader(buildMAT(c.bo, c.endian)), "hand.mat")
		if err != nil {
			t.Fatalf("%s: %v", c.endian, err)
		}
		if f.Header != "MATLAB 5.0 MAT-file, hand made" {
			t.Errorf("header %q", f.Header)
		}
		ab, err := f.Get("ab")
		if err != nil {
			t.Fatal(err)
		}
		if ab.Class != "double" || ab.At(0, 1) != 3 || ab.At(1, 0) != 2 || ab.Len() != 4 {
			t.Errorf("%s: ab %v %v", c.endian, ab.Class, ab.Data)
		}
		u, err := f.Get("u")
		if err != nil {
			t.Fatal(err)
		}
		if u.Class != "uint16" || len(u.Data) != 2 || u.Data[0] != 7 || u.Data[1] != 8 {
			t.Errorf("%s: u %v %v", c.endian, u.Class, u.Data)
		}
	}
	// Dimensions that disagree with the data are reported with the offset.
	b := buildMAT(binary.LittleEndian, "IM")
	b[128+8+16+8] = 3 // ab becomes 3x2: 6 elements, 4 stored
	_, err := Decode(bytes.NewReader(b), "dims.mat")
	want := `mat5: dims.mat: variable "ab": at byte 176: expected 6 elements (6 bytes of type 2), found 4 bytes`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestGetEmptyFile(t *testing.T) {
	b := buildMAT(binary.LittleEndian, "IM")[:128]
	f, err := Decode(bytes.NewReader(b), "empty.mat")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Get("x"); err == nil || err.Error() != `mat5: empty.mat has no variable "x" (it holds: none)` {
		t.Errorf("%v", err)
	}
}
