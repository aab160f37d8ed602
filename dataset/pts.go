package dataset

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// ReadPTS reads a 300-W / iBUG .pts landmark file:
//
//	version: 1
//	n_points:  68
//	{
//	x y
//	...
//	}
//
// The file's coordinates are 1-based (the centre of the top-left pixel is
// (1, 1)); the returned points are 0-based, (x-1, y-1). Errors name the file
// and line.
func ReadPTS(path string) ([][2]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: read pts: %w", err)
	}
	defer f.Close()
	return ParsePTS(f, path)
}

// ParsePTS parses .pts text from r (see ReadPTS); name is used in errors.
// Header lines other than "n_points" (such as "version") are accepted, blank
// lines are ignored, and n_points must equal the number of points.
func ParsePTS(r io.Reader, name string) ([][2]float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	line := 0
	want := -1
	inPoints, closed := false, false
	var pts [][2]float64
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if line == 1 {
			s = strings.TrimPrefix(s, "\ufeff")
		}
		switch {
		case s == "":
			continue
		case closed:
			return nil, fmt.Errorf("dataset: %s:%d: text %q after closing brace", name, line, s)
		case !inPoints && s == "{":
			if want < 0 {
				return nil, fmt.Errorf("dataset: %s:%d: '{' before the n_points header", name, line)
			}
			inPoints = true
		case !inPoints:
			key, val, ok := strings.Cut(s, ":")
			if !ok {
				return nil, fmt.Errorf("dataset: %s:%d: header line %q: want \"key: value\"", name, line, s)
			}
			if strings.TrimSpace(key) == "n_points" {
				n, err := strconv.Atoi(strings.TrimSpace(val))
				if err != nil || n <= 0 || n > 100000 {
					return nil, fmt.Errorf("dataset: %s:%d: n_points %q: want a positive integer", name, line, strings.TrimSpace(val))
				}
				want = n
				pts = make([][2]float64, 0, n)
			}
		case s == "}":
			inPoints, closed = false, true
		default:
			fields := strings.Fields(s)
			if len(fields) != 2 {
				return nil, fmt.Errorf("dataset: %s:%d: point %q: want two numbers \"x y\"", name, line, s)
			}
			var p [2]float64
			for k, fs := range fields {
				v, err := strconv.ParseFloat(fs, 64)
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("dataset: %s:%d: coordinate %q: want a finite number", name, line, fs)
				}
				p[k] = v - 1
			}
			if len(pts) == want {
				return nil, fmt.Errorf("dataset: %s:%d: more than n_points = %d points", name, line, want)
			}
			pts = append(pts, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset: %s:%d: %w", name, line, err)
	}
	if want < 0 {
		return nil, fmt.Errorf("dataset: %s: no n_points header", name)
	}
	if !closed {
		return nil, fmt.Errorf("dataset: %s: missing closing '}' after %d points", name, len(pts))
	}
	if len(pts) != want {
		return nil, fmt.Errorf("dataset: %s: %d points, n_points says %d", name, len(pts), want)
	}
	return pts, nil
}

// FormatPTS encodes 0-based points as .pts text (1-based on disk, see
// ReadPTS) with six decimals.
func FormatPTS(pts [][2]float64) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "version: 1\nn_points:  %d\n{\n", len(pts))
	for _, p := range pts {
		fmt.Fprintf(&b, "%.6f %.6f\n", p[0]+1, p[1]+1)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// WritePTS writes 0-based points to path as a .pts file, atomically.
func WritePTS(path string, pts [][2]float64) error {
	if err := atomicfile.WriteFile(path, FormatPTS(pts)); err != nil {
		return fmt.Errorf("dataset: write pts: %w", err)
	}
	return nil
}
