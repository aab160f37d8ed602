package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitIndicesKnownAnswer(t *testing.T) {
	// Locked: these splits are recorded in run directories; a change in the
	// shuffle would silently move images between train and validation.
	for _, c := range []struct {
		seed       uint64
		train, val []int
	}{
		{1, []int{0, 1, 3, 6, 7, 8, 9}, []int{2, 4, 5}},
		{2, []int{0, 1, 4, 5, 6, 8, 9}, []int{2, 3, 7}},
	} {
		train, val := SplitIndices(10, 0.3, c.seed)
		if !reflect.DeepEqual(train, c.train) || !reflect.DeepEqual(val, c.val) {
			t.Errorf("seed %d: %v %v, want %v %v", c.seed, train, val, c.train, c.val)
		}
	}
}

func TestSplitIndicesProperties(t *testing.T) {
	const n = 50
	counts := make([]int, n)
	const seeds = 2000
	for seed := uint64(0); seed < seeds; seed++ {
		train, val := SplitIndices(n, 0.2, seed)
		if len(val) != 10 || len(train) != 40 {
			t.Fatalf("seed %d: sizes %d/%d, want 40/10", seed, len(train), len(val))
		}
		seen := make([]bool, n)
		for _, i := range append(append([]int(nil), train...), val...) {
			if seen[i] {
				t.Fatalf("seed %d: index %d twice", seed, i)
			}
			seen[i] = true
		}
		for _, i := range val {
			counts[i]++
		}
	}
	// Each index is in validation with probability 0.2: 400 +- 4 sigma
	// (sigma = sqrt(2000*0.2*0.8) = 17.9).
	for i, c := range counts {
		if c < 328 || c > 472 {
			t.Errorf("index %d in validation %d times of %d, want about 400", i, c, seeds)
		}
	}
	for _, c := range []struct {
		frac         float64
		nTrain, nVal int
	}{{0, 7, 0}, {1, 0, 7}, {-1, 7, 0}, {2, 0, 7}, {0.5, 3, 4}} { // round(3.5) = 4
		train, val := SplitIndices(7, c.frac, 3)
		if len(train) != c.nTrain || len(val) != c.nVal {
			t.Errorf("frac %g: %d/%d, want %d/%d", c.frac, len(train), len(val), c.nTrain, c.nVal)
		}
	}
	if tr, va := SplitIndices(0, 0.5, 1); len(tr) != 0 || len(va) != 0 {
		t.Errorf("n=0: %v %v", tr, va)
	}
}

type namedSource struct{ names []string }

func (s namedSource) Len() int { return len(s.names) }
func (s namedSource) Sample(i int) (Sample, error) {
	if s.names[i] == "broken" {
		return Sample{}, errors.New("broken sample")
	}
	return Sample{Name: s.names[i]}, nil
}

func TestSplitFileRoundTrip(t *testing.T) {
	names := []string{"a.jpg", "b.jpg", "sub/c.jpg", "d.jpg", "e.jpg"}
	src := namedSource{names}
	got, err := SourceNames(src)
	if err != nil || !reflect.DeepEqual(got, names) {
		t.Fatalf("SourceNames %v %v", got, err)
	}
	train, val := SplitIndices(len(names), 0.4, 7)
	dir := t.TempDir()
	if err := WriteSplit(dir, names, train, val); err != nil {
		t.Fatal(err)
	}
	vn, err := ReadSplitFile(filepath.Join(dir, SplitValFile))
	if err != nil {
		t.Fatal(err)
	}
	tr2, va2, err := SplitByNames(names, vn)
	if err != nil || !reflect.DeepEqual(tr2, train) || !reflect.DeepEqual(va2, val) {
		t.Errorf("round trip: %v %v %v, want %v %v", tr2, va2, err, train, val)
	}
	data, _ := os.ReadFile(filepath.Join(dir, SplitTrainFile))
	var wantTrain strings.Builder
	for _, i := range train {
		wantTrain.WriteString(names[i] + "\n")
	}
	if string(data) != wantTrain.String() {
		t.Errorf("train file %q, want %q", data, wantTrain.String())
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("run dir holds %d entries, want 2", len(entries))
	}
	// Comments and blank lines in a hand-written split file.
	p := writeTestFileIn(t, dir, "val.txt", []byte("# validation\n\n  d.jpg \nsub/c.jpg\n"))
	vn, _ = ReadSplitFile(p)
	tr3, va3, err := SplitByNames(names, vn)
	if err != nil || !reflect.DeepEqual(va3, []int{2, 3}) || !reflect.DeepEqual(tr3, []int{0, 1, 4}) {
		t.Errorf("hand split %v %v %v", tr3, va3, err)
	}
	// Subset keeps the order and the names.
	sub := Subset{Src: src, Indices: []int{4, 2}}
	if s1, err := sub.Sample(1); sub.Len() != 2 || err != nil || s1.Name != "sub/c.jpg" {
		t.Errorf("subset Len %d, Sample(1) %q %v", sub.Len(), s1.Name, err)
	}
	sn, err := SourceNames(sub)
	if err != nil || !reflect.DeepEqual(sn, []string{"e.jpg", "sub/c.jpg"}) {
		t.Errorf("subset names %v %v", sn, err)
	}
	if _, err := sub.Sample(2); err == nil || err.Error() != "dataset: subset sample 2 out of range [0, 2)" {
		t.Errorf("subset range: %v", err)
	}
}

func TestSplitErrors(t *testing.T) {
	if _, _, err := SplitByNames([]string{"a", "b"}, []string{"c"}); err == nil || err.Error() != `dataset: split: validation name "c" is not a sample of the source` {
		t.Errorf("unknown name: %v", err)
	}
	if _, _, err := SplitByNames([]string{"a", "b", "a"}, nil); err == nil || err.Error() != `dataset: split: samples 0 and 2 share the name "a"` {
		t.Errorf("duplicate: %v", err)
	}
	if err := WriteSplit(t.TempDir(), []string{"a"}, []int{1}, nil); err == nil || err.Error() != "dataset: write split split_train.txt: index 1 out of range [0, 1)" {
		t.Errorf("range: %v", err)
	}
	if err := WriteSplit(filepath.Join(t.TempDir(), "nodir"), []string{"a"}, []int{0}, nil); err == nil || !strings.Contains(err.Error(), "nodir") {
		t.Errorf("missing dir: %v", err)
	}
	if _, err := SourceNames(namedSource{[]string{"ok", "broken"}}); err == nil || err.Error() != "dataset: names: broken sample" {
		t.Errorf("source error: %v", err)
	}
	if _, err := ReadSplitFile(filepath.Join(t.TempDir(), "none.txt")); err == nil || !strings.Contains(err.Error(), "none.txt") {
		t.Errorf("missing split file: %v", err)
	}
}
