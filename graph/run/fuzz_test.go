package run

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

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
