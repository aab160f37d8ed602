//go:build cuda

package run

import (
	"fmt"
	"log/slog"
	"sync"

	"gorgonia.org/cu"
)

// cudaBuilt reports whether this binary was built with the cuda tag.
const cudaBuilt = true

// cudaDevice describes CUDA device 0 as probed once per process.
type cudaDevice struct {
	ok       bool
	name     string
	major    int
	minor    int
	memBytes int64
	err      error
}

// probeCUDADevice asks the driver for its devices. Any error (no driver, no
// device, a failed cuInit, which the patched gorgonia.org/cu reports through
// NumDevices) means "no device"; it never panics or exits.
func probeCUDADevice() cudaDevice {
	n, err := cu.NumDevices()
	if err != nil {
		return cudaDevice{err: fmt.Errorf("counting CUDA devices: %w", err)}
	}
	if n < 1 {
		return cudaDevice{err: fmt.Errorf("the CUDA driver reports no devices")}
	}
	dev, err := cu.GetDevice(0)
	if err != nil {
		return cudaDevice{err: fmt.Errorf("CUDA device 0: %w", err)}
	}
	d := cudaDevice{ok: true}
	if d.name, err = dev.Name(); err != nil {
		d.name = "unknown"
	}
	if d.major, d.minor, err = dev.ComputeCapability(); err != nil {
		d.major, d.minor = -1, -1
	}
	if d.memBytes, err = dev.TotalMem(); err != nil {
		d.memBytes = -1
	}
	return d
}

// cudaProbe probes and logs the device once: the hardware does not change
// while the process runs.
var cudaProbe = sync.OnceValue(func() cudaDevice {
	d := probeCUDADevice()
	if d.ok {
		slog.Info("CUDA device", "index", 0, "name", d.name,
			"compute_capability", fmt.Sprintf("%d.%d", d.major, d.minor),
			"memory_gib", fmt.Sprintf("%.1f", float64(d.memBytes)/(1<<30)))
	} else {
		slog.Info("no usable CUDA device; running on the CPU", "reason", d.err)
	}
	return d
})

// cudaAvailable reports whether a CUDA device can be used.
func cudaAvailable() bool { return cudaProbe().ok }
