package bfm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stn3d/stn3d/bfm/hdf5"
	"github.com/stn3d/stn3d/internal/workpool"
)

// BFM2017Option changes what ReadBFM2017 keeps.
type BFM2017Option func(*bfm2017Config)

type bfm2017Config struct {
	identity, expression int // components kept, -1 = all
	noAlbedo             bool
}

// BFM2017Components keeps the first identity shape components and the first
// expression components (a negative count keeps all, 0 drops them).
func BFM2017Components(identity, expression int) BFM2017Option {
	return func(c *bfm2017Config) { c.identity, c.expression = identity, expression }
}

// BFM2017NoAlbedo skips the colour model mean.
func BFM2017NoAlbedo() BFM2017Option {
	return func(c *bfm2017Config) { c.noAlbedo = true }
}

// bfm2017SchemeIDs maps BFM 2017 landmark ids to 0-based landmark indices of
// the aflw21 and ibug68 schemes (-1: no clear counterpart). Only anatomical
// points with an unambiguous match are listed; the nose wings have an AFLW
// counterpart but not an iBUG one (iBUG 32/36 lie on the nostril base).
var bfm2017SchemeIDs = map[string][2]int{
	"center.nose.tip":        {14, 30},
	"center.chin.tip":        {20, 8},
	"right.eye.corner_outer": {6, 36},
	"right.eye.corner_inner": {8, 39},
	"left.eye.corner_inner":  {9, 42},
	"left.eye.corner_outer":  {11, 45},
	"right.nose.wing_tip":    {13, -1},
	"left.nose.wing_tip":     {15, -1},
	"right.lips.corner":      {17, 48},
	"left.lips.corner":       {19, 54},
}

// bfm2017Part is one PCA model of the file, as stored.
type bfm2017Part struct {
	mean     []float64
	basis    []float32 // 3N x K row-major (U); float32 halves the peak memory
	variance []float64
	k        int
}

// ReadBFM2017 reads a Basel Face Model 2017 HDF5 file: the shape model with
// the expression components appended (when the file has them), the mesh,
// the colour mean as albedo and the landmarks the file names. Units are mm.
// Components are named shape_pcNN (Identity) and expression_pcNN
// (Expression), NN 1-based.
//
// The file (model2017-1_bfm_nomouth.h5 and relatives) is written by
// Statismo. Layout, per part in {shape, color, expression}:
//
//	<part>/model/mean             3N      x,y,z per vertex (mm), or r,g,b
//	<part>/model/pcaBasis         3N x K  row-major as h5py shows it
//	<part>/model/pcaVariance      K       variances sigma_d^2
//	<part>/model/noiseVariance    scalar  (ignored)
//	<part>/representer/points     3 x N   reference mesh (mm)
//	<part>/representer/cells      3 x M   0-based triangles
//	metadata/landmarks/json       JSON list of {"id", "coordinates": [x,y,z]}
//
// Basis normalisation. Statismo's StatisticalModel keeps the orthonormal
// basis U and writes it as pcaBasis, next to the variances; its
// GetPCABasisMatrix returns U diag(sqrt(pcaVariance)). This reader follows
// that: Basis[d] = U[:,d] * sqrt(pcaVariance[d]), so that with alpha ~ N(0, I)
// S = mean + sum_d alpha_d Basis[d] (the paper's Eq. 1, P = U diag(sigma)).
// Because a copy of the file re-saved by other tools might hold the already
// scaled basis, the reader measures the column norms: columns of unit
// length (within 2%) are scaled, columns whose norm is sqrt(variance)
// (within 2%) are kept, anything else is a FormatError. Where both hold
// (variance 1) the two readings agree.
//
// Expression. The expression part is a PCA model of displacements from the
// neutral face (as eos's BFM 2017 converter treats it): its mean is added to
// the shape mean and its scaled basis vectors are appended with Kind
// Expression. The expression model must have the same number of vertices.
//
// Albedo. color/model/mean, when present, gives one RGB per vertex, clamped
// to [0, 1] (BFM 2017 stores colours in [0, 1]).
//
// Triangles are taken from shape/representer/cells; if they wind clockwise
// seen from +z on the mean face (negative total signed area of the xy
// projection), every triangle is flipped to the package convention.
//
// Landmarks. The named landmarks of metadata/landmarks/json are returned by
// BFM2017Landmarks. ReadBFM2017 snaps each to its nearest vertex of the
// representer and fills Model.Landmarks only for ids with an unambiguous
// counterpart, -1 elsewhere: center.nose.tip, center.chin.tip,
// {left,right}.eye.corner_{outer,inner}, {left,right}.lips.corner (both
// schemes) and {left,right}.nose.wing_tip (aflw21 only). BFM ids say the
// subject's left/right, the "aflw21" and "ibug68" schemes the image's, so
// "right.eye.corner_outer" is the image-left outer eye corner (AFLW
// LeftEyeLeftCorner, iBUG 37). Other ids stay available through
// BFM2017Landmarks; a file without any of these ids gets no Landmarks.
func ReadBFM2017(path string, opts ...BFM2017Option) (_ *Model, err error) {
	cfg := bfm2017Config{identity: -1, expression: -1}
	for _, o := range opts {
		o(&cfg)
	}
	f, err := hdf5.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	root, err := f.List("/")
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
	}
	has := func(name string) bool {
		for _, r := range root {
			if r == name {
				return true
			}
		}
		return false
	}
	shape, err := readBFM2017Part(f, path, "shape")
	if err != nil {
		return nil, err
	}
	n := len(shape.mean) / 3
	base := filepath.Base(path)
	m := &Model{
		Name:   strings.TrimSuffix(base, filepath.Ext(base)),
		Format: "bfm2017",
		Source: path,
		Units:  "mm",
		Mean:   shape.mean,
	}
	if err := appendBFM2017Basis(m, shape, path, "shape", "shape_pc%02d", Identity, cfg.identity); err != nil {
		return nil, err
	}
	if has("expression") && cfg.expression != 0 {
		expr, err := readBFM2017Part(f, path, "expression")
		if err != nil {
			return nil, err
		}
		if len(expr.mean) != len(m.Mean) {
			return nil, formatErr(path, -1, "/expression/model/mean", fmt.Sprintf("%d values (as /shape/model/mean)", len(m.Mean)), "%d", len(expr.mean))
		}
		for i, v := range expr.mean {
			m.Mean[i] += v
		}
		if err := appendBFM2017Basis(m, expr, path, "expression", "expression_pc%02d", Expression, cfg.expression); err != nil {
			return nil, err
		}
	}
	points, err := readBFM2017Matrix(f, path, "/shape/representer/points", 3, n)
	if err != nil {
		return nil, err
	}
	if m.Triangles, err = readBFM2017Cells(f, path, n); err != nil {
		return nil, err
	}
	orientTriangles(m.Mean, m.Triangles)
	if has("color") && !cfg.noAlbedo {
		ds, err := f.Dataset("/color/model/mean")
		if err != nil {
			return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
		}
		c, err := ds.Float64s()
		if err != nil {
			return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
		}
		if len(c) != 3*n {
			return nil, formatErr(path, -1, "/color/model/mean", fmt.Sprintf("%d values (3 per vertex)", 3*n), "%d", len(c))
		}
		m.Albedo = make([][3]float64, n)
		for v := range m.Albedo {
			for k := 0; k < 3; k++ {
				m.Albedo[v][k] = math.Min(1, math.Max(0, c[3*v+k]))
			}
		}
	}
	{
		lms, err := bfm2017LandmarksFrom(f, path)
		if err != nil {
			return nil, err
		}
		if len(lms) > 0 {
			m.Landmarks = bfm2017SchemeLandmarks(lms, points, n)
		}
	}
	return m, nil
}

// readBFM2017Part reads <part>/model/{mean,pcaBasis,pcaVariance} and checks
// their shapes against each other.
func readBFM2017Part(f *hdf5.File, path, part string) (*bfm2017Part, error) {
	get := func(name string) (*hdf5.Dataset, []float64, error) {
		ds, err := f.Dataset("/" + part + "/model/" + name)
		if err != nil {
			return nil, nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
		}
		v, err := ds.Float64s()
		if err != nil {
			return nil, nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, nil, formatErr(path, -1, fmt.Sprintf("/%s/model/%s[%d]", part, name, i), "a finite value", "%v", x)
			}
		}
		return ds, v, nil
	}
	p := &bfm2017Part{}
	ds, mean, err := get("mean")
	if err != nil {
		return nil, err
	}
	if len(mean) == 0 || len(mean)%3 != 0 || len(ds.Shape()) != 1 {
		return nil, formatErr(path, -1, "/"+part+"/model/mean", "a 1-D array of 3N values", "shape %v", ds.Shape())
	}
	p.mean = mean
	const basisName = "pcaBasis"
	ds, err = f.Dataset("/" + part + "/model/" + basisName)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
	}
	if p.basis, err = ds.Float32s(); err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
	}
	for i, x := range p.basis {
		if x-x != 0 { // NaN or ±Inf
			return nil, formatErr(path, -1, fmt.Sprintf("/%s/model/%s[%d]", part, basisName, i), "a finite value", "%v", x)
		}
	}
	sh := ds.Shape()
	if len(sh) != 2 || sh[0] != len(mean) {
		return nil, formatErr(path, -1, "/"+part+"/model/pcaBasis", fmt.Sprintf("%d x K (3N rows, as the mean)", len(mean)), "shape %v", sh)
	}
	p.k = sh[1]
	ds, p.variance, err = get("pcaVariance")
	if err != nil {
		return nil, err
	}
	if len(p.variance) != p.k {
		return nil, formatErr(path, -1, "/"+part+"/model/pcaVariance", fmt.Sprintf("%d values (one per pcaBasis column)", p.k), "shape %v", ds.Shape())
	}
	for d, v := range p.variance {
		if v < 0 {
			return nil, formatErr(path, -1, fmt.Sprintf("/%s/model/pcaVariance[%d]", part, d), "a non-negative variance", "%v", v)
		}
	}
	return p, nil
}

// appendBFM2017Basis appends the first keep (all if negative) columns of
// part as sqrt(variance)-scaled basis vectors, after checking how the file
// normalised them (see the comment at the top of this file).
func appendBFM2017Basis(m *Model, p *bfm2017Part, path, part, nameFmt string, kind ComponentKind, keep int) error {
	k := p.k
	if keep >= 0 && keep < k {
		k = keep
	}
	rows := len(p.mean)
	// Column norms in one row-major pass (the basis is 3N x K, row-major).
	norms := make([]float64, k)
	for i := 0; i < rows; i++ {
		for d, x := range p.basis[i*p.k : i*p.k+k] {
			norms[d] += float64(x) * float64(x)
		}
	}
	scales := make([]float64, k)
	for d := range scales {
		norm := math.Sqrt(norms[d])
		sigma := math.Sqrt(p.variance[d])
		switch {
		case math.Abs(norm-1) <= 0.02:
			scales[d] = sigma
		case sigma > 0 && math.Abs(norm/sigma-1) <= 0.02:
			scales[d] = 1
		default:
			return formatErr(path, -1, fmt.Sprintf("/%s/model/pcaBasis column %d", part, d),
				fmt.Sprintf("unit norm (orthonormal basis) or norm sqrt(pcaVariance) = %.6g", sigma), "norm %.6g", norm)
		}
	}
	basis := make([][]float64, k)
	for d := range basis {
		basis[d] = make([]float64, rows)
	}
	// Transpose in tiles of rows so that the strided reads stay in cache;
	// the columns are split into contiguous ranges across the worker pool.
	const tile = 64
	workpool.Chunks(k, rows, func(lo, hi int) {
		for i0 := 0; i0 < rows; i0 += tile {
			i1 := min(i0+tile, rows)
			for d := lo; d < hi; d++ {
				col, sc := basis[d], scales[d]
				for i := i0; i < i1; i++ {
					col[i] = float64(p.basis[i*p.k+d]) * sc
				}
			}
		}
	})
	for d := range basis {
		m.Basis = append(m.Basis, basis[d])
		m.Components = append(m.Components, Component{Name: fmt.Sprintf(nameFmt, d+1), Kind: kind})
	}
	return nil
}

// readBFM2017Matrix reads a rows x cols dataset.
func readBFM2017Matrix(f *hdf5.File, path, name string, rows, cols int) ([]float64, error) {
	ds, err := f.Dataset(name)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
	}
	if sh := ds.Shape(); len(sh) != 2 || sh[0] != rows || (cols >= 0 && sh[1] != cols) {
		want := fmt.Sprintf("%d x %d", rows, cols)
		if cols < 0 {
			want = fmt.Sprintf("%d x M", rows)
		}
		return nil, formatErr(path, -1, name, want, "shape %v", sh)
	}
	v, err := ds.Float64s()
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 model: %w", err)
	}
	return v, nil
}

// readBFM2017Cells reads shape/representer/cells (3 x M, 0-based).
func readBFM2017Cells(f *hdf5.File, path string, n int) ([][3]int32, error) {
	const name = "/shape/representer/cells"
	c, err := readBFM2017Matrix(f, path, name, 3, -1)
	if err != nil {
		return nil, err
	}
	mt := len(c) / 3
	tris := make([][3]int32, mt)
	for t := range tris {
		for k := 0; k < 3; k++ {
			v := c[k*mt+t]
			if v < 0 || v >= float64(n) || v != math.Trunc(v) {
				return nil, formatErr(path, -1, fmt.Sprintf("%s[%d][%d]", name, k, t), fmt.Sprintf("a 0-based vertex index in [0, %d)", n), "%v", v)
			}
			tris[t][k] = int32(v)
		}
	}
	return tris, nil
}

// orientTriangles flips every triangle when their summed signed area in the
// xy plane is negative, so that the face winds counter-clockwise seen from
// +z (the package convention).
func orientTriangles(mean []float64, tris [][3]int32) {
	area := 0.0
	for _, t := range tris {
		ax, ay := mean[3*t[0]], mean[3*t[0]+1]
		bx, by := mean[3*t[1]], mean[3*t[1]+1]
		cx, cy := mean[3*t[2]], mean[3*t[2]+1]
		area += (bx-ax)*(cy-ay) - (by-ay)*(cx-ax)
	}
	if area < 0 {
		for i := range tris {
			tris[i][1], tris[i][2] = tris[i][2], tris[i][1]
		}
	}
}

// BFM2017Landmarks returns the named landmarks of a BFM 2017 file
// (metadata/landmarks/json): id -> x, y, z in mm on the reference mesh.
// A file without the metadata group gives an empty map.
func BFM2017Landmarks(path string) (_ map[string][3]float64, err error) {
	f, err := hdf5.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 landmarks: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	return bfm2017LandmarksFrom(f, path)
}

func bfm2017LandmarksFrom(f *hdf5.File, path string) (map[string][3]float64, error) {
	const name = "/metadata/landmarks/json"
	for _, g := range [][2]string{{"/", "metadata"}, {"/metadata", "landmarks"}, {"/metadata/landmarks", "json"}} {
		members, err := f.List(g[0])
		if err != nil {
			return nil, fmt.Errorf("bfm: reading BFM 2017 landmarks: %w", err)
		}
		if i := sort.SearchStrings(members, g[1]); i == len(members) || members[i] != g[1] {
			return map[string][3]float64{}, nil
		}
	}
	ds, err := f.Dataset(name)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 landmarks: %w", err)
	}
	text, err := bfm2017Text(ds)
	if err != nil {
		return nil, fmt.Errorf("bfm: reading BFM 2017 landmarks: %w", err)
	}
	var list []struct {
		ID          *string    `json:"id"`
		Coordinates []*float64 `json:"coordinates"`
	}
	if err := json.Unmarshal([]byte(text), &list); err != nil {
		return nil, formatErr(path, -1, name, `a JSON list of {"id": ..., "coordinates": [x, y, z]}`, "%v", err)
	}
	out := make(map[string][3]float64, len(list))
	for i, l := range list {
		if l.ID == nil || len(l.Coordinates) != 3 {
			return nil, formatErr(path, -1, fmt.Sprintf("%s entry %d", name, i), `"id" and 3 "coordinates"`, "id %v, %d coordinates", l.ID != nil, len(l.Coordinates))
		}
		var p [3]float64
		for k, c := range l.Coordinates {
			if c == nil || math.IsNaN(*c) || math.IsInf(*c, 0) {
				return nil, formatErr(path, -1, fmt.Sprintf("%s entry %d (%q)", name, i, *l.ID), "3 finite coordinates", "%v", l.Coordinates)
			}
			p[k] = *c
		}
		if _, dup := out[*l.ID]; dup {
			return nil, formatErr(path, -1, name, "unique landmark ids", "%q twice", *l.ID)
		}
		out[*l.ID] = p
	}
	return out, nil
}

// bfm2017Text reads a text dataset: a string (scalar, or 1-D whose elements
// are concatenated) or, as some writers store text, a 1-D array of bytes.
func bfm2017Text(ds *hdf5.Dataset) (string, error) {
	s, err := ds.Strings()
	if err == nil {
		return strings.Join(s, ""), nil
	}
	v, err2 := ds.Float64s()
	if err2 != nil {
		return "", err
	}
	b := make([]byte, len(v))
	for i, x := range v {
		if x < 0 || x > 255 || x != math.Trunc(x) {
			return "", fmt.Errorf("%s: element %d is %v, not a text byte", ds.Path(), i, x)
		}
		b[i] = byte(x)
	}
	return strings.TrimRight(string(b), "\x00"), nil
}

// bfm2017SchemeLandmarks snaps the landmarks to their nearest representer
// vertex (points is 3 x n) and fills the schemes for the ids it knows.
func bfm2017SchemeLandmarks(lms map[string][3]float64, points []float64, n int) map[string][]int {
	schemes := []string{SchemeAFLW21, SchemeIBUG68}
	out := map[string][]int{}
	ids := make([]string, 0, len(lms))
	for id := range lms {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		idx, ok := bfm2017SchemeIDs[id]
		if !ok {
			continue
		}
		v := nearestPoint(points, n, lms[id])
		for s, scheme := range schemes {
			if idx[s] < 0 {
				continue
			}
			if out[scheme] == nil {
				out[scheme] = make([]int, SchemeSize(scheme))
				for i := range out[scheme] {
					out[scheme][i] = -1
				}
			}
			out[scheme][idx[s]] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// nearestPoint returns the column of points (3 x n, row-major) nearest to p.
func nearestPoint(points []float64, n int, p [3]float64) int {
	best, bestD := -1, math.Inf(1)
	for v := 0; v < n; v++ {
		dx, dy, dz := points[v]-p[0], points[n+v]-p[1], points[2*n+v]-p[2]
		if d := dx*dx + dy*dy + dz*dz; d < bestD {
			best, bestD = v, d
		}
	}
	return best
}
