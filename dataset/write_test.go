package dataset

import (
	"image"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stn3d/stn3d/internal/atomicfile"
)

// TestWritersModeAndNoTemporaries checks that every file writer of the
// package goes through internal/atomicfile: the file has mode 0644 minus
// the umask (not os.CreateTemp's 0600) and no temporary file is left.
func TestWritersModeAndNoTemporaries(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	writers := []struct {
		name  string
		files []string
		write func(dir string) error
	}{
		{"WritePNG", []string{"a.png"}, func(dir string) error { return WritePNG(filepath.Join(dir, "a.png"), img) }},
		{"WriteSplit", []string{SplitTrainFile, SplitValFile}, func(dir string) error {
			return WriteSplit(dir, []string{"a", "b"}, []int{0}, []int{1})
		}},
		{"WritePTS", []string{"a.pts"}, func(dir string) error {
			return WritePTS(filepath.Join(dir, "a.pts"), [][2]float64{{1, 2}})
		}},
		{"Metrics.WriteJSON", []string{"m.json"}, func(dir string) error {
			return Metrics{}.WriteJSON(filepath.Join(dir, "m.json"))
		}},
		{"WriteCEDPlot", []string{"ced.png"}, func(dir string) error {
			return WriteCEDPlot(filepath.Join(dir, "ced.png"), []CEDCurve{{Label: "a", Points: []CEDPoint{{NME: 1, Fraction: 0.5}, {NME: 2, Fraction: 1}}}}, 200, 150)
		}},
	}
	for _, c := range []struct {
		umask int
		want  os.FileMode
	}{{0o022, 0o644}, {0o077, 0o600}, {0o002, 0o644}} {
		old := syscall.Umask(c.umask)
		for _, w := range writers {
			dir := t.TempDir()
			if err := w.write(dir); err != nil {
				t.Errorf("%s: %v", w.name, err)
				continue
			}
			for _, f := range w.files {
				st, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Errorf("%s: %v", w.name, err)
					continue
				}
				if st.Mode().Perm() != c.want {
					t.Errorf("%s under umask %03o: %s has mode %v, want %v", w.name, c.umask, f, st.Mode().Perm(), c.want)
				}
			}
			if left, err := atomicfile.Leftovers(dir, "*"); err != nil || len(left) != 0 {
				t.Errorf("%s: temporaries left: %v %v", w.name, left, err)
			}
		}
		syscall.Umask(old)
	}
}
