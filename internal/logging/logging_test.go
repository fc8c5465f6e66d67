package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJSONUsesCloudLoggingKeys(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "json", "info")
	h := http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
	log.Warn("slow publish", Trace("proj", h), slog.String("session_id", "s1"))
	log.Debug("hidden")

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "WARNING", line["severity"])
	assert.Equal(t, "slow publish", line["message"])
	assert.Equal(t, "projects/proj/traces/0af7651916cd43dd8448eb211c80319c", line[TraceKey])
	assert.NotContains(t, line, "level")
	assert.NotContains(t, line, "msg")
	assert.Equal(t, 1, bytes.Count(buf.Bytes(), []byte("\n")), "debug is below the level")
}

func TestTrace(t *testing.T) {
	const tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name string
		h    http.Header
		want string
	}{
		{"none", http.Header{}, ""},
		{"cloud header", http.Header{"X-Cloud-Trace-Context": {tid + "/1;o=1"}}, "projects/p/traces/" + tid},
		{"cloud header, id only", http.Header{"X-Cloud-Trace-Context": {tid}}, "projects/p/traces/" + tid},
		{"cloud header, upper case", http.Header{"X-Cloud-Trace-Context": {strings.ToUpper(tid) + "/99"}}, "projects/p/traces/" + tid},
		{"traceparent", http.Header{"Traceparent": {"00-" + tid + "-00f067aa0ba902b7-01"}}, "projects/p/traces/" + tid},
		{"malformed traceparent falls back", http.Header{"Traceparent": {"junk"}, "X-Cloud-Trace-Context": {tid}}, "projects/p/traces/" + tid},
		{"short id", http.Header{"X-Cloud-Trace-Context": {"abc123/1;o=1"}}, ""},
		{"all zeros", http.Header{"X-Cloud-Trace-Context": {strings.Repeat("0", 32)}}, ""},
		{"zero traceparent", http.Header{"Traceparent": {"00-" + strings.Repeat("0", 32) + "-00f067aa0ba902b7-01"}}, ""},
		{"injected text", http.Header{"X-Cloud-Trace-Context": {tid + `/1;o=1","severity":"ERROR`}}, ""},
		{"non-hex", http.Header{"X-Cloud-Trace-Context": {strings.Repeat("g", 32)}}, ""},
		{"span not decimal", http.Header{"X-Cloud-Trace-Context": {tid + "/abc"}}, ""},
		{"newline", http.Header{"X-Cloud-Trace-Context": {tid + "\n"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Trace("p", tt.h)
			if tt.want == "" {
				assert.Empty(t, a.Key, "no trace, no attribute")
				return
			}
			assert.Equal(t, tt.want, a.Value.String())
		})
	}
}

func TestSeverity(t *testing.T) {
	for lvl, want := range map[slog.Level]string{slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelWarn: "WARNING", slog.LevelError: "ERROR"} {
		assert.Equal(t, want, severity(lvl))
	}
}

func TestCallerLevelAttributeKeepsSeverity(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "json", "info").Info("webhook scored", slog.String("level", "low"))
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "INFO", line["severity"])
	assert.Equal(t, "low", line["level"])
}
