package dataset

import (
	"bytes"
	"database/sql"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/bfm"
)

// The fuzz targets of the annotation readers: any input gives items that
// pass checkItems, or errors naming the input; never a panic or a hang.
// Seeds are the fixtures of the readers' tests.

// checkItems checks what every reader promises of the items it keeps:
// an image path, landmarks of a known scheme with one finite point and
// one flag each, an ordered finite box and a finite pose.
func checkItems(t *testing.T, src *ItemSource) {
	t.Helper()
	for i, it := range src.Items {
		if it.ImagePath == "" || it.Name == "" {
			t.Fatalf("item %d: name %q, image %q", i, it.Name, it.ImagePath)
		}
		for scheme, lm := range it.Landmarks {
			n := bfm.SchemeSize(scheme)
			if n == 0 || len(lm.Points) != n || len(lm.Visible) != n {
				t.Fatalf("item %d: scheme %q with %d points, %d flags", i, scheme, len(lm.Points), len(lm.Visible))
			}
			for _, p := range lm.Points {
				if !finite2(p) {
					t.Fatalf("item %d: point %v", i, p)
				}
			}
		}
		if b := it.Box; b != nil && !(isFinite(b.X0) && isFinite(b.Y0) && isFinite(b.X1) && isFinite(b.Y1) && b.X1 > b.X0 && b.Y1 > b.Y0) {
			t.Fatalf("item %d: box %+v", i, *b)
		}
		if p := it.Pose; p != nil && !(isFinite(p.Yaw) && isFinite(p.Pitch) && isFinite(p.Roll)) {
			t.Fatalf("item %d: pose %+v", i, *p)
		}
	}
	for i, err := range src.Skipped {
		if err == nil || err.Error() == "" {
			t.Fatalf("skipped[%d] has no message", i)
		}
	}
}

// fuzzDir is a folder with images face0.png, face1.png and a.png for the
// readers' existence checks.
func fuzzDir(f *testing.F) string {
	dir := f.TempDir()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 6, 5))); err != nil {
		f.Fatal(err)
	}
	for _, n := range []string{"face0.png", "face1.png", "a.png"} {
		if err := os.WriteFile(filepath.Join(dir, n), buf.Bytes(), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	return dir
}

func FuzzParsePTS(f *testing.F) {
	f.Add(FormatPTS([][2]float64{{1, 2}, {3.5, 4.25}}))
	f.Add([]byte("\ufeffversion: 1\nn_points: 3\n{\n1 2\n\n3 4\n5 6\n}\n"))
	f.Add([]byte("version: 1\nn_points: 2\n{\n1 2\n}\n"))
	f.Add([]byte("n_points: 1\n{\n1 2\n}\nextra\n"))
	f.Add([]byte("n_points: 1\n{\n1 NaN\n}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, err := ParsePTS(bytes.NewReader(b), "fuzz.pts")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dataset: fuzz.pts") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(pts) == 0 {
			t.Fatal("no points and no error")
		}
		for _, p := range pts {
			if !finite2(p) {
				t.Fatalf("point %v", p)
			}
		}
	})
}

func FuzzReadLJSON(f *testing.F) {
	pts21 := strings.Repeat("[1, 2], ", 19) + "null, [null, null]"
	for _, s := range []string{
		`{"version": 2, "landmarks": {"points": [` + pts21 + `]}}`,
		`{"version": 2, "landmarks": {"points": [[1, 2, 3]]}}`,
		`{"groups": {"g": {"landmarks": {"points": [["a", 1], ` + pts21[8:] + `]}}}}`,
		`{"groups": {"a": {"landmarks": {"points": [` + pts21 + `]}}, "pupils": {"landmarks": {"points": [[1, 2], [3, 4]]}}}}`,
		`{"version": 3}`,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"groups": {"pupils": {"landmarks": {"points": [[1, 2], [3, 4]]}}}}`), "pupils")
	f.Fuzz(func(t *testing.T, b []byte, group string) {
		lm, scheme, err := ParseLJSON(b, "fuzz.ljson", group)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dataset: read ljson fuzz.ljson: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(lm.Visible) != len(lm.Points) || (scheme != "" && bfm.SchemeSize(scheme) != len(lm.Points)) {
			t.Fatalf("scheme %q, %d points, %d flags", scheme, len(lm.Points), len(lm.Visible))
		}
		for _, p := range lm.Points {
			if !finite2(p) {
				t.Fatalf("point %v", p)
			}
		}
	})
}

func FuzzDlibXML(f *testing.F) {
	dir := fuzzDir(f)
	f.Add([]byte("<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset><name>caf\xe9</name><images>\n" +
		"<image file='a.png'>\n" +
		"  <box top='1' left='2' width='3' height='4'><part name='05' x='3' y='4'/><part name='67' x='5.5' y='6'/></box>\n" +
		"  <box top='1' left='2' width='3' height='4' ignore='1'/>\n" +
		"  <box top='1' left='2' width='3' height='4'/>\n" +
		"  <box top='1' left='2' width='3' height='4'><part name='68' x='0' y='0'/></box>\n" +
		"  <box top='x' left='2' width='3' height='4'/>\n" +
		"</image>\n<image file='missing.jpg'><box top='1' left='2' width='3' height='4'/></image>\n" +
		"</images></dataset>\n"))
	f.Add([]byte("<?xml version='1.0' encoding='EBCDIC'?><dataset/>"))
	f.Add([]byte("<dataset><images><image file='face0.png'><box top='-1e308' left='1e308' width='1e308' height='1'/></image></images></dataset>"))
	p := filepath.Join(dir, "fuzz.xml")
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := parseDlibXML(bytes.NewReader(b), p)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dataset: open dlib xml "+p+": ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkItems(t, src)
	})
}

func manifestSeeds() (jsonl, csv []string) {
	pts := make([]string, 21)
	for i := range pts {
		pts[i] = "[" + strconv.Itoa(i) + ".5, " + strconv.Itoa(2*i) + "]"
	}
	pts[12] = "null"
	lm := "[" + strings.Join(pts, ", ") + "]"
	jsonl = []string{
		"# a comment\n" + `{"image": "face0.png", "scheme": "aflw21", "landmarks": ` + lm + `, "box": [1, 2, 30, 40], "pose": {"yaw": -45, "pitch": 10, "roll": 2.5}}` + "\n\n" +
			`{"image": "face1.png", "name": "second"}` + "\n" + `{"image": "nothere.png"}` + "\n",
		`{"image": "face0.png", "scheme": "ibug68", "landmarks": ` + lm + `}`,
		`{"image": "face0.png", "box": [5, 2, 3, 9]}` + "\n" + `{"image": "face0.png", "pose": {"yaw": 1}}` + "\nnot json\n",
		`{"image": "face0.png", "scheme": "aflw21", "landmarks": ` + strings.Replace(lm, "[0.5, 0]", "[1e19, 0]", 1) + `}`,
	}
	var hdr, row []string
	hdr = append(hdr, "image", "yaw", "pitch", "roll", "box_x0", "box_y0", "box_x1", "box_y1")
	row = append(row, "face0.png", "10", "-5", "1", "0", "0", "5", "4")
	for k := 0; k < 21; k++ {
		hdr = append(hdr, "x"+strconv.Itoa(k), "y"+strconv.Itoa(k))
		row = append(row, strconv.Itoa(k), strconv.Itoa(k+1))
	}
	csv = []string{
		strings.Join(hdr, ",") + "\n" + strings.Join(row, ",") + "\nface1.png,1,2\n",
		"image,name,scheme\nface0.png,a,\nface1.png,b,aflw21\n",
		"\ufeffImage,x0,y0\n\"face0.png\",1,2\n",
	}
	return jsonl, csv
}

func FuzzManifestJSONL(f *testing.F) {
	dir := fuzzDir(f)
	jsonl, _ := manifestSeeds()
	for _, s := range jsonl {
		f.Add([]byte(s))
	}
	p := filepath.Join(dir, "fuzz.jsonl")
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := parseManifestJSONL(b, p, dir)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkItems(t, src)
	})
}

func FuzzManifestCSV(f *testing.F) {
	dir := fuzzDir(f)
	_, csv := manifestSeeds()
	for _, s := range csv {
		f.Add([]byte(s))
	}
	p := filepath.Join(dir, "fuzz.csv")
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := parseManifestCSV(b, p, dir)
		if err != nil {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkItems(t, src)
	})
}

// FuzzAFLWRows writes one face with fuzzed feature, rectangle and pose
// rows (and its image path) into an AFLW-shaped database and opens it.
func FuzzAFLWRows(f *testing.F) {
	dir := fuzzDir(f)
	f.Add("a.png", int64(1), 10.5, 12.25, false, 5.0, 6.0, 20.0, 22.0, 0.1, -0.2, 0.785, int64(2))
	f.Add("a.png", int64(22), 1.0, 1.0, false, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0, int64(1))
	f.Add("a.png", int64(3), 0.0, 4.0, true, 1.0, 2.0, 3.0, 4.0, 30.0, 40.0, 50.0, int64(0))
	f.Add("missing.jpg", int64(21), 20.0, 28.0, false, 1e308, 2.0, 1e308, 4.0, 1e308, 0.0, 0.0, int64(3))
	n := 0
	f.Fuzz(func(t *testing.T, imgPath string, fid int64, x, y float64, xNull bool, rx, ry, rw, rh, roll, pitch, yaw float64, repeat int64) {
		n++
		db := filepath.Join(dir, "aflw"+strconv.Itoa(n)+".sqlite")
		defer os.Remove(db)
		if err := writeAFLWFuzzDB(db, imgPath, fid, x, y, xNull, [4]float64{rx, ry, rw, rh}, [3]float64{roll, pitch, yaw}, repeat%4); err != nil {
			t.Skip(err) // a value SQLite cannot store is no reader input
		}
		src, err := OpenAFLW(db, dir, AFLWOptions{})
		if err != nil {
			t.Fatalf("a well-formed database: %v", err)
		}
		checkItems(t, src.ItemSource)
		if src.Len()+len(src.Skipped) != 1 {
			t.Fatalf("one face: %d items, %d skipped", src.Len(), len(src.Skipped))
		}
	})
}

// writeAFLWFuzzDB writes the database in one transaction without syncs,
// so that an exec takes a millisecond or so rather than the 100 ms of a
// sync per statement.
func writeAFLWFuzzDB(path, imgPath string, fid int64, x, y float64, xNull bool, rect [4]float64, pose [3]float64, repeat int64) error {
	db, err := sql.Open("sqlite", path+"?_pragma=synchronous(OFF)&_pragma=journal_mode(OFF)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit: a no-op
	var xv any = x
	if xNull {
		xv = nil
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{`CREATE TABLE faces(face_id INTEGER PRIMARY KEY, file_id TEXT, db_id TEXT)`, nil},
		{`CREATE TABLE faceimages(image_id INTEGER PRIMARY KEY, db_id TEXT, file_id TEXT, filepath TEXT, bw INTEGER, width INTEGER, height INTEGER)`, nil},
		{`CREATE TABLE featurecoords(face_id INTEGER, feature_id INTEGER, x REAL, y REAL)`, nil},
		{`CREATE TABLE facerect(face_id INTEGER, x INTEGER, y INTEGER, w INTEGER, h INTEGER, annot_type_id INTEGER)`, nil},
		{`CREATE TABLE facepose(face_id INTEGER, roll REAL, pitch REAL, yaw REAL, annot_type_id INTEGER)`, nil},
		{`INSERT INTO faceimages VALUES (1, 'flickr', 'f', ?, 0, 40, 30)`, []any{imgPath}},
		{`INSERT INTO faces VALUES (7, 'f', 'flickr')`, nil},
		{`INSERT INTO facerect VALUES (7, ?, ?, ?, ?, 1)`, []any{rect[0], rect[1], rect[2], rect[3]}},
		{`INSERT INTO facepose VALUES (7, ?, ?, ?, 1)`, []any{pose[0], pose[1], pose[2]}},
	}
	for r := int64(0); r <= repeat; r++ {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`INSERT INTO featurecoords VALUES (7, ?, ?, ?)`, []any{fid + r, xv, y}})
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s.q, s.args...); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	return db.Close()
}
