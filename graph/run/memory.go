package run

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// perImageBytes is about the least memory one image of a batch takes in a
// training step (forward, backward and optimiser) and in an inference
// pass, per localiser: activations and their gradients, the STN's
// sampling grid and texture. Measured on the benchmarks (README, Speed)
// and rounded down, so that the check below refuses only batches that
// cannot fit.
var perImageBytes = map[string]struct{ train, infer float64 }{
	"small":   {train: 6 << 20, infer: 2 << 20},
	"vggface": {train: 200 << 20, infer: 60 << 20},
}

// checkBatchMemory refuses a batch size whose memory estimate exceeds the
// machine's memory (or the cgroup limit of the process), before anything
// of that size is allocated, with a message naming key. training adds the
// batcher's prefetch+1 input buffers.
func checkBatchMemory(key string, batch int, cfg Config, training bool, prefetch int) error {
	if batch < 1 {
		return fmt.Errorf("%s = %d: want >= 1", key, batch)
	}
	per, ok := perImageBytes[cfg.Localiser.Arch]
	if !ok {
		return nil // the network builder names the unknown architecture
	}
	img := per.infer
	if training {
		img = per.train
	}
	input := float64(3*cfg.Localiser.Input*cfg.Localiser.Input) * 4
	if training {
		img += float64(prefetch+1) * input
	} else {
		img += input
	}
	need := float64(batch) * img
	have, where := machineMemory()
	if have == 0 || need <= float64(have) {
		return nil
	}
	what := "an inference pass"
	if training {
		what = "a training step"
	}
	return fmt.Errorf("%s = %d: %s needs about %s (%s an image with localiser %s), more than the %s of %s",
		key, batch, what, bytesString(need), bytesString(img), cfg.Localiser.Arch, bytesString(float64(have)), where)
}

// machineMemory returns the memory the process may use: the smallest of
// the machine's total and the cgroup limit, and what it is; 0 if unknown.
func machineMemory() (uint64, string) {
	var have uint64
	where := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
					have, where = kb<<10, "memory of this machine"
				}
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		lim, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
		if err == nil && lim > 0 && (have == 0 || lim < have) {
			have, where = lim, "memory limit of this process's cgroup ("+p+")"
		}
	}
	return have, where
}

// bytesString formats a byte count with a binary unit.
func bytesString(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
