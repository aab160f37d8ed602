package graph_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryDependencies keeps graph a library that a recognition network
// can import for BuildSTN without the application: no YAML, no SQLite (the
// AFLW reader), no image datasets or resizers, no run folders.
func TestLibraryDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"gopkg.in/yaml",
		"modernc.org/sqlite",
		"github.com/nfnt/resize",
		"github.com/stn3d/stn3d/dataset",
		"github.com/stn3d/stn3d/graph/run",
		"image/jpeg",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %d packages, want the dependency list", len(deps))
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if d == f || strings.HasPrefix(d, f+"/") {
				t.Errorf("graph depends on %s", d)
			}
		}
	}
}
