package dataset

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Face verification and identification metrics on embeddings (the usual
// protocol of face recognition benchmarks, e.g. IJB-B/C and LFW):
// every unordered pair of images is scored by the cosine similarity of
// their embeddings; pairs of one identity are genuine, the others
// impostors.

// VerificationInput is one embedded test image.
type VerificationInput struct {
	Embedding []float32
	// Identity labels the person; Yaw is the head yaw in degrees (for the
	// pose-gap subsets).
	Identity int
	Yaw      float64
}

// VerificationSet is the verification score of one set of pairs.
type VerificationSet struct {
	// Genuine and Impostor count the pairs.
	Genuine  int `json:"genuine_pairs"`
	Impostor int `json:"impostor_pairs"`
	// AUC is the area under the ROC curve: the probability that a genuine
	// pair scores higher than an impostor pair (ties count half).
	AUC float64 `json:"roc_auc"`
	// TAR1e2 and TAR1e3 are the true accept rates at the thresholds that
	// accept at most 1% and 0.1% of impostor pairs; null when there are
	// too few impostors to resolve that rate.
	TAR1e2 *float64 `json:"tar_at_far_1e-2"`
	TAR1e3 *float64 `json:"tar_at_far_1e-3"`
}

// VerificationMetrics are the verification scores on all pairs and on the
// pairs whose yaws differ by at least MinYawGap degrees, and rank-1
// identification: each identity's most frontal image (smallest |yaw|)
// forms the gallery, every other image is a probe matched to its most
// similar gallery image.
type VerificationMetrics struct {
	Images     int             `json:"images"`
	Identities int             `json:"identities"`
	All        VerificationSet `json:"all_pairs"`
	MinYawGap  float64         `json:"min_yaw_gap_deg"`
	LargeYaw   VerificationSet `json:"yaw_gap_pairs"`
	// Rank1 is the fraction of probes identified correctly; Rank1LargeYaw
	// the same over probes at least MinYawGap degrees from their gallery
	// image (null without such probes).
	Rank1         float64  `json:"rank1"`
	Rank1LargeYaw *float64 `json:"rank1_yaw_gap"`
}

// Verify scores the embedded images (at least two identities, each with at
// least two images for genuine pairs).
func Verify(in []VerificationInput, minYawGap float64) (*VerificationMetrics, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("dataset: verify: %d images, want at least 2", len(in))
	}
	dim := len(in[0].Embedding)
	unit := make([][]float64, len(in))
	for i, x := range in {
		if len(x.Embedding) != dim || dim == 0 {
			return nil, fmt.Errorf("dataset: verify: image %d has a %d-value embedding, image 0 %d", i, len(x.Embedding), dim)
		}
		if math.IsNaN(x.Yaw) || math.IsInf(x.Yaw, 0) {
			return nil, fmt.Errorf("dataset: verify: image %d: yaw %v, want a finite angle", i, x.Yaw)
		}
		u := make([]float64, dim)
		var n float64
		for k, v := range x.Embedding {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("dataset: verify: image %d: embedding value %d is %v", i, k, v)
			}
			u[k] = float64(v)
			n += u[k] * u[k]
		}
		n = math.Sqrt(n)
		if n == 0 {
			return nil, fmt.Errorf("dataset: verify: image %d has a zero embedding", i)
		}
		for k := range u {
			u[k] /= n
		}
		unit[i] = u
	}
	cos := func(i, j int) float64 {
		var s float64
		for k, v := range unit[i] {
			s += v * unit[j][k]
		}
		return s
	}
	var all, large scoreSet
	ids := map[int]bool{}
	for i := range in {
		ids[in[i].Identity] = true
		for j := i + 1; j < len(in); j++ {
			c := cos(i, j)
			same := in[i].Identity == in[j].Identity
			all.add(c, same)
			if math.Abs(in[i].Yaw-in[j].Yaw) >= minYawGap {
				large.add(c, same)
			}
		}
	}
	if len(ids) < 2 {
		return nil, errors.New("dataset: verify: one identity only: no impostor pairs")
	}
	m := &VerificationMetrics{Images: len(in), Identities: len(ids), MinYawGap: minYawGap}
	var err error
	if m.All, err = all.score(); err != nil {
		return nil, fmt.Errorf("dataset: verify: all pairs: %w", err)
	}
	if large.genuine > 0 && large.impostor > 0 {
		if m.LargeYaw, err = large.score(); err != nil {
			return nil, fmt.Errorf("dataset: verify: yaw-gap pairs: %w", err)
		}
	}
	m.Rank1, m.Rank1LargeYaw = rank1(in, cos, minYawGap)
	return m, nil
}

// scoreSet collects pair scores.
type scoreSet struct {
	scores            []pairScore
	genuine, impostor int
}

type pairScore struct {
	s    float64
	same bool
}

func (p *scoreSet) add(s float64, same bool) {
	p.scores = append(p.scores, pairScore{s, same})
	if same {
		p.genuine++
	} else {
		p.impostor++
	}
}

// score computes AUC (Mann-Whitney, ties half) and TAR at FAR 1e-2, 1e-3.
func (p *scoreSet) score() (VerificationSet, error) {
	out := VerificationSet{Genuine: p.genuine, Impostor: p.impostor}
	if p.genuine == 0 || p.impostor == 0 {
		return out, fmt.Errorf("%d genuine and %d impostor pairs, want both", p.genuine, p.impostor)
	}
	sort.Slice(p.scores, func(a, b int) bool { return p.scores[a].s < p.scores[b].s })
	// AUC: for each genuine pair, the impostors below it (+ half the tied).
	var below, auc float64
	for i := 0; i < len(p.scores); {
		j := i
		var g, imp float64
		for ; j < len(p.scores) && p.scores[j].s == p.scores[i].s; j++ {
			if p.scores[j].same {
				g++
			} else {
				imp++
			}
		}
		auc += g * (below + imp/2)
		below += imp
		i = j
	}
	out.AUC = auc / (float64(p.genuine) * float64(p.impostor))
	imp := make([]float64, 0, p.impostor)
	gen := make([]float64, 0, p.genuine)
	for _, s := range p.scores {
		if s.same {
			gen = append(gen, s.s)
		} else {
			imp = append(imp, s.s)
		}
	}
	out.TAR1e2 = tarAt(gen, imp, 1e-2)
	out.TAR1e3 = tarAt(gen, imp, 1e-3)
	return out, nil
}

// tarAt returns the fraction of genuine scores above the threshold that
// accepts at most far of the impostors (scores strictly greater than it are
// accepted), or nil when far * impostors < 1.
func tarAt(gen, imp []float64, far float64) *float64 {
	allowed := int(math.Floor(far * float64(len(imp))))
	if allowed < 1 {
		return nil
	}
	// imp is ascending: accepting scores > imp[len-allowed-1] accepts at
	// most `allowed` impostors (fewer when the threshold value repeats).
	th := imp[len(imp)-allowed-1]
	n := len(gen) - sort.Search(len(gen), func(i int) bool { return gen[i] > th })
	v := float64(n) / float64(len(gen))
	return &v
}

// rank1 identifies every non-gallery image against the gallery of each
// identity's most frontal image.
func rank1(in []VerificationInput, cos func(i, j int) float64, minYawGap float64) (float64, *float64) {
	gallery := map[int]int{}
	for i, x := range in {
		if g, ok := gallery[x.Identity]; !ok || math.Abs(x.Yaw) < math.Abs(in[g].Yaw) {
			gallery[x.Identity] = i
		}
	}
	gi := make([]int, 0, len(gallery))
	for _, g := range gallery {
		gi = append(gi, g)
	}
	sort.Ints(gi)
	var ok, n, okL, nL int
	for i, x := range in {
		if gallery[x.Identity] == i {
			continue
		}
		best, bestS := -1, math.Inf(-1)
		for _, g := range gi {
			if s := cos(i, g); s > bestS {
				best, bestS = g, s
			}
		}
		hit := in[best].Identity == x.Identity
		n++
		if hit {
			ok++
		}
		if math.Abs(x.Yaw-in[gallery[x.Identity]].Yaw) >= minYawGap {
			nL++
			if hit {
				okL++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	r := float64(ok) / float64(n)
	if nL == 0 {
		return r, nil
	}
	rl := float64(okL) / float64(nL)
	return r, &rl
}
