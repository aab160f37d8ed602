package dataset

import (
	"database/sql"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeAFLW writes an AFLW-shaped aflw.sqlite and image folder.
func makeAFLW(t *testing.T, poseScale float64) (dbPath, imgDir string) {
	dir := t.TempDir()
	imgDir = filepath.Join(dir, "flickr")
	if err := os.MkdirAll(filepath.Join(imgDir, "0"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFileIn(t, filepath.Join(imgDir, "0"), "image00002.jpg", encodePNG(t, image.NewGray(image.Rect(0, 0, 40, 30))))
	writeTestFileIn(t, filepath.Join(imgDir, "0"), "image00004.jpg", encodePNG(t, image.NewGray(image.Rect(0, 0, 40, 30))))
	dbPath = filepath.Join(dir, "aflw.sqlite")
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`CREATE TABLE faces(face_id INTEGER PRIMARY KEY, file_id TEXT, db_id TEXT)`,
		`CREATE TABLE faceimages(image_id INTEGER PRIMARY KEY, db_id TEXT, file_id TEXT, filepath TEXT, bw INTEGER, width INTEGER, height INTEGER)`,
		`CREATE TABLE featurecoords(face_id INTEGER, feature_id INTEGER, x REAL, y REAL)`,
		`CREATE TABLE facerect(face_id INTEGER, x INTEGER, y INTEGER, w INTEGER, h INTEGER, annot_type_id INTEGER)`,
		`CREATE TABLE facepose(face_id INTEGER, roll REAL, pitch REAL, yaw REAL, annot_type_id INTEGER)`,
		`INSERT INTO faceimages VALUES (1, 'flickr', 'image00002.jpg', '0/image00002.jpg', 0, 40, 30), (2, 'flickr', 'image00004.jpg', '0/image00004.jpg', 0, 40, 30), (3, 'flickr', 'image09999.jpg', '3/image09999.jpg', 0, 40, 30)`,
		// 39341: full face; 39342: same image, two points, no pose; 39343:
		// missing image; 39344: bad feature id; 39345: NULL coordinate.
		`INSERT INTO faces VALUES (39341, 'image00002.jpg', 'flickr'), (39342, 'image00002.jpg', 'flickr'), (39343, 'image09999.jpg', 'flickr'), (39344, 'image00004.jpg', 'flickr'), (39345, 'image00004.jpg', 'flickr')`,
		`INSERT INTO featurecoords VALUES (39342, 8, 10.5, 12.25), (39342, 21, 20, 28), (39344, 22, 1, 1), (39345, 3, NULL, 4)`,
		`INSERT INTO facerect VALUES (39341, 5, 6, 20, 22, 1), (39341, 0, 0, 1, 1, 2), (39342, 1, 2, 3, 4, 1)`,
		`INSERT INTO facepose VALUES (39341, ?, ?, ?, 1)`,
	}
	for i, s := range stmts {
		var args []any
		if i == len(stmts)-1 {
			args = []any{0.1 * poseScale, -0.2 * poseScale, math.Pi / 4 * poseScale}
		}
		if _, err := db.Exec(s, args...); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for k := 1; k <= 21; k++ {
		if _, err := db.Exec(`INSERT INTO featurecoords VALUES (39341, ?, ?, ?)`, k, float64(k)+0.5, float64(2*k)); err != nil {
			t.Fatal(err)
		}
	}
	return dbPath, imgDir
}

func TestOpenAFLW(t *testing.T) {
	dbPath, imgDir := makeAFLW(t, 1)
	src, err := OpenAFLW(dbPath, imgDir, AFLWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 2 || src.PoseUnit != "rad" {
		t.Fatalf("%d faces, unit %s; skipped %v", src.Len(), src.PoseUnit, src.Problems())
	}
	a, b := src.Items[0], src.Items[1]
	lm := a.Landmarks["aflw21"]
	if a.Name != "0/image00002.jpg#39341" || lm.Points[0] != [2]float64{1.5, 2} || lm.Points[20] != [2]float64{21.5, 42} || !lm.Visible[12] {
		t.Errorf("face 39341: %q %v %v", a.Name, lm.Points[0], lm.Points[20])
	}
	if *a.Box != (Box{X0: 5, Y0: 6, X1: 25, Y1: 28}) {
		t.Errorf("box %+v (first facerect row)", *a.Box)
	}
	if a.Pose == nil || !near(a.Pose.Yaw, 45, 1e-12) || !near(a.Pose.Roll, -0.1*180/math.Pi, 1e-12) || !near(a.Pose.Pitch, -0.2*180/math.Pi, 1e-12) {
		t.Errorf("pose %+v, want yaw 45, pitch -11.46 and roll -5.73 degrees (stored roll 0.1 rad, negated)", a.Pose)
	}
	bl := b.Landmarks["aflw21"]
	nVis := 0
	for _, v := range bl.Visible {
		if v {
			nVis++
		}
	}
	if nVis != 2 || bl.Points[7] != [2]float64{10.5, 12.25} || bl.Points[0] != [2]float64{} || b.Pose != nil {
		t.Errorf("face 39342: %d visible, %v, pose %v", nVis, bl.Points[7], b.Pose)
	}
	want := []string{
		"face_id 39343: image: stat ",
		"face_id 39344: featurecoords.feature_id 22: want 1..21",
		"face_id 39345: featurecoords feature_id 3: x, y = NULL, 4: want finite numbers",
	}
	if len(src.Skipped) != len(want) {
		t.Fatalf("skipped %v", src.Problems())
	}
	for i, w := range want {
		if e := src.Skipped[i].Error(); !strings.HasPrefix(e, "dataset: "+dbPath+": "+w) {
			t.Errorf("skipped[%d] = %q, want prefix %q", i, e, w)
		}
	}
	s, err := src.Sample(0)
	if err != nil || s.Image.Bounds() != image.Rect(0, 0, 40, 30) {
		t.Errorf("sample: %v", err)
	}
}

func TestOpenAFLWPoseUnits(t *testing.T) {
	// Angles stored in degrees are detected (|45 * 180/pi| > 2 pi).
	dbPath, imgDir := makeAFLW(t, 180/math.Pi)
	src, err := OpenAFLW(dbPath, imgDir, AFLWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src.PoseUnit != "deg" || !near(src.Items[0].Pose.Yaw, 45, 1e-12) {
		t.Errorf("auto: unit %s yaw %g", src.PoseUnit, src.Items[0].Pose.Yaw)
	}
	src, err = OpenAFLW(dbPath, imgDir, AFLWOptions{PoseUnit: PoseUnitRadians})
	if err != nil || !near(src.Items[0].Pose.Yaw, 45*180/math.Pi, 1e-9) {
		t.Errorf("forced radians: %v", err)
	}
	if _, err := OpenAFLW(dbPath, imgDir, AFLWOptions{PoseUnit: "grad"}); err == nil || err.Error() != `dataset: open AFLW: pose unit "grad", want "", "rad" or "deg"` {
		t.Errorf("bad unit: %v", err)
	}
}

func TestOpenAFLWErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenAFLW(filepath.Join(dir, "none.sqlite"), dir, AFLWOptions{}); err == nil || !strings.Contains(err.Error(), "none.sqlite: no such file") {
		t.Errorf("missing db: %v", err)
	}
	p := filepath.Join(dir, "empty.sqlite")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE faces(face_id INTEGER, file_id TEXT)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenAFLW(p, dir, AFLWOptions{}); err == nil || !strings.Contains(err.Error(), "faces/faceimages: ") || !strings.Contains(err.Error(), "no such table: faceimages") {
		t.Errorf("missing table: %v", err)
	}
	notDB := writeTestFileIn(t, dir, "text.sqlite", []byte(strings.Repeat("not a database\n", 100)))
	if _, err := OpenAFLW(notDB, dir, AFLWOptions{}); err == nil || !strings.Contains(err.Error(), "text.sqlite") {
		t.Errorf("not a database: %v", err)
	}
}

// TestOpenAFLWRowProblems covers each table's row checks: duplicates, bad
// feature ids, non-finite values, empty rectangles, NULL file paths, rows
// of unknown faces, and that only a face's first rectangle and pose count.
func TestOpenAFLWRowProblems(t *testing.T) {
	dbPath, imgDir := makeAFLW(t, 1)
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		// Face 39341 joins a second image too: the first join is kept.
		`INSERT INTO faceimages VALUES (4, 'flickr', 'image00002.jpg', '0/image00004.jpg', 0, 40, 30)`,
		`INSERT INTO faceimages VALUES (5, 'flickr', 'nul.jpg', NULL, 0, 40, 30)`,
		`INSERT INTO faces VALUES (39346, 'image00004.jpg', 'flickr'), (39347, 'image00004.jpg', 'flickr'), (39348, 'image00004.jpg', 'flickr'), (39349, 'nul.jpg', 'flickr'), (39350, 'image00004.jpg', 'flickr'), (39351, 'image00004.jpg', 'flickr')`,
		`INSERT INTO featurecoords VALUES (39346, 1, 1, 1), (39346, 1, 2, 2), (39347, 2, 3, 3), (39348, 0, 1, 1), (39350, 5, 1e400, 2), (99999, 1, 1, 1)`,
		`INSERT INTO facerect VALUES (39347, 1, 1, 0, 5, 1), (39348, 1, 1, 2, 2, 1), (39351, NULL, 1, 2, 2, 1), (39351, 1, 1, 2, 2, 1)`,
		`INSERT INTO facepose VALUES (39347, 1, 1, 1, 1), (39342, NULL, 0, 0, 1), (39342, 0.1, 0.1, 0.1, 1), (39351, 7, 0, 0, 1)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(s, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := OpenAFLW(dbPath, imgDir, AFLWOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The pose of 39351 (7 > 2 pi) is not read: its rectangle failed first.
	if src.PoseUnit != PoseUnitRadians || src.Len() != 1 || src.Items[0].Name != "0/image00002.jpg#39341" {
		t.Fatalf("unit %s, %d items %v", src.PoseUnit, src.Len(), src.Items)
	}
	want := []string{
		"face_id 39342: facepose roll, pitch, yaw = NULL, 0, 0: want finite numbers",
		"face_id 39343: image: stat ",
		"face_id 39344: featurecoords.feature_id 22: want 1..21",
		"face_id 39345: featurecoords feature_id 3: x, y = NULL, 4: want finite numbers",
		"face_id 39346: featurecoords feature_id 1 given twice",
		"face_id 39347: facerect x, y, w, h = 1, 1, 0, 5: want finite numbers, w and h > 0",
		"face_id 39348: featurecoords.feature_id 0: want 1..21",
		"face_id 39349: faceimages.filepath is NULL or empty",
		"face_id 39350: featurecoords feature_id 5: x, y = +Inf, 2: want finite numbers",
		"face_id 39351: facerect x, y, w, h = NULL, 1, 2, 2: want finite numbers, w and h > 0",
	}
	if len(src.Skipped) != len(want) {
		t.Fatalf("skipped %v", src.Problems())
	}
	for i, w := range want {
		if e := src.Skipped[i].Error(); !strings.HasPrefix(e, "dataset: "+dbPath+": "+w) {
			t.Errorf("skipped[%d] = %q, want prefix %q", i, e, w)
		}
	}
}

// TestOpenAFLWMissingSchema checks that a missing table or column of any
// phase is an error naming the tables read.
func TestOpenAFLWMissingSchema(t *testing.T) {
	for _, c := range []struct{ alter, want string }{
		{"DROP TABLE faces", "faces/faceimages: SQL logic error: no such table: faces"},
		{"DROP TABLE featurecoords", "featurecoords: SQL logic error: no such table: featurecoords"},
		{"DROP TABLE facerect", "facerect: SQL logic error: no such table: facerect"},
		{"DROP TABLE facepose", "facepose: SQL logic error: no such table: facepose"},
		{"ALTER TABLE featurecoords DROP COLUMN x", "featurecoords: SQL logic error: no such column: x"},
		{"ALTER TABLE facepose DROP COLUMN yaw", "facepose: SQL logic error: no such column: yaw"},
	} {
		dbPath, imgDir := makeAFLW(t, 1)
		db, err := sql.Open("sqlite", dbPath)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(c.alter); err != nil {
			t.Fatal(c.alter, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		_, err = OpenAFLW(dbPath, imgDir, AFLWOptions{})
		if want := "dataset: open AFLW " + dbPath + ": " + c.want; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want prefix %q", c.alter, err, want)
		}
	}
}
