package bfm

import (
	"math"
	"testing"
)

func TestComposeBFMAndTDDFA(t *testing.T) {
	id, err := ReadBFM2009("testdata/mat_bfm2009_z.mat")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := ReadTDDFAExpression("testdata/mat_tddfa_exp.mat", "testdata/mat_tddfa_map.mat", id.NumVertices())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compose(id, 5, ex, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumComponents() != 8 || c.Format != "composed" || c.Name != "mat_bfm2009_z+mat_tddfa_exp" {
		t.Fatalf("D %d format %s name %s", c.NumComponents(), c.Format, c.Name)
	}
	wantNames := []Component{{"shape_pc01", Identity}, {"shape_pc05", Identity}, {"expression_pc01", Expression}, {"expression_pc03", Expression}}
	got := []Component{c.Components[0], c.Components[4], c.Components[5], c.Components[7]}
	for i := range wantNames {
		if got[i] != wantNames[i] {
			t.Errorf("component %v, want %v", got[i], wantNames[i])
		}
	}
	// Mean = identity mean + mean expression displacement.
	for i := range c.Mean {
		if c.Mean[i] != id.Mean[i]+ex.Mean[i] {
			t.Fatalf("mean[%d] = %v, want %v", i, c.Mean[i], id.Mean[i]+ex.Mean[i])
		}
	}
	// Shape(alpha) equals the sum computed by hand.
	alpha := []float64{0.5, -1, 0, 0, 2, 1.5, 0, -0.25}
	s := c.Shape(alpha)
	for i := range s {
		want := id.Mean[i] + ex.Mean[i] + 0.5*id.Basis[0][i] - id.Basis[1][i] + 2*id.Basis[4][i] + 1.5*ex.Basis[0][i] - 0.25*ex.Basis[2][i]
		if math.Abs(s[i]-want) > 1e-12 {
			t.Fatalf("shape[%d] = %v, want %v", i, s[i], want)
		}
	}
	// The result owns its memory.
	c.Basis[0][0] += 1
	c.Triangles[0][0] = 99
	if c.Basis[0][0] == id.Basis[0][0] || id.Triangles[0][0] == 99 {
		t.Error("Compose aliases its input")
	}
}

func TestComposeEOSSelf(t *testing.T) {
	m, err := ReadEOS("testdata/eos_v2_pca.bin") // 3 identity + 2 expression
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compose(m, 2, m, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.NumComponents() != 3 || c.Components[2] != (Component{"expression_pc01", Expression}) {
		t.Fatalf("%v", c.Components)
	}
	for i := range c.Mean { // the same model: its mean is not added twice
		if c.Mean[i] != m.Mean[i] {
			t.Fatalf("mean[%d] %v != %v", i, c.Mean[i], m.Mean[i])
		}
	}
	idOnly, err := Compose(m, 3, nil, 0)
	if err != nil || idOnly.NumComponents() != 3 || idOnly.Name != m.Name {
		t.Fatalf("%v %v", idOnly, err)
	}
}

func TestComposeErrors(t *testing.T) {
	m, err := ReadEOS("testdata/eos_v2_pca.bin")
	if err != nil {
		t.Fatal(err)
	}
	bfm, err := ReadBFM2009("testdata/mat_bfm2009_raw.mat")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		id   *Model
		k1   int
		ex   *Model
		k2   int
		want string
	}{
		{m, 4, m, 1, "bfm: Compose: 4 identity components asked for, eos_v2_pca has 3"},
		{m, 1, m, 3, "bfm: Compose: 3 expression components asked for, eos_v2_pca has 2"},
		{m, 1, nil, 2, "bfm: Compose: 2 expression components asked for but no expression model given"},
		{m, -1, nil, 0, "bfm: Compose: component counts must be non-negative, got k1=-1 k2=0"},
		{bfm, 1, m, 1, "bfm: Compose: expression model eos_v2_pca has 12 vertices, identity model mat_bfm2009_raw has 40"},
	}
	for _, c := range cases {
		_, err := Compose(c.id, c.k1, c.ex, c.k2)
		if err == nil || err.Error() != c.want {
			t.Errorf("got  %v\nwant %s", err, c.want)
		}
	}
}
