package dataset

import (
	"strings"
	"testing"
)

// nameSource names sample i "<prefix>i".
type nameSource struct {
	prefix string
	n      int
}

func (s nameSource) Len() int { return s.n }
func (s nameSource) Sample(i int) (Sample, error) {
	return Sample{Name: s.prefix + string(rune('0'+i%10)) + string(rune('a'+i/10))}, nil
}

func TestMix(t *testing.T) {
	a, b := nameSource{"a", 6}, nameSource{"b", 2}
	m, err := NewMix(a, b, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	// 6 of A with a quarter of B: 7 indices (the fewest that hold every A
	// sample), B at index 3 (floor((i+1)/4) steps).
	var got []string
	for i := 0; i < m.Len(); i++ {
		s, err := m.Sample(i)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s.Name)
	}
	if want := "a0a a1a a2a b0a a3a a4a a5a"; strings.Join(got, " ") != want {
		t.Errorf("mix %v, want %s", got, want)
	}
	// Every A sample exactly once for many fractions and sizes; B cycles.
	for _, f := range []float64{0, 0.1, 0.3, 0.5, 0.77} {
		for _, na := range []int{1, 5, 37} {
			m, err := NewMix(nameSource{"a", na}, nameSource{"b", 3}, f)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]int{}
			nb := 0
			for i := 0; i < m.Len(); i++ {
				s, _ := m.Sample(i)
				if s.Name[0] == 'a' {
					seen[s.Name]++
				} else {
					nb++
				}
			}
			if len(seen) != na {
				t.Errorf("f %v, %d A samples: %d distinct A samples seen", f, na, len(seen))
			}
			for n, c := range seen {
				if c != 1 {
					t.Errorf("f %v: %s seen %d times", f, n, c)
				}
			}
			if got := float64(nb) / float64(m.Len()); f > 0 && na == 37 && (got < f-0.05 || got > f+0.05) {
				t.Errorf("f %v: B fraction %v", f, got)
			}
		}
	}
	if _, err := NewMix(a, b, 1); err == nil || !strings.Contains(err.Error(), "want in [0, 1)") {
		t.Errorf("fraction 1: %v", err)
	}
	if _, err := m.Sample(8); err == nil {
		t.Error("out of range accepted")
	}
}
