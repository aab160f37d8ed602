package bfm

import (
	"fmt"
	"maps"
)

// Compose builds the shape model of Bas et al. 2017 (Sec. 3, Eq. 1 with
// D = K1 + K2): the first k1 identity components of id followed by the first
// k2 expression components of expr (the paper uses 5 + 5), every basis
// vector already scaled to unit-variance weights, so
//
//	S = Mean + sum_{d<k1} alpha_d P_id[d] + sum_{e<k2} beta_e P_expr[e],  alpha, beta ~ N(0, I).
//
// expr may be id itself (an eos model whose file carries an expression
// model) or a separate expression model on the same vertices: a pure
// expression model (no identity components: 3DDFA, blendshapes) has a Mean
// that is a mean expression displacement, and it is added to id's mean; a
// model with identity components has a face as its mean, which is not added.
// expr may be nil when k2 is 0. Components keep their names and kinds; the
// mesh, UVs, albedo and landmarks come from id. The returned model shares no
// memory with its inputs.
func Compose(id *Model, k1 int, expr *Model, k2 int) (*Model, error) {
	if id == nil {
		return nil, fmt.Errorf("bfm: Compose: nil identity model")
	}
	if k1 < 0 || k2 < 0 {
		return nil, fmt.Errorf("bfm: Compose: component counts must be non-negative, got k1=%d k2=%d", k1, k2)
	}
	if k2 > 0 && expr == nil {
		return nil, fmt.Errorf("bfm: Compose: %d expression components asked for but no expression model given", k2)
	}
	idIdx := componentsOfKind(id, Identity)
	if k1 > len(idIdx) {
		return nil, fmt.Errorf("bfm: Compose: %d identity components asked for, %s has %d", k1, id.Name, len(idIdx))
	}
	var exIdx []int
	if expr != nil {
		exIdx = componentsOfKind(expr, Expression)
		if k2 > len(exIdx) {
			return nil, fmt.Errorf("bfm: Compose: %d expression components asked for, %s has %d", k2, expr.Name, len(exIdx))
		}
		if len(expr.Mean) != len(id.Mean) {
			return nil, fmt.Errorf("bfm: Compose: expression model %s has %d vertices, identity model %s has %d",
				expr.Name, expr.NumVertices(), id.Name, id.NumVertices())
		}
		if expr.Units != id.Units {
			return nil, fmt.Errorf("bfm: Compose: expression model %s is in %q, identity model %s in %q", expr.Name, expr.Units, id.Name, id.Units)
		}
	}
	out := &Model{
		Name:      id.Name,
		Format:    "composed",
		Source:    id.Source,
		Units:     id.Units,
		Mean:      append([]float64(nil), id.Mean...),
		Triangles: append([][3]int32(nil), id.Triangles...),
		UV:        append([][2]float64(nil), id.UV...),
		Albedo:    append([][3]float64(nil), id.Albedo...),
	}
	if len(id.Landmarks) > 0 {
		out.Landmarks = make(map[string][]int, len(id.Landmarks))
		for k, v := range maps.All(id.Landmarks) {
			out.Landmarks[k] = append([]int(nil), v...)
		}
	}
	names := map[string]bool{}
	add := func(m *Model, d int) error {
		c := Component{Name: fmt.Sprintf("pc%02d", d+1), Kind: Identity}
		if d < len(m.Components) {
			c = m.Components[d]
		}
		if names[c.Name] {
			return fmt.Errorf("bfm: Compose: component name %q appears twice", c.Name)
		}
		names[c.Name] = true
		out.Basis = append(out.Basis, append([]float64(nil), m.Basis[d]...))
		out.Components = append(out.Components, c)
		return nil
	}
	for _, d := range idIdx[:k1] {
		if err := add(id, d); err != nil {
			return nil, err
		}
	}
	if expr != nil && k2 > 0 {
		out.Name = id.Name + "+" + expr.Name
		if expr != id && len(componentsOfKind(expr, Identity)) == 0 {
			for i, v := range expr.Mean {
				out.Mean[i] += v
			}
		}
		for _, d := range exIdx[:k2] {
			if err := add(expr, d); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// componentsOfKind lists the indices of m's components of the given kind, in
// order. Components without a recorded kind count as identity.
func componentsOfKind(m *Model, kind ComponentKind) []int {
	var out []int
	for d := range m.Basis {
		k := Identity
		if d < len(m.Components) && m.Components[d].Kind != "" {
			k = m.Components[d].Kind
		}
		if k == kind {
			out = append(out, d)
		}
	}
	return out
}
