package run

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stn3d/stn3d/graph"
	"github.com/stn3d/stn3d/internal/sealedfile"
	"github.com/stn3d/stn3d/internal/testenv"
)

// FuzzParseConfig: any YAML (and one --set override) gives a valid Config
// that survives the round trip through config.yaml, or a *ConfigError;
// never a panic or a hang.
func FuzzParseConfig(f *testing.F) {
	dir := filepath.Join(testenv.RepoRoot(f), "configs")
	for _, n := range []string{"tiny.yaml", "default.yaml", "paper.yaml"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "")
		f.Add(b, "optim.lr=0.0005")
	}
	f.Add([]byte("train:\n  batch: 1e8\n"), "")
	f.Add([]byte("optim:\n  lrr: 1\n"), "")
	f.Add([]byte("a: &a [*a, *a]\n"), "data.kind=manifest")
	f.Add([]byte(""), "train.batch=7")
	f.Fuzz(func(t *testing.T, data []byte, set string) {
		var sets []string
		if set != "" {
			sets = []string{set}
		}
		cfg, err := ParseConfig("fuzz.yaml", data, sets)
		if err != nil {
			if ce, ok := err.(*ConfigError); !ok || ce.File != "fuzz.yaml" || !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("%T %v: want a *ConfigError naming the file", err, err)
			}
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseConfig("config.yaml", out, nil)
		if err != nil {
			t.Fatalf("resolved config does not parse again: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, back)
		}
	})
}

// FuzzDecodePretrained: any metadata and body, sealed in a valid container
// (so the fuzzer reaches past the checksum), and any raw file give a
// decoded model or an ErrBadPretrained naming the file; never a panic, a
// hang or an allocation the input does not pay for.
func FuzzDecodePretrained(f *testing.F) {
	var body bytes.Buffer
	if err := graph.EncodeWeightsFloat16(&body, []graph.WeightTensor{
		{Name: "conv1.w", Shape: []int{2, 1, 1, 1}, Data: []float32{0.5, -1}},
		{Name: "theta.b", Shape: []int{1, 3}, Data: []float32{1, 2, 3}},
	}); err != nil {
		f.Fatal(err)
	}
	meta := PretrainedMeta{Format: PretrainedFormat, Config: "seed: 1\n", GridSHA256: strings.Repeat("0", 64), Dtype: "float16",
		Params: 5, WeightsSHA256: fmt.Sprintf("%x", sha256.Sum256(body.Bytes())), Step: 3}
	mj, err := json.Marshal(meta)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mj, body.Bytes(), false)
	f.Add(mj, body.Bytes()[:20], false)
	f.Add([]byte(`{"format":"stn3d localiser","params":-1}`), []byte("STN3DWT\x00\x01\x00\x00\x00\xff\xff\xff\xff"), false)
	var sealed bytes.Buffer
	if err := sealedfile.Write(&sealed, pretrainedMagic, pretrainedVersion, mj, body.Bytes()); err != nil {
		f.Fatal(err)
	}
	f.Add(sealed.Bytes(), []byte(nil), true)
	f.Fuzz(func(t *testing.T, a, b []byte, raw bool) {
		data := a
		if !raw {
			var buf bytes.Buffer
			if err := sealedfile.Write(&buf, pretrainedMagic, pretrainedVersion, a, b); err != nil {
				return // parts over the container's limits
			}
			data = buf.Bytes()
		}
		m, ts, err := DecodePretrained("fuzz.weights", data)
		if err != nil {
			if !errors.Is(err, ErrBadPretrained) || !strings.HasPrefix(err.Error(), "fuzz.weights: ") {
				t.Fatalf("%v: want ErrBadPretrained naming the file", err)
			}
			return
		}
		n := 0
		for i := range ts {
			n += ts[i].Len()
		}
		if n != m.Params || m.Format != PretrainedFormat {
			t.Fatalf("accepted %d values with meta %+v", n, m)
		}
	})
}
