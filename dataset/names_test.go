package dataset

import "testing"

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"abc-XYZ_019":      "abc-XYZ_019",
		"a b.c/d":          "a_b_c_d",
		"été":              "_t_",
		"x\xffy":           "x_y",
		"../../etc/passwd": "______etc_passwd",
	} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFileStem(t *testing.T) {
	for in, want := range map[string]string{
		"data/0/image00002.jpg":  "image00002",
		"a b.tar.gz":             "a_b_tar",
		"/x/y/photo (1).JPEG":    "photo__1_",
		"noext":                  "noext",
		"dir/sub/":               "sub",
		"0/image00002.jpg#12345": "image00002",
		".jpg":                   "",
		"":                       "",
		"/":                      "_",
		"été.png":                "_t_",
	} {
		if got := FileStem(in); got != want {
			t.Errorf("FileStem(%q) = %q, want %q", in, got, want)
		}
	}
}
