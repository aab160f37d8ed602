package bfm

import (
	"fmt"
	"math"
)

// lmTarget places one landmark of a scheme at the mean face's frontal
// position (x, y) in mm. x < 0 is image-left (the subject's right); x = 0
// selects a vertex of the mid-line column.
type lmTarget struct {
	i    int
	x, y float64
}

// ibug68Targets lists the image-left and mid-line iBUG points except the jaw
// contour (0..8, taken from the mesh boundary) and the nose tip (30, the
// mid-line vertex of largest z); image-right points are their mirrors.
func ibug68Targets() []lmTarget {
	return []lmTarget{
		// Left brow, outer to inner.
		{17, -50, 40}, {18, -42, 43.5}, {19, -32, 44.5}, {20, -22, 43.5}, {21, -13, 41},
		// Nose bridge (nasion down), nostril base.
		{27, 0, 30}, {28, 0, 20}, {29, 0, 10},
		{31, -9, -8}, {32, -4.5, -10}, {33, 0, -11},
		// Left eye: outer corner, upper outer/inner, inner corner, lower inner/outer.
		{36, -46, 28}, {37, -37, 32.5}, {38, -27, 32.5}, {39, -18, 28}, {40, -27, 23.5}, {41, -37, 23.5},
		// Outer lip: left corner, upper left, upper centre, lower centre, lower left.
		{48, -25, defaultMouthY}, {49, -15, defaultMouthY + 5.5}, {50, -6, defaultMouthY + 7},
		{51, 0, defaultMouthY + 7}, {57, 0, defaultMouthY - 10}, {58, -6, defaultMouthY - 9.5},
		{59, -15, defaultMouthY - 7},
		// Inner lip: left corner, upper left, upper centre, lower centre, lower left.
		{60, -21, defaultMouthY}, {61, -8, defaultMouthY + 2}, {62, 0, defaultMouthY + 2},
		{66, 0, defaultMouthY - 2}, {67, -8, defaultMouthY - 2},
	}
}

// defaultEarY is the height (mm) of the ear landmarks on the rim column.
const defaultEarY = 8.0

// frontalMaxTheta bounds the search for landmark vertices to the part of
// the face seen from the front.
const frontalMaxTheta = 75 * math.Pi / 180

// nearestVertex returns the vertex nearest to frontal position (x, y): on
// the mid-line column when x == 0, else on the side of x among vertices
// with theta < frontalMaxTheta.
func nearestVertex(pts []facePoint, x, y float64) int {
	mid := (defaultCols - 1) / 2
	c0, c1 := mid, mid
	if x > 0 {
		c1 = defaultCols - 1
	} else if x < 0 {
		c0 = 0
	}
	best, bestD := -1, math.Inf(1)
	for r := 0; r < defaultRows; r++ {
		for c := c0; c <= c1; c++ {
			k := r*defaultCols + c
			p := pts[k]
			if p.theta > frontalMaxTheta {
				continue
			}
			if d := (p.x-x)*(p.x-x) + (p.y-y)*(p.y-y); d < bestD {
				best, bestD = k, d
			}
		}
	}
	return best
}

// mirrorVertex is the grid vertex mirrored about the mid-line.
func mirrorVertex(k int) int {
	r, c := k/defaultCols, k%defaultCols
	return r*defaultCols + defaultCols - 1 - c
}

// jawContour returns the nine image-left iBUG jaw points 0..8: vertices
// equally spaced by frontal (x, y) arc length along the mesh boundary, from
// the rim column (col 0) at y = +22 mm down to the bottom row and along it
// to the mid-line (point 8, the bottom of the chin).
func jawContour(pts []facePoint) []int {
	mid := (defaultCols - 1) / 2
	var path []int
	for r := 0; r < defaultRows; r++ {
		if pts[r*defaultCols].y <= 22 {
			path = append(path, r*defaultCols)
		}
	}
	last := (defaultRows - 1) * defaultCols
	for c := 1; c <= mid; c++ {
		path = append(path, last+c)
	}
	arc := make([]float64, len(path))
	for i := 1; i < len(path); i++ {
		a, b := pts[path[i-1]], pts[path[i]]
		arc[i] = arc[i-1] + math.Hypot(b.x-a.x, b.y-a.y)
	}
	total := arc[len(arc)-1]
	out := make([]int, 9)
	j := 0
	for i := range out {
		want := total * float64(i) / 8
		for j+1 < len(path) && math.Abs(arc[j+1]-want) <= math.Abs(arc[j]-want) {
			j++
		}
		out[i] = path[j]
	}
	return out
}

// defaultLandmarks returns the "ibug68" and "aflw21" vertex indices of the
// default model (see Default for the choices).
func defaultLandmarks(pts []facePoint) (map[string][]int, error) {
	mid := (defaultCols - 1) / 2
	ib := make([]int, 68)
	for i := range ib {
		ib[i] = -1
	}
	for i, k := range jawContour(pts) {
		ib[i] = k
	}
	tip, tipZ := -1, math.Inf(-1)
	for r := 0; r < defaultRows; r++ {
		if k := r*defaultCols + mid; pts[k].z > tipZ {
			tip, tipZ = k, pts[k].z
		}
	}
	ib[30] = tip
	for _, t := range ibug68Targets() {
		ib[t.i] = nearestVertex(pts, t.x, t.y)
	}
	perm := MirrorPermutation(SchemeIBUG68)
	for i, k := range ib {
		if k >= 0 && perm[i] != i && ib[perm[i]] < 0 {
			ib[perm[i]] = mirrorVertex(k)
		}
	}
	for i, k := range ib {
		if k < 0 {
			return nil, fmt.Errorf("bfm: default model: ibug68 landmark %d has no vertex", i)
		}
	}

	af := make([]int, 21)
	for i, src := range IBUG68ToAFLW21() {
		if len(src) == 1 {
			af[i] = ib[src[0]]
		}
	}
	af[7] = nearestVertex(pts, -defaultEyeX, defaultEyeY)
	af[10] = mirrorVertex(af[7])
	af[18] = nearestVertex(pts, 0, defaultMouthY)
	ear := nearestVertexOnColumn(pts, 0, defaultEarY)
	af[12], af[16] = ear, mirrorVertex(ear)
	return map[string][]int{SchemeIBUG68: ib, SchemeAFLW21: af}, nil
}

// nearestVertexOnColumn returns the vertex of column col whose y is nearest.
func nearestVertexOnColumn(pts []facePoint, col int, y float64) int {
	best, bestD := -1, math.Inf(1)
	for r := 0; r < defaultRows; r++ {
		k := r*defaultCols + col
		if d := math.Abs(pts[k].y - y); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}
