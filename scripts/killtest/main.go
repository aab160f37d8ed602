// Command killtest compares a training run that was killed and resumed
// with an uninterrupted one (scripts/killtest.sh): the same step
// checkpoints and best.ckpt byte for byte, the same metrics log but for
// its wall-clock fields (images_per_s, elapsed_s), and no temporary file
// of an interrupted write left in the run folder.
//
//	go run ./scripts/killtest REFERENCE_RUN KILLED_RUN
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: killtest REFERENCE_RUN KILLED_RUN")
		os.Exit(2)
	}
	problems, err := compare(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "killtest:", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Println("DIFFERS:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	fmt.Println("same checkpoints, best.ckpt and metrics as the uninterrupted run; no temporary files")
}

// compare lists how run differs from ref.
func compare(ref, run string) ([]string, error) {
	var problems []string
	refCk, err := filepath.Glob(filepath.Join(ref, "ckpt-*.ckpt"))
	if err != nil {
		return nil, err
	}
	runCk, err := filepath.Glob(filepath.Join(run, "ckpt-*.ckpt"))
	if err != nil {
		return nil, err
	}
	names := func(ps []string) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			out[i] = filepath.Base(p)
		}
		slices.Sort(out)
		return out
	}
	if a, b := names(refCk), names(runCk); !slices.Equal(a, b) || len(a) == 0 {
		problems = append(problems, fmt.Sprintf("checkpoints %v, uninterrupted %v", b, a))
	}
	for _, n := range append(names(refCk), "best.ckpt", "config.yaml", "model.grid") {
		a, err := os.ReadFile(filepath.Join(ref, n))
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile(filepath.Join(run, n))
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if !bytes.Equal(a, b) {
			problems = append(problems, n+": contents differ")
		}
	}
	a, err := metrics(filepath.Join(ref, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	b, err := metrics(filepath.Join(run, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(a) != len(b) {
		problems = append(problems, fmt.Sprintf("metrics.jsonl: %d records, uninterrupted %d", len(b), len(a)))
	}
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			problems = append(problems, fmt.Sprintf("metrics.jsonl record %d: %v, uninterrupted %v", i+1, b[i], a[i]))
			break
		}
	}
	left, err := atomicfile.Leftovers(run, "*")
	if err != nil {
		return nil, err
	}
	if len(left) > 0 {
		problems = append(problems, fmt.Sprintf("temporary files left: %v", left))
	}
	return problems, nil
}

// metrics reads a metrics log without its wall-clock fields.
func metrics(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		delete(r, "images_per_s")
		delete(r, "elapsed_s")
		out = append(out, r)
	}
	return out, nil
}
