package stepup

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/queue"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestNewNamesEveryMissingVariable(t *testing.T) {
	var out bytes.Buffer
	_, _, err := New(context.Background(), env(nil), &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "DIDIT_API_KEY")
	assert.Contains(t, err.Error(), "GOOGLE_CLOUD_PROJECT")
}

func TestNewBuildsHandler(t *testing.T) {
	// The Firestore client connects lazily; an emulator address that nobody serves is enough
	// to build the handler and check its wiring on an event that needs no I/O.
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	var out bytes.Buffer
	fn, closeFn, err := New(context.Background(), env(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k-secret", "STEP_UP_WORKFLOWS": "nfc=wf-nfc", "LOG_FORMAT": "json",
	}), &out)
	require.NoError(t, err)
	defer closeFn()

	e := event.New()
	e.SetID("1")
	e.SetSource("test")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	require.NoError(t, e.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{Data: []byte(`"not a decision"`)}}))
	err = fn(context.Background(), e)
	require.Error(t, err)
	assert.True(t, failure.Permanent(err), "an undecodable event is returned for the dead-letter topic")
	assert.Contains(t, out.String(), `"severity":"ERROR"`)
	assert.NotContains(t, out.String(), "k-secret")
}

// A configuration error is logged once and returned on every call; the build runs once.
func TestLazyBuildsOnce(t *testing.T) {
	t.Run("error", func(t *testing.T) {
		var out bytes.Buffer
		builds := 0
		fn := lazy(func() (func(context.Context, event.Event) error, error) {
			builds++
			return nil, errors.New("step-up configuration: missing DIDIT_API_KEY, GOOGLE_CLOUD_PROJECT")
		}, &out)
		for range 3 {
			err := fn(context.Background(), event.New())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "DIDIT_API_KEY")
		}
		assert.Equal(t, 1, builds)
		assert.Equal(t, 1, strings.Count(out.String(), `"severity":"ERROR"`))
		assert.Contains(t, out.String(), "GOOGLE_CLOUD_PROJECT")
	})
	t.Run("ok", func(t *testing.T) {
		builds, calls := 0, 0
		fn := lazy(func() (func(context.Context, event.Event) error, error) {
			builds++
			return func(context.Context, event.Event) error { calls++; return nil }, nil
		}, &bytes.Buffer{})
		for range 3 {
			require.NoError(t, fn(context.Background(), event.New()))
		}
		assert.Equal(t, 1, builds)
		assert.Equal(t, 3, calls)
	})
}
