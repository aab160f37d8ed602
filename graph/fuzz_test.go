package graph

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// TestDecodeWeightsHugeShapeShortFile: a 40-byte stream declaring a
// 2^33-element float64 tensor fails at its end without allocating the
// declared 64 GiB (which ended in "fatal error: out of memory").
func TestDecodeWeightsHugeShapeShortFile(t *testing.T) {
	var b []byte
	b = append(b, weightsMagic...)
	b = binary.LittleEndian.AppendUint32(b, weightsVersion)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = append(b, 'w', dtypeF64, 2)
	b = binary.LittleEndian.AppendUint32(b, 1<<16)
	b = binary.LittleEndian.AppendUint32(b, 1<<17)
	b = append(b, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := DecodeWeights(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	if err == nil || err.Error() != `tensor "w": data: unexpected EOF` {
		t.Fatalf("err = %v, want a truncated data error", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 16<<20 {
		t.Errorf("allocated %d MiB for a 40-byte stream", d>>20)
	}
}

// smallCheckpoint returns the bytes of a checkpoint with two parameters,
// optimiser state and metadata.
func smallCheckpoint(tb testing.TB) []byte {
	ck := &Checkpoint{Step: 12, RNG: []byte{1, 2, 3}, Meta: map[string]string{"best_nme": "3.5"},
		Params: []WeightTensor{{Name: "w", Shape: []int{2, 2}, Data: []float32{1, -2, 3, 4}}, {Name: "b", Shape: []int{2}, Data64: []float64{0.5, 1}}},
		Opt:    map[string][]float64{"w.m": {0.1, 0.2, 0.3, 0.4}, "w.v": {1, 2, 3, 4}}}
	p := filepath.Join(tb.TempDir(), "ck.ckpt")
	if err := SaveCheckpoint(p, ck); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzDecodeWeights: any bytes give tensors whose data fill their shapes,
// or an error; never a panic, a hang or a huge allocation.
func FuzzDecodeWeights(f *testing.F) {
	var buf bytes.Buffer
	if err := EncodeWeights(&buf, []WeightTensor{{Name: "conv1_1.w", Shape: []int{2, 1, 1, 1}, Data: []float32{1.5, -2}},
		{Name: "s", Data64: []float64{3}}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	ck := smallCheckpoint(f)
	f.Add(ck[16+int(binary.LittleEndian.Uint32(ck[12:])) : len(ck)-4])
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := DecodeWeights(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, w := range ts {
			if w.Len() != len(w.Data)+len(w.Data64) || (w.Data != nil) == (w.Data64 != nil) {
				t.Fatalf("tensor %q: shape %v, %d float32 and %d float64 values", w.Name, w.Shape, len(w.Data), len(w.Data64))
			}
		}
	})
}

// badVerb matches what fmt prints for a bad or missing verb.
var badVerb = regexp.MustCompile(`%!\w?\(`)

// FuzzDecodeCheckpoint feeds checkpoint files to decodeCheckpoint as
// mutated and with the CRC trailer recomputed (so that mutations get past
// the file checksum to the header and the tensors).
func FuzzDecodeCheckpoint(f *testing.F) {
	ck := smallCheckpoint(f)
	f.Add(ck, false)
	f.Add(ck, true)
	f.Fuzz(func(t *testing.T, b []byte, fixCRC bool) {
		if fixCRC && len(b) >= 20 {
			b = bytes.Clone(b)
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(b[:len(b)-4]))
		}
		c, err := decodeCheckpoint(b)
		if err != nil {
			// A formatting mistake prints "%!v(" or "%!(EXTRA"; the input's
			// own bytes, quoted in a message, may hold that too (crashers:
			// magics "000%!000", "000%!(00"), so only inputs without "%!"
			// are checked for it.
			if err.Error() == "" || (!bytes.Contains(b, []byte("%!")) && badVerb.MatchString(err.Error())) {
				t.Fatalf("bad message %q", err)
			}
			return
		}
		if c.Step < 0 {
			t.Fatalf("step %d", c.Step)
		}
		for _, p := range c.Params {
			if p.Len() != len(p.Data)+len(p.Data64) {
				t.Fatalf("parameter %q: shape %v, %d values", p.Name, p.Shape, len(p.Data)+len(p.Data64))
			}
		}
	})
}

// TestBadVerbPattern: the fuzz oracle catches fmt's bad-verb output and
// not a quoted "%!" of the input.
func TestBadVerbPattern(t *testing.T) {
	// Formats in variables: vet would refuse the mistakes as constants.
	verbD, noVerb, quoted := "%d", "a", "bad magic %q"
	for _, c := range []struct {
		s    string
		want bool
	}{
		{fmt.Sprintf(verbD, "x"), true},
		{fmt.Sprintf(verbD+"%d", 1), true},
		{fmt.Sprintf(noVerb, 1), true},
		{fmt.Sprintf(quoted, "000%!000"), false},
		{"plain", false},
	} {
		if got := badVerb.MatchString(c.s); got != c.want {
			t.Errorf("%q: %v, want %v", c.s, got, c.want)
		}
	}
}
