package main

import (
	"context"
	"io"
	"log/slog"
)

func cmdNormalize(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	return usagef("normalize is not available in this build yet (tracked in the real-data issue)")
}
