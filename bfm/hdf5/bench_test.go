package hdf5

import (
	"os"
	"path/filepath"
	"testing"
)

func benchmarkDataset(b *testing.B, path, name string) {
	f, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	ds, err := f.Dataset(name)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(ds.Len() * ds.dt.size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ds.Float64s(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat64sContiguous(b *testing.B) {
	benchmarkDataset(b, filepath.Join(testdata, "h5_bfm2017_contig.h5"), "/shape/model/pcaBasis")
}

func BenchmarkFloat64sGzipShuffle(b *testing.B) {
	benchmarkDataset(b, filepath.Join(testdata, "h5_types.h5"), "/layouts/gzip_shuffle")
}

// BenchmarkFloat64sLarge reads /shape/model/pcaBasis of the file named by
// STN3D_H5_BENCH (for example a BFM 2017 model); skipped when unset.
func BenchmarkFloat64sLarge(b *testing.B) {
	p := os.Getenv("STN3D_H5_BENCH")
	if p == "" {
		b.Skip("set STN3D_H5_BENCH to an HDF5 file with /shape/model/pcaBasis")
	}
	benchmarkDataset(b, p, "/shape/model/pcaBasis")
}
