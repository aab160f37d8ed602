package dataset

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/bfm/mat5"
)

// AFLW2000Options configures OpenAFLW2000.
type AFLW2000Options struct {
	// ZeroBased says the .mat coordinates are already 0-based. By default
	// they are taken as MATLAB's 1-based pixel coordinates (3DDFA, which
	// produced AFLW2000-3D, is MATLAB code and projects with
	// y = height + 1 - y) and 1 is subtracted.
	ZeroBased bool
}

// OpenAFLW2000 reads an AFLW2000-3D folder: imageNNNNN.jpg files each with
// a MAT file of the same stem (read with bfm/mat5) holding
//
//   - pt2d, 2 x 21 (a few files have 23 columns; the first 21 are used):
//     the AFLW 21 points (aflw21 scheme), x in row 0, y in row 1; a point
//     with a negative coordinate (x = -1, y = 452) is invisible;
//   - pt3d_68, 3 x 68: the 68 iBUG points of the fitted model (ibug68
//     scheme, all visible; the z row is ignored);
//   - Pose_Para, 1 x 7: pitch, yaw, roll in radians, then tx, ty, tz,
//     scale; the angles become Pose in degrees, wrapped to (-180, 180].
//     Pose's convention is 3DDFA's, so the angles keep their signs: the
//     head rotation (Rz(roll) Ry(yaw) Rx(pitch))^T agrees with the rotation
//     fitted to each photograph's pt3d_68 within 2 degrees (median) on the
//     shared photographs (aflw2000_test.go).
//
// Images are the files IsImageFile accepts (AFLW2000-3D ships .jpg).
// Samples are named by the image file name, in lexical order. Coordinates
// are converted to 0-based (see AFLW2000Options). A .mat file that cannot be
// decoded or has wrongly sized variables, or an image without a .mat file,
// goes to Skipped naming the file and variable; a missing Pose_Para gives a
// sample without pose.
func OpenAFLW2000(dir string, opt AFLW2000Options) (*ItemSource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: open AFLW2000-3D: %w", err)
	}
	var images []string
	files := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		files[e.Name()] = true
		if IsImageFile(e.Name()) {
			images = append(images, e.Name())
		}
	}
	sort.Strings(images)
	off := 1.0
	if opt.ZeroBased {
		off = 0
	}
	src := &ItemSource{}
	for _, name := range images {
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		if !files[stem+".mat"] {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: no %s.mat beside the image", filepath.Join(dir, name), stem))
			continue
		}
		matPath := filepath.Join(dir, stem+".mat")
		it, err := readAFLW2000Mat(matPath, off)
		if err != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: %w", matPath, err))
			continue
		}
		it.Name = name
		it.ImagePath = filepath.Join(dir, name)
		src.Items = append(src.Items, it)
	}
	return src, nil
}

func readAFLW2000Mat(path string, off float64) (Item, error) {
	f, err := mat5.ReadFile(path)
	if err != nil {
		return Item{}, err
	}
	it := Item{Landmarks: map[string]Landmarks{}}
	// get returns variable name, rows x cols, or rows x at least cols when
	// extra is set; nil if absent.
	get := func(name string, rows, cols int, extra bool) (*mat5.Var, error) {
		v, err := f.Get(name)
		if err != nil {
			return nil, nil // absent
		}
		if len(v.Dims) != 2 || v.Dims[0] != rows || v.Dims[1] < cols || (!extra && v.Dims[1] != cols) {
			more := ""
			if extra {
				more = " or more columns"
			}
			return nil, fmt.Errorf("variable %s has size %v, want [%d %d]%s", name, v.Dims, rows, cols, more)
		}
		for i, x := range v.Data {
			if !isFinite(x) {
				return nil, fmt.Errorf("variable %s element %d is %g", name, i, x)
			}
		}
		return v, nil
	}
	pt2d, err := get("pt2d", 2, 21, true) // a few files hold 23 columns: the first 21 are AFLW's
	if err != nil {
		return Item{}, err
	}
	if pt2d != nil {
		lm := Landmarks{Points: make([][2]float64, 21), Visible: make([]bool, 21)}
		for k := 0; k < 21; k++ {
			x, y := pt2d.At(0, k), pt2d.At(1, k)
			if x < 0 || y < 0 {
				continue
			}
			lm.Points[k] = [2]float64{x - off, y - off}
			lm.Visible[k] = true
		}
		it.Landmarks[bfm.SchemeAFLW21] = lm
	}
	pt3d, err := get("pt3d_68", 3, 68, false)
	if err != nil {
		return Item{}, err
	}
	if pt3d != nil {
		lm := Landmarks{Points: make([][2]float64, 68), Visible: make([]bool, 68)}
		for k := 0; k < 68; k++ {
			lm.Points[k] = [2]float64{pt3d.At(0, k) - off, pt3d.At(1, k) - off}
			lm.Visible[k] = true
		}
		it.Landmarks[bfm.SchemeIBUG68] = lm
	}
	if pt2d == nil && pt3d == nil {
		return Item{}, fmt.Errorf("neither pt2d nor pt3d_68 present")
	}
	pose, err := get("Pose_Para", 1, 7, false)
	if err != nil {
		return Item{}, err
	}
	if pose != nil {
		const deg = 180 / math.Pi
		it.Pose = &Pose{Pitch: wrapDeg(pose.Data[0] * deg), Yaw: wrapDeg(pose.Data[1] * deg), Roll: wrapDeg(pose.Data[2] * deg)}
	}
	return it, nil
}
