// Package logging sets up the structured logger both processes use.
package logging

import (
	"log/slog"
	"os"
	"strings"
)

// New returns a JSON logger on stderr at LOG_LEVEL (debug|info|warn|error, default info),
// tagged with the process name.
func New(process string) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(os.Getenv("LOG_LEVEL")) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	var h slog.Handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	if os.Getenv("LOG_FORMAT") == "text" {
		h = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	}
	return slog.New(h).With("process", process)
}
