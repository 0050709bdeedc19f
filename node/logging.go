package node

import (
	"io"
	"log/slog"
	"strings"
)

// Log keys every component uses for the same thing, so that one query
// finds a topic, partition, object or broker in any line.
const (
	LogKeyTopic     = "topic"
	LogKeyPartition = "partition"
	LogKeyObject    = "object"
	LogKeyBroker    = "broker"
)

// NewLogger returns a slog logger writing to w at level ("debug", "info",
// "warn", "error"; info if unknown) as logfmt text or, with format "json",
// one JSON object per line. Attributes whose key names a secret
// (password, secret, token, credential, access key) are written as
// "[redacted]" whatever their value.
func NewLogger(w io.Writer, level, format string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: l, ReplaceAttr: redactSecrets}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func redactSecrets(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range []string{"password", "secret", "token", "credential", "access_key", "accesskey"} {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}
