package stepup

import (
	"bytes"
	"context"
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
