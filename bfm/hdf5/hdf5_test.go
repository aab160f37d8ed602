package hdf5

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const testdata = "../testdata"

// expectation is one dataset's entry in h5_expected.json (written by
// scripts/make_h5_fixtures.py from the arrays h5py stored).
type expectation struct {
	Shape   []int             `json:"shape"`
	Values  []json.RawMessage `json:"values"`
	Strings []string          `json:"strings"`
}

func loadExpected(t testing.TB) map[string]map[string]expectation {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "h5_expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	decode := func(name string) map[string]expectation {
		var m map[string]expectation
		if err := json.Unmarshal(raw[name], &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}
	// Per file: the shared expectations ("_model" or "_types") overlaid
	// with the file's own entries.
	out := map[string]map[string]expectation{}
	for name := range raw {
		if strings.HasPrefix(name, "_") {
			continue
		}
		base := "_types"
		if strings.HasPrefix(name, "h5_bfm2017_") {
			base = "_model"
		}
		m := decode(base)
		for k, v := range decode(name) {
			m[k] = v
		}
		out[name] = m
	}
	return out
}

// value decodes a JSON number or one of the strings "+Inf", "-Inf", "-0".
func value(t *testing.T, r json.RawMessage) float64 {
	t.Helper()
	switch string(r) {
	case `"+Inf"`:
		return math.Inf(1)
	case `"-Inf"`:
		return math.Inf(-1)
	case `"-0"`:
		return math.Copysign(0, -1)
	}
	var v float64
	if err := json.Unmarshal(r, &v); err != nil {
		t.Fatalf("bad expected value %s", r)
	}
	return v
}

// knownUnsupported lists fixture datasets this package refuses, with the
// expected error text.
var knownUnsupported = map[string]string{
	// Every layout the fixtures hold is read; entries would look like
	// "file.h5:/path": "error text".
}

func TestFixturesExact(t *testing.T) {
	exp := loadExpected(t)
	if len(exp) < 7 {
		t.Fatalf("expected file lists %d fixtures, want at least 7", len(exp))
	}
	for name, sets := range exp {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(testdata, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for path, e := range sets {
				ds, err := f.Dataset(path)
				if want, ok := knownUnsupported[name+":"+path]; ok {
					var ue *UnsupportedError
					if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) {
						t.Errorf("%s: got %v, want an UnsupportedError containing %q", path, err, want)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				if got := ds.Shape(); !reflect.DeepEqual(got, append([]int{}, e.Shape...)) {
					t.Errorf("%s: shape %v, want %v", path, got, e.Shape)
				}
				if e.Strings != nil {
					got, err := ds.Strings()
					if err != nil {
						t.Errorf("%s: %v", path, err)
					} else if !reflect.DeepEqual(got, e.Strings) {
						t.Errorf("%s: strings %q, want %q", path, got, e.Strings)
					}
					continue
				}
				got, err := ds.Float64s()
				if err != nil {
					t.Errorf("%s: %v", path, err)
					continue
				}
				if len(got) != len(e.Values) {
					t.Errorf("%s: %d values, want %d", path, len(got), len(e.Values))
					continue
				}
				got32, err := ds.Float32s()
				if err != nil || len(got32) != len(got) {
					t.Errorf("%s: Float32s: %d values, %v", path, len(got32), err)
					continue
				}
				for i, r := range e.Values {
					w := value(t, r)
					if math.Float64bits(got[i]) != math.Float64bits(w) {
						t.Errorf("%s[%d] = %v, want %v", path, i, got[i], w)
						break
					}
					if w32 := float32(w); math.Float32bits(got32[i]) != math.Float32bits(w32) {
						t.Errorf("%s[%d] as float32 = %v, want %v", path, i, got32[i], w32)
						break
					}
				}
			}
		})
	}
}

func TestList(t *testing.T) {
	for _, name := range []string{"h5_bfm2017_contig.h5", "h5_bfm2017_chunked.h5", "h5_bfm2017_latest.h5", "h5_bfm2017_dense.h5"} {
		f, err := Open(filepath.Join(testdata, name))
		if err != nil {
			t.Fatal(err)
		}
		root, err := f.List("/")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"color", "expression", "metadata", "shape"}; !reflect.DeepEqual(root, want) {
			t.Errorf("%s: root members %v, want %v", name, root, want)
		}
		model, err := f.List("shape/model")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"mean", "noiseVariance", "pcaBasis", "pcaVariance"}
		if name == "h5_bfm2017_dense.h5" {
			for i := 0; i < 40; i++ {
				want = append(want, "extra_0"+string(rune('0'+i/10))+string(rune('0'+i%10)))
			}
			sort.Strings(want)
		}
		if !reflect.DeepEqual(model, want) {
			t.Errorf("%s: /shape/model members %v, want %v", name, model, want)
		}
		f.Close()
	}
}

func TestMissingPathError(t *testing.T) {
	f, err := Open(filepath.Join(testdata, "h5_bfm2017_latest.h5"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = f.Dataset("/shape/model/meen")
	want := `hdf5: ../testdata/h5_bfm2017_latest.h5: no object "/shape/model/meen": group "/shape/model" has members [mean noiseVariance pcaBasis pcaVariance]`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v\nwant %s", err, want)
	}
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Group != "/shape/model" || len(nf.Members) != 4 {
		t.Errorf("got %#v, want a *NotFoundError for group /shape/model", err)
	}
	_, err = f.Dataset("shape/modl/mean")
	want = `hdf5: ../testdata/h5_bfm2017_latest.h5: no object "/shape/modl/mean": group "/shape" has members [model representer]`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v\nwant %s", err, want)
	}
	_, err = f.Dataset("/shape/model")
	want = `hdf5: ../testdata/h5_bfm2017_latest.h5: "/shape/model" is a group, not a dataset`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v\nwant %s", err, want)
	}
	_, err = f.Dataset("/shape/model/mean/x")
	want = `hdf5: ../testdata/h5_bfm2017_latest.h5: no object "/shape/model/mean/x": "/shape/model/mean" is not a group`
	if err == nil || err.Error() != want {
		t.Errorf("got error %v\nwant %s", err, want)
	}
}

func TestUnsupported(t *testing.T) {
	for _, name := range []string{"h5_types.h5", "h5_types_latest.h5"} {
		f, err := Open(filepath.Join(testdata, name))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Dataset("compound")
		var ue *UnsupportedError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "compound datatype") {
			t.Errorf("%s: compound dataset: got %v, want an UnsupportedError about the compound datatype", name, err)
		}
		f.Close()
	}
}

func TestAttributes(t *testing.T) {
	for _, name := range []string{"h5_bfm2017_contig.h5", "h5_bfm2017_latest.h5"} {
		f, err := Open(filepath.Join(testdata, name))
		if err != nil {
			t.Fatal(err)
		}
		names, err := f.AttrNames("/")
		if err != nil || !reflect.DeepEqual(names, []string{"version"}) {
			t.Errorf("%s: root attributes %v, %v", name, names, err)
		}
		a, err := f.Attr("/", "version")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.Strings(); err != nil || !reflect.DeepEqual(s, []string{"bfm2017-fixture"}) {
			t.Errorf("%s: version = %q, %v", name, s, err)
		}
		a, err = f.Attr("/shape/representer", "name")
		if err != nil {
			t.Fatal(err)
		}
		if s, err := a.Strings(); err != nil || !reflect.DeepEqual(s, []string{"bfm-like"}) {
			t.Errorf("%s: name = %q, %v", name, s, err)
		}
		_, err = f.Attr("/shape/representer", "nope")
		want := `hdf5: ../testdata/` + name + `: "/shape/representer" has no attribute "nope" (it has [name])`
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
		}
		f.Close()
	}
}

func TestManyAttributes(t *testing.T) {
	for _, name := range []string{"h5_types.h5", "h5_types_v108.h5", "h5_types_latest.h5"} {
		f, err := Open(filepath.Join(testdata, name))
		if err != nil {
			t.Fatal(err)
		}
		names, err := f.AttrNames("attrs")
		if err != nil || len(names) != 13 || names[0] != "a00" || names[12] != "arr" {
			t.Fatalf("%s: attributes %v, %v", name, names, err)
		}
		for i := 0; i < 12; i++ {
			a, err := f.Attr("attrs", names[i])
			if err != nil {
				t.Fatal(err)
			}
			if v, err := a.Float64s(); err != nil || len(v) != 1 || v[0] != float64(i) {
				t.Errorf("%s: %s = %v, %v; want %d", name, names[i], v, err, i)
			}
		}
		a, err := f.Attr("attrs", "arr")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := a.Float64s(); err != nil || !reflect.DeepEqual(v, []float64{1.5, -2.25}) || !reflect.DeepEqual(a.Shape(), []int{2}) {
			t.Errorf("%s: arr = %v %v, %v", name, v, a.Shape(), err)
		}
		f.Close()
	}
}
