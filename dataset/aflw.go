package dataset

import (
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/stn3d/stn3d/bfm"
	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite"
)

// AFLW pose units for AFLWOptions.PoseUnit.
const (
	PoseUnitAuto    = ""
	PoseUnitRadians = "rad"
	PoseUnitDegrees = "deg"
)

// AFLWOptions configures OpenAFLW.
type AFLWOptions struct {
	// PoseUnit is the unit of facepose's angles. AFLW stores radians (its
	// poses come from a POSIT fit; |angle| <= pi), which are converted to
	// degrees. PoseUnitAuto (the default) checks the table: if any
	// |angle| exceeds 2 pi the values cannot be radians and are taken as
	// degrees. OpenAFLW records which unit it used in AFLWSource.PoseUnit.
	PoseUnit string
}

// AFLWSource is an AFLW database opened with OpenAFLW.
type AFLWSource struct {
	*ItemSource
	// PoseUnit is the unit the stored angles were read in (rad or deg).
	PoseUnit string
}

// OpenAFLW reads the Annotated Facial Landmarks in the Wild database: the
// SQLite file aflw.sqlite (read only, through the pure-Go driver
// modernc.org/sqlite) and the image folder that faceimages.filepath is
// relative to (AFLW's "flickr" folder, holding 0/, 2/, 3/). Each row of
// faces is one sample named "<filepath>#<face_id>":
//
//   - landmarks: featurecoords rows (feature_id 1..21, in the aflw21 order
//     of bfm.LandmarkNames) as stored, taken as 0-based pixel positions (the
//     way AFLW's own tools draw them with OpenCV); a feature without a row
//     is invisible ((0, 0), Visible false);
//   - Box: the first facerect row, [x, x+w] x [y, y+h];
//   - Pose: the first facepose row, converted to degrees (see
//     AFLWOptions.PoseUnit). The angles are used with the signs AFLW
//     stores; they have not been checked against Pose's sign conventions
//     here (no AFLW data was available), so verify them on your copy before
//     training a pose regressor (only |yaw| matters for the NME yaw bins).
//
// Faces whose image file is missing, or whose rows hold a bad feature_id or
// a NULL / non-finite coordinate, go to Skipped with the table, face_id and
// field; a missing table or column is an error.
func OpenAFLW(sqlitePath, imageDir string, opt AFLWOptions) (*AFLWSource, error) {
	switch opt.PoseUnit {
	case PoseUnitAuto, PoseUnitRadians, PoseUnitDegrees:
	default:
		return nil, fmt.Errorf("dataset: open AFLW: pose unit %q, want \"\", %q or %q", opt.PoseUnit, PoseUnitRadians, PoseUnitDegrees)
	}
	if st, err := os.Stat(sqlitePath); err != nil {
		return nil, fmt.Errorf("dataset: open AFLW: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("dataset: open AFLW: %s is a directory, want aflw.sqlite", sqlitePath)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(sqlitePath)+"?mode=ro")
	if err != nil {
		return nil, fmt.Errorf("dataset: open AFLW %s: %w", sqlitePath, err)
	}
	defer db.Close()
	fail := func(what string, err error) (*AFLWSource, error) {
		return nil, fmt.Errorf("dataset: open AFLW %s: %s: %w", sqlitePath, what, err)
	}

	type face struct {
		id       int64
		filepath string
		problem  error
		lm       Landmarks
		box      *Box
		pose     *[3]float64 // roll, pitch, yaw as stored
	}
	var faces []*face
	byID := map[int64]*face{}
	rows, err := db.Query(`SELECT f.face_id, i.filepath FROM faces f JOIN faceimages i ON f.file_id = i.file_id ORDER BY f.face_id`)
	if err != nil {
		return fail("faces/faceimages", err)
	}
	for rows.Next() {
		var id int64
		var fp sql.NullString
		if err := rows.Scan(&id, &fp); err != nil {
			rows.Close()
			return fail("faces/faceimages", err)
		}
		if _, dup := byID[id]; dup {
			continue // a face joined to several images: keep the first
		}
		n := bfm.SchemeSize(bfm.SchemeAFLW21)
		f := &face{id: id, filepath: fp.String, lm: Landmarks{Points: make([][2]float64, n), Visible: make([]bool, n)}}
		if !fp.Valid || fp.String == "" {
			f.problem = fmt.Errorf("faceimages.filepath is NULL or empty")
		}
		faces = append(faces, f)
		byID[id] = f
	}
	if err := rows.Err(); err != nil {
		return fail("faces/faceimages", err)
	}
	rows.Close()

	rows, err = db.Query(`SELECT face_id, feature_id, x, y FROM featurecoords`)
	if err != nil {
		return fail("featurecoords", err)
	}
	for rows.Next() {
		var id, fid int64
		var x, y sql.NullFloat64
		if err := rows.Scan(&id, &fid, &x, &y); err != nil {
			rows.Close()
			return fail("featurecoords", err)
		}
		f := byID[id]
		if f == nil || f.problem != nil {
			continue
		}
		switch {
		case fid < 1 || fid > 21:
			f.problem = fmt.Errorf("featurecoords.feature_id %d: want 1..21", fid)
		case !x.Valid || !y.Valid || !isFinite(x.Float64) || !isFinite(y.Float64):
			f.problem = fmt.Errorf("featurecoords feature_id %d: x, y = %s, %s: want finite numbers", fid, nullStr(x), nullStr(y))
		case f.lm.Visible[fid-1]:
			f.problem = fmt.Errorf("featurecoords feature_id %d given twice", fid)
		default:
			f.lm.Points[fid-1] = [2]float64{x.Float64, y.Float64}
			f.lm.Visible[fid-1] = true
		}
	}
	if err := rows.Err(); err != nil {
		return fail("featurecoords", err)
	}
	rows.Close()

	rows, err = db.Query(`SELECT face_id, x, y, w, h FROM facerect ORDER BY rowid`)
	if err != nil {
		return fail("facerect", err)
	}
	for rows.Next() {
		var id int64
		var v [4]sql.NullFloat64
		if err := rows.Scan(&id, &v[0], &v[1], &v[2], &v[3]); err != nil {
			rows.Close()
			return fail("facerect", err)
		}
		f := byID[id]
		if f == nil || f.box != nil || f.problem != nil {
			continue
		}
		ok := true
		for _, c := range v {
			ok = ok && c.Valid && isFinite(c.Float64)
		}
		if !ok || v[2].Float64 <= 0 || v[3].Float64 <= 0 {
			f.problem = fmt.Errorf("facerect x, y, w, h = %s, %s, %s, %s: want finite numbers, w and h > 0", nullStr(v[0]), nullStr(v[1]), nullStr(v[2]), nullStr(v[3]))
			continue
		}
		f.box = &Box{X0: v[0].Float64, Y0: v[1].Float64, X1: v[0].Float64 + v[2].Float64, Y1: v[1].Float64 + v[3].Float64}
	}
	if err := rows.Err(); err != nil {
		return fail("facerect", err)
	}
	rows.Close()

	rows, err = db.Query(`SELECT face_id, roll, pitch, yaw FROM facepose ORDER BY rowid`)
	if err != nil {
		return fail("facepose", err)
	}
	maxAbs := 0.0
	for rows.Next() {
		var id int64
		var v [3]sql.NullFloat64
		if err := rows.Scan(&id, &v[0], &v[1], &v[2]); err != nil {
			rows.Close()
			return fail("facepose", err)
		}
		f := byID[id]
		if f == nil || f.pose != nil || f.problem != nil {
			continue
		}
		var p [3]float64
		ok := true
		for k, c := range v {
			ok = ok && c.Valid && isFinite(c.Float64)
			p[k] = c.Float64
		}
		if !ok {
			f.problem = fmt.Errorf("facepose roll, pitch, yaw = %s, %s, %s: want finite numbers", nullStr(v[0]), nullStr(v[1]), nullStr(v[2]))
			continue
		}
		f.pose = &p
		maxAbs = max(maxAbs, math.Abs(p[0]), math.Abs(p[1]), math.Abs(p[2]))
	}
	if err := rows.Err(); err != nil {
		return fail("facepose", err)
	}
	rows.Close()

	unit := opt.PoseUnit
	if unit == PoseUnitAuto {
		unit = PoseUnitRadians
		if maxAbs > 2*math.Pi {
			unit = PoseUnitDegrees
		}
	}
	toDeg := 180 / math.Pi
	if unit == PoseUnitDegrees {
		toDeg = 1
	}
	src := &AFLWSource{ItemSource: &ItemSource{}, PoseUnit: unit}
	for _, f := range faces {
		name := f.filepath + "#" + strconv.FormatInt(f.id, 10)
		if f.problem != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: face_id %d: %w", sqlitePath, f.id, f.problem))
			continue
		}
		imgPath := resolvePath(imageDir, f.filepath)
		if _, err := os.Stat(imgPath); err != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: face_id %d: image: %w", sqlitePath, f.id, err))
			continue
		}
		it := Item{Name: name, ImagePath: imgPath, Landmarks: map[string]Landmarks{bfm.SchemeAFLW21: f.lm}, Box: f.box}
		if f.pose != nil {
			it.Pose = &Pose{Roll: f.pose[0] * toDeg, Pitch: f.pose[1] * toDeg, Yaw: f.pose[2] * toDeg}
		}
		src.Items = append(src.Items, it)
	}
	return src, nil
}

func nullStr(v sql.NullFloat64) string {
	if !v.Valid {
		return "NULL"
	}
	return strconv.FormatFloat(v.Float64, 'g', -1, 64)
}
