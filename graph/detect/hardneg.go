package detect

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// HardNegative is a detection on a training photograph that is no face (a
// bootstrapped negative, as in Sung and Poggio's and Viola and Jones's
// detectors): Photo indexes the training photographs (AFLW2000-3D items
// not AFLWHeldOut, in the folder's order) and Box is in that photograph's
// pixels.
type HardNegative struct {
	Photo int
	Box   Box
	Score float64
}

// mineIoU is the largest IoU with the photograph's face of a mined box:
// boxes between it and Evaluate's 0.5 are badly placed faces, not
// negatives.
const mineIoU = 0.3

// MineHardNegatives runs the detector (meta, ts) over the training
// photographs of the AFLW2000-3D folder aflwDir and returns every detection
// scoring at least threshold whose IoU with the photograph's face is below
// mineIoU, in photograph order.
func MineHardNegatives(meta Meta, ts []graph.WeightTensor, aflwDir string, threshold float64) ([]HardNegative, error) {
	d, err := New(meta, ts)
	if err != nil {
		return nil, err
	}
	src, err := dataset.OpenAFLW2000(aflwDir, dataset.AFLW2000Options{})
	if err != nil {
		return nil, err
	}
	photos, err := PhotosFrom(src, func(i int) bool { return !AFLWHeldOut(i) })
	if err != nil {
		return nil, err
	}
	var out []HardNegative
	for k, p := range photos {
		img, err := dataset.LoadImage(p.Path)
		if err != nil {
			return nil, fmt.Errorf("detect: mine: %w", err)
		}
		dets, err := d.Detect(img, Options{Threshold: threshold})
		if err != nil {
			return nil, fmt.Errorf("detect: mine: %s: %w", p.Name, err)
		}
		for _, dt := range dets {
			face := false
			for _, f := range p.Faces {
				face = face || IoU(dt.Box, f.Box) >= mineIoU
			}
			if !face {
				out = append(out, HardNegative{Photo: k, Box: dt.Box, Score: dt.Score})
			}
		}
	}
	return out, nil
}

// hardPiece is a mined negative in the mip chain of its (loaded) training
// photograph: box in level-0 pixels of that chain.
type hardPiece struct {
	src *source
	box Box
}

// pasteHard draws one mined negative into p at a size in the band, with a
// random margin of its photograph around it, as make places faces. The
// photograph's own face, wherever it lands, is marked ignored.
func (pm *patchMaker) pasteHard(rng *rand.Rand, p, tmp *rgb, faces []face) []face {
	h := pm.hard[rng.IntN(len(pm.hard))]
	s := logUniform(rng, BandMin, BandMax)
	f := s / sizeOf(h.box)
	P := float64(pm.size)
	cx, cy := -4+rng.Float64()*(P+8), -4+rng.Float64()*(P+8)
	ox, oy := cx-f*(h.box.X0+h.box.X1)/2, cy-f*(h.box.Y0+h.box.Y1)/2
	box := mapBox(h.box, f, ox, oy)
	m := s * (0.25 + rng.Float64())
	cx0, cy0 := int(math.Floor(box.X0-m)), int(math.Floor(box.Y0-m))
	cx1, cy1 := int(math.Ceil(box.X1+m)), int(math.Ceil(box.Y1+m))
	r := pasteFeathered(p, tmp, &h.src.mips, f, ox, oy, cx0, cy0, cx1, cy1, rng)
	occlude(faces, r)
	for _, fb := range h.src.faces {
		faces = append(faces, face{box: mapBox(fb, f, ox, oy), ignore: true})
	}
	return faces
}

// hardPieces maps mined negatives onto the loaded training photographs
// (loadAFLWTrain with skip levels dropped).
func hardPieces(hard []HardNegative, photos []*source, skip int) ([]hardPiece, error) {
	out := make([]hardPiece, 0, len(hard))
	sc := 1 / float64(int(1)<<skip)
	for _, h := range hard {
		if h.Photo < 0 || h.Photo >= len(photos) {
			return nil, fmt.Errorf("detect: hard negative on photograph %d: want 0..%d", h.Photo, len(photos)-1)
		}
		b := h.Box
		b.X0, b.X1 = (b.X0+0.5)*sc-0.5, (b.X1+0.5)*sc-0.5
		b.Y0, b.Y1 = (b.Y0+0.5)*sc-0.5, (b.Y1+0.5)*sc-0.5
		if !(b.W() > 0 && b.H() > 0) {
			return nil, fmt.Errorf("detect: hard negative on photograph %d: empty box %+v", h.Photo, h.Box)
		}
		out = append(out, hardPiece{src: photos[h.Photo], box: b})
	}
	return out, nil
}
