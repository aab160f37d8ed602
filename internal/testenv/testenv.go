// Package testenv locates the repository and the shared data for tests.
//
// The shared data (a real face model, reference files and photographs,
// never copied into the repository for licence reasons) lives in
// <repository root>/../shared, or wherever $STN3D_SHARED points. Tests that
// need it call Shared, which skips the test with a message naming the
// folder when it is absent.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// RepoRoot returns the directory holding go.mod above the working
// directory (a package's tests run in the package's folder).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// Config returns the path of configs/NAME in the repository.
func Config(tb testing.TB, name string) string {
	tb.Helper()
	return filepath.Join(RepoRoot(tb), "configs", name)
}

// SharedDir returns the shared data folder ($STN3D_SHARED, else
// <repo>/../shared) without checking that it exists.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("STN3D_SHARED"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(tb), "..", "shared")
}

// Shared returns the path of rel inside the shared data folder, skipping
// the test with a clear message when it is absent.
func Shared(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(SharedDir(tb), rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared data %s absent (needs ../shared next to the repository, or set STN3D_SHARED): %v", p, err)
	}
	return p
}
