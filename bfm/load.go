package bfm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/stn3d/stn3d/bfm/mat5"
)

// BFM2009Vertices is the vertex count of the Basel Face Model 2009 mesh, onto
// which Load maps a 3DDFA expression model.
const BFM2009Vertices = 53490

// hdf5Magic starts every HDF5 file (BFM 2017).
const hdf5Magic = "\x89HDF\r\n\x1a\n"

// Load reads a morphable model, choosing the reader from the extension and
// the file's first bytes:
//
//	"default"          Default(), the embedded model
//	.h5 / HDF5 magic   Basel Face Model 2017 (Statismo)
//	.mat / MAT header  BFM 2009 (shapeMU...) or a 3DDFA expression model
//	                   (mu_exp...; needs map_tddfa_to_basel.mat beside it)
//	.bin               eos MorphableModel, or eos blendshapes
//	.obj               Wavefront OBJ, mean only
//
// For an eos model without iBUG landmarks, an ibug_to_sfm.txt in the same
// directory is read into Landmarks["ibug68"] when its indices fit the model.
func Load(path string) (*Model, error) {
	if path == "default" {
		return Default()
	}
	head, size, err := readHead(path, 128)
	if err != nil {
		return nil, fmt.Errorf("bfm: loading model: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(path))
	switch {
	case strings.HasPrefix(string(head), hdf5Magic) || ext == ".h5" || ext == ".hdf5":
		return loadH5(path)
	case mat5.Sniff(head) || ext == ".mat":
		return loadMAT(path)
	case ext == ".obj":
		return ReadOBJ(path)
	case ext == ".bin":
		return loadEOS(path, head, size)
	}
	return nil, formatErr(path, 0, "", "a model file (.h5 BFM 2017, .mat BFM 2009 / 3DDFA, .bin eos, .obj) or \"default\"",
		"extension %q and first bytes %q", ext, head[:min(len(head), 8)])
}

func readHead(path string, n int) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if st.IsDir() {
		return nil, 0, fmt.Errorf("%s is a directory, not a model file", path)
	}
	head := make([]byte, n)
	k, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return head[:k], st.Size(), nil
}

func loadMAT(path string) (*Model, error) {
	f, err := mat5.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: loading model: %w", err)
	}
	has := func(name string) bool { _, err := f.Get(name); return err == nil }
	switch {
	case has("shapeMU"):
		return bfm2009FromMAT(f, path)
	case has("mu_exp"):
		mapPath := filepath.Join(filepath.Dir(path), "map_tddfa_to_basel.mat")
		mf, err := mat5.ReadFile(mapPath)
		if err != nil {
			return nil, fmt.Errorf("bfm: %s is a 3DDFA expression model; it needs map_tddfa_to_basel.mat beside it (or call ReadTDDFAExpression): %w", path, err)
		}
		mapping, err := tddfaMap(mf, mapPath, BFM2009Vertices)
		if err != nil {
			return nil, err
		}
		return tddfaFromMAT(f, path, mapping, BFM2009Vertices)
	case has("UV"):
		return nil, formatErr(path, -1, "UV", "a morphable model (shapeMU or mu_exp)", "a UV map only (read it with ReadUVMAT)")
	}
	names := make([]string, len(f.Vars))
	for i, v := range f.Vars {
		names[i] = v.Name
	}
	return nil, formatErr(path, -1, "", "BFM 2009 variables (shapeMU, shapePC, shapeEV, tl) or 3DDFA ones (mu_exp, w_exp, sigma_exp)",
		"variables [%s]", strings.Join(names, ", "))
}

// loadEOS tells a MorphableModel (uint32 version, then the int32 row count of
// the shape mean, non-zero) from a blendshapes file (uint64 count, whose
// upper half is 0).
func loadEOS(path string, head []byte, size int64) (*Model, error) {
	if len(head) < 8 {
		return nil, formatErr(path, 0, "", "an eos model (at least 8 bytes)", "%d bytes", size)
	}
	var m *Model
	var err error
	if binary.LittleEndian.Uint32(head[4:8]) == 0 {
		m, err = ReadEOSBlendshapes(path)
	} else {
		m, err = ReadEOS(path)
	}
	if err != nil {
		return nil, err
	}
	if m.Format == "eos" && m.Landmarks[SchemeIBUG68] == nil {
		mp := filepath.Join(filepath.Dir(path), "ibug_to_sfm.txt")
		if _, statErr := os.Stat(mp); statErr == nil {
			mapping, err := ReadIBUGMapping(mp)
			if err != nil {
				return nil, err
			}
			// The SFM ships one ibug_to_sfm.txt for its resolutions, and
			// its indices need not exist in every one (its header: points
			// above vertex 845 are not defined in all resolutions). A
			// model whose vertices it does not fit loads without iBUG
			// landmarks, as Load documents: a decision taken here, not an
			// error dropped. A mapping that fits must be stored.
			if ibugMappingFits(mapping, m.NumVertices()) {
				if err := SetIBUGLandmarks(m, mapping, mp); err != nil {
					return nil, fmt.Errorf("bfm: loading model: %w", err)
				}
			}
		}
	}
	return m, nil
}

// ibugMappingFits reports whether every index of a mapping read by
// ReadIBUGMapping (-1 for an undefined point) is below nv.
func ibugMappingFits(mapping []int, nv int) bool {
	for _, v := range mapping {
		if v >= nv {
			return false
		}
	}
	return true
}

// loadH5 reads a BFM 2017 HDF5 model with ReadBFM2017's defaults.
func loadH5(path string) (*Model, error) {
	return ReadBFM2017(path)
}
