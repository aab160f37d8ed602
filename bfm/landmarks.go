package bfm

// Landmark scheme names.
const (
	SchemeAFLW21 = "aflw21"
	SchemeIBUG68 = "ibug68"
)

// AFLW21Names lists the 21 AFLW landmarks in order; "Left" means image-left
// for a frontal face (the subject's right).
var aflw21Names = [21]string{
	"LeftBrowLeftCorner", "LeftBrowCenter", "LeftBrowRightCorner",
	"RightBrowLeftCorner", "RightBrowCenter", "RightBrowRightCorner",
	"LeftEyeLeftCorner", "LeftEyeCenter", "LeftEyeRightCorner",
	"RightEyeLeftCorner", "RightEyeCenter", "RightEyeRightCorner",
	"LeftEar", "NoseLeft", "NoseCenter", "NoseRight", "RightEar",
	"MouthLeftCorner", "MouthCenter", "MouthRightCorner", "ChinCenter",
}

// aflw21Mirror is the 0-based permutation that a horizontal flip applies to
// the 21 AFLW landmarks (the reference's 1-based
// [6 5 4 3 2 1 12 11 10 9 8 7 17 16 15 14 13 20 19 18 21]).
var aflw21Mirror = [21]int{5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 16, 15, 14, 13, 12, 19, 18, 17, 20}

// ibug68Mirror is the 0-based permutation of the 68 iBUG points under a
// horizontal flip.
var ibug68Mirror = func() [68]int {
	var p [68]int
	for i := range p {
		p[i] = i
	}
	pair := func(a, b int) { p[a], p[b] = b, a }
	for i := 0; i < 8; i++ { // jaw 0..16
		pair(i, 16-i)
	}
	for i := 0; i < 5; i++ { // brows 17..21 <-> 26..22
		pair(17+i, 26-i)
	}
	pair(31, 35) // nostrils
	pair(32, 34)
	pair(36, 45) // eyes
	pair(37, 44)
	pair(38, 43)
	pair(39, 42)
	pair(40, 47)
	pair(41, 46)
	pair(48, 54) // outer lip
	pair(49, 53)
	pair(50, 52)
	pair(55, 59)
	pair(56, 58)
	pair(60, 64) // inner lip
	pair(61, 63)
	pair(65, 67)
	return p
}()

// SchemeSize returns the number of landmarks of a scheme, or 0 if unknown.
func SchemeSize(scheme string) int {
	switch scheme {
	case SchemeAFLW21:
		return 21
	case SchemeIBUG68:
		return 68
	}
	return 0
}

// Schemes lists the known landmark schemes.
func Schemes() []string { return []string{SchemeAFLW21, SchemeIBUG68} }

// LandmarkNames returns the names of a scheme's landmarks (nil if unknown).
// iBUG points are named by their 1-based number ("ibug01".."ibug68").
func LandmarkNames(scheme string) []string {
	switch scheme {
	case SchemeAFLW21:
		return append([]string(nil), aflw21Names[:]...)
	case SchemeIBUG68:
		n := make([]string, 68)
		for i := range n {
			n[i] = "ibug" + string(rune('0'+(i+1)/10)) + string(rune('0'+(i+1)%10))
		}
		return n
	}
	return nil
}

// MirrorPermutation returns perm such that after a horizontal flip of the
// image, landmark i of the flipped image is landmark perm[i] of the original
// (nil if the scheme is unknown).
func MirrorPermutation(scheme string) []int {
	switch scheme {
	case SchemeAFLW21:
		return append([]int(nil), aflw21Mirror[:]...)
	case SchemeIBUG68:
		return append([]int(nil), ibug68Mirror[:]...)
	}
	return nil
}

// IBUG68ToAFLW21 lists, for each of the 21 AFLW landmarks, the 0-based iBUG
// points whose mean gives it; nil where there is no counterpart (the ears).
// Eye centre = mean of the eye's six points, mouth centre = mean of the
// inner-lip points; the rest map one to one (brows 18/20/22 and 23/25/27,
// eye corners 37/40 and 43/46, nose 32/31/36, mouth corners 49/55, chin 9,
// 1-based).
func IBUG68ToAFLW21() [][]int {
	return [][]int{
		{17}, {19}, {21}, {22}, {24}, {26},
		{36}, {36, 37, 38, 39, 40, 41}, {39},
		{42}, {42, 43, 44, 45, 46, 47}, {45},
		nil, {31}, {30}, {35}, nil,
		{48}, {60, 61, 62, 63, 64, 65, 66, 67}, {54}, {8},
	}
}
