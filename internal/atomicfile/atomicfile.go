// Package atomicfile writes files so that readers see either the old
// content or the complete new content, never a partial file, even if the
// process is killed mid-write.
//
// A file is written to a temporary file in the same directory (named
// ".BASE.tmpRANDOM", created with mode 0644 minus the process umask, as
// os.Create would with 0644), flushed, synced, renamed over the target and
// the directory synced. On any error the temporary file is removed and the
// target is left as it was. Temporaries that a killed process left behind
// are found by Leftovers and removed by RemoveLeftovers.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Mode is the permission of every file written here, before the umask.
const Mode fs.FileMode = 0o644

// DirMode is the permission of directories the product creates, before the
// umask.
const DirMode fs.FileMode = 0o755

// tempMarker separates a target's base name from the random suffix of its
// temporary files.
const tempMarker = ".tmp"

// Write writes path atomically: fill writes the content into a buffered
// temporary file beside path. Errors name path.
func Write(path string, fill func(w io.Writer) error) (err error) {
	f, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = fill(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: close: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: rename: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// createTemp creates a new temporary file for path with Mode (subject to
// the umask), trying fresh random names on collisions.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return nil, errors.New("empty file name")
	}
	var err error
	for try := 0; try < 100; try++ {
		name := filepath.Join(dir, "."+base+tempMarker+strconv.FormatUint(rand.Uint64()%1e10, 10))
		var f *os.File
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, Mode)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
	}
	return nil, err
}

// syncDir makes a rename in dir durable. Some file systems cannot sync a
// directory (EINVAL, ENOTSUP); that only weakens durability, never
// atomicity, so it is not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}

// IsTemp reports whether name (a base name) is a temporary file of this
// package, and for which target base name.
func IsTemp(name string) (target string, ok bool) {
	if !strings.HasPrefix(name, ".") {
		return "", false
	}
	i := strings.LastIndex(name, tempMarker)
	if i <= 1 {
		return "", false
	}
	suffix := name[i+len(tempMarker):]
	if suffix == "" {
		return "", false
	}
	for _, c := range suffix {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return name[1:i], true
}

// Leftovers lists the temporary files in dir that an interrupted Write left
// behind, whose target base name matches the pattern (filepath.Match; "*"
// for all).
func Leftovers(dir, pattern string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		target, ok := IsTemp(e.Name())
		if !ok {
			continue
		}
		if m, err := filepath.Match(pattern, target); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", pattern, err)
		} else if m {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

// RemoveLeftovers removes the temporary files Leftovers lists and returns
// their paths. Only call it when no other process writes into dir.
func RemoveLeftovers(dir, pattern string) ([]string, error) {
	tmps, err := Leftovers(dir, pattern)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range tmps {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return tmps, errors.Join(errs...)
}

// MkdirAll creates dir and its parents with DirMode (subject to the umask).
func MkdirAll(dir string) error {
	return os.MkdirAll(dir, DirMode)
}
