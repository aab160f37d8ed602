package dataset

import (
	"image"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenDlibXMLReal(t *testing.T) {
	dir := filepath.Join(rdFaces(t), "dlib")
	train, err := OpenDlibXML(filepath.Join(dir, "training_with_face_landmarks.xml"))
	if err != nil {
		t.Fatal(err)
	}
	test, err := OpenDlibXML(filepath.Join(dir, "testing_with_face_landmarks.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 18 || test.Len() != 25 || len(train.Skipped)+len(test.Skipped) != 0 {
		t.Fatalf("faces %d + %d (want 18 + 25), skipped %v %v", train.Len(), test.Len(), train.Problems(), test.Problems())
	}
	// First box of the training file: <box top='90' left='194' width='37'
	// height='37'>, part 00 (201, 107), part 67 (209, 121).
	it := train.Items[0]
	if it.Name != "2007_007763.jpg#0" || *it.Box != (Box{X0: 194, Y0: 90, X1: 231, Y1: 127}) {
		t.Errorf("first item %q box %+v", it.Name, *it.Box)
	}
	lm := it.Landmarks["ibug68"]
	if lm.Points[0] != [2]float64{201, 107} || lm.Points[67] != [2]float64{209, 121} {
		t.Errorf("first face points %v %v", lm.Points[0], lm.Points[67])
	}
	// Last box of the testing file: 2009_004587.jpg, its second box, top
	// 280 left 266 size 63, parts 66 (303, 330) and 67 (299, 329).
	last := test.Items[24]
	ll := last.Landmarks["ibug68"]
	if last.Name != "2009_004587.jpg#1" || *last.Box != (Box{X0: 266, Y0: 280, X1: 329, Y1: 343}) ||
		ll.Points[66] != [2]float64{303, 330} || ll.Points[67] != [2]float64{299, 329} {
		t.Errorf("last item %q %+v %v %v", last.Name, *last.Box, ll.Points[66], ll.Points[67])
	}
	for _, src := range []*ItemSource{train, test} {
		for _, it := range src.Items {
			for k, v := range it.Landmarks["ibug68"].Visible {
				if !v {
					t.Errorf("%s: part %d missing", it.Name, k)
				}
			}
		}
	}
	s, err := test.Sample(24)
	if err != nil || s.Image.Bounds() != image.Rect(0, 0, 400, 500) {
		t.Errorf("sample image: %v", err)
	}
}

func TestOpenDlibXMLFixture(t *testing.T) {
	dir := t.TempDir()
	writeTestFileIn(t, dir, "a.png", encodePNG(t, image.NewGray(image.Rect(0, 0, 8, 8))))
	xml := "<?xml version='1.0' encoding='ISO-8859-1'?>\n<dataset><name>caf\xe9</name><images>\n" +
		"<image file='a.png'>\n" +
		"  <box top='1' left='2' width='3' height='4'><part name='05' x='3' y='4'/><part name='67' x='5.5' y='6'/></box>\n" +
		"  <box top='1' left='2' width='3' height='4' ignore='1'/>\n" +
		"  <box top='1' left='2' width='3' height='4'/>\n" +
		"  <box top='1' left='2' width='3' height='4'><part name='68' x='0' y='0'/></box>\n" +
		"  <box top='1' left='2' width='3' height='4'><part name='01' x='0' y='0'/><part name='1' x='0' y='0'/></box>\n" +
		"  <box top='x' left='2' width='3' height='4'/>\n" +
		"  <box top='1' left='2' width='0' height='4'/>\n" +
		"</image>\n<image file='missing.jpg'><box top='1' left='2' width='3' height='4'/></image>\n" +
		"</images></dataset>\n"
	p := writeTestFileIn(t, dir, "faces.xml", []byte(xml))
	src, err := OpenDlibXML(p)
	if err != nil {
		t.Fatal(err)
	}
	if src.Len() != 2 || src.Items[0].Name != "a.png#0" || src.Items[1].Name != "a.png#2" {
		t.Fatalf("items %+v", src.Items)
	}
	lm := src.Items[0].Landmarks["ibug68"]
	if lm.Points[5] != [2]float64{3, 4} || lm.Points[67] != [2]float64{5.5, 6} || !lm.Visible[5] || lm.Visible[0] {
		t.Errorf("parts %v %v", lm.Points[5], lm.Points[67])
	}
	if src.Items[1].Landmarks != nil {
		t.Errorf("box without parts has landmarks")
	}
	want := []string{
		`image "a.png" box 3: part name "68": want an iBUG index 00..67`,
		`image "a.png" box 4: part "1" given twice`,
		`image "a.png" box 5: attribute top="x": want a number`,
		`image "a.png" box 6: box size 0x4: want positive width and height`,
		`image "missing.jpg" box 0: image: stat `,
	}
	if len(src.Skipped) != len(want) {
		t.Fatalf("skipped %v", src.Problems())
	}
	for i, w := range want {
		if e := src.Skipped[i].Error(); !strings.HasPrefix(e, "dataset: "+p+": "+w) {
			t.Errorf("skipped[%d] = %q, want prefix %q", i, e, w)
		}
	}
	bad := writeTestFileIn(t, dir, "bad.xml", []byte("<?xml version='1.0' encoding='EBCDIC'?><dataset/>"))
	if _, err := OpenDlibXML(bad); err == nil || !strings.Contains(err.Error(), `unsupported XML encoding "EBCDIC"`) {
		t.Errorf("encoding: %v", err)
	}
}
