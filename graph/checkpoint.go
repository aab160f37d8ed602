package graph

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"

	"github.com/stn3d/stn3d/internal/atomicfile"
	"gorgonia.org/gorgonia"
)

// Checkpoint file format ("STN3DCK", version 1), little-endian:
//
//	magic     [8]byte  "STN3DCK\x00"
//	version   uint32   1
//	headerLen uint32   length of the JSON header
//	header    JSON     checkpointHeader (step, RNG state, metadata)
//	body      a weights file (see weights.go) holding "param/<name>" for
//	          every parameter in its own dtype and "opt/<name>.m|.v" optimiser
//	          buffers as float64
//	crc       uint32   CRC-32 (IEEE) of every byte before it
//
// The whole file is read and checked before anything is applied, so a
// corrupt or truncated file changes nothing and yields an error naming it.

const (
	ckptMagic   = "STN3DCK\x00"
	ckptVersion = 1
)

// Checkpoint is everything needed to resume training exactly.
type Checkpoint struct {
	// Step is the number of optimiser updates applied.
	Step int
	// RNG is the serialised state of the trainer's random source (for
	// example rand.PCG.MarshalBinary), opaque to this package.
	RNG []byte
	// Meta holds free-form provenance (config hash, epoch, data cursor...).
	Meta map[string]string
	// Params are the parameter values, named after their nodes.
	Params []WeightTensor
	// Opt holds the optimiser buffers by name (Optimizer.State).
	Opt map[string][]float64
}

type checkpointHeader struct {
	Step int               `json:"step"`
	RNG  []byte            `json:"rng,omitempty"`
	Meta map[string]string `json:"meta,omitempty"`
}

// CaptureCheckpoint copies params and optimiser state into a Checkpoint.
// opt may be nil.
func CaptureCheckpoint(params []*gorgonia.Node, opt *Optimizer, rng []byte, meta map[string]string) (*Checkpoint, error) {
	ts, err := TensorsFromNodes(params)
	if err != nil {
		return nil, err
	}
	ck := &Checkpoint{Params: ts, RNG: append([]byte(nil), rng...), Meta: meta, Opt: map[string][]float64{}}
	if opt != nil {
		step, bufs := opt.State()
		ck.Step = step
		for k, v := range bufs {
			ck.Opt[k] = append([]float64(nil), v...)
		}
	}
	return ck, nil
}

// Restore copies the checkpoint into params (all must be present with
// matching shapes) and opt (if non-nil). Everything is validated first.
func (ck *Checkpoint) Restore(params []*gorgonia.Node, opt *Optimizer) error {
	byName := map[string]*WeightTensor{}
	for i := range ck.Params {
		byName[ck.Params[i].Name] = &ck.Params[i]
	}
	var errs []error
	for _, p := range params {
		t, ok := byName[p.Name()]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("parameter %q missing from checkpoint", p.Name()))
		case t.Len() != p.Shape().TotalSize():
			errs = append(errs, fmt.Errorf("parameter %q: checkpoint shape %v, graph shape %v", p.Name(), t.Shape, p.Shape()))
		}
	}
	if len(byName) != len(params) {
		errs = append(errs, fmt.Errorf("checkpoint has %d parameters, graph has %d", len(byName), len(params)))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("graph: restore checkpoint: %w", err)
	}
	if opt != nil {
		if err := opt.SetState(ck.Step, ck.Opt); err != nil {
			return fmt.Errorf("graph: restore checkpoint: %w", err)
		}
	}
	if _, err := LoadIntoNodes(params, ck.Params, false); err != nil {
		return fmt.Errorf("graph: restore checkpoint: %w", err)
	}
	return nil
}

// SaveCheckpoint writes ck to path atomically (temp file + fsync + rename).
func SaveCheckpoint(path string, ck *Checkpoint) error {
	hdr, err := json.Marshal(checkpointHeader{Step: ck.Step, RNG: ck.RNG, Meta: ck.Meta})
	if err != nil {
		return fmt.Errorf("graph: save checkpoint %s: %w", path, err)
	}
	ts := make([]WeightTensor, 0, len(ck.Params)+len(ck.Opt))
	for _, p := range ck.Params {
		p.Name = "param/" + p.Name
		ts = append(ts, p)
	}
	keys := make([]string, 0, len(ck.Opt))
	for k := range ck.Opt {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ts = append(ts, WeightTensor{Name: "opt/" + k, Shape: []int{len(ck.Opt[k])}, Data64: ck.Opt[k]})
	}
	err = atomicfile.Write(path, func(w io.Writer) error {
		crc := crc32.NewIEEE()
		mw := io.MultiWriter(w, crc)
		var b [16]byte
		copy(b[:8], ckptMagic)
		binary.LittleEndian.PutUint32(b[8:], ckptVersion)
		binary.LittleEndian.PutUint32(b[12:], uint32(len(hdr)))
		if _, err := mw.Write(b[:]); err != nil {
			return err
		}
		if _, err := mw.Write(hdr); err != nil {
			return err
		}
		if err := EncodeWeights(mw, ts); err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(b[:4], crc.Sum32())
		_, err := w.Write(b[:4])
		return err
	})
	if err != nil {
		return fmt.Errorf("graph: save checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint reads and verifies a checkpoint file. Any corruption or
// truncation gives an error that names path.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("graph: load checkpoint: %w", err)
	}
	ck, err := decodeCheckpoint(raw)
	if err != nil {
		return nil, fmt.Errorf("graph: load checkpoint %s: %w", path, err)
	}
	return ck, nil
}

func decodeCheckpoint(raw []byte) (*Checkpoint, error) {
	if len(raw) < 20 {
		return nil, fmt.Errorf("file is %d bytes, too short for a checkpoint: %w", len(raw), io.ErrUnexpectedEOF)
	}
	if string(raw[:8]) != ckptMagic {
		return nil, fmt.Errorf("bad magic %q, want %q", raw[:8], ckptMagic)
	}
	if v := binary.LittleEndian.Uint32(raw[8:]); v != ckptVersion {
		return nil, fmt.Errorf("version %d, want %d", v, ckptVersion)
	}
	body, tail := raw[:len(raw)-4], raw[len(raw)-4:]
	if got, want := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(tail); got != want {
		return nil, fmt.Errorf("CRC32 mismatch (stored %08x, computed %08x): file corrupt or truncated", want, got)
	}
	hl := int(binary.LittleEndian.Uint32(raw[12:]))
	if hl > len(body)-16 {
		return nil, fmt.Errorf("header length %d exceeds file: %w", hl, io.ErrUnexpectedEOF)
	}
	var h checkpointHeader
	if err := json.Unmarshal(body[16:16+hl], &h); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if h.Step < 0 {
		return nil, fmt.Errorf("header step %d: want >= 0", h.Step)
	}
	r := bytes.NewReader(body[16+hl:])
	ts, err := DecodeWeights(r)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%d trailing bytes before the CRC", r.Len())
	}
	ck := &Checkpoint{Step: h.Step, RNG: h.RNG, Meta: h.Meta, Opt: map[string][]float64{}}
	for _, t := range ts {
		switch {
		case len(t.Name) > 6 && t.Name[:6] == "param/":
			t.Name = t.Name[6:]
			ck.Params = append(ck.Params, t)
		case len(t.Name) > 4 && t.Name[:4] == "opt/" && t.Data64 != nil:
			ck.Opt[t.Name[4:]] = t.Data64
		default:
			return nil, fmt.Errorf("unexpected tensor %q (want param/* or float64 opt/*)", t.Name)
		}
	}
	return ck, nil
}
