package dataset

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// OpenFolder scans dir and its sub-folders for images (IsImageFile: .jpg,
// .jpeg, .png, .ppm, .pgm, .pnm, any case) with an annotation beside them of the same
// stem: a .pts file (300-W, see ReadPTS) or, if there is none, a .ljson file
// (menpo, see ReadLJSON). The scheme follows from the number of points (68:
// ibug68, 21: aflw21). Sample names are paths relative to dir with forward
// slashes, in lexical order. An image without an annotation, an annotation
// without an image, or an unreadable annotation is reported in Skipped.
func OpenFolder(dir string) (*ItemSource, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: open folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dataset: open folder %s: not a directory", dir)
	}
	byStem := map[string][]string{} // stem -> extensions present
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		ext := filepath.Ext(p)
		stem := strings.TrimSuffix(p, ext)
		byStem[stem] = append(byStem[stem], ext)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: open folder %s: %w", dir, err)
	}
	stems := make([]string, 0, len(byStem))
	for s := range byStem {
		stems = append(stems, s)
	}
	sort.Strings(stems)
	src := &ItemSource{}
	for _, stem := range stems {
		var img, pts, lj string
		for _, ext := range byStem[stem] {
			switch l := strings.ToLower(ext); {
			case IsImageFile(l) && img == "":
				img = stem + ext
			case l == ".pts":
				pts = stem + ext
			case l == ".ljson":
				lj = stem + ext
			}
		}
		ann := pts
		if ann == "" {
			ann = lj
		}
		switch {
		case img == "" && ann == "":
			continue
		case img == "":
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: no image beside the annotation", ann))
			continue
		case ann == "":
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: no .pts or .ljson beside the image", img))
			continue
		}
		lm, scheme, err := readFolderAnnotation(ann)
		if err != nil {
			src.Skipped = append(src.Skipped, err)
			continue
		}
		rel, err := filepath.Rel(dir, img)
		if err != nil {
			rel = img
		}
		src.Items = append(src.Items, Item{
			Name:      filepath.ToSlash(rel),
			ImagePath: img,
			Landmarks: map[string]Landmarks{scheme: lm},
		})
	}
	return src, nil
}

func readFolderAnnotation(path string) (Landmarks, string, error) {
	if strings.EqualFold(filepath.Ext(path), ".ljson") {
		lm, scheme, err := ReadLJSON(path, "")
		if err == nil && scheme == "" {
			err = fmt.Errorf("dataset: %s: %d points, want 21 or 68", path, len(lm.Points))
		}
		return lm, scheme, err
	}
	pts, err := ReadPTS(path)
	if err != nil {
		return Landmarks{}, "", err
	}
	scheme := schemeForCount(len(pts))
	if scheme == "" {
		return Landmarks{}, "", fmt.Errorf("dataset: %s: %d points, want 21 or 68", path, len(pts))
	}
	vis := make([]bool, len(pts))
	for i := range vis {
		vis[i] = true
	}
	return Landmarks{Points: pts, Visible: vis}, scheme, nil
}
