package run

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/internal/atomicfile"
	"github.com/stn3d/stn3d/internal/workpool"
)

// EmbedOptions are the choices of "stn3d embed": one face descriptor per
// photograph from a recognition run (configs/recognition.yaml).
type EmbedOptions struct {
	// Checkpoint is a checkpoint file or a run directory; Config (empty =
	// the run's config.yaml) must enable recognition.
	Checkpoint, Config string
	// Inputs are image files or folders (walked for image files).
	Inputs []string
	// Batch is the number of images per forward pass (0 = eval.batch).
	Batch int
	// Margin, Box and MaxPixels crop each face as Normalize does (see
	// faceCropOptions); a negative Margin takes data.margin of the config.
	Margin    float64
	Box       *dataset.Box
	MaxPixels int64
	Log       *slog.Logger
}

// FaceEmbedding is the descriptor of one photograph's face: unit length,
// so that the dot product of two is their cosine similarity.
type FaceEmbedding struct {
	Input     string        `json:"input"`
	Crop      NormalizeCrop `json:"crop"`
	Embedding []float32     `json:"embedding"`
}

// EmbedResult lists the embeddings in input order and the inputs skipped.
type EmbedResult struct {
	Faces  []FaceEmbedding
	Failed []NormalizeFailure
}

// Embed loads a recognition run and embeds the face of every input. Bad
// inputs are reported in the result and the rest go on; the error is
// non-nil when any input failed.
func Embed(ctx context.Context, opt EmbedOptions) (_ *EmbedResult, err error) {
	if len(opt.Inputs) == 0 {
		return nil, errors.New("embed: no input images")
	}
	if opt.Batch < 0 || opt.MaxPixels < 0 {
		return nil, fmt.Errorf("embed: batch %d, max pixels %d: want >= 0", opt.Batch, opt.MaxPixels)
	}
	var override *Config
	if opt.Config != "" {
		cfg, err := LoadConfig(opt.Config, nil)
		if err != nil {
			return nil, err
		}
		override = &cfg
	}
	tm, err := LoadTrained(opt.Checkpoint, override, opt.Log)
	if err != nil {
		return nil, err
	}
	if !tm.Config.Recognition.enabled() {
		return nil, fmt.Errorf("embed: %s was not trained for recognition (its config has no recognition.input; see configs/recognition.yaml)", tm.CheckpointPath)
	}
	batch := opt.Batch
	if batch == 0 {
		batch = max(tm.Config.Eval.Batch, 1)
	}
	net, err := tm.Network(batch, false)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, net.Close()) }()
	margin := opt.Margin
	if margin < 0 {
		margin = tm.Config.Data.Margin
	}
	crop := faceCropOptions{Box: opt.Box, MaxPixels: opt.MaxPixels, Size: net.InputSize, Margin: margin, OffsetY: tm.Config.Data.LandmarkOffsetY}
	files, bad := CollectImages(opt.Inputs)
	res := &EmbedResult{Failed: bad}
	per := 3 * net.InputSize * net.InputSize
	buf := make([]float32, batch*per)
	for start := 0; start < len(files); start += batch {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("embed: interrupted after %d of %d images: %w", start, len(files), err)
		}
		chunk := files[start:min(start+batch, len(files))]
		crops := make([]faceCrop, len(chunk))
		errs := make([]error, len(chunk))
		workpool.For(len(chunk), workpool.Heavy, func(j int) {
			crops[j], errs[j] = cropFace(chunk[j], crop)
		})
		var ok []int
		for j := range chunk {
			if errs[j] == nil {
				errs[j] = toInput(buf[len(ok)*per:(len(ok)+1)*per], crops[j].crop.Image, net.InputSize)
			}
			if errs[j] != nil {
				res.Failed = append(res.Failed, NormalizeFailure{Input: chunk[j], Err: errs[j]})
				continue
			}
			ok = append(ok, j)
		}
		if len(ok) == 0 {
			continue
		}
		emb, err := net.Embed(buf[:len(ok)*per])
		if err != nil {
			return res, fmt.Errorf("embed: %w", err)
		}
		for i, j := range ok {
			res.Faces = append(res.Faces, FaceEmbedding{Input: chunk[j], Crop: crops[j].info, Embedding: unit(emb[i])})
		}
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("embed: %d of %d inputs skipped; first: %s: %w", len(res.Failed), len(files)+len(bad), res.Failed[0].Input, res.Failed[0].Err)
	}
	return res, nil
}

// unit scales v to unit length (a zero vector stays zero).
func unit(v []float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return v
	}
	s := float32(1 / math.Sqrt(n))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * s
	}
	return out
}

// WriteEmbeddingsJSONL writes one JSON object per face and line.
func WriteEmbeddingsJSONL(w io.Writer, faces []FaceEmbedding) error {
	enc := json.NewEncoder(w)
	for _, f := range faces {
		if err := enc.Encode(f); err != nil {
			return fmt.Errorf("embeddings: %w", err)
		}
	}
	return nil
}

// WriteEmbeddingsNPY writes the embeddings as a NumPy .npy file (format
// 1.0: an N x E little-endian float32 array in C order) at path, and the
// inputs, one per line in the same order, at namesPath; both atomically.
func WriteEmbeddingsNPY(path, namesPath string, faces []FaceEmbedding) error {
	if len(faces) == 0 {
		return errors.New("embeddings: no faces to write")
	}
	dim := len(faces[0].Embedding)
	for _, f := range faces {
		if len(f.Embedding) != dim {
			return fmt.Errorf("embeddings: %s has %d values, the first %d", f.Input, len(f.Embedding), dim)
		}
	}
	err := atomicfile.Write(path, func(w io.Writer) error {
		if _, err := w.Write(npyHeader(len(faces), dim)); err != nil {
			return err
		}
		var b [4]byte
		for _, f := range faces {
			for _, v := range f.Embedding {
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
				if _, err := w.Write(b[:]); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("embeddings: %w", err)
	}
	var names strings.Builder
	for _, f := range faces {
		names.WriteString(f.Input)
		names.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(namesPath, []byte(names.String())); err != nil {
		return fmt.Errorf("embeddings: %w", err)
	}
	return nil
}

// npyHeader is the .npy 1.0 preamble of an n x d float32 array: magic,
// version, header length, and the header dict padded with spaces to a
// multiple of 64 bytes ending in a newline.
func npyHeader(n, d int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", n, d)
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	h := append([]byte("\x93NUMPY\x01\x00"), byte(len(dict)), byte(len(dict)>>8))
	return append(h, dict...)
}
