package hdf5

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// walkAll lists every group reachable from the root and reads every
// dataset, returning the first error. Hard-link cycles are cut by path
// depth.
func walkAll(f *File) error {
	budget := 200 // objects visited at most (hard links may form cycles)
	var walk func(group string, depth int) error
	walk = func(group string, depth int) error {
		if depth > 8 || budget <= 0 {
			return nil
		}
		budget--
		names, err := f.List(group)
		if err != nil {
			return err
		}
		attrs, err := f.AttrNames(group)
		if err != nil {
			var ue *UnsupportedError
			if !errors.As(err, &ue) {
				return err
			}
		}
		for _, a := range attrs {
			ds, err := f.Attr(group, a)
			if err != nil {
				return err
			}
			if _, err := ds.Float64s(); err != nil && !strings.Contains(err.Error(), "not a number") {
				return err
			}
			if _, err := ds.Strings(); err != nil && !strings.Contains(err.Error(), "not strings") {
				return err
			}
		}
		for _, n := range names {
			if budget--; budget <= 0 {
				return nil
			}
			p := strings.TrimSuffix(group, "/") + "/" + n
			ds, err := f.Dataset(p)
			if err != nil {
				if strings.Contains(err.Error(), "is a group") {
					if err := walk(p, depth+1); err != nil {
						return err
					}
					continue
				}
				var ue *UnsupportedError
				if errors.As(err, &ue) {
					continue
				}
				return err
			}
			if _, err := ds.Float64s(); err != nil && !strings.Contains(err.Error(), "not a number") {
				return err
			}
			if _, err := ds.Strings(); err != nil && !strings.Contains(err.Error(), "not strings") {
				return err
			}
		}
		return nil
	}
	return walk("/", 0)
}

func fixtureNames(t testing.TB) []string {
	m, err := filepath.Glob(filepath.Join(testdata, "h5_*.h5"))
	if err != nil || len(m) < 8 {
		t.Fatalf("fixtures: %v (%d files)", err, len(m))
	}
	return m
}

func TestWalkAllFixtures(t *testing.T) {
	for _, p := range fixtureNames(t) {
		if strings.HasSuffix(p, "h5_truncated.h5") {
			continue
		}
		f, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := walkAll(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		f.Close()
	}
}

// TestTruncated cuts every fixture at many lengths: reading must fail with a
// FormatError that names the file and an offset, never panic.
func TestTruncated(t *testing.T) {
	for _, p := range fixtureNames(t) {
		if strings.HasSuffix(p, "h5_truncated.h5") {
			continue
		}
		full, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		fails := 0
		cuts := 0
		for n := 0; n < len(full); n += 1 + len(full)/157 {
			cuts++
			name := "cut.h5"
			f, err := OpenReaderAt(name, bytes.NewReader(full[:n]), int64(n))
			if err == nil {
				err = walkAll(f)
			}
			if err == nil {
				continue
			}
			fails++
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Errorf("%s cut at %d: %v is not a FormatError", p, n, err)
				continue
			}
			if !strings.Contains(err.Error(), "hdf5: cut.h5: offset ") {
				t.Errorf("%s cut at %d: error %q does not name the file and offset", p, n, err)
			}
		}
		// Metadata sits at both ends of an HDF5 file: nearly every cut breaks it.
		if fails < cuts*9/10 {
			t.Errorf("%s: only %d of %d truncated copies gave an error", p, fails, cuts)
		}
	}
}

func TestTruncatedFixture(t *testing.T) {
	p := filepath.Join(testdata, "h5_truncated.h5")
	f, err := Open(p)
	if err != nil {
		t.Fatalf("the superblock sits in the first 1000 bytes; Open: %v", err)
	}
	defer f.Close()
	_, err = f.Dataset("/shape/model/mean")
	want := "hdf5: ../testdata/h5_truncated.h5: offset "
	var fe *FormatError
	if err == nil || !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "runs past the end of the file (size 1000)") {
		t.Errorf("got %v, want a FormatError starting %q that says the read runs past the end", err, want)
	}
	t.Log(err)
}

func TestNotHDF5(t *testing.T) {
	_, err := OpenReaderAt("x.h5", strings.NewReader("not an hdf5 file at all"), 23)
	if err == nil || err.Error() != "hdf5: x.h5: offset 0: no HDF5 signature found (file size 23)" {
		t.Errorf("got %v", err)
	}
	_, err = Open(filepath.Join(testdata, "no_such_file.h5"))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
}

// TestChecksum pins lookup3 on a known answer: the stored checksum of the
// fixture's version-3 superblock (48 bytes).
func TestChecksum(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testdata, "h5_bfm2017_latest.h5"))
	if err != nil {
		t.Fatal(err)
	}
	got := lookup3(b[:44], 0)
	want := uint32(b[44]) | uint32(b[45])<<8 | uint32(b[46])<<16 | uint32(b[47])<<24
	if got != want {
		t.Errorf("lookup3 = %#x, stored %#x", got, want)
	}
	// Flipping one byte of a checksummed structure is detected.
	c := append([]byte(nil), b...)
	c[20] ^= 0x01
	_, err = OpenReaderAt("flip.h5", bytes.NewReader(c), int64(len(c)))
	if err == nil || !strings.Contains(err.Error(), "hdf5: flip.h5: offset 44: superblock: checksum mismatch") {
		t.Errorf("flipped superblock: got %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	for _, p := range fixtureNames(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 40000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := OpenReaderAt("fuzz.h5", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		h.maxData = 1 << 20 // keep each execution small
		_ = walkAll(h)
	})
}

// TestFletcher32 checks the checksum on a hand-computed answer, then flips
// a bit of the checksum stored after the (deflated) chunk of
// /layouts/fletcher: reading must report the mismatch.
func TestFletcher32(t *testing.T) {
	// Words 0x0102, 0x0304 and the odd byte 0x05 -> 0x0500:
	// s1 = 0x0102+0x0304+0x0500 = 0x0906, s2 = 0x0102+0x0406+0x0906 = 0x0E0E.
	if got := fletcher32([]byte{1, 2, 3, 4, 5}); got != 0x0E0E0906 {
		t.Errorf("fletcher32 = %#x, want 0x0e0e0906", got)
	}
	f, err := Open(filepath.Join(testdata, "h5_types.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ds, err := f.Dataset("/layouts/fletcher")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.filters) != 2 || ds.filters[0].id != 1 || ds.filters[1].id != 3 {
		t.Fatalf("filters %+v, want deflate then fletcher32", ds.filters)
	}
	full, err := os.ReadFile(filepath.Join(testdata, "h5_types.h5"))
	if err != nil {
		t.Fatal(err)
	}
	// Find the chunk through the B-tree, then corrupt its stored checksum.
	var addr, size uint64
	err = f.walkBTreeV1(ds.dataAddr, 1, 4, func(key []byte, child uint64) error {
		size = uint64(key[0]) | uint64(key[1])<<8 | uint64(key[2])<<16 | uint64(key[3])<<24
		addr = child
		return nil
	})
	if err != nil || size < 4 {
		t.Fatalf("chunk: %v, size %d", err, size)
	}
	c := append([]byte(nil), full...)
	c[addr+size-1] ^= 0x40
	g, err := OpenReaderAt("flip.h5", bytes.NewReader(c), int64(len(c)))
	if err != nil {
		t.Fatal(err)
	}
	ds, err = g.Dataset("/layouts/fletcher")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ds.Float64s()
	if err == nil || !strings.Contains(err.Error(), "fletcher32 checksum mismatch") {
		t.Errorf("corrupt checksum: got %v", err)
	}
}

// eofAtEnd is an io.ReaderAt that, as the interface allows, returns io.EOF
// together with a full read that reaches the end of the data.
type eofAtEnd struct{ b []byte }

func (r eofAtEnd) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if off+int64(n) == int64(len(r.b)) {
		return n, io.EOF
	}
	return n, nil
}

func TestReaderAtEOF(t *testing.T) {
	for _, p := range fixtureNames(t) {
		if strings.HasSuffix(p, "h5_truncated.h5") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := OpenReaderAt(p, eofAtEnd{b}, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if err := walkAll(f); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
