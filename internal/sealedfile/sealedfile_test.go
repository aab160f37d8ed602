package sealedfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func TestRoundTripAndLayout(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "TESTMAGC", 7, []byte(`{"a":1}`), []byte("body!")); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	if len(data) != HeaderLen+7+5 {
		t.Fatalf("%d bytes, want %d", len(data), HeaderLen+12)
	}
	if string(data[:8]) != "TESTMAGC" || binary.LittleEndian.Uint32(data[8:]) != 7 ||
		binary.LittleEndian.Uint32(data[12:]) != 7 || binary.LittleEndian.Uint64(data[16:]) != 5 {
		t.Errorf("header %x", data[:24])
	}
	want := sha256.Sum256([]byte(`{"a":1}body!`))
	if !bytes.Equal(data[24:56], want[:]) {
		t.Errorf("checksum %x, want %x", data[24:56], want)
	}
	meta, body, err := Open(data, "TESTMAGC", 7)
	if err != nil || string(meta) != `{"a":1}` || string(body) != "body!" {
		t.Fatalf("Open = %q, %q, %v", meta, body, err)
	}
}

func TestOpenRejects(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, "TESTMAGC", 1, []byte(`{}`), []byte("xyz")); err != nil {
		t.Fatal(err)
	}
	good := b.Bytes()
	flip := func(i int) []byte { d := bytes.Clone(good); d[i] ^= 1; return d }
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"short", good[:10], "shorter than"},
		{"magic", flip(0), "magic"},
		{"version", flip(8), "version 0, want 1"},
		{"meta length", flip(12), "truncated or corrupt"},
		{"body length huge", func() []byte { d := bytes.Clone(good); d[23] = 0x80; return d }(), "truncated or corrupt"},
		{"truncated", good[:len(good)-1], "truncated or corrupt"},
		{"trailing", append(bytes.Clone(good), 0), "truncated or corrupt"},
		{"checksum", flip(30), "SHA-256 mismatch"},
		{"body bit", flip(len(good) - 1), "SHA-256 mismatch"},
	} {
		_, _, err := Open(c.data, "TESTMAGC", 1)
		if err == nil || !errors.Is(err, ErrBad) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBad with %q", c.name, err, c.want)
		}
	}
	if err := Write(&bytes.Buffer{}, "SHORT", 1, nil, nil); err == nil {
		t.Error("a 5-byte magic was accepted")
	}
}
