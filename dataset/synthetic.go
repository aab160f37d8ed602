package dataset

import (
	"errors"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"sort"
	"sync"

	"github.com/stn3d/stn3d/bfm"
)

// Background kinds of SyntheticConfig.Background.
const (
	BackgroundNoise    = "noise"
	BackgroundGradient = "gradient"
	BackgroundBlobs    = "blobs"
	BackgroundMixed    = "mixed"
	// BackgroundNatural draws, per image, one of four photograph-like
	// backgrounds in muted colours: a blurred scene of several octaves of
	// value noise, defocused shapes, a soft gradient or a near-plain
	// studio backdrop (paintNatural).
	BackgroundNatural = "natural"
)

// Placements of SyntheticConfig.Placement.
const (
	// PlaceFace scales by the mean face's width and centres the mean
	// shape's bounding box.
	PlaceFace = "face"
	// PlaceLandmarks scales and centres by the box of the posed face's
	// iBUG-68 points, hidden ones included, as a photograph is cropped
	// from its 68 points (CropSample, the AFLW2000-3D protocol).
	PlaceLandmarks = "landmarks"
)

// SyntheticConfig sets the distribution the synthetic source draws faces
// from. Angles are in degrees, drawn uniformly in [-max, max].
type SyntheticConfig struct {
	// Seed is the base seed; every image is a pure function of (Seed, split,
	// index).
	Seed uint64 `yaml:"seed"`
	// Count is the number of samples of the source (its Len).
	Count int `yaml:"count"`
	// Size is the side of the square output image in pixels.
	Size int `yaml:"size"`

	// YawDeg, PitchDeg, RollDeg are the maximum absolute pose angles
	// (dataset.Pose conventions).
	YawDeg   float64 `yaml:"yaw_deg"`
	PitchDeg float64 `yaml:"pitch_deg"`
	RollDeg  float64 `yaml:"roll_deg"`

	// Placement is how the face is scaled and centred: PlaceFace ("face",
	// the default when empty) or PlaceLandmarks ("landmarks").
	Placement string `yaml:"placement"`
	// ScaleMin and ScaleMax bound the face scale, drawn uniformly as a
	// fraction f in [ScaleMin, ScaleMax]. With PlaceFace the width of the
	// model's mean face (the x-extent of its mean-shape vertices, in model
	// units) spans f of the image width, i.e. the camera scale is
	// s = f*Size/meanWidth pixels per model unit (the unrotated mean shape;
	// a turned or deformed face spans a little more or less). With
	// PlaceLandmarks the larger side of the posed face's iBUG-68 box
	// (hidden points included) spans f of the image side.
	ScaleMin float64 `yaml:"scale_min"`
	ScaleMax float64 `yaml:"scale_max"`
	// TransJitter moves the face centre (PlaceFace: the centre of the mean
	// shape's bounding box; PlaceLandmarks: the centre of the iBUG-68 box
	// placed BoxOffsetY below the image centre) by up to TransJitter*Size
	// pixels along each axis, uniformly.
	TransJitter float64 `yaml:"trans_jitter"`
	// BoxOffsetY puts the centre of the iBUG-68 box BoxOffsetY box sides
	// below the image centre (PlaceLandmarks only; CropOptions'
	// LandmarkOffsetY of photographs). In [-1, 1].
	BoxOffsetY float64 `yaml:"box_offset_y"`

	// ShapeStd scales the N(0,1) shape and expression weights (1 = the
	// model's prior).
	ShapeStd float64 `yaml:"shape_std"`
	// MaxComponents limits the number of random weights to the model's first
	// MaxComponents basis vectors (0 = all); Sample.Shape has that length.
	MaxComponents int `yaml:"max_components"`

	// Background is one of "noise", "gradient", "blobs", "mixed" (one of
	// the three drawn per image) or "natural" (BackgroundNatural).
	Background string `yaml:"background"`
	// OccluderProb is the probability that an image gets 1 to 3 random
	// rectangles or ellipses of random colour over the face. Occluders do
	// not change the landmark visibility (it is self-occlusion only).
	OccluderProb float64 `yaml:"occluder_prob"`
	// AlbedoVariety in [0, 1] varies each image's face albedo (albedo.go):
	// the painted features' contrast, smooth blotches and grain on the
	// skin, a tint of the features and, in 20% of the images at 1, a
	// beard shadow. 0 = the model's albedo at a random skin tone.
	AlbedoVariety float64 `yaml:"albedo_variety"`
	// Occlusion darkens the albedo by ambient occlusion (ambientOcclusion
	// of the mean shape, computed once): a vertex reached by a fraction a
	// of a uniform sky gets albedo * (1 - Occlusion*(1 - a)). In [0, 1].
	Occlusion float64 `yaml:"occlusion"`
	// Specular is the largest weight of a white Blinn-Phong highlight
	// (Shading.Specular), drawn uniformly in [0, Specular] per image with
	// a shininess in [8, 40]; 0 = matte skin. In [0, 1].
	Specular float64 `yaml:"specular"`
	// LightJitter spreads the light direction: L = normalise(jx, jy, 1)
	// with jx, jy uniform in [-LightJitter, LightJitter] (0 = frontal;
	// 1 = up to 45 degrees off axis). Ambient is drawn in [0.2, 0.5].
	LightJitter float64 `yaml:"light_jitter"`
	// VisibilityTol is the depth tolerance of the landmark visibility test
	// as a fraction of the face width in pixels (default 0.03).
	VisibilityTol float64 `yaml:"visibility_tol"`
	// GrazeDeg lets a landmark count as facing the camera up to GrazeDeg
	// degrees past the silhouette (default 5): contour landmarks on a mesh
	// rim sit just past 90 degrees in a frontal view.
	GrazeDeg float64 `yaml:"graze_deg"`
	// HeadProb is the probability that an image shows the rest of the
	// head around the face: hair (random colour, hairline and length),
	// ears, neck and shoulders in clothes of a random colour (head.go).
	// They hide landmarks behind them like the face does. In [0, 1].
	HeadProb float64 `yaml:"head_prob"`
	// Supersample renders the face, head and background at Supersample
	// times the output size and box-filters them down (anti-aliasing: a
	// photograph cropped to the input size is a filtered downscale of a
	// larger image, whose edges carry no stair steps). 0 or 1 = none; at
	// most 4. Landmarks and visibility are those of the large render mapped
	// to output pixels, p = (P + 0.5) / Supersample - 0.5.
	Supersample int `yaml:"supersample"`
	// Photometric are the camera effects applied last (zero = none).
	Photometric Photometric `yaml:"photometric"`

	// Identities, when positive, draws every image from one of that many
	// people: image i shows identity FirstIdentity + (i mod Identities),
	// whose identity shape weights (the model's identity components) and
	// appearance (skin tone, hair colour, a smooth per-person pattern of
	// lighter and darker skin, freckles and moles) are a pure function of
	// (Seed, identity) — the same in every split — while expression, pose,
	// lighting, background, occluders and camera effects vary per image.
	// 0 draws a new person for every image. Sample.Identity is 1 + the
	// person's number (0 without identities).
	Identities    int `yaml:"identities"`
	FirstIdentity int `yaml:"first_identity"`
}

// DefaultSyntheticConfig is a 112 x 112 training distribution: yaw up to 80
// degrees, pitch 25, roll 20, faces 40-60% of the image wide (a face about
// 1.4 times as tall as wide then stays inside the image), shape weights
// at the model prior, mixed backgrounds, occluders on 30% of the images.
func DefaultSyntheticConfig() SyntheticConfig {
	return SyntheticConfig{
		Seed: 1, Count: 10000, Size: 112,
		YawDeg: 80, PitchDeg: 25, RollDeg: 20,
		ScaleMin: 0.4, ScaleMax: 0.6, TransJitter: 0.08,
		ShapeStd: 1, Background: BackgroundMixed, OccluderProb: 0.3,
		LightJitter: 0.8, VisibilityTol: 0.03, GrazeDeg: 5,
	}
}

// Validate reports the first invalid field of c.
func (c SyntheticConfig) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("dataset: synthetic config: %s = %v, want %s", field, v, want)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case c.Count < 0:
		return bad("count", c.Count, ">= 0")
	case c.Size < 8 || c.Size > 8192:
		return bad("size", c.Size, "in [8, 8192]")
	case !finite(c.YawDeg) || c.YawDeg < 0 || c.YawDeg > 180:
		return bad("yaw_deg", c.YawDeg, "in [0, 180]")
	case !finite(c.PitchDeg) || c.PitchDeg < 0 || c.PitchDeg > 180:
		return bad("pitch_deg", c.PitchDeg, "in [0, 180]")
	case !finite(c.RollDeg) || c.RollDeg < 0 || c.RollDeg > 180:
		return bad("roll_deg", c.RollDeg, "in [0, 180]")
	case !finite(c.ScaleMin) || c.ScaleMin <= 0:
		return bad("scale_min", c.ScaleMin, "> 0")
	case !finite(c.ScaleMax) || c.ScaleMax < c.ScaleMin:
		return bad("scale_max", c.ScaleMax, fmt.Sprintf(">= scale_min (%v)", c.ScaleMin))
	case !finite(c.TransJitter) || c.TransJitter < 0 || c.TransJitter > 1:
		return bad("trans_jitter", c.TransJitter, "in [0, 1]")
	case c.Placement != "" && c.Placement != PlaceFace && c.Placement != PlaceLandmarks:
		return bad("placement", fmt.Sprintf("%q", c.Placement), `"face" or "landmarks"`)
	case !finite(c.BoxOffsetY) || c.BoxOffsetY < -1 || c.BoxOffsetY > 1:
		return bad("box_offset_y", c.BoxOffsetY, "in [-1, 1]")
	case c.Supersample < 0 || c.Supersample > 4:
		return bad("supersample", c.Supersample, "in [0, 4]")
	case !finite(c.HeadProb) || c.HeadProb < 0 || c.HeadProb > 1:
		return bad("head_prob", c.HeadProb, "in [0, 1]")
	case !finite(c.ShapeStd) || c.ShapeStd < 0:
		return bad("shape_std", c.ShapeStd, ">= 0")
	case c.MaxComponents < 0:
		return bad("max_components", c.MaxComponents, ">= 0")
	case c.Identities < 0:
		return bad("identities", c.Identities, ">= 0")
	case c.FirstIdentity < 0:
		return bad("first_identity", c.FirstIdentity, ">= 0")
	case !finite(c.OccluderProb) || c.OccluderProb < 0 || c.OccluderProb > 1:
		return bad("occluder_prob", c.OccluderProb, "in [0, 1]")
	case !finite(c.AlbedoVariety) || c.AlbedoVariety < 0 || c.AlbedoVariety > 1:
		return bad("albedo_variety", c.AlbedoVariety, "in [0, 1]")
	case !finite(c.Occlusion) || c.Occlusion < 0 || c.Occlusion > 1:
		return bad("occlusion", c.Occlusion, "in [0, 1]")
	case !finite(c.Specular) || c.Specular < 0 || c.Specular > 1:
		return bad("specular", c.Specular, "in [0, 1]")
	case !finite(c.LightJitter) || c.LightJitter < 0:
		return bad("light_jitter", c.LightJitter, ">= 0")
	case !finite(c.VisibilityTol) || c.VisibilityTol < 0:
		return bad("visibility_tol", c.VisibilityTol, ">= 0")
	case !finite(c.GrazeDeg) || c.GrazeDeg < 0 || c.GrazeDeg > 45:
		return bad("graze_deg", c.GrazeDeg, "in [0, 45]")
	}
	if err := c.Photometric.Validate(); err != nil {
		return fmt.Errorf("dataset: synthetic config: %w", err)
	}
	switch c.Background {
	case BackgroundNoise, BackgroundGradient, BackgroundBlobs, BackgroundMixed, BackgroundNatural:
	default:
		return bad("background", fmt.Sprintf("%q", c.Background), `one of "noise", "gradient", "blobs", "mixed", "natural"`)
	}
	return nil
}

// Synthetic is a Source of rendered faces with exact ground truth: landmarks
// of every scheme the model defines, their self-occlusion visibility, the
// pose and the shape weights. Sample(i) is a pure function of (Seed, split,
// i), so two Synthetic values with different splits never share an image and
// regenerating gives identical bytes. It is safe for concurrent use.
type Synthetic struct {
	m         *bfm.Model
	cfg       SyntheticConfig
	split     string
	splitHash uint64

	d         int        // number of random weights
	centre    [3]float64 // centre of the mean shape's bounding box
	meanWidth float64    // x-extent of the mean shape
	features  [][3]float32
	schemes   []string
	boxVerts  []int     // vertices whose posed box places a PlaceLandmarks face
	head      *headMesh // drawn around the face when HeadProb > 0
	ao        []float64 // per-vertex ambient occlusion when Occlusion > 0
	albedo    *albedoFrame
	skinRef   [3]float64 // the skin's albedo: the model's median albedo
	scratch   sync.Pool  // *synthScratch
}

type synthScratch struct {
	r      *Renderer
	err    error // from NewRenderer
	shape  []float64
	verts  [][3]float64
	colour [][3]float64
}

// NewSynthetic checks m and cfg and returns the source of split (any
// non-empty name: "train", "val", ...).
func NewSynthetic(m *bfm.Model, cfg SyntheticConfig, split string) (*Synthetic, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if split == "" {
		return nil, errors.New("dataset: synthetic: empty split name")
	}
	if err := checkModel(m); err != nil {
		return nil, fmt.Errorf("dataset: synthetic: %w", err)
	}
	s := &Synthetic{m: m, cfg: cfg, split: split}
	h := fnv.New64a()
	h.Write([]byte(split))
	s.splitHash = h.Sum64()
	s.d = m.NumComponents()
	if cfg.MaxComponents > 0 && cfg.MaxComponents < s.d {
		s.d = cfg.MaxComponents
	}
	lo := [3]float64{math.Inf(1), math.Inf(1), math.Inf(1)}
	hi := [3]float64{math.Inf(-1), math.Inf(-1), math.Inf(-1)}
	for v := 0; v < m.NumVertices(); v++ {
		for k := 0; k < 3; k++ {
			lo[k] = min(lo[k], m.Mean[3*v+k])
			hi[k] = max(hi[k], m.Mean[3*v+k])
		}
	}
	for k := range s.centre {
		s.centre[k] = (lo[k] + hi[k]) / 2
	}
	s.meanWidth = hi[0] - lo[0]
	if !(s.meanWidth > 0) {
		return nil, fmt.Errorf("dataset: synthetic: model %q: mean shape has zero width", m.Name)
	}
	for _, sc := range bfm.Schemes() {
		if idx, ok := m.Landmarks[sc]; ok && len(idx) == bfm.SchemeSize(sc) {
			s.schemes = append(s.schemes, sc)
		}
	}
	if m.Albedo == nil {
		s.features = paintFeatures(m, s.meanWidth)
	}
	if cfg.AlbedoVariety > 0 {
		s.albedo = newAlbedoFrame(m, s.centre, s.meanWidth)
		if m.Albedo != nil {
			for k := range s.skinRef {
				ch := make([]float64, len(m.Albedo))
				for v, a := range m.Albedo {
					ch[v] = a[k]
				}
				sort.Float64s(ch)
				s.skinRef[k] = ch[len(ch)/2]
			}
		}
	}
	if cfg.Occlusion > 0 {
		ao, err := ambientOcclusion(m, 48, 256)
		if err != nil {
			return nil, fmt.Errorf("dataset: synthetic: %w", err)
		}
		s.ao = ao
	}
	if cfg.HeadProb > 0 {
		h, err := newHeadMesh(m)
		if err != nil {
			return nil, err
		}
		s.head = h
	}
	if cfg.Placement == PlaceLandmarks {
		for _, v := range m.Landmarks[bfm.SchemeIBUG68] {
			if v >= 0 {
				s.boxVerts = append(s.boxVerts, v)
			}
		}
		if len(s.boxVerts) < 2 {
			return nil, fmt.Errorf("dataset: synthetic: placement %q needs a model with ibug68 landmarks; %q has none", PlaceLandmarks, m.Name)
		}
	}
	rs := cfg.Size * max(cfg.Supersample, 1)
	if _, err := NewRenderer(rs, rs); err != nil {
		return nil, fmt.Errorf("dataset: synthetic: %w", err)
	}
	s.scratch.New = func() any {
		r, err := NewRenderer(rs, rs)
		return &synthScratch{r: r, err: err}
	}
	return s, nil
}

// checkModel validates the parts of m the renderer relies on.
func checkModel(m *bfm.Model) error {
	if m == nil {
		return errors.New("nil model")
	}
	n := len(m.Mean)
	if n == 0 || n%3 != 0 {
		return fmt.Errorf("model %q: mean has %d values, want a positive multiple of 3", m.Name, n)
	}
	if len(m.Triangles) == 0 {
		return fmt.Errorf("model %q: no triangles", m.Name)
	}
	v := int32(n / 3)
	for i, t := range m.Triangles {
		for _, k := range t {
			if k < 0 || k >= v {
				return fmt.Errorf("model %q: triangle %d = %v indexes outside [0, %d)", m.Name, i, t, v)
			}
		}
	}
	for d, b := range m.Basis {
		if len(b) != n {
			return fmt.Errorf("model %q: basis %d has %d values, want %d", m.Name, d, len(b), n)
		}
	}
	if m.Albedo != nil && len(m.Albedo) != n/3 {
		return fmt.Errorf("model %q: %d albedo colours for %d vertices", m.Name, len(m.Albedo), n/3)
	}
	for sc, idx := range m.Landmarks {
		if want := bfm.SchemeSize(sc); want != 0 && len(idx) != want {
			return fmt.Errorf("model %q: scheme %q has %d landmarks, want %d", m.Name, sc, len(idx), want)
		}
		for i, k := range idx {
			if k < -1 || k >= int(v) {
				return fmt.Errorf("model %q: scheme %q landmark %d = vertex %d, want -1 or in [0, %d)", m.Name, sc, i, k, v)
			}
		}
	}
	return nil
}

// Len returns cfg.Count.
func (s *Synthetic) Len() int { return s.cfg.Count }

// Config returns the configuration.
func (s *Synthetic) Config() SyntheticConfig { return s.cfg }

// Split returns the split name.
func (s *Synthetic) Split() string { return s.split }

// identity returns the person shown by sample i, or -1 without identities.
func (s *Synthetic) identity(i int) int {
	if s.cfg.Identities <= 0 {
		return -1
	}
	return s.cfg.FirstIdentity + i%s.cfg.Identities
}

// identityRNG returns stream k of person id's generator: a pure function
// of (Seed, id, k), independent of the split.
func (s *Synthetic) identityRNG(id int, k uint64) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(s.cfg.Seed^0x1d3a7f), mix64(uint64(id)*8+k+0x5eed)))
}

// kind returns the component kind of basis vector d (identity when the
// model does not say).
func (s *Synthetic) kind(d int) bfm.ComponentKind {
	if d < len(s.m.Components) && s.m.Components[d].Kind != "" {
		return s.m.Components[d].Kind
	}
	return bfm.Identity
}

// identityPattern multiplies a person's albedo by a smooth pattern of
// lighter and darker skin (a few broad Gaussian patches, +-25%) and adds
// freckles and moles (small dark spots), placed on the mean shape's frontal
// (x, y) so that they stay on the same skin whatever the pose and
// expression. The pattern is not mirror-symmetric, as faces are not.
func (s *Synthetic) identityPattern(rng *rand.Rand, col [][3]float64) {
	m := s.m
	w := s.meanWidth
	type spot struct{ x, y, r, gain float64 }
	var spots []spot
	for n := 3 + rng.IntN(4); n > 0; n-- {
		spots = append(spots, spot{(rng.Float64() - 0.5) * w, (rng.Float64() - 0.5) * 1.3 * w, (0.12 + 0.2*rng.Float64()) * w, 0.5 * (rng.Float64() - 0.5)})
	}
	for n := rng.IntN(12); n > 0; n-- {
		spots = append(spots, spot{(rng.Float64() - 0.5) * w, (rng.Float64() - 0.5) * 1.3 * w, (0.008 + 0.02*rng.Float64()) * w, -0.45 - 0.4*rng.Float64()})
	}
	for v := range col {
		x, y := m.Mean[3*v]-s.centre[0], m.Mean[3*v+1]-s.centre[1]
		g := 1.0
		for _, sp := range spots {
			d2 := ((x-sp.x)*(x-sp.x) + (y-sp.y)*(y-sp.y)) / (sp.r * sp.r)
			if d2 < 9 {
				g *= 1 + sp.gain*math.Exp(-d2)
			}
		}
		for k := range col[v] {
			col[v][k] = min(max(col[v][k]*g, 0), 1)
		}
	}
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rng returns the generator of sample i: PCG seeded from (Seed, split, i).
func (s *Synthetic) rng(i int) *rand.Rand {
	return rand.New(rand.NewPCG(mix64(s.cfg.Seed^mix64(s.splitHash)), mix64(s.splitHash+mix64(uint64(i)))))
}

// Camera holds the grid-generator camera of one synthetic image (Bas et al.
// 2017, Sec. 3.2): image point = (T[0] + S*X'_x, T[1] - S*X'_y) with X' = R X
// and R = Pose.Rotation(); depth = S*X'_z.
type Camera struct {
	Pose Pose
	S    float64    // pixels per model unit
	T    [2]float64 // pixels
}

// Project maps a model-space point to image space (x, y pixels, z depth with
// larger = nearer).
func (c Camera) Project(r *[9]float64, p [3]float64) [3]float64 {
	x := r[0]*p[0] + r[1]*p[1] + r[2]*p[2]
	y := r[3]*p[0] + r[4]*p[1] + r[5]*p[2]
	z := r[6]*p[0] + r[7]*p[1] + r[8]*p[2]
	return [3]float64{c.T[0] + c.S*x, c.T[1] - c.S*y, c.S * z}
}

// SampleCamera returns the shape weights and camera of sample i without
// rendering (the same draws Sample makes).
func (s *Synthetic) SampleCamera(i int) ([]float64, Camera, error) {
	if i < 0 || i >= s.cfg.Count {
		return nil, Camera{}, fmt.Errorf("dataset: synthetic %s: index %d out of range [0, %d)", s.split, i, s.cfg.Count)
	}
	alpha, cam, _ := s.draw(s.rng(i), s.identity(i))
	return alpha, cam, nil
}

// draw makes the geometric draws of one sample, in a fixed order. With
// identities, the identity components come from the person's own
// generator (identityRNG) and only the expression components from rng.
func (s *Synthetic) draw(rng *rand.Rand, id int) ([]float64, Camera, *rand.Rand) {
	c := s.cfg
	alpha := make([]float64, s.d)
	var idRNG *rand.Rand
	if id >= 0 {
		idRNG = s.identityRNG(id, 0)
	}
	for d := range alpha {
		if idRNG != nil && s.kind(d) == bfm.Identity {
			alpha[d] = idRNG.NormFloat64() * c.ShapeStd
			continue
		}
		alpha[d] = rng.NormFloat64() * c.ShapeStd
	}
	u := func(a float64) float64 { return (2*rng.Float64() - 1) * a }
	pose := Pose{Yaw: u(c.YawDeg), Pitch: u(c.PitchDeg), Roll: u(c.RollDeg)}
	f := c.ScaleMin + (c.ScaleMax-c.ScaleMin)*rng.Float64()
	r := pose.Rotation()
	mid := float64(c.Size-1) / 2
	jx, jy := u(c.TransJitter*float64(c.Size)), u(c.TransJitter*float64(c.Size))
	if s.boxVerts != nil {
		// The rotated box of the landmarks (model units, y up).
		x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, v := range s.boxVerts {
			p := s.m.Mean[3*v : 3*v+3 : 3*v+3]
			q := [3]float64{p[0], p[1], p[2]}
			for d, a := range alpha {
				b := s.m.Basis[d][3*v : 3*v+3 : 3*v+3]
				q[0], q[1], q[2] = q[0]+a*b[0], q[1]+a*b[1], q[2]+a*b[2]
			}
			x := r[0]*q[0] + r[1]*q[1] + r[2]*q[2]
			y := r[3]*q[0] + r[4]*q[1] + r[5]*q[2]
			x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
		}
		l := max(x1-x0, y1-y0)
		sc := f * float64(c.Size) / l
		cx, cy := mid+jx, mid+jy+c.BoxOffsetY*f*float64(c.Size)
		return alpha, Camera{Pose: pose, S: sc, T: [2]float64{cx - sc*(x0+x1)/2, cy + sc*(y0+y1)/2}}, rng
	}
	sc := f * float64(c.Size) / s.meanWidth
	rc := [2]float64{
		r[0]*s.centre[0] + r[1]*s.centre[1] + r[2]*s.centre[2],
		r[3]*s.centre[0] + r[4]*s.centre[1] + r[5]*s.centre[2],
	}
	cam := Camera{Pose: pose, S: sc, T: [2]float64{mid + jx - sc*rc[0], mid + jy + sc*rc[1]}}
	return alpha, cam, rng
}

// Vertices returns the model's shape for weights alpha posed by cam, in
// image space (x, y pixels, z depth larger = nearer): the geometry Sample
// renders, for drawing panels or checking ground truth.
func (s *Synthetic) Vertices(alpha []float64, cam Camera) ([][3]float64, error) {
	if len(alpha) > s.m.NumComponents() {
		return nil, fmt.Errorf("dataset: synthetic: %d weights for a model of %d components", len(alpha), s.m.NumComponents())
	}
	shape := s.m.Shape(alpha)
	r := cam.Pose.Rotation()
	out := make([][3]float64, len(shape)/3)
	for v := range out {
		out[v] = cam.Project(&r, [3]float64{shape[3*v], shape[3*v+1], shape[3*v+2]})
	}
	return out, nil
}

// Sample renders sample i. The image is a new *image.RGBA of Size x Size.
// Landmarks hold every scheme the model defines: the projected landmark
// vertices of the posed shape, Visible when the vertex faces the camera,
// projects inside the image and is not hidden by the face itself; points of
// missing vertices (-1) are (0, 0) and not visible. Box is the bounding box
// of all projected (visible or not) landmark points, or of all vertices when
// the model has no landmarks.
func (s *Synthetic) Sample(i int) (Sample, error) {
	if i < 0 || i >= s.cfg.Count {
		return Sample{}, fmt.Errorf("dataset: synthetic %s: index %d out of range [0, %d)", s.split, i, s.cfg.Count)
	}
	alpha, cam, rng := s.draw(s.rng(i), s.identity(i))
	return s.sampleWith(i, alpha, cam, rng)
}

// sampleWith renders sample i with the given weights and camera, drawing the
// appearance from rng.
func (s *Synthetic) sampleWith(i int, alpha []float64, cam Camera, rng *rand.Rand) (Sample, error) {
	c := s.cfg
	sc := s.scratch.Get().(*synthScratch)
	defer s.scratch.Put(sc)
	if sc.err != nil {
		return Sample{}, fmt.Errorf("dataset: synthetic %s: %w", s.split, sc.err)
	}

	m := s.m
	nv := m.NumVertices()
	// Shape S = mean + sum_d alpha_d Basis_d (Eq. 1 of the paper).
	if cap(sc.shape) < 3*nv {
		sc.shape = make([]float64, 3*nv)
		sc.verts = make([][3]float64, nv)
		sc.colour = make([][3]float64, nv)
	}
	shape, verts, col := sc.shape[:3*nv], sc.verts[:nv], sc.colour[:nv]
	copy(shape, m.Mean)
	for d, a := range alpha {
		for k, b := range m.Basis[d] {
			shape[k] += a * b
		}
	}
	r := cam.Pose.Rotation()
	for v := range verts {
		verts[v] = cam.Project(&r, [3]float64{shape[3*v], shape[3*v+1], shape[3*v+2]})
	}

	// Appearance: skin tone, features or model albedo (the person's own
	// with identities), light.
	id := s.identity(i)
	if id >= 0 {
		s.colours(s.identityRNG(id, 1), col)
		s.identityPattern(s.identityRNG(id, 2), col)
	} else {
		s.colours(rng, col)
	}
	if s.ao != nil {
		for v, a := range s.ao {
			f := 1 - c.Occlusion*(1-a)
			col[v] = [3]float64{col[v][0] * f, col[v][1] * f, col[v][2] * f}
		}
	}
	lx, ly := (2*rng.Float64()-1)*c.LightJitter, (2*rng.Float64()-1)*c.LightJitter
	amb := 0.2 + 0.3*rng.Float64()
	sh := Shading{Light: [3]float64{lx, ly, 1}, Ambient: amb, Diffuse: 1.05 - amb}
	if c.Specular > 0 {
		// Skin from matte to oily, a little darker where it shines.
		sh.Specular = c.Specular * rng.Float64()
		sh.Shininess = 8 + 32*rng.Float64()
		sh.Ambient *= 1 - sh.Specular
		sh.Diffuse *= 1 - sh.Specular
	}

	img := image.NewRGBA(image.Rect(0, 0, c.Size, c.Size))
	bg := c.Background
	if bg == BackgroundMixed {
		bg = [...]string{BackgroundNoise, BackgroundGradient, BackgroundBlobs}[rng.IntN(3)]
	}
	paintBackground(img, bg, rng)
	ss := max(c.Supersample, 1)
	canvas := img
	if ss > 1 {
		// The background is painted at the output size (its blur and grain
		// are in output pixels) and copied into each block, so only what is
		// rendered over it changes.
		canvas = image.NewRGBA(image.Rect(0, 0, c.Size*ss, c.Size*ss))
		boxUpsample(canvas, img, ss)
	}
	rv, rt, rc := verts, m.Triangles, col
	if s.head != nil && rng.Float64() < c.HeadProb {
		skin := col[m.Landmarks[bfm.SchemeIBUG68][0]]
		rv, rc, rt = s.head.appendHead(append([][3]float64(nil), verts...), append([][3]int32(nil), m.Triangles...),
			append([][3]float64(nil), col...), cam, drawHeadLook(rng), skin)
	}
	if ss > 1 {
		// Output pixel p is canvas pixels ss p .. ss p + ss - 1, centre
		// ss p + (ss - 1) / 2.
		big := make([][3]float64, len(rv))
		f, o := float64(ss), float64(ss-1)/2
		for k, p := range rv {
			big[k] = [3]float64{f*p[0] + o, f*p[1] + o, f * p[2]}
		}
		rv = big
	}
	if err := sc.r.Render(canvas, rv, rt, rc, sh); err != nil {
		return Sample{}, fmt.Errorf("dataset: synthetic %s %d: %w", s.split, i, err)
	}
	if ss > 1 {
		boxDownsample(img, canvas, ss)
	}

	out := Sample{
		Name:      fmt.Sprintf("synthetic/%s/%06d", s.split, i),
		Image:     img,
		Landmarks: make(map[string]Landmarks, len(s.schemes)),
		Pose:      &Pose{Yaw: cam.Pose.Yaw, Pitch: cam.Pose.Pitch, Roll: cam.Pose.Roll},
		Shape:     alpha,
		Identity:  id + 1,
	}
	tol := c.VisibilityTol * cam.S * s.meanWidth * float64(ss)
	box := Box{X0: math.Inf(1), Y0: math.Inf(1), X1: math.Inf(-1), Y1: math.Inf(-1)}
	grow := func(p [3]float64) {
		box.X0, box.Y0 = min(box.X0, p[0]), min(box.Y0, p[1])
		box.X1, box.Y1 = max(box.X1, p[0]), max(box.Y1, p[1])
	}
	for _, scheme := range s.schemes {
		idx := m.Landmarks[scheme]
		lm := Landmarks{Points: make([][2]float64, len(idx)), Visible: make([]bool, len(idx)), Hidden: make([]bool, len(idx))}
		for j, v := range idx {
			if v < 0 {
				continue
			}
			p := verts[v]
			lm.Points[j] = [2]float64{p[0], p[1]}
			lm.Visible[j] = sc.r.VertexVisible(v, tol, c.GrazeDeg)
			lm.Hidden[j] = !lm.Visible[j]
			grow(p)
		}
		out.Landmarks[scheme] = lm
	}
	if math.IsInf(box.X0, 1) {
		for _, p := range verts {
			grow(p)
		}
	}
	out.Box = &box

	// Occluders last: they cover the face but not the ground truth.
	if rng.Float64() < c.OccluderProb {
		fw := cam.S * s.meanWidth
		for n := 1 + rng.IntN(3); n > 0; n-- {
			cx := box.X0 + rng.Float64()*box.W()
			cy := box.Y0 + rng.Float64()*box.H()
			rx := fw * (0.08 + 0.2*rng.Float64())
			ry := fw * (0.08 + 0.2*rng.Float64())
			col := randomColour(rng)
			if rng.IntN(2) == 0 {
				FillRect(img, cx-rx, cy-ry, cx+rx, cy+ry, col)
			} else {
				FillEllipse(img, cx, cy, rx, ry, col)
			}
		}
	}
	c.Photometric.Apply(img, rng)
	return out, nil
}

// skinTone draws a linear-RGB skin colour between a light and a dark sRGB
// anchor with a little per-channel jitter.
func skinTone(rng *rand.Rand) [3]float64 {
	light := [3]float64{0.96, 0.80, 0.69}
	dark := [3]float64{0.36, 0.22, 0.15}
	t := rng.Float64()
	var c [3]float64
	for k := range c {
		v := light[k] + t*(dark[k]-light[k]) + 0.04*(2*rng.Float64()-1)
		c[k] = SRGBToLinear(min(max(v, 0), 1))
	}
	return c
}

// colours fills col with the per-vertex linear albedo of one sample: the
// model's albedo scaled by a random tone gain when it has one, else a random
// skin tone with painted brows, eyes and lips (see paintFeatures).
func (s *Synthetic) colours(rng *rand.Rand, col [][3]float64) {
	tone := skinTone(rng)
	if s.m.Albedo != nil {
		// Gain relative to a mid skin tone, so the model's own texture keeps
		// its detail and the tone varies.
		mid := [3]float64{SRGBToLinear(0.76), SRGBToLinear(0.57), SRGBToLinear(0.47)}
		for v, a := range s.m.Albedo {
			for k := 0; k < 3; k++ {
				col[v][k] = min(a[k]*tone[k]/mid[k], 1)
			}
		}
		if s.albedo != nil {
			// The skin's own colour at this tone: the median vertex albedo
			// is skin, and so is the tone scaled like it.
			var skin [3]float64
			for k := range skin {
				skin[k] = min(s.skinRef[k]*tone[k]/mid[k], 1)
			}
			s.albedo.vary(col, skin, s.cfg.AlbedoVariety, rng)
		}
		return
	}
	hair := [3]float64{0.02 + 0.1*rng.Float64(), 0.015 + 0.06*rng.Float64(), 0.01 + 0.04*rng.Float64()}
	eye := [3]float64{0.015, 0.012, 0.01}
	lip := [3]float64{tone[0] * 0.8, tone[1] * 0.35, tone[2] * 0.4}
	for v := range col {
		w := s.features[v]
		base := tone
		if w != ([3]float32{}) {
			for k := 0; k < 3; k++ {
				b, e, l := float64(w[0]), float64(w[1]), float64(w[2])
				base[k] = tone[k]*(1-b-e-l) + hair[k]*b + eye[k]*e + lip[k]*l
			}
		}
		col[v] = base
	}
}

// paintFeatures returns per-vertex weights (brow, eye, lip) in [0,1] with
// b+e+l <= 1, from the distance of each mean-shape vertex (frontal x, y) to
// the iBUG-68 brow polylines, eye outlines and outer lip outline. Models
// without iBUG landmarks get all zeros (a plain skin-coloured face).
func paintFeatures(m *bfm.Model, width float64) [][3]float32 {
	w := make([][3]float32, m.NumVertices())
	idx, ok := m.Landmarks[bfm.SchemeIBUG68]
	if !ok || len(idx) != 68 {
		return w
	}
	pt := func(i int) ([2]float64, bool) {
		v := idx[i]
		if v < 0 {
			return [2]float64{}, false
		}
		return [2]float64{m.Mean[3*v], m.Mean[3*v+1]}, true
	}
	type region struct {
		ids    []int
		closed bool
		radius float64 // fraction of width
		fill   bool    // inside of a closed outline counts fully
		ch     int
	}
	regions := []region{
		{[]int{17, 18, 19, 20, 21}, false, 0.022, false, 0},
		{[]int{22, 23, 24, 25, 26}, false, 0.022, false, 0},
		{[]int{36, 37, 38, 39, 40, 41}, true, 0.01, true, 1},
		{[]int{42, 43, 44, 45, 46, 47}, true, 0.01, true, 1},
		{[]int{48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59}, true, 0.008, true, 2},
	}
	for _, rg := range regions {
		var poly [][2]float64
		for _, i := range rg.ids {
			if p, ok := pt(i); ok {
				poly = append(poly, p)
			}
		}
		if len(poly) < 2 {
			continue
		}
		rad := rg.radius * width
		for v := range w {
			p := [2]float64{m.Mean[3*v], m.Mean[3*v+1]}
			d := math.Inf(1)
			nseg := len(poly) - 1
			if rg.closed {
				nseg = len(poly)
			}
			for k := 0; k < nseg; k++ {
				d = min(d, segDist(p, poly[k], poly[(k+1)%len(poly)]))
			}
			if rg.fill && rg.closed && inPolygon(p, poly) {
				d = 0
			}
			if d >= 2*rad {
				continue
			}
			a := 1.0
			if d > rad {
				a = 2 - d/rad
			}
			if f := float32(a); f > w[v][rg.ch] {
				w[v][rg.ch] = f
			}
		}
	}
	for v := range w {
		if s := w[v][0] + w[v][1] + w[v][2]; s > 1 {
			w[v][0] /= s
			w[v][1] /= s
			w[v][2] /= s
		}
	}
	return w
}

// segDist is the distance from p to the segment [a, b].
func segDist(p, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = min(max(((p[0]-a[0])*dx+(p[1]-a[1])*dy)/l, 0), 1)
	}
	ex, ey := p[0]-a[0]-t*dx, p[1]-a[1]-t*dy
	return math.Sqrt(ex*ex + ey*ey)
}

// inPolygon is the even-odd point-in-polygon test.
func inPolygon(p [2]float64, poly [][2]float64) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0]-a[0])*(p[1]-a[1])/(b[1]-a[1])+a[0] {
			in = !in
		}
	}
	return in
}

// randomColour is an opaque colour with uniform sRGB channels.
func randomColour(rng *rand.Rand) color.RGBA {
	return color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
}

// mutedColour is an opaque colour of a photograph's background: a grey
// level mixed with a random hue by at most 40%.
func mutedColour(rng *rand.Rand) color.RGBA {
	v := 255 * rng.Float64()
	s := 0.4 * rng.Float64()
	c := randomColour(rng)
	mix := func(x uint8) uint8 { return uint8(v + s*(float64(x)-v) + 0.5) }
	return color.RGBA{mix(c.R), mix(c.G), mix(c.B), 255}
}

// paintNatural fills img with one of four photograph-like backgrounds in
// muted colours (BackgroundNatural).
func paintNatural(img *image.RGBA, rng *rand.Rand) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	switch rng.IntN(4) {
	case 0: // a blurred scene: value noise at 3 octaves
		var acc []float64 = make([]float64, 3*w*h)
		amp := 1.0
		for _, g := range []int{3, 6, 12} {
			grid := make([][3]float64, (g+1)*(g+1))
			for i := range grid {
				c := mutedColour(rng)
				grid[i] = [3]float64{float64(c.R), float64(c.G), float64(c.B)}
			}
			for y := 0; y < h; y++ {
				fy := float64(y) / float64(h) * float64(g)
				gy := min(int(fy), g-1)
				ty := fy - float64(gy)
				for x := 0; x < w; x++ {
					fx := float64(x) / float64(w) * float64(g)
					gx := min(int(fx), g-1)
					tx := fx - float64(gx)
					a, b := grid[gy*(g+1)+gx], grid[gy*(g+1)+gx+1]
					c, d := grid[(gy+1)*(g+1)+gx], grid[(gy+1)*(g+1)+gx+1]
					for k := 0; k < 3; k++ {
						v := (1-ty)*((1-tx)*a[k]+tx*b[k]) + ty*((1-tx)*c[k]+tx*d[k])
						acc[3*(y*w+x)+k] += amp * v
					}
				}
			}
			amp *= 0.5
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				i := y*img.Stride + 4*x
				for k := 0; k < 3; k++ {
					img.Pix[i+k] = clamp8(acc[3*(y*w+x)+k] / 1.75)
				}
				img.Pix[i+3] = 255
			}
		}
	case 1: // defocused shapes
		FillRect(img, 0, 0, float64(w-1), float64(h-1), mutedColour(rng))
		for n := 3 + rng.IntN(8); n > 0; n-- {
			cx, cy := rng.Float64()*float64(w), rng.Float64()*float64(h)
			rx := (0.05 + 0.4*rng.Float64()) * float64(w)
			ry := (0.05 + 0.4*rng.Float64()) * float64(h)
			if rng.IntN(2) == 0 {
				FillRect(img, cx-rx, cy-ry, cx+rx, cy+ry, mutedColour(rng))
			} else {
				FillEllipse(img, cx, cy, rx, ry, mutedColour(rng))
			}
		}
		gaussianBlur(img, 1+3*rng.Float64())
	case 2: // a soft gradient
		paintGradient(img, mutedColour(rng), mutedColour(rng), 2*math.Pi*rng.Float64())
	default: // a studio backdrop: near-plain with a soft vignette
		c := mutedColour(rng)
		grain := 6 * rng.Float64()
		cx, cy := float64(w-1)/2, float64(h-1)/2
		vig := 0.6 * rng.Float64()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				d := ((float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy)) / (cx*cx + cy*cy)
				f := 1 - vig*d
				i := y*img.Stride + 4*x
				img.Pix[i] = clamp8(float64(c.R)*f + grain*(rng.Float64()-0.5))
				img.Pix[i+1] = clamp8(float64(c.G)*f + grain*(rng.Float64()-0.5))
				img.Pix[i+2] = clamp8(float64(c.B)*f + grain*(rng.Float64()-0.5))
				img.Pix[i+3] = 255
			}
		}
	}
}

// paintGradient fills img with a linear gradient from a to b along the
// direction th (radians).
func paintGradient(img *image.RGBA, a, b color.RGBA, th float64) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	pix := img.Pix
	dx, dy := math.Cos(th), math.Sin(th)
	// Project pixel centres on the direction, normalised to [0, 1].
	ext := (math.Abs(dx)*float64(w-1) + math.Abs(dy)*float64(h-1)) / 2
	cx, cy := float64(w-1)/2, float64(h-1)/2
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := 0.5
			if ext > 0 {
				t = 0.5 + ((float64(x)-cx)*dx+(float64(y)-cy)*dy)/(2*ext)
			}
			i := y*img.Stride + 4*x
			pix[i] = uint8(float64(a.R) + t*(float64(b.R)-float64(a.R)) + 0.5)
			pix[i+1] = uint8(float64(a.G) + t*(float64(b.G)-float64(a.G)) + 0.5)
			pix[i+2] = uint8(float64(a.B) + t*(float64(b.B)-float64(a.B)) + 0.5)
			pix[i+3] = 255
		}
	}
}

// paintBackground fills img (sRGB, opaque) with one background kind.
func paintBackground(img *image.RGBA, kind string, rng *rand.Rand) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	pix := img.Pix
	switch kind {
	case BackgroundNatural:
		paintNatural(img, rng)
	case BackgroundGradient:
		a, b := randomColour(rng), randomColour(rng)
		paintGradient(img, a, b, 2*math.Pi*rng.Float64())
	case BackgroundBlobs:
		base := randomColour(rng)
		FillRect(img, 0, 0, float64(w-1), float64(h-1), base)
		for n := 3 + rng.IntN(6); n > 0; n-- {
			cx, cy := rng.Float64()*float64(w), rng.Float64()*float64(h)
			rx := (0.05 + 0.3*rng.Float64()) * float64(w)
			ry := (0.05 + 0.3*rng.Float64()) * float64(h)
			FillEllipse(img, cx, cy, rx, ry, randomColour(rng))
		}
	default: // BackgroundNoise: bilinear value noise on a coarse grid plus grain.
		const g = 6
		var grid [g + 1][g + 1][3]float64
		for gy := range grid {
			for gx := range grid[gy] {
				c := randomColour(rng)
				grid[gy][gx] = [3]float64{float64(c.R), float64(c.G), float64(c.B)}
			}
		}
		grain := 10 + 30*rng.Float64()
		for y := 0; y < h; y++ {
			fy := float64(y) / float64(h) * g
			gy := int(fy)
			ty := fy - float64(gy)
			for x := 0; x < w; x++ {
				fx := float64(x) / float64(w) * g
				gx := int(fx)
				tx := fx - float64(gx)
				i := y*img.Stride + 4*x
				for k := 0; k < 3; k++ {
					v := (1-ty)*((1-tx)*grid[gy][gx][k]+tx*grid[gy][gx+1][k]) +
						ty*((1-tx)*grid[gy+1][gx][k]+tx*grid[gy+1][gx+1][k])
					v += grain * (rng.Float64() - 0.5)
					pix[i+k] = uint8(min(max(v, 0), 255) + 0.5)
				}
				pix[i+3] = 255
			}
		}
	}
}

// boxUpsample writes each pixel of src into an f x f block of dst.
func boxUpsample(dst, src *image.RGBA, f int) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	for y := 0; y < h; y++ {
		for dy := 0; dy < f; dy++ {
			row := dst.Pix[(f*y+dy)*dst.Stride:]
			for x := 0; x < w; x++ {
				p := src.Pix[y*src.Stride+4*x : y*src.Stride+4*x+4]
				for dx := 0; dx < f; dx++ {
					copy(row[4*(f*x+dx):], p)
				}
			}
		}
	}
}

// boxDownsample writes into dst (w x h) the mean of each f x f block of src
// (f w x f h), rounding to the nearest 8-bit value.
func boxDownsample(dst, src *image.RGBA, f int) {
	w, h := dst.Rect.Dx(), dst.Rect.Dy()
	n := uint32(f * f)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc [4]uint32
			for dy := 0; dy < f; dy++ {
				row := src.Pix[(f*y+dy)*src.Stride+4*f*x:]
				for dx := 0; dx < f; dx++ {
					for c := 0; c < 4; c++ {
						acc[c] += uint32(row[4*dx+c])
					}
				}
			}
			d := dst.Pix[y*dst.Stride+4*x:]
			for c := 0; c < 4; c++ {
				d[c] = uint8((acc[c] + n/2) / n)
			}
		}
	}
}
