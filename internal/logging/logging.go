// Package logging builds slog loggers that Cloud Logging understands: JSON lines with
// "severity" and "message" (so levels and text show up properly in the console), and a
// trace field that links a log line to its request. Locally, LOG_FORMAT=text is easier to read.
package logging

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
)

// TraceKey is the field Cloud Logging reads to group log lines by trace.
const TraceKey = "logging.googleapis.com/trace"

// KeyEvent is the log attribute holding a webhook's dedupe key (didit.EventKey): the receiver,
// the scorer and the step-up function all log it under this name, so one query follows a
// webhook through the three functions.
const KeyEvent = "event_key"

// New returns a logger writing to w. format is "json" (default) or "text"; level is
// "debug", "info" (default), "warn" or "error".
func New(w io.Writer, format, level string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: parseLevel(level), ReplaceAttr: cloudAttrs}
	if strings.EqualFold(format, "text") {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: opts.Level}))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func parseLevel(s string) slog.Level {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// cloudAttrs renames slog's built-in keys to Cloud Logging's structured-log names.
func cloudAttrs(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	// Only slog's own attributes are renamed: a caller's attribute that happens to be called
	// "level" (a risk level, say) must not overwrite the severity.
	switch a.Key {
	case slog.MessageKey:
		if a.Value.Kind() == slog.KindString {
			a.Key = "message"
		}
	case slog.LevelKey:
		if lvl, ok := a.Value.Any().(slog.Level); ok {
			a.Key, a.Value = "severity", slog.StringValue(severity(lvl))
		}
	}
	return a
}

func severity(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

// Trace returns the attribute linking a log line to the request's trace, or an empty
// attribute (which slog drops) when the request carries none. It reads the W3C
// traceparent header first, then Google's X-Cloud-Trace-Context.
func Trace(project string, h http.Header) slog.Attr {
	id := traceID(h)
	if id == "" || project == "" {
		return slog.Attr{}
	}
	return slog.String(TraceKey, "projects/"+project+"/traces/"+id)
}

// Trace headers, as specified: W3C traceparent (version-traceid-spanid-flags, lowercase hex)
// and Google's TRACE_ID[/SPAN_ID][;o=OPTIONS] with a decimal span id.
var (
	traceparent  = regexp.MustCompile(`^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$`)
	cloudContext = regexp.MustCompile(`^([0-9a-fA-F]{32})(?:/[0-9]{1,20})?(?:;o=[0-9])?$`)
)

// traceID returns the request's trace id when a header carries a well-formed one (32 hex
// digits, not all zeros). Anything else is ignored, so that a caller cannot write arbitrary
// text into every log line.
func traceID(h http.Header) string {
	if m := traceparent.FindStringSubmatch(h.Get("traceparent")); m != nil && nonZero(m[1]) {
		return m[1]
	}
	if m := cloudContext.FindStringSubmatch(h.Get("X-Cloud-Trace-Context")); m != nil && nonZero(m[1]) {
		return strings.ToLower(m[1])
	}
	return ""
}

func nonZero(id string) bool { return strings.Trim(id, "0") != "" }
