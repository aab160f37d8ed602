package dataset

import (
	"fmt"
	"math"
)

// Mix is the Source of A's samples with B's mixed in: of its Len()
// indices a fraction FracB (spread evenly: index i is B's when
// floor((i+1) FracB) > floor(i FracB)) are B's samples, in order and
// cycling when B is shorter, and the others are every sample of A once,
// in order. Fine-tuning mixes rendered faces (B) into photographs (A).
type Mix struct {
	A, B  Source
	FracB float64
	n     int
}

// NewMix checks the fraction (in [0, 1)) and sizes the mix.
func NewMix(a, b Source, fracB float64) (*Mix, error) {
	if !(fracB >= 0 && fracB < 1) {
		return nil, fmt.Errorf("dataset: mix: fraction %v, want in [0, 1)", fracB)
	}
	if a.Len() == 0 {
		return nil, fmt.Errorf("dataset: mix: the first source is empty")
	}
	if fracB > 0 && b.Len() == 0 {
		return nil, fmt.Errorf("dataset: mix: fraction %v of an empty source", fracB)
	}
	m := &Mix{A: a, B: b, FracB: fracB}
	n := int(math.Ceil(float64(a.Len()) / (1 - fracB)))
	for n-m.countB(n) < a.Len() {
		n++
	}
	for n > 0 && n-1-m.countB(n-1) >= a.Len() {
		n--
	}
	m.n = n
	return m, nil
}

// countB is the number of B samples among the first i indices.
func (m *Mix) countB(i int) int { return int(math.Floor(float64(i) * m.FracB)) }

// Len is the fewest indices that hold every sample of A (about
// A.Len() / (1 - FracB)).
func (m *Mix) Len() int { return m.n }

// Sample returns sample i of the mix.
func (m *Mix) Sample(i int) (Sample, error) {
	if i < 0 || i >= m.n {
		return Sample{}, fmt.Errorf("dataset: mix sample %d out of range [0, %d)", i, m.n)
	}
	before, upto := m.countB(i), m.countB(i+1)
	if upto > before {
		return m.B.Sample(before % m.B.Len())
	}
	return m.A.Sample(i - before)
}
