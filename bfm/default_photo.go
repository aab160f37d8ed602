package bfm

import (
	"fmt"
	"math"
)

// ibug68Photo is the mean position of the 68 iBUG points of real faces, in
// mm at an inter-ocular distance (between the centroids of points 36-41
// and 42-47) of 64 mm, origin the midpoint of the two eye centroids, x
// right, y up, z towards the viewer: the pt3d_68 points (3DDFA's fitted 3D
// landmarks) of the 789 AFLW2000-3D photographs in ../shared, each turned
// back to frontal by the inverse of its Pose_Para rotation, scaled to the
// inter-ocular distance, averaged, then averaged with its mirror image
// (scripts/facestats prints it).
var ibug68Photo = [68][3]float64{
	{-73.3, -8.8, -76.2},   // 0
	{-71.5, -29.0, -74.0},  // 1
	{-67.6, -47.4, -72.2},  // 2
	{-63.7, -63.9, -68.5},  // 3
	{-58.0, -81.3, -59.6},  // 4
	{-48.2, -95.2, -43.7},  // 5
	{-36.8, -103.8, -24.4}, // 6
	{-22.0, -111.1, -6.6},  // 7
	{0.0, -115.5, 0.6},     // 8
	{22.0, -111.1, -6.6},   // 9
	{36.8, -103.8, -24.4},  // 10
	{48.2, -95.2, -43.7},   // 11
	{58.0, -81.3, -59.6},   // 12
	{63.7, -63.9, -68.5},   // 13
	{67.6, -47.4, -72.2},   // 14
	{71.5, -29.0, -74.0},   // 15
	{73.3, -8.8, -76.2},    // 16
	{-57.4, 14.6, -13.3},   // 17
	{-49.2, 21.0, -1.6},    // 18
	{-38.7, 23.0, 6.7},     // 19
	{-28.5, 22.0, 11.9},    // 20
	{-19.4, 19.5, 14.4},    // 21
	{19.4, 19.5, 14.4},     // 22
	{28.5, 22.0, 11.9},     // 23
	{38.7, 23.0, 6.7},      // 24
	{49.2, 21.0, -1.6},     // 25
	{57.4, 14.6, -13.3},    // 26
	{0.0, -0.5, 17.9},      // 27
	{0.0, -12.7, 26.7},     // 28
	{0.0, -24.6, 36.0},     // 29
	{0.0, -35.0, 38.4},     // 30
	{-12.5, -44.1, 15.9},   // 31
	{-7.2, -45.0, 20.4},    // 32
	{0.0, -46.1, 22.5},     // 33
	{7.2, -45.0, 20.4},     // 34
	{12.5, -44.1, 15.9},    // 35
	{-43.7, -0.5, -6.0},    // 36
	{-37.2, 4.0, 2.1},      // 37
	{-27.8, 4.2, 2.2},      // 38
	{-19.3, -1.0, -0.3},    // 39
	{-27.1, -3.2, 2.1},     // 40
	{-36.8, -3.5, -0.1},    // 41
	{19.3, -1.0, -0.3},     // 42
	{27.8, 4.2, 2.2},       // 43
	{37.2, 4.0, 2.1},       // 44
	{43.7, -0.5, -6.0},     // 45
	{36.8, -3.5, -0.1},     // 46
	{27.1, -3.2, 2.1},      // 47
	{-25.9, -69.4, 3.7},    // 48
	{-17.2, -62.6, 16.3},   // 49
	{-6.0, -58.4, 22.9},    // 50
	{0.0, -59.7, 23.5},     // 51
	{6.0, -58.4, 22.9},     // 52
	{17.2, -62.6, 16.3},    // 53
	{25.9, -69.4, 3.7},     // 54
	{16.6, -75.9, 12.8},    // 55
	{8.8, -79.7, 17.3},     // 56
	{0.0, -80.5, 18.3},     // 57
	{-8.8, -79.7, 17.3},    // 58
	{-16.6, -75.9, 12.8},   // 59
	{-23.8, -69.1, 4.2},    // 60
	{-7.7, -65.5, 17.6},    // 61
	{0.0, -65.2, 19.7},     // 62
	{7.7, -65.5, 17.6},     // 63
	{23.8, -69.1, 4.2},     // 64
	{7.7, -71.6, 15.8},     // 65
	{0.0, -72.2, 17.0},     // 66
	{-7.7, -71.6, 15.8},    // 67
}

// photoWarp moves the default face so that its iBUG-68 landmark vertices
// land on the proportions of real faces (ibug68Photo, placed at the eye
// midpoint of lm's vertices and scaled to their inter-ocular distance):
// every vertex is moved by one smooth displacement field, the 3D
// thin-plate interpolant (kernel |r|, plus an affine part) of the 68
// landmark displacements, evaluated on the right half and mirrored, so the
// result stays mirror-symmetric. Before it the face's eyes were 0.95
// inter-ocular distances above the mouth (photographs: 1.08), its chin
// 20 mm behind the eyes' depth (photographs: level with them) and its
// brows 5 mm low; the floor NME of fitting it to the photographs with
// their own pose fell from 5.0% to 2.7%.
func photoWarp(pts []facePoint, ib []int) ([][3]float64, error) {
	n := len(ib)
	ctrl := make([][3]float64, n)
	for i, k := range ib {
		ctrl[i] = [3]float64{pts[k].x, pts[k].y, pts[k].z}
	}
	var le, re [3]float64
	for i := 0; i < 6; i++ {
		for c := 0; c < 3; c++ {
			le[c] += ctrl[36+i][c] / 6
			re[c] += ctrl[42+i][c] / 6
		}
	}
	iod := math.Sqrt((le[0]-re[0])*(le[0]-re[0]) + (le[1]-re[1])*(le[1]-re[1]) + (le[2]-re[2])*(le[2]-re[2]))
	disp := make([][3]float64, n)
	for i := range disp {
		for c := 0; c < 3; c++ {
			disp[i][c] = (le[c]+re[c])/2 + ibug68Photo[i][c]*iod/64 - ctrl[i][c]
		}
	}
	// Anchors where no landmark says how the face moves, so that the
	// interpolant does not extrapolate the brows' spread into the
	// forehead: the top row keeps its place relative to the eyes, and the
	// rim above jaw point 0 (which lies on it) moves as that point does.
	j0 := disp[0]
	for r := 0; r < defaultRows; r += 6 {
		k := r * defaultCols
		if pts[k].y <= pts[ib[0]].y+6 {
			break
		}
		for _, c := range []int{0, defaultCols - 1} {
			q := pts[r*defaultCols+c]
			ctrl = append(ctrl, [3]float64{q.x, q.y, q.z})
			d := j0
			if c != 0 {
				d[0] = -d[0]
			}
			disp = append(disp, d)
		}
	}
	for c := 10; c < defaultCols-1; c += 10 {
		q := pts[c]
		ctrl = append(ctrl, [3]float64{q.x, q.y, q.z})
		disp = append(disp, [3]float64{})
	}
	n = len(ctrl)
	// Solve [K P; P^T 0] [w; a] = [d; 0] for each coordinate.
	m := n + 4
	a := make([][]float64, m)
	for i := range a {
		a[i] = make([]float64, m+3)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			a[i][j] = dist3(ctrl[i], ctrl[j])
		}
		p := [4]float64{1, ctrl[i][0], ctrl[i][1], ctrl[i][2]}
		for c := 0; c < 4; c++ {
			a[i][n+c], a[n+c][i] = p[c], p[c]
		}
		copy(a[i][m:], disp[i][:])
	}
	if err := solveInPlace(a, m, 3); err != nil {
		return nil, fmt.Errorf("photo warp: %w", err)
	}
	out := make([][3]float64, len(pts))
	mid := (defaultCols - 1) / 2
	for r := 0; r < defaultRows; r++ {
		for c := mid; c < defaultCols; c++ {
			k := r*defaultCols + c
			q := [3]float64{pts[k].x, pts[k].y, pts[k].z}
			var d [3]float64
			for e := 0; e < 3; e++ {
				d[e] = a[n][m+e] + a[n+1][m+e]*q[0] + a[n+2][m+e]*q[1] + a[n+3][m+e]*q[2]
			}
			for i := 0; i < n; i++ {
				dist := dist3(q, ctrl[i])
				for e := 0; e < 3; e++ {
					d[e] += a[i][m+e] * dist
				}
			}
			p := [3]float64{q[0] + d[0], q[1] + d[1], q[2] + d[2]}
			if c == mid {
				p[0] = 0
			}
			out[k] = p
			out[r*defaultCols+defaultCols-1-c] = [3]float64{-p[0], p[1], p[2]}
		}
	}
	return out, nil
}

func dist3(a, b [3]float64) float64 {
	return math.Sqrt((a[0]-b[0])*(a[0]-b[0]) + (a[1]-b[1])*(a[1]-b[1]) + (a[2]-b[2])*(a[2]-b[2]))
}

// solveInPlace solves the m x m system in the first m columns of a for the
// rhs right-hand sides in the columns after them (Gaussian elimination
// with partial pivoting); the solutions replace the right-hand sides.
func solveInPlace(a [][]float64, m, rhs int) error {
	for col := 0; col < m; col++ {
		p := col
		for r := col + 1; r < m; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[p][col]) {
				p = r
			}
		}
		if a[p][col] == 0 {
			return fmt.Errorf("singular system at column %d", col)
		}
		a[col], a[p] = a[p], a[col]
		for r := 0; r < m; r++ {
			if r == col || a[r][col] == 0 {
				continue
			}
			f := a[r][col] / a[col][col]
			for c := col; c < m+rhs; c++ {
				a[r][c] -= f * a[col][c]
			}
		}
	}
	for r := 0; r < m; r++ {
		for c := m; c < m+rhs; c++ {
			a[r][c] /= a[r][r]
		}
	}
	return nil
}
