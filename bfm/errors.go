package bfm

import (
	"fmt"
	"strings"
)

// FormatError reports a model file that does not hold what its format
// promises: the file, where (a byte offset, a variable or field name, or a
// line), what was expected and what was found. Every reader in this package
// returns one (possibly wrapped) for bad input, so callers can tell corrupt
// data from I/O failures with errors.As.
type FormatError struct {
	// File is the path of the file (or its base name).
	File string
	// Offset is the byte offset of the problem, or -1 when not applicable.
	Offset int64
	// Field names the variable, field or line at fault; may be empty.
	Field string
	// Expected and Found describe the mismatch.
	Expected string
	Found    string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("bfm: ")
	b.WriteString(e.File)
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	if e.Offset >= 0 {
		fmt.Fprintf(&b, ": at byte %d", e.Offset)
	}
	fmt.Fprintf(&b, ": expected %s", e.Expected)
	if e.Found != "" {
		fmt.Fprintf(&b, ", found %s", e.Found)
	}
	return b.String()
}

// formatErr builds a *FormatError; found is formatted with args.
func formatErr(file string, off int64, field, expected, found string, args ...any) error {
	return &FormatError{File: file, Offset: off, Field: field, Expected: expected, Found: fmt.Sprintf(found, args...)}
}
