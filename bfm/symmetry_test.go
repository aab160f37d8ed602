package bfm

import (
	"math"
	"strings"
	"testing"
)

func TestMirrorPairsGeometry(t *testing.T) {
	s := newSymMesh(5, 6, true, 2)
	pairs, err := MirrorPairs(s.m)
	if err != nil {
		t.Fatal(err)
	}
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			if got, want := pairs[s.id(c, r)], s.id(-c, r); got != want {
				t.Fatalf("pair of (%d,%d) = %d, want %d", c, r, got, want)
			}
		}
	}
	a, err := Asymmetry(s.m, pairs)
	if err != nil || a != 0 {
		t.Errorf("asymmetry %v, %v, want exactly 0", a, err)
	}
	// Moving one vertex by delta in y makes it and its mirror differ by
	// delta: RMS = sqrt(2 delta^2 / V).
	const delta = 0.3
	s.m.Mean[3*s.id(2, 1)+1] += delta
	pairs, err = MirrorPairs(s.m)
	if err != nil {
		t.Fatal(err)
	}
	a, _ = Asymmetry(s.m, pairs)
	if want := math.Sqrt(2 * delta * delta / float64(s.m.NumVertices())); math.Abs(a-want) > 1e-12 {
		t.Errorf("asymmetry %v, want %v", a, want)
	}
	if _, err := Asymmetry(s.m, pairs[:3]); err == nil {
		t.Error("short pairs: want an error")
	}
}

func TestMirrorPairsUVFallback(t *testing.T) {
	s := newSymMesh(4, 4, false, 3)
	s.m.Mean[3*s.id(3, 2)+2] += 40 // no geometric partner any more
	if _, err := MirrorPairs(s.m); err == nil || !strings.Contains(err.Error(), "no mirrored vertex within") {
		t.Fatalf("geometry only: err = %v", err)
	}
	s.m.UV = make([][2]float64, s.m.NumVertices())
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			u := 0.5 + 0.1*float64(c)
			if c < 0 {
				u = 1 - (0.5 + 0.1*float64(-c))
			}
			s.m.UV[s.id(c, r)] = [2]float64{u, 0.5 + 0.1*float64(r)}
		}
	}
	pairs, err := MirrorPairs(s.m)
	if err != nil {
		t.Fatal(err)
	}
	for r := -s.R; r <= s.R; r++ {
		for c := -s.C; c <= s.C; c++ {
			if pairs[s.id(c, r)] != s.id(-c, r) {
				t.Fatalf("UV pair of (%d,%d) = %d, want %d", c, r, pairs[s.id(c, r)], s.id(-c, r))
			}
		}
	}
	s.m.UV[s.id(2, 2)][0] += 0.01
	_, err = MirrorPairs(s.m)
	if err == nil || !strings.Contains(err.Error(), "no vertex at (1-u, v)") || !strings.Contains(err.Error(), "by geometry") {
		t.Errorf("asymmetric UVs: err = %v, want both routes reported", err)
	}
}

func TestMirrorPairsNotMutual(t *testing.T) {
	// Three vertices on a line: 0 at x=-1, 1 at x=0.9, 2 at x=1.05. The
	// reflections of 1 and 2 both land nearest to 0, but 0 picks 2.
	m := &Model{Name: "line", Mean: []float64{-1, 0, 0, 0.9, 0, 0, 1.05, 0, 0}, Triangles: [][3]int32{{0, 1, 2}}}
	_, err := MirrorPairsGeometry(m, 0.5)
	if err == nil || !strings.Contains(err.Error(), "not mutual matches (vertex 1 -> 0 -> 2)") {
		t.Errorf("err = %v", err)
	}
}
