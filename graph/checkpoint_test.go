package graph

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func TestWeightsRoundTripAndLayout(t *testing.T) {
	ts := []WeightTensor{
		{Name: "conv1_1.w", Shape: []int{2, 1, 1, 1}, Data: []float32{1.5, -2}},
		{Name: "s", Shape: nil, Data64: []float64{math.Pi}},
	}
	var buf bytes.Buffer
	if err := EncodeWeights(&buf, ts); err != nil {
		t.Fatal(err)
	}
	// Byte layout of the documented format, written by hand.
	var want []byte
	want = append(want, "STN3DWT\x00"...)
	want = binary.LittleEndian.AppendUint32(want, 1)
	want = binary.LittleEndian.AppendUint32(want, 2)
	rec := binary.LittleEndian.AppendUint16(nil, 9)
	rec = append(rec, "conv1_1.w"...)
	rec = append(rec, 1, 4)
	for _, d := range []uint32{2, 1, 1, 1} {
		rec = binary.LittleEndian.AppendUint32(rec, d)
	}
	rec = binary.LittleEndian.AppendUint32(rec, math.Float32bits(1.5))
	rec = binary.LittleEndian.AppendUint32(rec, math.Float32bits(-2))
	want = append(want, rec...)
	want = binary.LittleEndian.AppendUint32(want, crc32.ChecksumIEEE(rec))
	rec = binary.LittleEndian.AppendUint16(nil, 1)
	rec = append(rec, 's', 2, 0)
	rec = binary.LittleEndian.AppendUint64(rec, math.Float64bits(math.Pi))
	want = append(want, rec...)
	want = binary.LittleEndian.AppendUint32(want, crc32.ChecksumIEEE(rec))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("encoding differs from the documented layout:\n got %x\nwant %x", buf.Bytes(), want)
	}
	path := filepath.Join(t.TempDir(), "w.stnw")
	if err := WriteWeights(path, ts); err != nil {
		t.Fatal(err)
	}
	got, err := ReadWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "conv1_1.w" || got[0].Data[1] != -2 || got[1].Data64[0] != math.Pi || len(got[1].Shape) != 0 {
		t.Fatalf("round trip = %+v", got)
	}
	// Corruptions: flipped data byte, truncation, bad magic.
	raw, _ := os.ReadFile(path)
	cases := []struct {
		name string
		data []byte
		msg  string
	}{
		{"flip", func() []byte { b := bytes.Clone(raw); b[46] ^= 1; return b }(), `tensor "conv1_1.w": CRC32 mismatch`},
		{"trunc", raw[:len(raw)-3], `tensor "s": crc: unexpected EOF`},
		{"magic", append([]byte("XXXXXXXX"), raw[8:]...), "bad magic"},
		{"trail", append(bytes.Clone(raw), 0), "trailing bytes"},
	}
	for _, c := range cases {
		p := filepath.Join(t.TempDir(), c.name+".stnw")
		os.WriteFile(p, c.data, 0o644)
		_, err := ReadWeights(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err = %v, want it to name %s and contain %q", c.name, err, p, c.msg)
		}
	}
}

func TestLoadIntoNodes(t *testing.T) {
	g := gorgonia.NewGraph()
	w := gorgonia.NewTensor(g, tensor.Float32, 4, gorgonia.WithShape(1, 2, 1, 1), gorgonia.WithName("conv.b"), gorgonia.WithInit(gorgonia.Zeroes()))
	ts := []WeightTensor{{Name: "conv.b", Shape: []int{2}, Data64: []float64{3, 4}}, {Name: "extra", Shape: []int{1}, Data: []float32{1}}}
	if _, err := LoadIntoNodes([]*gorgonia.Node{w}, ts, false); err == nil || !strings.Contains(err.Error(), `tensor "extra": no parameter`) {
		t.Errorf("strict load: %v", err)
	}
	got, err := LoadIntoNodes([]*gorgonia.Node{w}, ts, true)
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	if d := w.Value().Data().([]float32); d[0] != 3 || d[1] != 4 {
		t.Errorf("loaded %v", d)
	}
	ts[0].Shape = []int{1, 2}
	ts[0].Data64 = []float64{1, 2}
	ts[0].Shape = []int{2, 2}
	ts[0].Data64 = []float64{1, 2, 3, 4}
	if _, err := LoadIntoNodes([]*gorgonia.Node{w}, ts, true); err == nil || !strings.Contains(err.Error(), "tensor shape [2 2], want (1, 2, 1, 1)") {
		t.Errorf("shape mismatch: %v", err)
	}
}

func TestCheckpointRoundTripExactResume(t *testing.T) {
	build := func() (*gorgonia.Node, gorgonia.VM, *Optimizer) {
		w, _, vm := paramWithGrad(t, "w", []float64{1, -2, 3}, []float64{0.3, 0.7, -1.1})
		opt, err := NewOptimizer(OptimizerConfig{Kind: SolverAdam, Schedule: Schedule{Base: 0.05}, WeightDecay: 1e-3}, []*gorgonia.Node{w}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return w, vm, opt
	}
	w1, vm1, opt1 := build()
	defer vm1.Close()
	for i := 0; i < 3; i++ {
		run(t, vm1)
		if err := opt1.Step(); err != nil {
			t.Fatal(err)
		}
	}
	pcg := rand.NewPCG(7, 9)
	rng := rand.New(pcg)
	rng.Uint64()
	rs, _ := pcg.MarshalBinary()
	ck, err := CaptureCheckpoint([]*gorgonia.Node{w1}, opt1, rs, map[string]string{"epoch": "2"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ck.stnc")
	if err := SaveCheckpoint(path, ck); err != nil {
		t.Fatal(err)
	}
	// Continue the original two more steps.
	for i := 0; i < 2; i++ {
		run(t, vm1)
		opt1.Step()
	}
	nextWant := rng.Uint64()

	ck2, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	w2, vm2, opt2 := build()
	defer vm2.Close()
	if err := ck2.Restore([]*gorgonia.Node{w2}, opt2); err != nil {
		t.Fatal(err)
	}
	if opt2.StepCount() != 3 || ck2.Meta["epoch"] != "2" {
		t.Fatalf("step %d meta %v", opt2.StepCount(), ck2.Meta)
	}
	for i := 0; i < 2; i++ {
		run(t, vm2)
		opt2.Step()
	}
	a, b := vals(w1), vals(w2)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("resumed w[%d] = %.17g, uninterrupted %.17g", i, b[i], a[i])
		}
	}
	p2 := rand.NewPCG(0, 0)
	if err := p2.UnmarshalBinary(ck2.RNG); err != nil {
		t.Fatal(err)
	}
	if got := rand.New(p2).Uint64(); got != nextWant {
		t.Errorf("RNG not restored: %d vs %d", got, nextWant)
	}

	// Corrupt and truncated files name the file and change nothing.
	raw, _ := os.ReadFile(path)
	before := append([]float64(nil), vals(w2)...)
	for name, data := range map[string][]byte{
		"flip":  func() []byte { b := bytes.Clone(raw); b[len(b)/2] ^= 0x10; return b }(),
		"trunc": raw[:len(raw)/2],
		"empty": nil,
	} {
		p := filepath.Join(t.TempDir(), name+".stnc")
		os.WriteFile(p, data, 0o644)
		_, err := LoadCheckpoint(p)
		if err == nil || !strings.Contains(err.Error(), "graph: load checkpoint "+p+":") {
			t.Errorf("%s: err = %v, want an error naming %s", name, err, p)
		}
	}
	if _, err := LoadCheckpoint(filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
	for i, v := range vals(w2) {
		if v != before[i] {
			t.Errorf("failed loads changed parameters")
		}
	}
	// No temp files left behind by the atomic writer.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries after save, want 1", len(ents))
	}
}
