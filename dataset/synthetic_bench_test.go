package dataset

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stn3d/stn3d/bfm"
)

// benchmarkSynthetic renders b.N samples of the default model at size x size
// on the given number of goroutines and reports images/s.
func benchmarkSynthetic(b *testing.B, size, workers int) {
	m, err := bfm.Default()
	if err != nil {
		b.Fatalf("bfm.Default(): %v", err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Size, cfg.Count = size, 1<<20
	s, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		b.Fatal(err)
	}
	for i := range workers { // warm the scratch pool
		if _, err := s.Sample(i); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if _, err := s.Sample(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "images/s")
}

func BenchmarkSynthetic112W1(b *testing.B) { benchmarkSynthetic(b, 112, 1) }
func BenchmarkSynthetic112W2(b *testing.B) { benchmarkSynthetic(b, 112, 2) }
func BenchmarkSynthetic224W1(b *testing.B) { benchmarkSynthetic(b, 224, 1) }
func BenchmarkSynthetic224W2(b *testing.B) { benchmarkSynthetic(b, 224, 2) }

// BenchmarkBatcherSynthetic224 measures batches of 2x16 images at 224 x 224
// from the default model through the Batcher with 2 workers.
func BenchmarkBatcherSynthetic224(b *testing.B) {
	m, err := bfm.Default()
	if err != nil {
		b.Fatalf("bfm.Default(): %v", err)
	}
	cfg := DefaultSyntheticConfig()
	cfg.Size, cfg.Count = 224, 1<<20
	s, err := NewSynthetic(m, cfg, "train")
	if err != nil {
		b.Fatal(err)
	}
	bt, err := NewBatcher(context.Background(), s, BatchConfig{K: 16, Height: 224, Width: 224, Scheme: bfm.SchemeAFLW21, Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer bt.Close()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if _, err := bt.Next(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(32*b.N)/time.Since(start).Seconds(), "images/s")
}
