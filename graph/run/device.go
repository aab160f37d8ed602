package run

import (
	"fmt"

	"github.com/stn3d/stn3d/ops"
)

// SelectDevice resolves the configured device ("auto", "cpu", "cuda") to
// the one this binary will use. A request for CUDA in a binary built without
// it (the default build; see `make cuda`) is an error, never a crash.
func SelectDevice(want string) (string, error) {
	switch want {
	case "", "auto", "cpu":
		if want != "cpu" && cudaAvailable() {
			return "cuda", nil
		}
		return "cpu", nil
	case "cuda":
		if !cudaBuilt {
			return "", fmt.Errorf("device \"cuda\" requested but this binary was built without CUDA support (build it with `make cuda` on a machine with the CUDA toolkit, or set device: cpu)")
		}
		if !cudaAvailable() {
			return "", fmt.Errorf("device \"cuda\" requested but no CUDA device was found")
		}
		return "cuda", nil
	}
	return "", fmt.Errorf("device %q: expected auto, cpu or cuda", want)
}

// BLASName names the BLAS implementation in use ("gonum" or "openblas").
func BLASName() string { return blasName() }

// blasName reports the BLAS in use (ops.BLASName).
func blasName() string { return ops.BLASName() }
