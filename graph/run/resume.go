package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// ErrConfigChanged reports a resume whose configuration differs from the
// run's config.yaml in keys that change the results.
var ErrConfigChanged = errors.New("the configuration differs from the run's")

// RunFiles lists what a run left in the directory: config.yaml,
// model.grid, metrics.jsonl, best.ckpt, the step checkpoints and the
// temporary files of interrupted writes of any of them. A directory that
// does not exist holds none.
func (d RunDir) RunFiles() ([]string, error) {
	ents, err := os.ReadDir(string(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	var out []string
	for _, e := range ents {
		name := e.Name()
		if target, ok := atomicfile.IsTemp(name); ok {
			name = target
		}
		if !e.IsDir() && isRunFile(name) {
			out = append(out, filepath.Join(string(d), e.Name()))
		}
	}
	return out, nil
}

// isRunFile reports whether base is the name of a file Train writes.
func isRunFile(base string) bool {
	switch base {
	case RunConfigFile, RunGridFile, RunMetricsFile, RunBestFile:
		return true
	}
	ok, err := filepath.Match("ckpt-*.ckpt", base)
	return err == nil && ok
}

// baseNames returns the base names of paths, for messages.
func baseNames(paths []string) string {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	return strings.Join(names, ", ")
}

// truncateMetrics rewrites the metrics log atomically without the records
// of steps after step (a resumed run logs them again), and without a last
// line that an interrupted write left incomplete. Lines that are not JSON
// objects with a step are kept as they are. It returns the number of
// records dropped; a missing log is no error.
func truncateMetrics(path string, step int) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("metrics log: %w", err)
	}
	var keep bytes.Buffer
	dropped := 0
	for len(data) > 0 {
		line := data
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			dropped++ // no newline: the write of this line was cut short
			break
		}
		line, data = data[:i+1], data[i+1:]
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Step != nil && *rec.Step > step {
			dropped++
			continue
		}
		keep.Write(line)
	}
	if dropped == 0 {
		return 0, nil
	}
	if err := atomicfile.WriteFile(path, keep.Bytes()); err != nil {
		return 0, fmt.Errorf("metrics log: %w", err)
	}
	return dropped, nil
}

// ConfigChange is one key whose value differs between two configurations.
type ConfigChange struct {
	Key      string
	Old, New string
}

func (c ConfigChange) String() string { return fmt.Sprintf("%s %s -> %s", c.Key, c.Old, c.New) }

// resumeSafeKeys are the keys a resumed run may change: where and how
// often it logs, validates and checkpoints, how many workers load the
// data, the device, the evaluation settings, and its length train.steps
// (extending a run is what --resume is for; with a step or cosine schedule
// the learning rate of the remaining steps then follows the new length,
// which is logged as a warning). Every other key (the model, the data,
// the losses, the solver and its schedule, the batch, the seed) changes
// what the remaining steps compute.
var resumeSafeKeys = map[string]bool{
	"train.steps": true,
	"device":      true, "data.workers": true, "data.prefetch": true, "data.max_bad_fraction": true,
	"train.log_every": true, "train.val_every": true, "train.checkpoint_every": true,
	"train.keep_last": true, "train.val_images": true, "train.out": true,
	"eval.panels": true, "eval.batch": true,
}

// configChanges lists the keys whose values differ between old and new,
// in key order, split into those a resume may change (resumeSafeKeys) and
// the others.
func configChanges(old, new Config) (safe, altering []ConfigChange) {
	a, b := map[string]string{}, map[string]string{}
	flattenConfig(a, "", reflect.ValueOf(old))
	flattenConfig(b, "", reflect.ValueOf(new))
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if a[k] == b[k] {
			continue
		}
		c := ConfigChange{Key: k, Old: a[k], New: b[k]}
		if resumeSafeKeys[k] {
			safe = append(safe, c)
		} else {
			altering = append(altering, c)
		}
	}
	return safe, altering
}

// flattenConfig records every leaf of a config struct by its yaml key
// path, formatted with FormatValue.
func flattenConfig(m map[string]string, prefix string, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct {
			flattenConfig(m, key, f)
			continue
		}
		if f.Kind() == reflect.String {
			m[key] = fmt.Sprintf("%q", f.String())
			continue
		}
		m[key] = FormatValue(f.Interface())
	}
}

// joinChanges formats changes for a message.
func joinChanges(cs []ConfigChange) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// changesRecord is the metrics-log form of config changes: key -> [old, new].
func changesRecord(cs []ConfigChange) map[string][2]string {
	m := make(map[string][2]string, len(cs))
	for _, c := range cs {
		m[c.Key] = [2]string{c.Old, c.New}
	}
	return m
}
