package dataset

import (
	"path/filepath"
	"strings"
)

// SafeName returns s with every rune outside [A-Za-z0-9_-] replaced by '_'
// (one '_' per rune, and per byte of invalid UTF-8), so that it can be used
// in a file name on any system. It does not shorten s, and "" stays "".
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// FileStem returns the base name of path without its extension (the last
// '.' and what follows; filepath.Base and filepath.Ext), made safe by
// SafeName: "data/0/image00002.jpg" gives "image00002", "a b.tar.gz" gives
// "a_b_tar". It is empty when nothing precedes the extension (".jpg", and
// "" since filepath.Base("") is "."); callers that name files pick their
// own fallback.
func FileStem(path string) string {
	base := filepath.Base(path)
	return SafeName(strings.TrimSuffix(base, filepath.Ext(base)))
}
