package dataset

import (
	"math"
	"strings"
	"testing"
)

// at returns the 2-D unit embedding at angle deg.
func at(deg float64) []float32 {
	r := deg * math.Pi / 180
	return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
}

// TestVerifyKnownAnswer: identity 0 at angles 0, 10 and 170 degrees,
// identity 1 at 90 and 100. Genuine pairs score cos 10 (twice), cos 170
// and cos 160; the six impostor pairs lie in [-0.17, 0.34]. Each cos-10
// genuine pair beats all six impostors, the other two none: AUC 12/24.
func TestVerifyKnownAnswer(t *testing.T) {
	in := []VerificationInput{
		{Embedding: at(0), Identity: 0, Yaw: 0},
		{Embedding: at(10), Identity: 0, Yaw: 50},
		{Embedding: at(170), Identity: 0, Yaw: 70},
		{Embedding: at(90), Identity: 1, Yaw: -5},
		{Embedding: at(100), Identity: 1, Yaw: 60},
	}
	m, err := Verify(in, 45)
	if err != nil {
		t.Fatal(err)
	}
	if m.All.Genuine != 4 || m.All.Impostor != 6 || math.Abs(m.All.AUC-0.5) > 1e-12 {
		t.Errorf("all pairs %+v, want 4 genuine, 6 impostor, AUC 0.5", m.All)
	}
	if m.All.TAR1e2 != nil || m.All.TAR1e3 != nil {
		t.Errorf("TAR with 6 impostors: %v %v, want null (1%% of 6 is no pair)", m.All.TAR1e2, m.All.TAR1e3)
	}
	// Yaw gap >= 45: genuine 0-50 (cos 10), 0-70 (cos 170), -5-60 (cos
	// 10); impostors 0-60 (cos 100), 50-(-5) (cos 80), 70-(-5) (cos 80).
	if m.LargeYaw.Genuine != 3 || m.LargeYaw.Impostor != 3 || math.Abs(m.LargeYaw.AUC-6.0/9) > 1e-12 {
		t.Errorf("yaw-gap pairs %+v, want 3 genuine, 3 impostor, AUC 6/9", m.LargeYaw)
	}
	// Gallery: image 0 (yaw 0) and image 3 (yaw -5). Probes: image 1
	// (closest: 0, right), 2 (closest to 90: wrong), 4 (closest: 3, right).
	if math.Abs(m.Rank1-2.0/3) > 1e-12 || m.Rank1LargeYaw == nil || math.Abs(*m.Rank1LargeYaw-2.0/3) > 1e-12 {
		t.Errorf("rank-1 %v / %v, want 2/3 and 2/3", m.Rank1, m.Rank1LargeYaw)
	}
	if m.Images != 5 || m.Identities != 2 {
		t.Errorf("images %d identities %d", m.Images, m.Identities)
	}
}

// TestTARAt: 1,000 impostor scores 0, 0.001, ..., 0.999; FAR 1e-2 accepts
// the 10 above 0.989, FAR 1e-3 the one above 0.998.
func TestTARAt(t *testing.T) {
	imp := make([]float64, 1000)
	for i := range imp {
		imp[i] = float64(i) / 1000
	}
	gen := []float64{0.5, 0.9895, 0.9905, 0.995, 1.5}
	if v := tarAt(gen, imp, 1e-2); v == nil || *v != 0.8 {
		t.Errorf("TAR@1e-2 = %v, want 0.8", v)
	}
	if v := tarAt(gen, imp, 1e-3); v == nil || *v != 0.2 {
		t.Errorf("TAR@1e-3 = %v, want 0.2", v)
	}
	if v := tarAt(gen, imp[:99], 1e-2); v != nil {
		t.Errorf("TAR@1e-2 over 99 impostors = %v, want null", *v)
	}
}

func TestVerifyErrors(t *testing.T) {
	cases := []struct {
		in   []VerificationInput
		want string
	}{
		{[]VerificationInput{{Embedding: at(0)}}, "1 images, want at least 2"},
		{[]VerificationInput{{Embedding: at(0)}, {Embedding: []float32{1}, Identity: 1}}, "image 1 has a 1-value embedding"},
		{[]VerificationInput{{Embedding: at(0)}, {Embedding: at(5)}}, "one identity only"},
		{[]VerificationInput{{Embedding: at(0)}, {Embedding: []float32{0, 0}, Identity: 1}}, "image 1 has a zero embedding"},
		{[]VerificationInput{{Embedding: at(0)}, {Embedding: []float32{float32(math.NaN()), 1}, Identity: 1}}, "embedding value 0 is NaN"},
		{[]VerificationInput{{Embedding: at(0), Yaw: math.Inf(1)}, {Embedding: at(3), Identity: 1}}, "yaw +Inf"},
	}
	for _, c := range cases {
		if _, err := Verify(c.in, 45); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
