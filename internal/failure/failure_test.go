package failure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPStatus(t *testing.T) {
	base := errors.New("boom")
	tests := []struct {
		name      string
		err       error
		status    int
		permanent bool
	}{
		{"nil", nil, http.StatusOK, false},
		{"plain", base, http.StatusInternalServerError, false},
		{"invalid", New(Invalid, base), http.StatusBadRequest, true},
		{"unauthorized", New(Unauthorized, base), http.StatusUnauthorized, true},
		{"too large", New(TooLarge, base), http.StatusRequestEntityTooLarge, true},
		{"method", New(MethodNotAllowed, base), http.StatusMethodNotAllowed, true},
		{"transient", New(Transient, base), http.StatusServiceUnavailable, false},
		{"wrapped keeps kind", fmt.Errorf("publish: %w", New(Transient, base)), http.StatusServiceUnavailable, false},
		{"recorded keeps kind", Recorded(New(Invalid, base)), http.StatusBadRequest, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.status, HTTPStatus(tt.err))
			assert.Equal(t, tt.permanent, Permanent(tt.err))
			if tt.err != nil {
				assert.ErrorIs(t, tt.err, base)
			}
		})
	}
}

func TestEventOutcome(t *testing.T) {
	base := errors.New("boom")
	stepFailed := errors.New("step-up refused permanently")
	tests := []struct {
		name  string
		err   error
		want  Outcome
		ack   bool
		level slog.Level
	}{
		{"nil is acked", nil, Done, true, slog.LevelInfo},
		{"transient is retried", New(Transient, base), Retry, false, slog.LevelWarn},
		{"wrapped transient is retried", fmt.Errorf("apply: %w", New(Transient, base)), Retry, false, slog.LevelWarn},
		{"unclassified is retried", base, Retry, false, slog.LevelWarn},
		{"deadline is retried", fmt.Errorf("apply: %w", context.DeadlineExceeded), Retry, false, slog.LevelWarn},
		{"undecodable (invalid, not recorded) is retried to the dead-letter topic", New(Invalid, base), DeadLetter, false, slog.LevelError},
		{"unauthorized, not recorded, is retried to the dead-letter topic", New(Unauthorized, base), DeadLetter, false, slog.LevelError},
		{"recorded permanent is acked", Recorded(New(Invalid, base)), AckedRecorded, true, slog.LevelError},
		{"recorded by sentinel is acked", Errorf(Invalid, "assessment a1: 1 of 2 steps: %w: %w", stepFailed, ErrRecorded), AckedRecorded, true, slog.LevelError},
		{"recorded deep in the chain is acked", fmt.Errorf("handle: %w", Recorded(New(Invalid, base))), AckedRecorded, true, slog.LevelError},
		{"recorded but transient is still retried", Recorded(New(Transient, base)), Retry, false, slog.LevelWarn},
		{"recorded but unclassified is still retried", fmt.Errorf("x: %w", ErrRecorded), Retry, false, slog.LevelWarn},
		{"transient outside a recorded permanent decides", New(Transient, Recorded(New(Invalid, base))), Retry, false, slog.LevelWarn},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EventOutcome(tt.err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.ack, got.Ack)
			assert.Equal(t, tt.level, got.Level)
			assert.NotEmpty(t, got.Message)
			if tt.ack {
				assert.NoError(t, Resolve(tt.err))
			} else {
				require.Error(t, Resolve(tt.err))
				assert.Same(t, tt.err, Resolve(tt.err), "the error itself is returned, for Pub/Sub to retry")
			}
		})
	}
}

func TestRecorded(t *testing.T) {
	assert.NoError(t, Recorded(nil))
	base := New(Invalid, errors.New("boom"))
	r := Recorded(base)
	assert.Equal(t, "boom", r.Error(), "the message stays the cause's")
	assert.ErrorIs(t, r, ErrRecorded)
	assert.NotErrorIs(t, base, ErrRecorded)
	assert.Equal(t, Invalid, KindOf(r))
}

func TestNewNil(t *testing.T) {
	assert.NoError(t, New(Invalid, nil))
	assert.Equal(t, "transient", Transient.String())
}
