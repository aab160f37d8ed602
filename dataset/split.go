package dataset

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// Split file names written by WriteSplit into a run directory.
const (
	SplitTrainFile = "split_train.txt"
	SplitValFile   = "split_val.txt"
)

// SplitIndices deterministically splits 0..n-1 into training and validation
// indices: a Fisher-Yates shuffle driven by PCG(seed, seed ^ 0x5354_4e33_4453_504c)
// (math/rand/v2), then the first round(valFrac * n) shuffled indices are the
// validation set. Both slices are returned sorted. The shuffle uses only
// PCG.Uint64 with rejection sampling, so a seed gives the same split in every
// Go release. valFrac is clamped to [0, 1] (NaN counts as 0); validate it
// where it is configured.
func SplitIndices(n int, valFrac float64, seed uint64) (train, val []int) {
	if n <= 0 {
		return []int{}, []int{}
	}
	if !(valFrac > 0) {
		valFrac = 0
	} else if valFrac > 1 {
		valFrac = 1
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	src := rand.NewPCG(seed, seed^0x53544e334453504c)
	for i := n - 1; i > 0; i-- {
		j := int(uniformBelow(src, uint64(i+1)))
		perm[i], perm[j] = perm[j], perm[i]
	}
	nVal := int(math.Round(valFrac * float64(n)))
	val = append([]int(nil), perm[:nVal]...)
	train = append([]int(nil), perm[nVal:]...)
	slices.Sort(val)
	slices.Sort(train)
	return train, val
}

// uniformBelow returns a uniform integer in [0, n) from src by rejection
// (n > 0).
func uniformBelow(src *rand.PCG, n uint64) uint64 {
	limit := math.MaxUint64 - math.MaxUint64%n // multiple of n
	for {
		v := src.Uint64()
		if v < limit {
			return v % n
		}
	}
}

// Namer is implemented by sources that know a sample's name without loading
// its image (ItemSource does).
type Namer interface {
	Name(i int) string
}

// SourceNames returns the names of all samples of src, from Namer when src
// implements it (also through a Subset), else by loading every sample.
func SourceNames(src Source) ([]string, error) {
	if sub, ok := src.(Subset); ok {
		all, err := SourceNames(sub.Src)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(sub.Indices))
		for i, j := range sub.Indices {
			if j < 0 || j >= len(all) {
				return nil, fmt.Errorf("dataset: names: subset index %d out of range [0, %d)", j, len(all))
			}
			names[i] = all[j]
		}
		return names, nil
	}
	names := make([]string, src.Len())
	nm, ok := src.(Namer)
	for i := range names {
		if ok {
			names[i] = nm.Name(i)
			continue
		}
		s, err := src.Sample(i)
		if err != nil {
			return nil, fmt.Errorf("dataset: names: %w", err)
		}
		names[i] = s.Name
	}
	return names, nil
}

// ReadSplitFile reads a split file: one sample name per line; blank lines
// and lines starting with '#' are ignored, surrounding spaces trimmed.
func ReadSplitFile(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: read split: %w", err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		names = append(names, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset: read split %s: %w", path, err)
	}
	return names, nil
}

// SplitByNames splits the samples named names (index i has name names[i])
// into validation (those listed in valNames) and training (the rest), both
// sorted. Every listed name must occur in names, and names must be unique.
func SplitByNames(names, valNames []string) (train, val []int, err error) {
	index := make(map[string]int, len(names))
	for i, n := range names {
		if j, dup := index[n]; dup {
			return nil, nil, fmt.Errorf("dataset: split: samples %d and %d share the name %q", j, i, n)
		}
		index[n] = i
	}
	isVal := make([]bool, len(names))
	for _, n := range valNames {
		i, ok := index[n]
		if !ok {
			return nil, nil, fmt.Errorf("dataset: split: validation name %q is not a sample of the source", n)
		}
		isVal[i] = true
	}
	train, val = []int{}, []int{}
	for i, v := range isVal {
		if v {
			val = append(val, i)
		} else {
			train = append(train, i)
		}
	}
	return train, val, nil
}

// WriteSplit records a split in dir as SplitTrainFile and SplitValFile, one
// name per line (readable by ReadSplitFile), each written atomically
// (internal/atomicfile: mode 0644 subject to the umask).
func WriteSplit(dir string, names []string, train, val []int) error {
	for _, f := range []struct {
		file string
		idx  []int
	}{{SplitTrainFile, train}, {SplitValFile, val}} {
		var b bytes.Buffer
		for _, i := range f.idx {
			if i < 0 || i >= len(names) {
				return fmt.Errorf("dataset: write split %s: index %d out of range [0, %d)", f.file, i, len(names))
			}
			if strings.ContainsAny(names[i], "\n\r") {
				return fmt.Errorf("dataset: write split %s: name %q contains a line break", f.file, names[i])
			}
			b.WriteString(names[i])
			b.WriteByte('\n')
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, f.file), b.Bytes()); err != nil {
			return fmt.Errorf("dataset: write split: %w", err)
		}
	}
	return nil
}

// Subset is the Source of src's samples at the given indices, in order.
type Subset struct {
	Src     Source
	Indices []int
}

// Len returns the number of indices.
func (s Subset) Len() int { return len(s.Indices) }

// Sample returns src's sample Indices[i].
func (s Subset) Sample(i int) (Sample, error) {
	if i < 0 || i >= len(s.Indices) {
		return Sample{}, fmt.Errorf("dataset: subset sample %d out of range [0, %d)", i, len(s.Indices))
	}
	return s.Src.Sample(s.Indices[i])
}
