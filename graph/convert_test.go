package graph

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stn3d/stn3d/internal/testenv"
)

const python = "/usr/bin/python3"

// fixtureScript writes a MatConvNet SimpleNN .mat in the vgg_face.mat
// layout (net.layers cell array of structs with name/type/weights,
// net.meta.normalization.averageImage) with tiny channel counts; every
// filter value is its C-order flat index plus a per-layer offset.
const fixtureScript = `
import sys, numpy as np, scipy.io
names = ["conv1_1","conv1_2","conv2_1","conv2_2","conv3_1","conv3_2","conv3_3",
         "conv4_1","conv4_2","conv4_3","conv5_1","conv5_2","conv5_3"]
layers = []
def conv(name, shape, off):
    f = (np.arange(np.prod(shape)).reshape(shape) + off).astype(np.float32)
    b = (np.arange(shape[3]) + off + 0.5).astype(np.float32)
    w = np.empty((1, 2), dtype=object); w[0, 0] = f; w[0, 1] = b
    return {"name": name, "type": "conv", "weights": w}
cin = 3
for i, n in enumerate(names):
    layers.append(conv(n, (3, 3, cin, 2), 100 * i))
    layers.append({"name": "relu" + n[4:], "type": "relu", "weights": np.empty((1, 0), dtype=object)})
    cin = 2
layers.append(conv("fc6", (7, 7, 2, 3), 1000))
layers.append(conv("fc7", (1, 1, 3, 3), 2000))
layers.append(conv("fc8", (1, 1, 3, 5), 3000))
cell = np.empty((1, len(layers)), dtype=object)
for i, l in enumerate(layers):
    cell[0, i] = l
avg = np.array([129.1863, 104.7624, 93.5940])
scipy.io.savemat(sys.argv[1], {"net": {"layers": cell, "meta": {"normalization": {"averageImage": avg}}}})
`

func TestConvertVGGFaceScript(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not found: cannot run scripts/convert_vggface.py", python)
	}
	if err := exec.Command(python, "-c", "import numpy, scipy.io").Run(); err != nil {
		t.Skipf("%s lacks numpy/scipy: %v", python, err)
	}
	dir := t.TempDir()
	mat := filepath.Join(dir, "vgg_face.mat")
	if out, err := exec.Command(python, "-c", fixtureScript, mat).CombinedOutput(); err != nil {
		t.Fatalf("fixture: %v\n%s", err, out)
	}
	outPath := filepath.Join(dir, "vggface.stnw")
	script := filepath.Join(testenv.RepoRoot(t), "scripts", "convert_vggface.py")
	if out, err := exec.Command(python, script, mat, outPath).CombinedOutput(); err != nil {
		t.Fatalf("convert: %v\n%s", err, out)
	}
	ts, err := ReadWeights(outPath)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]WeightTensor{}
	for _, tt := range ts {
		by[tt.Name] = tt
	}
	if len(ts) != 2*13+4+1 {
		t.Fatalf("%d tensors, want 31 (13 conv, fc6, fc7, mean)", len(ts))
	}
	if _, ok := by["fc8.w"]; ok {
		t.Error("fc8 should be dropped")
	}
	// conv1_1: ours w[co,ci,y,x] = f[y,x,ci,co] = ((y*3+x)*3+ci)*2+co.
	w := by["conv1_1.w"]
	if want := []int{2, 3, 3, 3}; !equalInts(w.Shape, want) {
		t.Fatalf("conv1_1.w shape %v, want %v", w.Shape, want)
	}
	for co := 0; co < 2; co++ {
		for ci := 0; ci < 3; ci++ {
			for y := 0; y < 3; y++ {
				for x := 0; x < 3; x++ {
					got := w.Data[((co*3+ci)*3+y)*3+x]
					if want := float32(((y*3+x)*3+ci)*2 + co); got != want {
						t.Fatalf("conv1_1.w[%d,%d,%d,%d] = %v, want %v", co, ci, y, x, got, want)
					}
				}
			}
		}
	}
	if b := by["conv2_1.b"]; !equalInts(b.Shape, []int{2}) || b.Data[1] != 201.5 {
		t.Errorf("conv2_1.b = %v %v", b.Shape, b.Data)
	}
	// fc6: row c*49 + y*7 + x, column o holds f[y,x,c,o] = ((y*7+x)*2+c)*3+o + 1000.
	f6 := by["fc6.w"]
	if !equalInts(f6.Shape, []int{98, 3}) {
		t.Fatalf("fc6.w shape %v", f6.Shape)
	}
	for c := 0; c < 2; c++ {
		for y := 0; y < 7; y++ {
			for x := 0; x < 7; x++ {
				for o := 0; o < 3; o++ {
					got := f6.Data[(c*49+y*7+x)*3+o]
					if want := float32(((y*7+x)*2+c)*3 + o + 1000); got != want {
						t.Fatalf("fc6.w[%d,%d] = %v, want %v", c*49+y*7+x, o, got, want)
					}
				}
			}
		}
	}
	if f7 := by["fc7.w"]; !equalInts(f7.Shape, []int{3, 3}) || f7.Data[1] != 2001 {
		t.Errorf("fc7.w = %v %v", f7.Shape, f7.Data)
	}
	if b := by["fc7.b"]; !equalInts(b.Shape, []int{1, 3}) {
		t.Errorf("fc7.b shape %v", b.Shape)
	}
	if m := by["meta.mean_rgb"]; len(m.Data) != 3 || m.Data[0] != float32(129.1863) {
		t.Errorf("meta.mean_rgb = %v", m.Data)
	}
	// A file that is not a MatConvNet model is refused with a message.
	bad := filepath.Join(dir, "bad.mat")
	if out, err := exec.Command(python, "-c", "import scipy.io,sys; scipy.io.savemat(sys.argv[1], {'x': 1})", bad).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, err := exec.Command(python, script, bad, filepath.Join(dir, "bad.stnw")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a MatConvNet model") {
		t.Errorf("bad input: err %v, output %s", err, out)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
