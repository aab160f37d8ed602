//go:build !cuda

package run

// cudaBuilt reports whether this binary was built with the cuda tag.
const cudaBuilt = false

func cudaAvailable() bool { return false }
