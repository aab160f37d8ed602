package dataset

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stn3d/stn3d/bfm"
)

type dlibDataset struct {
	Images []dlibImage `xml:"images>image"`
}

type dlibImage struct {
	File  string    `xml:"file,attr"`
	Boxes []dlibBox `xml:"box"`
}

type dlibBox struct {
	Top    string     `xml:"top,attr"`
	Left   string     `xml:"left,attr"`
	Width  string     `xml:"width,attr"`
	Height string     `xml:"height,attr"`
	Ignore string     `xml:"ignore,attr"`
	Parts  []dlibPart `xml:"part"`
}

type dlibPart struct {
	Name string `xml:"name,attr"`
	X    string `xml:"x,attr"`
	Y    string `xml:"y,attr"`
}

// OpenDlibXML reads a dlib imglab XML file (the format of dlib's
// training_with_face_landmarks.xml):
//
//	<dataset><images>
//	  <image file='a.jpg'>
//	    <box top='90' left='194' width='37' height='37'>
//	      <part name='00' x='201' y='107'/> ... <part name='67' .../>
//	    </box>
//	  </image>
//	</images></dataset>
//
// Each box is one sample, named "<file>#<k>" (k = 0-based box index in its
// image), with Box = [left, left+width] x [top, top+height] and the parts as
// ibug68 landmarks (part name = 0-based iBUG index; dlib pixel coordinates
// are 0-based already). Parts that are absent are missing (Visible false);
// a box without parts has no landmarks. Boxes marked ignore='1' are left
// out. Image paths are relative to the XML file's folder. Per-box problems
// (bad number, part name out of 0..67, repeated part, missing image file)
// go to Skipped naming the file, image and box. ISO-8859-1 and UTF-8
// encodings are accepted.
func OpenDlibXML(path string) (*ItemSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: open dlib xml: %w", err)
	}
	defer f.Close() // read only
	return parseDlibXML(f, path)
}

// parseDlibXML is OpenDlibXML on the XML read from r; path names the file
// and its folder holds the images.
func parseDlibXML(r io.Reader, path string) (*ItemSource, error) {
	dec := xml.NewDecoder(bufio.NewReader(r))
	dec.CharsetReader = xmlCharsetReader
	var ds dlibDataset
	if err := dec.Decode(&ds); err != nil {
		return nil, fmt.Errorf("dataset: open dlib xml %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	src := &ItemSource{}
	for ii, img := range ds.Images {
		if img.File == "" {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: image %d: empty file attribute", path, ii))
			continue
		}
		imgPath := resolvePath(dir, img.File)
		_, statErr := os.Stat(imgPath)
		for bi, b := range img.Boxes {
			if b.Ignore == "1" {
				continue
			}
			it, err := dlibBoxItem(b, imgPath)
			if err == nil && statErr != nil {
				err = fmt.Errorf("image: %w", statErr)
			}
			if err != nil {
				src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: image %q box %d: %w", path, img.File, bi, err))
				continue
			}
			it.Name = img.File + "#" + strconv.Itoa(bi)
			src.Items = append(src.Items, it)
		}
	}
	return src, nil
}

func dlibBoxItem(b dlibBox, imgPath string) (Item, error) {
	var v [4]float64
	for k, a := range []struct{ name, s string }{{"top", b.Top}, {"left", b.Left}, {"width", b.Width}, {"height", b.Height}} {
		x, err := strconv.ParseFloat(strings.TrimSpace(a.s), 64)
		if err != nil || !isFinite(x) {
			return Item{}, fmt.Errorf("attribute %s=%q: want a number", a.name, a.s)
		}
		v[k] = x
	}
	if v[2] <= 0 || v[3] <= 0 {
		return Item{}, fmt.Errorf("box size %gx%g: want positive width and height", v[2], v[3])
	}
	it := Item{ImagePath: imgPath, Box: &Box{X0: v[1], Y0: v[0], X1: v[1] + v[2], Y1: v[0] + v[3]}}
	if b := it.Box; !isFinite(b.X1) || !isFinite(b.Y1) || !(b.X1 > b.X0) || !(b.Y1 > b.Y0) {
		return Item{}, fmt.Errorf("box left+width, top+height = %g, %g: want finite numbers beyond left, top", b.X1, b.Y1)
	}
	if len(b.Parts) == 0 {
		return it, nil
	}
	n := bfm.SchemeSize(bfm.SchemeIBUG68)
	lm := Landmarks{Points: make([][2]float64, n), Visible: make([]bool, n)}
	for _, p := range b.Parts {
		k, err := strconv.Atoi(strings.TrimSpace(p.Name))
		if err != nil || k < 0 || k >= n {
			return Item{}, fmt.Errorf("part name %q: want an iBUG index 00..%d", p.Name, n-1)
		}
		if lm.Visible[k] {
			return Item{}, fmt.Errorf("part %q given twice", p.Name)
		}
		x, errx := strconv.ParseFloat(strings.TrimSpace(p.X), 64)
		y, erry := strconv.ParseFloat(strings.TrimSpace(p.Y), 64)
		if errx != nil || erry != nil || !isFinite(x) || !isFinite(y) {
			return Item{}, fmt.Errorf("part %q: x=%q y=%q: want numbers", p.Name, p.X, p.Y)
		}
		lm.Points[k] = [2]float64{x, y}
		lm.Visible[k] = true
	}
	it.Landmarks = map[string]Landmarks{bfm.SchemeIBUG68: lm}
	return it, nil
}

// xmlCharsetReader accepts UTF-8/ASCII as is and converts ISO-8859-1
// (Latin-1, whose bytes are the first 256 code points) to UTF-8.
func xmlCharsetReader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return &latin1Reader{r: bufio.NewReader(in)}, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q (want UTF-8 or ISO-8859-1)", charset)
}

// latin1Reader converts a Latin-1 byte stream to UTF-8.
type latin1Reader struct {
	r       *bufio.Reader
	pending []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) > 0 {
			c := copy(p[n:], l.pending)
			l.pending = l.pending[c:]
			n += c
			continue
		}
		b, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		var buf [2]byte
		utf8.EncodeRune(buf[:], rune(b))
		l.pending = append(l.pending[:0], buf[:]...)
	}
	return n, nil
}
