// Package sealedfile reads and writes the checksummed container that the
// product's shipped binary files use (the face detector's weights, the
// embedded default model): a fixed header, a JSON metadata block and a
// body, sealed by a SHA-256 of both. Integers are little-endian:
//
//	magic    [8]byte   file kind, e.g. "STN3DDET"
//	version  uint32    format version of that kind
//	metaLen  uint32    length of the JSON metadata (<= MaxMeta)
//	bodyLen  uint64    length of the body (<= MaxBody)
//	sha256   [32]byte  SHA-256 of meta followed by body
//	meta     [metaLen]byte
//	body     [bodyLen]byte
package sealedfile

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// HeaderLen is the size of the fixed header.
const HeaderLen = 8 + 4 + 4 + 8 + sha256.Size

// Limits on the parts, checked before anything is sliced or allocated.
const (
	MaxMeta = 1 << 20
	MaxBody = 64 << 20
)

// ErrBad is wrapped by every error about a malformed container.
var ErrBad = errors.New("bad file")

// Write writes a container of the given magic (8 bytes) and version.
func Write(w io.Writer, magic string, version uint32, meta, body []byte) error {
	if len(magic) != 8 {
		return fmt.Errorf("sealedfile: magic %q: want 8 bytes", magic)
	}
	if len(meta) > MaxMeta || len(body) > MaxBody {
		return fmt.Errorf("sealedfile: meta %d bytes (max %d), body %d bytes (max %d)", len(meta), MaxMeta, len(body), MaxBody)
	}
	var hdr [HeaderLen]byte
	copy(hdr[:8], magic)
	binary.LittleEndian.PutUint32(hdr[8:], version)
	binary.LittleEndian.PutUint32(hdr[12:], uint32(len(meta)))
	binary.LittleEndian.PutUint64(hdr[16:], uint64(len(body)))
	copy(hdr[24:], Sum(meta, body))
	for _, part := range [][]byte{hdr[:], meta, body} {
		if _, err := w.Write(part); err != nil {
			return fmt.Errorf("sealedfile: write: %w", err)
		}
	}
	return nil
}

// Sum is the SHA-256 that seals meta and body.
func Sum(meta, body []byte) []byte {
	h := sha256.New()
	h.Write(meta)
	h.Write(body)
	return h.Sum(nil)
}

// Open checks a container held in data (magic, version, lengths, checksum)
// and returns its meta and body, which alias data. Errors wrap ErrBad and
// say which check failed.
func Open(data []byte, magic string, version uint32) (meta, body []byte, err error) {
	if len(data) < HeaderLen {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrBad, len(data), HeaderLen)
	}
	if string(data[:8]) != magic {
		return nil, nil, fmt.Errorf("%w: magic %q, want %q", ErrBad, data[:8], magic)
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != version {
		return nil, nil, fmt.Errorf("%w: version %d, want %d", ErrBad, v, version)
	}
	ml := uint64(binary.LittleEndian.Uint32(data[12:]))
	bl := binary.LittleEndian.Uint64(data[16:])
	if ml > MaxMeta || bl > MaxBody || uint64(len(data)-HeaderLen) != ml+bl {
		return nil, nil, fmt.Errorf("%w: meta %d + body %d bytes, file has %d after the header (truncated or corrupt)", ErrBad, ml, bl, len(data)-HeaderLen)
	}
	meta, body = data[HeaderLen:HeaderLen+int(ml)], data[HeaderLen+int(ml):]
	if !bytes.Equal(Sum(meta, body), data[24:HeaderLen]) {
		return nil, nil, fmt.Errorf("%w: SHA-256 mismatch (file damaged)", ErrBad)
	}
	return meta, body, nil
}
