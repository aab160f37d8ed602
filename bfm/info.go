package bfm

import (
	"fmt"
	"math"
	"sort"
)

// BBox is an axis-aligned bounding box in model units.
type BBox struct {
	Min [3]float64 `json:"min"`
	Max [3]float64 `json:"max"`
}

// Summary describes a model for `stn3d model info` (JSON keys are fixed).
type Summary struct {
	Format          string      `json:"format"`
	Path            string      `json:"path"`
	Vertices        int         `json:"vertices"`
	Triangles       int         `json:"triangles"`
	Components      []Component `json:"components"`
	NumComponents   int         `json:"num_components"`
	HasUV           bool        `json:"has_uv"`
	LandmarkSchemes []string    `json:"landmark_schemes"`
	Units           string      `json:"units"`
	BBox            BBox        `json:"bbox"`
}

// Info loads the model at path (see Load) and summarises it.
func Info(path string) (*Summary, error) {
	m, err := Load(path)
	if err != nil {
		return nil, err
	}
	for i, x := range m.Mean {
		if !finite(x) {
			return nil, formatErr(path, -1, fmt.Sprintf("vertex %d", i/3), "finite coordinates", "%v", x)
		}
	}
	s := Summarize(m)
	s.Path = path
	return s, nil
}

// Summarize describes m: counts, components, landmark schemes (sorted) and
// the bounding box of the mean shape. Lists are never nil, so JSON shows [].
func Summarize(m *Model) *Summary {
	s := &Summary{
		Format:          m.Format,
		Path:            m.Source,
		Vertices:        m.NumVertices(),
		Triangles:       len(m.Triangles),
		Components:      make([]Component, m.NumComponents()),
		NumComponents:   m.NumComponents(),
		HasUV:           len(m.UV) == m.NumVertices() && len(m.UV) > 0,
		LandmarkSchemes: []string{},
		Units:           m.Units,
	}
	for d := range s.Components {
		if d < len(m.Components) {
			s.Components[d] = m.Components[d]
		}
	}
	for k := range m.Landmarks {
		s.LandmarkSchemes = append(s.LandmarkSchemes, k)
	}
	sort.Strings(s.LandmarkSchemes)
	if m.NumVertices() > 0 {
		for c := 0; c < 3; c++ {
			s.BBox.Min[c], s.BBox.Max[c] = math.Inf(1), math.Inf(-1)
		}
		for v := 0; v < m.NumVertices(); v++ {
			for c := 0; c < 3; c++ {
				x := m.Mean[3*v+c]
				s.BBox.Min[c] = math.Min(s.BBox.Min[c], x)
				s.BBox.Max[c] = math.Max(s.BBox.Max[c], x)
			}
		}
	}
	return s
}
