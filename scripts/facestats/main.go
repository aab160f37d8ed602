// Command facestats measures what a localiser trained on renders meets on
// photographs: the proportions of faces (iBUG-68 ratios to the inter-ocular
// distance, frontal faces of an annotated set against the default model's
// mean) and the crop statistics (where the box of the 68 points sits in
// the localiser's input, by |yaw| bin) of photographs cropped as eval
// crops them and of the synthetic training renders of a config.
//
//	go run ./scripts/facestats --config configs/default.yaml --data ../shared/data/faces/aflw2000
//
// It prints plain text tables to standard output and writes nothing.
package main

import (
	"flag"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stn3d/stn3d/bfm"
	"github.com/stn3d/stn3d/bfm/mat5"
	"github.com/stn3d/stn3d/dataset"
	"github.com/stn3d/stn3d/graph/run"
	"gonum.org/v1/gonum/mat"
)

func main() {
	cfgPath := flag.String("config", "configs/default.yaml", "run config (model, data.margin, synthetic distribution)")
	data := flag.String("data", "", "AFLW2000-3D folder (the .mat pairs)")
	n := flag.Int("renders", 2000, "synthetic training renders to measure")
	frontal := flag.Float64("frontal", 10, "|yaw| and |pitch| below which a photograph counts as frontal")
	var sets setFlags
	flag.Var(&sets, "set", "config override key=value (repeatable)")
	flag.Parse()
	if err := mainErr(*cfgPath, sets, *data, *n, *frontal); err != nil {
		fmt.Fprintln(os.Stderr, "facestats:", err)
		os.Exit(1)
	}
}

// ratios are the proportions of one face, each divided by the distance
// between the eye centres (means of points 36-41 and 42-47).
var ratioNames = []string{"eye-mouth", "eye-chin", "nasion-chin", "nose 27-33", "nose-chin 33-8", "mouth 48-54",
	"eye 36-39", "jaw 0-16", "jaw 2-14", "jaw 4-12", "brow-eye", "box w/h"}

func ratios(p [][2]float64) []float64 {
	mean := func(a, b int) [2]float64 {
		var m [2]float64
		for i := a; i <= b; i++ {
			m[0] += p[i][0] / float64(b-a+1)
			m[1] += p[i][1] / float64(b-a+1)
		}
		return m
	}
	d := func(a, b [2]float64) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }
	le, re := mean(36, 41), mean(42, 47)
	iod := d(le, re)
	em := [2]float64{(le[0] + re[0]) / 2, (le[1] + re[1]) / 2}
	mouth := mean(48, 59)
	brow := [2]float64{(p[19][0] + p[24][0]) / 2, (p[19][1] + p[24][1]) / 2}
	b := box(p)
	return []float64{d(em, mouth) / iod, d(em, p[8]) / iod, d(p[27], p[8]) / iod, d(p[27], p[33]) / iod, d(p[33], p[8]) / iod,
		d(p[48], p[54]) / iod, d(p[36], p[39]) / iod, d(p[0], p[16]) / iod, d(p[2], p[14]) / iod, d(p[4], p[12]) / iod,
		d(brow, em) / iod, b.W() / b.H()}
}

func box(p [][2]float64) dataset.Box {
	b := dataset.Box{X0: math.Inf(1), Y0: math.Inf(1), X1: math.Inf(-1), Y1: math.Inf(-1)}
	for _, q := range p {
		b.X0, b.Y0 = min(b.X0, q[0]), min(b.Y0, q[1])
		b.X1, b.Y1 = max(b.X1, q[0]), max(b.Y1, q[1])
	}
	return b
}

// boxStats is where a 68-point box sits in a size x size input: its larger
// side over size, its centre's offset from the input centre in box sides,
// and its aspect.
type boxStats struct{ side, dx, dy, aspect float64 }

func statsOf(p [][2]float64, size int) boxStats {
	b := box(p)
	l := max(b.W(), b.H())
	mid := float64(size-1) / 2
	return boxStats{side: l / float64(size), dx: ((b.X0+b.X1)/2 - mid) / l, dy: ((b.Y0+b.Y1)/2 - mid) / l, aspect: b.W() / b.H()}
}

func quantiles(v []float64) string {
	if len(v) == 0 {
		return "-"
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	q := func(f float64) float64 { return s[int(f*float64(len(s)-1)+0.5)] }
	var m float64
	for _, x := range s {
		m += x
	}
	return fmt.Sprintf("mean %6.3f  p5 %6.3f  p25 %6.3f  p50 %6.3f  p75 %6.3f  p95 %6.3f", m/float64(len(s)), q(0.05), q(0.25), q(0.5), q(0.75), q(0.95))
}

type binned [3]map[string][]float64

func (b *binned) add(yaw float64, s boxStats) {
	k := dataset.YawBin(yaw)
	if k < 0 || k > 2 {
		k = 2
	}
	if b[k] == nil {
		b[k] = map[string][]float64{}
	}
	b[k]["side"] = append(b[k]["side"], s.side)
	b[k]["dx"] = append(b[k]["dx"], s.dx)
	b[k]["dy"] = append(b[k]["dy"], s.dy)
	b[k]["aspect"] = append(b[k]["aspect"], s.aspect)
}

func (b *binned) print(title string) {
	fmt.Println(title)
	for k, name := range []string{"|yaw| [0,30)", "|yaw| [30,60)", "|yaw| [60,90]"} {
		if b[k] == nil {
			continue
		}
		fmt.Printf("  %s (%d)\n", name, len(b[k]["side"]))
		for _, f := range []string{"side", "dx", "dy", "aspect"} {
			fmt.Printf("    %-7s %s\n", f, quantiles(b[k][f]))
		}
	}
}

type setFlags []string

func (s *setFlags) String() string     { return fmt.Sprint(*s) }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

func mainErr(cfgPath string, sets []string, data string, n int, frontal float64) error {
	cfg, err := run.LoadConfig(cfgPath, sets)
	if err != nil {
		return err
	}
	m, err := bfm.Default()
	if cfg.Model.Path != "default" {
		m, err = bfm.Load(cfg.Model.Path)
	}
	if err != nil {
		return err
	}
	idx, ok := m.Landmarks[bfm.SchemeIBUG68]
	if !ok {
		return fmt.Errorf("model has no ibug68 landmarks")
	}
	mean := make([][2]float64, 68)
	for i, v := range idx {
		mean[i] = [2]float64{m.Mean[3*v], -m.Mean[3*v+1]} // image y down
	}
	mr := ratios(mean)

	var real [][]float64
	var photo binned
	size := cfg.Localiser.Input
	if data != "" {
		src, err := dataset.OpenAFLW2000(data, dataset.AFLW2000Options{})
		if err != nil {
			return err
		}
		copt := dataset.CropOptions{Size: size, Margin: cfg.Data.Margin, LandmarkOffsetY: cfg.Data.LandmarkOffsetY}
		// AFLW2000-3D photographs are 450 x 450.
		blank := image.NewRGBA(image.Rect(0, 0, 450, 450))
		var yaw, pitch, roll []float64
		for _, it := range src.Items {
			lm := it.Landmarks[bfm.SchemeIBUG68]
			if it.Pose == nil || len(lm.Points) != 68 {
				continue
			}
			yaw, pitch, roll = append(yaw, math.Abs(it.Pose.Yaw)), append(pitch, it.Pose.Pitch), append(roll, it.Pose.Roll)
			if math.Abs(it.Pose.Yaw) < frontal && math.Abs(it.Pose.Pitch) < frontal {
				real = append(real, ratios(lm.Points))
			}
			// The crop transform of CropSample without decoding the image:
			// crop a 1x1 stand-in with the same landmarks.
			s := dataset.Sample{Name: it.Name, Image: blank, Landmarks: map[string]dataset.Landmarks{bfm.SchemeIBUG68: lm}}
			cs, _, err := dataset.CropSample(s, copt)
			if err != nil {
				return err
			}
			photo.add(it.Pose.Yaw, statsOf(cs.Landmarks[bfm.SchemeIBUG68].Points, size))
		}
		realMean, err := print3D(data, src, m)
		if err != nil {
			return err
		}
		if err := printFloor(src, m, nil, cfg.Model.Identity, cfg.Model.ExpressionComponents); err != nil {
			return err
		}
		if err := printFloor(src, m, realMean, 0, 0); err != nil {
			return err
		}
		fmt.Printf("photographs: %d; |yaw| %s\n  pitch %s\n  roll  %s\n", len(yaw), quantiles(yaw), quantiles(pitch), quantiles(roll))
	}
	fmt.Printf("\nproportions (/ inter-ocular distance): default mean vs %d frontal photographs (|yaw|, |pitch| < %g)\n", len(real), frontal)
	for j, name := range ratioNames {
		var v []float64
		for _, r := range real {
			v = append(v, r[j])
		}
		fmt.Printf("  %-15s model %6.3f   photos %s\n", name, mr[j], quantiles(v))
	}
	if data != "" {
		photo.print("\nphotographs after the eval crop: the 68-point box in the input")
	}
	sc := run.SyntheticConfigFrom(cfg, size, n)
	syn, err := dataset.NewSynthetic(m, sc, "train")
	if err != nil {
		return err
	}
	var rend binned
	var rr [][]float64
	for i := 0; i < n; i++ {
		alpha, cam, err := syn.SampleCamera(i)
		if err != nil {
			return err
		}
		v, err := syn.Vertices(alpha, cam)
		if err != nil {
			return err
		}
		p := make([][2]float64, 68)
		for j, k := range idx {
			p[j] = [2]float64{v[k][0], v[k][1]}
		}
		rend.add(cam.Pose.Yaw, statsOf(p, size))
		if math.Abs(cam.Pose.Yaw) < frontal && math.Abs(cam.Pose.Pitch) < frontal {
			rr = append(rr, ratios(p))
		}
	}
	rend.print(fmt.Sprintf("\nsynthetic training renders (%d): the 68-point box (hidden points included) in the input", n))
	fmt.Printf("\nproportions of %d frontal renders\n", len(rr))
	for j, name := range ratioNames {
		var v []float64
		for _, r := range rr {
			v = append(v, r[j])
		}
		fmt.Printf("  %-15s %s\n", name, quantiles(v))
	}
	return nil
}

// print3D compares the default mean's iBUG points in 3D with the photographs'
// pt3d_68 (the fitted model's points with depth) turned back to frontal by
// the inverse of their pose, each scaled to the model's inter-ocular
// distance and centred on the eye midpoint, averaged over photographs.
func print3D(dir string, src *dataset.ItemSource, m *bfm.Model) ([][3]float64, error) {
	idx := m.Landmarks[bfm.SchemeIBUG68]
	model := make([][3]float64, 68)
	for i, v := range idx {
		model[i] = [3]float64{m.Mean[3*v], m.Mean[3*v+1], m.Mean[3*v+2]}
	}
	norm := func(p [][3]float64) [][3]float64 {
		var le, re [3]float64
		for i := 0; i < 6; i++ {
			for k := 0; k < 3; k++ {
				le[k] += p[36+i][k] / 6
				re[k] += p[42+i][k] / 6
			}
		}
		iod := math.Sqrt((le[0]-re[0])*(le[0]-re[0]) + (le[1]-re[1])*(le[1]-re[1]) + (le[2]-re[2])*(le[2]-re[2]))
		out := make([][3]float64, len(p))
		for i, q := range p {
			for k := 0; k < 3; k++ {
				out[i][k] = (q[k] - (le[k]+re[k])/2) / iod * 64
			}
		}
		return out
	}
	mm := norm(model)
	var sum [68][3]float64
	var sq [68][3]float64
	n := 0
	for _, it := range src.Items {
		if it.Pose == nil {
			continue
		}
		f, err := mat5.ReadFile(filepath.Join(dir, strings.TrimSuffix(it.Name, filepath.Ext(it.Name))+".mat"))
		if err != nil {
			return nil, err
		}
		v, err := f.Get("pt3d_68")
		if err != nil {
			return nil, err
		}
		r := it.Pose.Rotation()
		p := make([][3]float64, 68)
		for k := range p {
			q := [3]float64{v.At(0, k), -v.At(1, k), v.At(2, k)}
			// R^T q (R row-major).
			p[k] = [3]float64{r[0]*q[0] + r[3]*q[1] + r[6]*q[2], r[1]*q[0] + r[4]*q[1] + r[7]*q[2], r[2]*q[0] + r[5]*q[1] + r[8]*q[2]}
		}
		p = norm(p)
		for k := range p {
			for j := 0; j < 3; j++ {
				sum[k][j] += p[k][j]
				sq[k][j] += p[k][j] * p[k][j]
			}
		}
		n++
	}
	out := make([][3]float64, 68)
	defer func() {
		// The mirror-symmetric average, as a Go table (bfm's ibug68Photo).
		perm := bfm.MirrorPermutation(bfm.SchemeIBUG68)
		fmt.Println("symmetric mean (x, y, z), mm:")
		for k := 0; k < 68; k++ {
			q := out[perm[k]]
			fmt.Printf("\t{%.1f, %.1f, %.1f}, // %d\n", (out[k][0]-q[0])/2+0, (out[k][1]+q[1])/2, (out[k][2]+q[2])/2, k)
		}
		fmt.Println()
	}()
	fmt.Printf("3D iBUG points, mm at inter-ocular 64, origin the eye midpoint (x right, y up, z to the viewer): default mean vs %d photographs turned frontal (mean, sd)\n", n)
	for k := 0; k < 68; k++ {
		var mean, sd [3]float64
		for j := 0; j < 3; j++ {
			mean[j] = sum[k][j] / float64(n)
			sd[j] = math.Sqrt(max(sq[k][j]/float64(n)-mean[j]*mean[j], 0))
		}
		out[k] = mean
		fmt.Printf("  %2d  model (%6.1f %6.1f %6.1f)  photos (%6.1f %6.1f %6.1f)  sd (%4.1f %4.1f %4.1f)\n", k, mm[k][0], mm[k][1], mm[k][2], mean[0], mean[1], mean[2], sd[0], sd[1], sd[2])
	}
	return out, nil
}

// printFloor fits the model to every photograph's 68 points with the
// photograph's own pose (orthographic: scale, translation and, second, the
// weights of the components a run uses, by least squares) and prints the
// NME of the fit per |yaw| bin: the error a localiser that found the pose
// exactly would still make because the model cannot take the face's shape.
//
// With points set, they replace the model's 68 points (mean only).
func printFloor(src *dataset.ItemSource, m *bfm.Model, points [][3]float64, nid, nexp int) error {
	idx := m.Landmarks[bfm.SchemeIBUG68]
	if points != nil {
		mean := make([]float64, 3*68)
		for j, p := range points {
			copy(mean[3*j:], p[:])
			idx = make([]int, 68)
		}
		for j := range idx {
			idx[j] = j
		}
		m = &bfm.Model{Mean: mean, Landmarks: m.Landmarks}
	}
	var comps []int
	ni, ne := 0, 0
	for d := range m.Basis {
		if m.Components[d].Kind == bfm.Expression {
			if ne < nexp {
				comps = append(comps, d)
			}
			ne++
		} else {
			if ni < nid {
				comps = append(comps, d)
			}
			ni++
		}
	}
	for _, withShape := range []bool{false, true} {
		if withShape && points != nil {
			break
		}
		var sum [3]float64
		var cnt [3]int
		nu := 3
		if withShape {
			nu += len(comps)
		}
		for _, it := range src.Items {
			lm := it.Landmarks[bfm.SchemeIBUG68]
			if it.Pose == nil || len(lm.Points) != 68 {
				continue
			}
			r := it.Pose.Rotation()
			rot := func(v []float64, k int) (float64, float64) {
				x, y, z := v[3*k], v[3*k+1], v[3*k+2]
				return r[0]*x + r[1]*y + r[2]*z, r[3]*x + r[4]*y + r[5]*z
			}
			a := mat.NewDense(136, nu, nil)
			b := mat.NewVecDense(136, nil)
			for j, v := range idx {
				mx, my := rot(m.Mean, v)
				a.Set(2*j, 0, mx)
				a.Set(2*j, 1, 1)
				a.Set(2*j+1, 0, -my)
				a.Set(2*j+1, 2, 1)
				if withShape {
					for q, d := range comps {
						bx, by := rot(m.Basis[d], v)
						a.Set(2*j, 3+q, bx)
						a.Set(2*j+1, 3+q, -by)
					}
				}
				b.SetVec(2*j, lm.Points[j][0])
				b.SetVec(2*j+1, lm.Points[j][1])
			}
			var x mat.VecDense
			if err := x.SolveVec(a, b); err != nil {
				return err
			}
			var fit mat.VecDense
			fit.MulVec(a, &x)
			bx := box(lm.Points)
			e := 0.0
			for j := 0; j < 68; j++ {
				e += math.Hypot(fit.AtVec(2*j)-lm.Points[j][0], fit.AtVec(2*j+1)-lm.Points[j][1])
			}
			k := min(max(dataset.YawBin(it.Pose.Yaw), 0), 2)
			sum[k] += 100 * e / 68 / math.Sqrt(bx.W()*bx.H())
			cnt[k]++
		}
		what := "mean shape"
		if points != nil {
			what = "the photographs' mean 3D points"
		}
		if withShape {
			what = fmt.Sprintf("mean + %d components", len(comps))
		}
		var mean float64
		for k := range sum {
			sum[k] /= float64(cnt[k])
			mean += sum[k] / 3
		}
		fmt.Printf("floor: NME of the least-squares fit (%s) with the true pose: %.2f%% (bins %.2f / %.2f / %.2f)\n", what, mean, sum[0], sum[1], sum[2])
	}
	return nil
}
