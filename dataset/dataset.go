// Package dataset turns images and annotations into training batches: readers
// (one file per format), the synthetic renderer, face crops and mirrors,
// deterministic splits and prefetching. It never imports Gorgonia.
//
// Image coordinates are pixels, x right, y down, and (0,0) is the centre of the
// top-left pixel. Readers of 1-based formats convert at load time.
package dataset

import (
	"image"
	"math"
)

// Landmarks is one scheme's points for one image.
type Landmarks struct {
	// Points are (x, y) pixel coordinates, one per landmark of the scheme.
	Points [][2]float64 `json:"points"`
	// Visible is false for missing or self-occluded points (loss weight 0).
	Visible []bool `json:"visible"`
	// Hidden, when not nil, is true for a point that is not Visible but
	// whose position is still known: a self-occluded landmark of rendered
	// ground truth. Real annotations leave it nil (an invisible point there
	// has no position). The batcher weights such points by
	// BatchConfig.HiddenWeight; metrics never count them.
	Hidden []bool `json:"hidden,omitempty"`
}

// Box is an axis-aligned rectangle in pixel coordinates.
type Box struct {
	X0, Y0, X1, Y1 float64
}

// W returns the width of the box.
func (b Box) W() float64 { return b.X1 - b.X0 }

// H returns the height of the box.
func (b Box) H() float64 { return b.Y1 - b.Y0 }

// Pose is a head pose in degrees, in the convention of AFLW2000-3D's
// Pose_Para and 3DDFA (so that stn3d's angles read like the ones users
// compare against): in model coordinates (x right, y up, z towards the
// viewer) the head's rotation is
//
//	R = (Rz(roll) Ry(yaw) Rx(pitch))^T = Rx(-pitch) Ry(-yaw) Rz(-roll)
//
// with Rx, Ry, Rz the right-handed rotations about the axes, applied to
// column vectors (X' = R X). Positive yaw turns the face to its own right
// (the nose towards image-left), positive pitch lifts the chin (the nose
// towards image-up), positive roll turns the face clockwise in the image
// (its image-right side goes down). Checked on the shared AFLW2000-3D
// photographs (dataset/aflw2000_test.go).
type Pose struct {
	Yaw   float64 `json:"yaw"`
	Pitch float64 `json:"pitch"`
	Roll  float64 `json:"roll"`
}

// Rotation returns R (row-major) of the pose (see Pose).
func (p Pose) Rotation() [9]float64 {
	d := math.Pi / 180
	cx, sx := math.Cos(p.Pitch*d), math.Sin(p.Pitch*d)
	cy, sy := math.Cos(p.Yaw*d), math.Sin(p.Yaw*d)
	cz, sz := math.Cos(p.Roll*d), math.Sin(p.Roll*d)
	// M = Rz * Ry * Rx; R = M^T.
	m := [9]float64{
		cz * cy, cz*sy*sx - sz*cx, cz*sy*cx + sz*sx,
		sz * cy, sz*sy*sx + cz*cx, sz*sy*cx - cz*sx,
		-sy, cy * sx, cy * cx,
	}
	return transpose3(m)
}

// PoseFromRotation inverts Rotation (row-major R): the angles of
// M = R^T = Rz(roll) Ry(yaw) Rx(pitch), yaw in [-90, 90] degrees. At gimbal
// lock (|yaw| = 90 degrees) roll is set to zero.
func PoseFromRotation(r [9]float64) Pose {
	const deg = 180 / math.Pi
	m := transpose3(r)
	sy := -m[6]
	if sy > 1 {
		sy = 1
	} else if sy < -1 {
		sy = -1
	}
	yaw := math.Asin(sy)
	var pitch, roll float64
	if math.Abs(sy) < 1-1e-9 {
		pitch = math.Atan2(m[7], m[8])
		roll = math.Atan2(m[3], m[0])
	} else {
		pitch = math.Atan2(-m[5], m[4])
	}
	return Pose{Yaw: yaw * deg, Pitch: pitch * deg, Roll: roll * deg}
}

func transpose3(m [9]float64) [9]float64 {
	return [9]float64{m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]}
}

// Sample is one annotated face image.
type Sample struct {
	// Name identifies the image (a file path or "synthetic/000123").
	Name string
	// Image is the picture; readers return the full image, the synthetic
	// source returns the rendered image at the localiser's input size.
	Image image.Image
	// Landmarks by scheme name ("aflw21", "ibug68"); a reader fills the
	// schemes its format has.
	Landmarks map[string]Landmarks
	// Box is the annotated face rectangle, if the format has one.
	Box *Box
	// Pose is the ground-truth head pose, if known.
	Pose *Pose
	// Shape is the ground-truth model weights, if known (synthetic data).
	Shape []float64
	// Identity labels the person for recognition: 1 + the person's
	// number for synthetic identities (SyntheticConfig.Identities), 0 when
	// unknown (every reader of real data).
	Identity int
}

// Source is a random-access collection of samples.
type Source interface {
	// Len returns the number of samples.
	Len() int
	// Sample returns sample i in [0, Len()).
	Sample(i int) (Sample, error)
}
