package detect

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func testMeta() Meta {
	return Meta{Arch: ArchName, Threshold: 0.6, Calibration: Calibration{DX: 0.01, DY: -0.02, SW: 1.1, SH: 0.9}, CalibrationResidual: 0.05}
}

func TestWeightsFileRoundTrip(t *testing.T) {
	ts := randomTensors(3)
	path := filepath.Join(t.TempDir(), "d.weights")
	if err := WriteFile(path, testMeta(), ts); err != nil {
		t.Fatal(err)
	}
	meta, got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if meta.Threshold != 0.6 || meta.Calibration.SW != 1.1 || meta.Calibration.DY != -0.02 || meta.Arch != ArchName {
		t.Errorf("meta %+v", meta)
	}
	if len(got) != len(ts) || got[4].Name != "conv3.w" || got[4].Data[7] != ts[4].Data[7] {
		t.Fatalf("tensors differ after the round trip")
	}
	d, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta().Threshold != 0.6 {
		t.Errorf("loaded threshold %v", d.Meta().Threshold)
	}
}

func TestWeightsFileErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeFile(&buf, testMeta(), randomTensors(3)); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	damaged := append([]byte(nil), good...)
	damaged[len(damaged)-5] ^= 1
	wrongArch := testMeta()
	wrongArch.Arch = "other"
	var other bytes.Buffer
	if err := EncodeFile(&other, wrongArch, randomTensors(3)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 56-byte header"},
		{"magic", append([]byte("NOTADETW"), good[8:]...), "magic"},
		{"truncated", good[:len(good)-10], "file has"},
		{"damaged", damaged, "SHA-256 mismatch"},
		{"arch", other.Bytes(), `arch "other"`},
	} {
		_, _, err := DecodeFile(c.data)
		if !errors.Is(err, ErrBadWeights) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrBadWeights with %q", c.name, err, c.want)
		}
	}
	// A well-formed file with a bad threshold or calibration is refused by New.
	bad := testMeta()
	bad.Threshold = 1
	if _, err := New(bad, randomTensors(3)); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("threshold 1: %v", err)
	}
	bad = testMeta()
	bad.Calibration.SW = 0
	if _, err := New(bad, randomTensors(3)); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("zero scale: %v", err)
	}
}

func TestEmbeddedWeights(t *testing.T) {
	d, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) > 5<<20 {
		t.Errorf("embedded weights are %d bytes, want <= 5 MiB", len(embedded))
	}
	m := d.Meta()
	if m.Train["seed"] == nil || m.Train["steps"] == nil {
		t.Errorf("embedded weights do not record their training: %v", m.Train)
	}
	if !(m.CalibrationResidual > 0 && m.CalibrationResidual < 0.2) {
		t.Errorf("calibration residual %v, want in (0, 0.2)", m.CalibrationResidual)
	}
}
