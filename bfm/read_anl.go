package bfm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ReadANL reads a .anl landmark index file of the 3DMM-STN reference: lines
// starting with '%' are comments, every other non-blank line holds one
// 1-based vertex index. It returns the 0-based indices in file order.
func ReadANL(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading landmark indices: %w", err)
	}
	return parseANL(b, path)
}

// parseANL is ReadANL on the file's bytes; path names it in errors.
func parseANL(b []byte, path string) ([]int, error) {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "%") {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return nil, formatErr(path, -1, fmt.Sprintf("line %d", line), "a 1-based vertex index (integer >= 1)", "%q", s)
		}
		out = append(out, v-1)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bfm: reading %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, formatErr(path, -1, "", "at least one vertex index", "none")
	}
	return out, nil
}

// ReadANLScheme reads a .anl file and names its scheme from the count: 21
// indices are "aflw21", 68 are "ibug68"; any other count is an error.
func ReadANLScheme(path string) (scheme string, idx []int, err error) {
	idx, err = ReadANL(path)
	if err != nil {
		return "", nil, err
	}
	for _, s := range Schemes() {
		if SchemeSize(s) == len(idx) {
			return s, idx, nil
		}
	}
	return "", nil, formatErr(path, -1, "", "21 (aflw21) or 68 (ibug68) indices", "%d", len(idx))
}
