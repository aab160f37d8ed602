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
//     AFLWOptions.PoseUnit) and into Pose's convention (AFLW2000-3D's):
//     AFLW's yaw and pitch keep their signs and its roll is negated, the
//     mapping head-pose work that trains on both datasets uses (AFLW2000-3D
//     re-annotates the first 2,000 AFLW faces). AFLW itself is not among
//     the shared photographs, so unlike AFLW2000-3D's this mapping is not
//     checked here on photographs; only |yaw| matters for the NME yaw bins.
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
	defer db.Close() // read only: nothing to lose
	af := &aflwFaces{byID: map[int64]*aflwFace{}}
	for _, phase := range []struct {
		tables string
		read   func(*sql.DB) error
	}{
		{"faces/faceimages", af.readFaces},
		{"featurecoords", af.readFeatureCoords},
		{"facerect", af.readFaceRects},
		{"facepose", af.readFacePoses},
	} {
		if err := phase.read(db); err != nil {
			return nil, fmt.Errorf("dataset: open AFLW %s: %s: %w", sqlitePath, phase.tables, err)
		}
	}
	return af.source(sqlitePath, imageDir, aflwPoseUnit(opt.PoseUnit, af.maxAbsAngle)), nil
}

// aflwFace is one row of AFLW's faces table with what the other tables say
// about it.
type aflwFace struct {
	id       int64
	filepath string
	problem  error // first problem found; later rows of the face are ignored
	lm       Landmarks
	box      *Box
	pose     *[3]float64 // roll, pitch, yaw as stored
}

// aflwFaces collects the faces of an AFLW database, table by table.
type aflwFaces struct {
	faces       []*aflwFace // by face_id
	byID        map[int64]*aflwFace
	maxAbsAngle float64 // largest |angle| of the poses kept
}

// forEachRow runs query on db, scans every result row into dest and calls
// each after every row.
func forEachRow(db *sql.DB, query string, dest []any, each func()) error {
	rows, err := db.Query(query)
	if err != nil {
		return err
	}
	defer rows.Close() // read only; rows.Err reports what went wrong
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		each()
	}
	return rows.Err()
}

// usable returns the face with id if it exists and has no problem yet.
func (af *aflwFaces) usable(id int64) *aflwFace {
	if f := af.byID[id]; f != nil && f.problem == nil {
		return f
	}
	return nil
}

// readFaces reads every face with the file path of its image.
func (af *aflwFaces) readFaces(db *sql.DB) error {
	var id int64
	var fp sql.NullString
	n := bfm.SchemeSize(bfm.SchemeAFLW21)
	return forEachRow(db, `SELECT f.face_id, i.filepath FROM faces f JOIN faceimages i ON f.file_id = i.file_id ORDER BY f.face_id`,
		[]any{&id, &fp}, func() {
			if _, dup := af.byID[id]; dup {
				return // a face joined to several images: keep the first
			}
			f := &aflwFace{id: id, filepath: fp.String, lm: Landmarks{Points: make([][2]float64, n), Visible: make([]bool, n)}}
			if !fp.Valid || fp.String == "" {
				f.problem = fmt.Errorf("faceimages.filepath is NULL or empty")
			}
			af.faces = append(af.faces, f)
			af.byID[id] = f
		})
}

// readFeatureCoords reads the landmarks (feature_id 1..21).
func (af *aflwFaces) readFeatureCoords(db *sql.DB) error {
	var id, fid int64
	var x, y sql.NullFloat64
	return forEachRow(db, `SELECT face_id, feature_id, x, y FROM featurecoords`, []any{&id, &fid, &x, &y}, func() {
		f := af.usable(id)
		switch {
		case f == nil:
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
	})
}

// readFaceRects reads the first face rectangle of each face.
func (af *aflwFaces) readFaceRects(db *sql.DB) error {
	var id int64
	var v [4]sql.NullFloat64
	return forEachRow(db, `SELECT face_id, x, y, w, h FROM facerect ORDER BY rowid`, []any{&id, &v[0], &v[1], &v[2], &v[3]}, func() {
		f := af.usable(id)
		if f == nil || f.box != nil {
			return
		}
		if !allFinite(v[:]) || v[2].Float64 <= 0 || v[3].Float64 <= 0 ||
			!(v[0].Float64+v[2].Float64 > v[0].Float64) || !isFinite(v[0].Float64+v[2].Float64) ||
			!(v[1].Float64+v[3].Float64 > v[1].Float64) || !isFinite(v[1].Float64+v[3].Float64) {
			f.problem = fmt.Errorf("facerect x, y, w, h = %s, %s, %s, %s: want finite numbers, w and h > 0", nullStr(v[0]), nullStr(v[1]), nullStr(v[2]), nullStr(v[3]))
			return
		}
		f.box = &Box{X0: v[0].Float64, Y0: v[1].Float64, X1: v[0].Float64 + v[2].Float64, Y1: v[1].Float64 + v[3].Float64}
	})
}

// readFacePoses reads the first pose of each face, as stored, and the
// largest |angle| for the unit check.
func (af *aflwFaces) readFacePoses(db *sql.DB) error {
	var id int64
	var v [3]sql.NullFloat64
	return forEachRow(db, `SELECT face_id, roll, pitch, yaw FROM facepose ORDER BY rowid`, []any{&id, &v[0], &v[1], &v[2]}, func() {
		f := af.usable(id)
		if f == nil || f.pose != nil {
			return
		}
		if !allFinite(v[:]) {
			f.problem = fmt.Errorf("facepose roll, pitch, yaw = %s, %s, %s: want finite numbers", nullStr(v[0]), nullStr(v[1]), nullStr(v[2]))
			return
		}
		p := [3]float64{v[0].Float64, v[1].Float64, v[2].Float64}
		f.pose = &p
		af.maxAbsAngle = max(af.maxAbsAngle, math.Abs(p[0]), math.Abs(p[1]), math.Abs(p[2]))
	})
}

// aflwPoseUnit resolves PoseUnitAuto: angles up to 2 pi are radians.
func aflwPoseUnit(unit string, maxAbsAngle float64) string {
	if unit != PoseUnitAuto {
		return unit
	}
	if maxAbsAngle > 2*math.Pi {
		return PoseUnitDegrees
	}
	return PoseUnitRadians
}

// source turns the faces into samples: a face with a problem or a missing
// image file goes to Skipped.
func (af *aflwFaces) source(sqlitePath, imageDir, unit string) *AFLWSource {
	toDeg := 180 / math.Pi
	if unit == PoseUnitDegrees {
		toDeg = 1
	}
	src := &AFLWSource{ItemSource: &ItemSource{}, PoseUnit: unit}
	for _, f := range af.faces {
		if f.problem != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: face_id %d: %w", sqlitePath, f.id, f.problem))
			continue
		}
		imgPath := resolvePath(imageDir, f.filepath)
		if _, err := os.Stat(imgPath); err != nil {
			src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: face_id %d: image: %w", sqlitePath, f.id, err))
			continue
		}
		it := Item{
			Name:      f.filepath + "#" + strconv.FormatInt(f.id, 10),
			ImagePath: imgPath,
			Landmarks: map[string]Landmarks{bfm.SchemeAFLW21: f.lm},
			Box:       f.box,
		}
		if f.pose != nil {
			it.Pose = &Pose{Roll: -f.pose[0] * toDeg, Pitch: f.pose[1] * toDeg, Yaw: f.pose[2] * toDeg}
			if !isFinite(it.Pose.Roll) || !isFinite(it.Pose.Pitch) || !isFinite(it.Pose.Yaw) {
				src.Skipped = append(src.Skipped, fmt.Errorf("dataset: %s: face_id %d: facepose roll, pitch, yaw = %g, %g, %g %s: not finite in degrees",
					sqlitePath, f.id, f.pose[0], f.pose[1], f.pose[2], unit))
				continue
			}
		}
		src.Items = append(src.Items, it)
	}
	return src
}

// allFinite reports whether every value is non-NULL and finite.
func allFinite(vs []sql.NullFloat64) bool {
	for _, v := range vs {
		if !v.Valid || !isFinite(v.Float64) {
			return false
		}
	}
	return true
}

func nullStr(v sql.NullFloat64) string {
	if !v.Valid {
		return "NULL"
	}
	return strconv.FormatFloat(v.Float64, 'g', -1, 64)
}
