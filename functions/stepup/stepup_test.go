package stepup

import (
	"bytes"
	"context"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
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
	// The Firestore and Pub/Sub clients connect lazily; emulator addresses that nobody serves
	// are enough to build the handler and check its wiring on an event that needs no I/O.
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	t.Setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
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

// Configuration that cannot work refuses the cold start, naming what is wrong.
func TestNewRefusesBadStepUpConfiguration(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k-secret"}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"unknown step-up kind", map[string]string{"STEP_UP_WORKFLOWS": "nfc=wf-nfc,pohne=wf-phone"}, []string{"STEP_UP_WORKFLOWS", `"pohne"`}},
		{"plain http Didit API", map[string]string{"DIDIT_API_URL": "http://verification.didit.me"}, []string{"DIDIT_API_URL", "https"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
			m := map[string]string{}
			for k, v := range base {
				m[k] = v
			}
			for k, v := range tt.env {
				m[k] = v
			}
			var out bytes.Buffer
			fn, _, err := New(context.Background(), env(m), &out)
			require.Error(t, err)
			assert.Nil(t, fn)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "k-secret")
		})
	}
}

// A webhook message reaches the refetch handler, a decision the step-up service: the two
// subscriptions of this function share its entry point.
func TestRouteByMessageType(t *testing.T) {
	t.Setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
	t.Setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")
	var out bytes.Buffer
	fn, closeFn, err := New(context.Background(), env(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k-secret", "LOG_FORMAT": "json", "LOG_LEVEL": "debug",
	}), &out)
	require.NoError(t, err)
	defer closeFn()

	push := func(attrs map[string]string, data string) error {
		e := event.New()
		e.SetID("1")
		e.SetSource("test")
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		require.NoError(t, e.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{ID: "m1", Data: []byte(data), Attributes: attrs}}))
		return fn(context.Background(), e)
	}

	// An authenticated webhook needs no fetch: refetch acks it, without any I/O.
	attrs := message.WebhookAttrs{SessionID: "s1", Class: message.ClassSession, Signature: "raw", DecisionAuthenticated: true}.Attributes()
	require.NoError(t, push(attrs, `{"session_id":"s1","status":"Approved","webhook_type":"status.updated"}`))
	assert.Contains(t, out.String(), "already_authenticated", "the webhook went to the refetch handler")

	// The same bytes without a webhook type are read as a decision, which they are not.
	out.Reset()
	err = push(map[string]string{}, `{"session_id":"s1","status":"Approved","webhook_type":"status.updated"}`)
	require.Error(t, err)
	assert.Contains(t, out.String(), "step-up decision", "a message without a type goes to the step-up service")

	// A Face Search's facts, published by this function for the scorer, are acked untouched
	// (the emulator's refetch subscription takes every webhooks-topic message).
	out.Reset()
	fsm := message.FaceSearch{ProfileID: "p1", SessionID: "s1", AssessmentID: "a1"}
	require.NoError(t, push(fsm.Attributes(), `{"profile_id":"p1","session_id":"s1","facts":{"search_type":"most_similar"}}`))
	assert.Empty(t, out.String(), "neither refetched nor read as a decision")
}
