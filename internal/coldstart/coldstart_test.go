package coldstart

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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

func TestFailedBuildIsLoudAndRetryable(t *testing.T) {
	cause := errors.New("receiver configuration: missing DIDIT_WEBHOOK_SECRET, GOOGLE_CLOUD_PROJECT")
	var logs bytes.Buffer
	h := HTTP("Receiver", &logs, func() (http.Handler, error) { return nil, cause })
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Contains(t, logs.String(), "missing DIDIT_WEBHOOK_SECRET, GOOGLE_CLOUD_PROJECT")
	assert.Contains(t, logs.String(), `"severity":"ERROR"`)

	ce := CloudEvent("Scorer", &logs, func() (func(context.Context, event.Event) error, error) { return nil, cause })
	err := ce(context.Background(), event.New())
	require.ErrorIs(t, err, cause)
}
