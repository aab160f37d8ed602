package graph

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataKindOf(t *testing.T) {
	dir := t.TempDir()
	mats := filepath.Join(dir, "aflw2000")
	if err := os.MkdirAll(mats, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(p string) string {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(filepath.Join(mats, "image00002.mat"))
	for _, c := range []struct{ path, want string }{
		{dir, "pts"},
		{mats, "aflw2000"},
		{write(filepath.Join(dir, "faces.XML")), "dlib"},
		{write(filepath.Join(dir, "faces.jsonl")), "manifest"},
		{write(filepath.Join(dir, "faces.csv")), "manifest"},
	} {
		got, err := DataKindOf(c.path)
		if err != nil || got != c.want {
			t.Errorf("DataKindOf(%s) = %q, %v; want %q", c.path, got, err, c.want)
		}
	}
	for _, c := range []struct{ path, want string }{
		{write(filepath.Join(dir, "aflw.sqlite")), "needs its image folder"},
		{write(filepath.Join(dir, "faces.txt")), `unknown extension ".txt"`},
		{filepath.Join(dir, "missing.jsonl"), "no such file"},
	} {
		if _, err := DataKindOf(c.path); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("DataKindOf(%s) error %v, want it to name the path and contain %q", c.path, err, c.want)
		}
	}
}
