package coldstart

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPBuildsOnce(t *testing.T) {
	builds := 0
	var logs bytes.Buffer
	fn := HTTP("Receiver", &logs, func() (http.Handler, error) {
		builds++
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	})
	for range 3 {
		rec := httptest.NewRecorder()
		fn(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		assert.Equal(t, http.StatusTeapot, rec.Code)
	}
	assert.Equal(t, 1, builds)
	assert.Empty(t, logs.String())
}

// A configuration error is logged once, names every variable, and fails every call in a way
// that makes the sender retry.
func TestFailedBuildIsLoggedOnceAndRetryable(t *testing.T) {
	cause := errors.New("receiver configuration: missing DIDIT_WEBHOOK_SECRET, GOOGLE_CLOUD_PROJECT")
	var logs bytes.Buffer
	builds := 0
	h := HTTP("Receiver", &logs, func() (http.Handler, error) { builds++; return nil, cause })
	for range 3 {
		rec := httptest.NewRecorder()
		h(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		assert.Equal(t, http.StatusInternalServerError, rec.Code)
	}
	assert.Equal(t, 1, builds)
	assert.Equal(t, 1, strings.Count(logs.String(), `"severity":"ERROR"`))
	assert.Contains(t, logs.String(), "missing DIDIT_WEBHOOK_SECRET, GOOGLE_CLOUD_PROJECT")

	ce := CloudEvent("Scorer", &logs, func() (func(context.Context, event.Event) error, error) { return nil, cause })
	for range 2 {
		require.ErrorIs(t, ce(context.Background(), event.New()), cause)
	}
}

func TestCloudEventRuns(t *testing.T) {
	calls := 0
	ce := CloudEvent("StepUp", &bytes.Buffer{}, func() (func(context.Context, event.Event) error, error) {
		return func(context.Context, event.Event) error { calls++; return nil }, nil
	})
	for range 3 {
		require.NoError(t, ce(context.Background(), event.New()))
	}
	assert.Equal(t, 3, calls)
}
