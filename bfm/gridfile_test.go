package bfm

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func gridFixture(t *testing.T) *GridModel {
	t.Helper()
	s := newSymMesh(6, 7, true, 9)
	withGridFields(s.m, 4, 5)
	g, err := BuildGrid(s.m, GridOptions{Rows: 23, Cols: 19})
	if err != nil {
		t.Fatal(err)
	}
	if g.Valid == nil || len(g.Albedo) == 0 {
		t.Fatal("fixture should have a valid mask (mouth hole) and an albedo")
	}
	return g
}

func TestGridFileRoundTrip(t *testing.T) {
	g := gridFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "grid_test.stn3dgrid")
	if err := SaveGrid(path, g); err != nil {
		t.Fatal(err)
	}
	// Saving again replaces the file atomically and leaves no temporary.
	if err := SaveGrid(path, g); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %d entries after saving, want 1", len(ents))
	}
	h, err := LoadGrid(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rows != g.Rows || h.Cols != g.Cols || h.Units != g.Units || h.Source != g.Source {
		t.Errorf("header: got %d x %d %q %q, want %d x %d %q %q", h.Rows, h.Cols, h.Units, h.Source, g.Rows, g.Cols, g.Units, g.Source)
	}
	if !reflect.DeepEqual(h.Components, g.Components) || !reflect.DeepEqual(h.Landmarks, g.Landmarks) ||
		!reflect.DeepEqual(h.Params, g.Params) || !reflect.DeepEqual(h.Valid, g.Valid) {
		t.Errorf("components, landmarks, params or valid mask differ after the round trip")
	}
	f32 := func(name string, got, want []float64) {
		if len(got) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
		}
		for i := range want {
			if got[i] != float64(float32(want[i])) {
				t.Fatalf("%s[%d] = %v, want float32(%v)", name, i, got[i], want[i])
			}
		}
	}
	f32("mean", h.Mean, g.Mean)
	if len(h.Basis) != len(g.Basis) {
		t.Fatalf("%d basis vectors, want %d", len(h.Basis), len(g.Basis))
	}
	for d := range g.Basis {
		f32("basis", h.Basis[d], g.Basis[d])
	}
	for k := range g.Albedo {
		for j := 0; j < 3; j++ {
			if h.Albedo[k][j] != float64(float32(g.Albedo[k][j])) {
				t.Fatalf("albedo[%d] = %v, want %v", k, h.Albedo[k], g.Albedo[k])
			}
		}
	}
}

// gridLoadErr loads path and returns its *FormatError (failing otherwise).
func gridLoadErr(t *testing.T, path string) *FormatError {
	t.Helper()
	_, err := LoadGrid(path)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("LoadGrid: err = %v, want a *FormatError", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
	return fe
}

func TestGridFileCorrupt(t *testing.T) {
	g := gridFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "g.stn3dgrid")
	if err := SaveGrid(path, g); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hl := int(good[12]) | int(good[13])<<8
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mut := func(at int, x byte) []byte {
		b := append([]byte(nil), good...)
		b[at] ^= x
		return b
	}
	cases := []struct {
		name, field string
		data        []byte
	}{
		{"payload byte flipped", "sha256", mut(16+hl+100, 0x40)},
		{"mask byte flipped", "sha256", mut(len(good)-40, 0x01)},
		{"checksum byte flipped", "sha256", mut(len(good)-1, 0xff)},
		{"truncated by one byte", "size", good[:len(good)-1]},
		{"truncated to half", "size", good[:len(good)/2]},
		{"trailing byte", "size", append(append([]byte(nil), good...), 0)},
		{"truncated header", "size", good[:20]},
		{"empty", "size", nil},
		{"magic", "magic", mut(0, 0x20)},
		{"version", "version", mut(8, 0x02)},
	}
	// A NaN in the payload with a matching checksum (a file not written
	// by SaveGrid) is refused too.
	nan := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(nan[16+hl+4*5:], math.Float32bits(float32(math.NaN())))
	sum := sha256.Sum256(nan[:len(nan)-sha256.Size])
	copy(nan[len(nan)-sha256.Size:], sum[:])
	cases = append(cases, struct {
		name, field string
		data        []byte
	}{"NaN in the mean", "payload", nan})
	for _, c := range cases {
		fe := gridLoadErr(t, write(strings.ReplaceAll(c.name, " ", "_"), c.data))
		if fe.Field != c.field {
			t.Errorf("%s: failed check %q (%v), want %q", c.name, fe.Field, fe, c.field)
		}
	}
	// A flipped header byte fails as header JSON, size or checksum, never
	// silently: try every header byte.
	for at := 16; at < 16+hl; at++ {
		if _, err := LoadGrid(write("hdr", mut(at, 0x01))); err == nil {
			t.Fatalf("header byte %d flipped: loaded without error", at)
		}
	}
}

func TestSaveGridRejects(t *testing.T) {
	dir := t.TempDir()
	g := gridFixture(t)
	g.Mean[7] = math.NaN()
	if err := SaveGrid(filepath.Join(dir, "a"), g); err == nil || !strings.Contains(err.Error(), "grid model: Mean[7]: NaN, want a finite float32 value") {
		t.Errorf("NaN mean: err = %v", err)
	}
	g = gridFixture(t)
	g.Basis[1] = g.Basis[1][:9]
	if err := SaveGrid(filepath.Join(dir, "b"), g); err == nil || !strings.Contains(err.Error(), "grid model: Basis[1]: 9 values, want 3*Rows*Cols") {
		t.Errorf("short basis: err = %v", err)
	}
	g = gridFixture(t)
	g.Basis[0][0] = 1e39
	if err := SaveGrid(filepath.Join(dir, "c"), g); err == nil || !strings.Contains(err.Error(), "finite float32") {
		t.Errorf("float32 overflow: err = %v", err)
	}
	if err := SaveGrid(filepath.Join(dir, "missing", "d"), gridFixture(t)); err == nil {
		t.Error("save into a missing directory: want an error")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed saves left %d files", len(ents))
	}
}

// TestGridFileGolden reads testdata/grid_small.stn3dgrid, a version-1 file
// committed with the code, and compares it with the grid rebuilt from the
// same generated mesh: it catches unintended format changes. Regenerate it
// with STN3D_UPDATE_GRID_GOLDEN=1 after a deliberate change.
func TestGridFileGolden(t *testing.T) {
	s := newSymMesh(4, 5, true, 1)
	withGridFields(s.m, 2, 1)
	g, err := BuildGrid(s.m, GridOptions{Rows: 11, Cols: 9})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "grid_small.stn3dgrid")
	if os.Getenv("STN3D_UPDATE_GRID_GOLDEN") == "1" {
		if err := SaveGrid(path, g); err != nil {
			t.Fatal(err)
		}
	}
	h, err := LoadGrid(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Rows != 11 || h.Cols != 9 || len(h.Basis) != 2 || h.Valid == nil || len(h.Albedo) != 99 ||
		!reflect.DeepEqual(h.Landmarks, g.Landmarks) || !reflect.DeepEqual(h.Valid, g.Valid) || h.Params["method"] != "tutte-cotangent-symmetric" {
		t.Fatalf("golden grid metadata: %d x %d, %d components, params %v", h.Rows, h.Cols, len(h.Basis), h.Params)
	}
	near := func(name string, got, want []float64) {
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-5*(1+math.Abs(want[i])) {
				t.Fatalf("%s[%d] = %v in the golden file, rebuilt %v", name, i, got[i], want[i])
			}
		}
	}
	near("mean", h.Mean, g.Mean)
	near("basis 1", h.Basis[1], g.Basis[1])
}

// A file whose checksum is right but whose values SaveGrid would never
// write (a NaN mean) is a *FormatError with Field "payload".
func TestLoadGridRejectsNaNPayload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nan.stn3dgrid")
	if err := SaveGrid(path, gridFixture(t)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 16 + int(binary.LittleEndian.Uint32(data[12:])) + 4*5 // mean[5]
	binary.LittleEndian.PutUint32(data[off:], math.Float32bits(float32(math.NaN())))
	sum := sha256.Sum256(data[:len(data)-sha256.Size])
	copy(data[len(data)-sha256.Size:], sum[:])
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadGrid(path)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Field != "payload" || !strings.Contains(err.Error(), "Mean[5]: NaN") {
		t.Fatalf("error %v, want a payload FormatError naming Mean[5]", err)
	}
}
