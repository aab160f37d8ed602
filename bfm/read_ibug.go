package bfm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadIBUGMapping reads an eos landmark mapping file such as ibug_to_sfm.txt:
// TOML whose [landmark_mappings] table maps 1-based iBUG point numbers to
// 0-based model vertex indices ("31 = 114  # nose-tip"). It returns 68
// entries (0-based iBUG order) with -1 for points the file leaves out. Other
// tables (e.g. [contour_landmarks]) are ignored. Only the subset of TOML such
// files use is understood: bare integer keys and integer values.
func ReadIBUGMapping(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading landmark mapping: %w", err)
	}
	return parseIBUGMapping(b, path)
}

func parseIBUGMapping(b []byte, path string) ([]int, error) {
	out := make([]int, 68)
	for i := range out {
		out[i] = -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	table, found, line := "", 0, 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && !strings.Contains(s, "=") {
			table = strings.TrimSpace(strings.Trim(s, "[]"))
			continue
		}
		if table != "landmark_mappings" {
			continue
		}
		field := fmt.Sprintf("line %d", line)
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, formatErr(path, -1, field, "key = value", "%q", s)
		}
		key, err := strconv.Atoi(strings.Trim(strings.TrimSpace(k), `"`))
		if err != nil || key < 1 || key > 68 {
			return nil, formatErr(path, -1, field, "an iBUG point number 1..68 as key", "%q", strings.TrimSpace(k))
		}
		val, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || val < 0 {
			return nil, formatErr(path, -1, field, "a non-negative vertex index", "%q", strings.TrimSpace(v))
		}
		if out[key-1] != -1 {
			return nil, formatErr(path, -1, field, fmt.Sprintf("iBUG point %d defined once", key), "a second definition")
		}
		out[key-1] = val
		found++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bfm: reading %s: %w", path, err)
	}
	if found == 0 {
		return nil, formatErr(path, -1, "[landmark_mappings]", "a table of iBUG point = vertex lines", "none")
	}
	return out, nil
}

// SetIBUGLandmarks stores a mapping read by ReadIBUGMapping as
// m.Landmarks["ibug68"], after checking every index against the model.
func SetIBUGLandmarks(m *Model, mapping []int, source string) error {
	if len(mapping) != 68 {
		return formatErr(source, -1, "landmark mapping", "68 entries", "%d", len(mapping))
	}
	for i, v := range mapping {
		if v >= m.NumVertices() {
			return formatErr(source, -1, fmt.Sprintf("iBUG point %d", i+1), fmt.Sprintf("a vertex index below %d (model %s)", m.NumVertices(), m.Name), "%d", v)
		}
	}
	if m.Landmarks == nil {
		m.Landmarks = map[string][]int{}
	}
	m.Landmarks[SchemeIBUG68] = append([]int(nil), mapping...)
	return nil
}
