package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileReplacesAndUsesMode(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := filepath.Join(dir, "a.json")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new content")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "new content" {
		t.Fatalf("content %q, %v", got, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 under umask 022", st.Mode().Perm())
	}
	if left, _ := Leftovers(dir, "*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWriteRespectsUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "b.bin")
	if err := WriteFile(p, []byte{1}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 under umask 077", st.Mode().Perm())
	}
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.ckpt")
	if err := os.WriteFile(p, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, func(w io.Writer) error {
		if _, err := w.Write([]byte("partial")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want boom", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "keep me" {
		t.Errorf("target changed to %q", got)
	}
	if left, _ := Leftovers(dir, "*"); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestWriteMissingDirectoryNamesPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope", "d.png")
	err := WriteFile(p, nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want not-exist", err)
	}
	if want := "write " + p; len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("error %q does not start with %q", err, want)
	}
}

func TestIsTempAndLeftovers(t *testing.T) {
	cases := []struct {
		name, target string
		ok           bool
	}{
		{".ckpt-00000010.ckpt.tmp123", "ckpt-00000010.ckpt", true},
		{".best.ckpt.tmp9", "best.ckpt", true},
		{"ckpt.tmp1", "", false},
		{".x.tmp", "", false},
		{".x.tmpab", "", false},
		{".tmp12", "", false},
	}
	for _, c := range cases {
		got, ok := IsTemp(c.name)
		if got != c.target || ok != c.ok {
			t.Errorf("IsTemp(%q) = %q, %v; want %q, %v", c.name, got, ok, c.target, c.ok)
		}
	}
	dir := t.TempDir()
	for _, n := range []string{".ckpt-1.ckpt.tmp5", ".best.ckpt.tmp7", "ckpt-1.ckpt", ".metrics.jsonl.tmp1"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := RemoveLeftovers(dir, "*.ckpt")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("removed %v, want the two .ckpt temporaries", got)
	}
	rest, _ := os.ReadDir(dir)
	if len(rest) != 2 {
		t.Errorf("left %d files, want ckpt-1.ckpt and the metrics temporary", len(rest))
	}
}
