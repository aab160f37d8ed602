package detect

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph"
)

// HardNegative is a detection on a training picture that is no face: a
// bootstrapped negative, as in Sung and Poggio's and Viola and Jones's
// detectors. Source names the picture (a photograph's name, or "mosaic
// G-N" for the N-th mosaic of G x G photographs) and Box is in its pixels.
// The negative carries its own piece of the picture (the box with a
// margin), so that training needs nothing else.
type HardNegative struct {
	Source string
	Box    Box
	Score  float64
	piece  hardPiece
}

// hardPiece is a mined negative's surroundings: box in the pixels of src,
// whose faces are the annotated faces within it.
type hardPiece struct {
	src *source
	box Box
}

const (
	// mineIoU is the largest IoU with a face of a mined box: boxes
	// between it and Evaluate's 0.5 are badly placed faces, not negatives.
	mineIoU = 0.3
	// hardMargin is the margin kept around a mined box, in box sizes
	// (pasteHard uses up to 1.25), and hardStore the size its box is
	// stored at (pixels; pasted at BandMin to BandMax).
	hardMargin = 1.5
	hardStore  = 48
	// mosaicSide is the side of a mosaic (pixels), mosaicGrids its
	// layouts: G x G photographs, each (mosaicSide/G)^2.
	mosaicSide = 480
)

var mosaicGrids = [...]int{2, 3, 4}

// Mined reports whether the training photograph at position k (of those
// not AFLWHeldOut) is mined for hard negatives: every even one. The others
// stay unseen negatives for Calibrate's threshold, which would otherwise
// be chosen on the very false positives the network was trained away from.
func Mined(k int) bool { return k%2 == 0 }

// MineHardNegatives runs the detector (meta, ts) over the Mined training
// photographs of the AFLW2000-3D folder aflwDir, one by one and tiled into
// mosaics (each photograph once in a 2 x 2, a 3 x 3 and a 4 x 4 mosaic of
// 480 x 480 pixels, in an order drawn from seed; a group photograph's
// faces of 55 to 110 px beside other heads and shoulders), and returns
// every detection scoring at least threshold whose IoU with every face is
// below mineIoU: photographs first, then mosaics.
func MineHardNegatives(meta Meta, ts []graph.WeightTensor, aflwDir string, threshold float64, seed uint64) ([]HardNegative, error) {
	d, err := New(meta, ts)
	if err != nil {
		return nil, err
	}
	photos, err := trainingPhotos(aflwDir)
	if err != nil {
		return nil, err
	}
	var mined []Photo
	for k, p := range photos {
		if Mined(k) {
			mined = append(mined, p)
		}
	}
	opt := Options{Threshold: threshold}
	var out []HardNegative
	for _, p := range mined {
		c, err := loadMips(p)
		if err != nil {
			return nil, err
		}
		var faces []Box
		for _, f := range p.Faces {
			faces = append(faces, f.Box)
		}
		if out, err = d.mineIn(out, c, faces, p.Name, opt); err != nil {
			return nil, err
		}
	}
	err = eachMosaic(mined, seed, func(c *mipChain, faces []Box, name string) error {
		var err error
		out, err = d.mineIn(out, c, faces, name, opt)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// loadMips decodes a photograph into a mip chain.
func loadMips(p Photo) (*mipChain, error) {
	img, err := dataset.LoadImage(p.Path)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	m := &rgb{}
	if err := toRGB(m, img); err != nil {
		return nil, fmt.Errorf("detect: %s: %w", p.Name, err)
	}
	c := &mipChain{levels: []*rgb{m}}
	c.build(8)
	return c, nil
}

// eachMosaic tiles the photographs into mosaics (for each of mosaicGrids
// G: an order drawn from seed, G x G photographs per mosaic, each scaled
// to mosaicSide/G on a mean-grey canvas) and calls fn with each mosaic's
// mips, its faces and its name ("mosaic G-N").
func eachMosaic(photos []Photo, seed uint64, fn func(c *mipChain, faces []Box, name string) error) error {
	rng := rand.New(rand.NewPCG(seed, 0x4ea7))
	for _, g := range mosaicGrids {
		order := rng.Perm(len(photos))
		T := mosaicSide / g
		for n := 0; n*g*g < len(order); n++ {
			canvas := newRGB(g*T, g*T)
			for i := range canvas.pix {
				canvas.pix[i] = 0.5
			}
			var faces []Box
			for t := 0; t < g*g && n*g*g+t < len(order); t++ {
				p := photos[order[n*g*g+t]]
				c, err := loadMips(p)
				if err != nil {
					return err
				}
				lv := c.levels[0]
				f := float64(T) / float64(max(lv.w, lv.h))
				ox, oy := float64((t%g)*T), float64((t/g)*T)
				c.sampleClip(canvas, f, ox, oy, int(ox), int(oy), int(ox)+T, int(oy)+T)
				for _, fc := range p.Faces {
					faces = append(faces, mapBox(fc.Box, f, ox, oy))
				}
			}
			c := &mipChain{levels: []*rgb{canvas}}
			c.build(8)
			if err := fn(c, faces, fmt.Sprintf("mosaic %d-%d", g, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// mineIn appends to out the detections in the picture c (its mips built)
// that are no face of faces.
func (d *Detector) mineIn(out []HardNegative, c *mipChain, faces []Box, name string, opt Options) ([]HardNegative, error) {
	dets, err := d.detectRGB(c.levels[0], opt)
	if err != nil {
		return nil, fmt.Errorf("detect: mine: %s: %w", name, err)
	}
	for _, dt := range dets {
		face := false
		for _, f := range faces {
			face = face || IoU(dt.Box, f) >= mineIoU
		}
		if !face {
			out = append(out, HardNegative{Source: name, Box: dt.Box, Score: dt.Score, piece: cutPiece(c, dt.Box, faces)})
		}
	}
	return out, nil
}

// cutPiece resamples the part of c around b (hardMargin box sizes each
// side, clipped to the picture) so that b's size is at most hardStore, and
// keeps the faces that overlap it.
func cutPiece(c *mipChain, b Box, faces []Box) hardPiece {
	lv := c.levels[0]
	s := sizeOf(b)
	f := min(1, hardStore/s)
	m := hardMargin * s
	x0, y0 := max(math.Floor(b.X0-m), 0), max(math.Floor(b.Y0-m), 0)
	x1, y1 := min(math.Ceil(b.X1+m), float64(lv.w)), min(math.Ceil(b.Y1+m), float64(lv.h))
	w, h := max(int(math.Ceil((x1-x0)*f)), 1), max(int(math.Ceil((y1-y0)*f)), 1)
	dst := newRGB(w, h)
	for i := range dst.pix {
		dst.pix[i] = 0.5
	}
	ox, oy := -f*x0, -f*y0
	c.sample(dst, f, ox, oy)
	src := &source{mips: mipChain{levels: []*rgb{dst}}}
	src.mips.build(8)
	crop := Box{X0: x0, Y0: y0, X1: x1, Y1: y1}
	for _, fb := range faces {
		if overlapSmall(fb, crop) > 0 {
			src.faces = append(src.faces, mapBox(fb, f, ox, oy))
		}
	}
	return hardPiece{src: src, box: mapBox(b, f, ox, oy)}
}

// pasteHard draws one mined negative into p at a size in the band, with a
// random margin of its picture around it, as make places faces. The
// picture's faces, wherever they land, are marked ignored.
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
