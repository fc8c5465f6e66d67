//go:build integration

package refetch

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scorer"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

const apiKey = "test-api-key"

// stack is the Didit simulator over real HTTP and a webhooks topic on the Pub/Sub emulator.
type stack struct {
	sim     *diditsim.Server
	url     string
	client  *didit.Client
	ps      *pubsub.Client
	sub     string
	project string
	topic   *queue.Topic
}

func newStack(t *testing.T) *stack {
	t.Helper()
	sim := diditsim.New(diditsim.Options{APIKey: apiKey})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { _ = sim.Close() })
	client := didit.NewClient(srv.URL, apiKey, nil)
	client.Retry = didit.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}

	project := emulatortest.Project(t)
	ps := emulatortest.PubSub(t, project)
	sub := emulatortest.Topic(t, ps, project, "didit-webhooks")
	topic := queue.NewTopic(ps, "didit-webhooks", 5*time.Second)
	t.Cleanup(topic.Stop)
	return &stack{sim: sim, url: srv.URL, client: client, ps: ps, sub: sub, project: project, topic: topic}
}

// fixtureDecision is full_v3.json's decision, the one Didit holds for its session.
func fixtureDecision(t *testing.T) (map[string]any, string) {
	t.Helper()
	b := testdata.Read(t, "webhooks/full_v3.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m["decision"].(map[string]any), m["session_id"].(string)
}

// forgedSimple is a captured Simple-signed webhook of the session with everything the Simple
// signature does not cover rewritten: another user, a clean decision, a fresh event_id.
func forgedSimple(t *testing.T, sessionID string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"session_id": sessionID, "status": "Approved", "webhook_type": "status.updated", "timestamp": 1767225607,
		"event_id": "forged", "vendor_data": "forged-user",
		"decision": map[string]any{"session_id": sessionID, "status": "Approved", "features": []string{}},
	})
	require.NoError(t, err)
	return b
}

func TestSimpleWebhookIsScoredFromDiditsDecision(t *testing.T) {
	st := newStack(t)
	dec, sessionID := fixtureDecision(t)
	st.sim.AddSession(diditsim.Session{ID: sessionID, Status: "Approved", VendorData: "user-4242", Decision: dec})

	var logs strings.Builder
	h := &Handler{Decisions: st.client, Publisher: st.topic, Log: logging.New(&logs, "json", "info"), Now: time.Now}
	body := forgedSimple(t, sessionID)
	require.NoError(t, h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)}))
	assert.Equal(t, 1, st.sim.Requests(diditsim.RouteDecision))

	msgs := emulatortest.Pull(t, st.ps, st.sub, 1, 20*time.Second)
	require.Len(t, msgs, 1)
	m := msgs[0]
	assertRepublishedAttrs(t, m.Attributes, signedKey(t, body))
	assert.NotContains(t, string(m.Data), "forged")

	// The republished webhook, scored by the real scorer on the Firestore emulator, lands on
	// the profile Didit names, with Didit's decision.
	fs := emulatortest.Firestore(t, st.project)
	sc := &scorer.Handler{
		Profiles: profile.NewStore(fs), Engine: scoring.NewEngine(policy.Default()),
		Hash: scoring.NewHasher([]byte("k")), Decisions: discard{}, Log: logging.New(io.Discard, "json", "info"), Now: time.Now,
	}
	require.NoError(t, sc.Handle(context.Background(), pushOf(t, m)))
	p, found, err := profile.NewStore(fs).Get(context.Background(), "user-4242")
	require.NoError(t, err)
	require.True(t, found, "scored on Didit's vendor_data")
	assert.Equal(t, 1, p.AssessmentsTotal)
	assert.NotEqual(t, policy.Approve, p.Action, "the fixture's real decision is risky; the forged clean one was never read")
	_, forged, err := profile.NewStore(fs).Get(context.Background(), "forged-user")
	require.NoError(t, err)
	assert.False(t, forged)
}

func TestDiditUnavailableIsRetriedThenRepublished(t *testing.T) {
	tests := []struct {
		name  string
		fault diditsim.Fault
	}{
		{"503", diditsim.Fault{Route: diditsim.RouteDecision, Status: http.StatusServiceUnavailable, RetryAfter: "0", Times: 2}},
		{"429", diditsim.Fault{Route: diditsim.RouteDecision, Status: http.StatusTooManyRequests, RetryAfter: "0", Times: 2}},
		{"timeout", diditsim.Fault{Route: diditsim.RouteDecision, Delay: 2 * time.Second, Times: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t)
			st.client = didit.NewClient(st.url, apiKey, &http.Client{Timeout: 300 * time.Millisecond})
			st.client.Retry = didit.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
			dec, sessionID := fixtureDecision(t)
			st.sim.AddSession(diditsim.Session{ID: sessionID, Status: "Approved", VendorData: "user-4242", Decision: dec})
			st.sim.InjectFault(tt.fault)

			h := &Handler{Decisions: st.client, Publisher: st.topic, Log: logging.New(io.Discard, "json", "info"), Now: time.Now}
			body := forgedSimple(t, sessionID)
			msg := queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)}
			err := h.Handle(context.Background(), msg)
			require.Error(t, err, "retried by Pub/Sub, not acked")
			assert.Equal(t, failure.Retry, failure.EventOutcome(err))
			assert.Equal(t, 2, st.sim.Requests(diditsim.RouteDecision))

			require.NoError(t, h.Handle(context.Background(), msg), "the redelivery succeeds")
			msgs := emulatortest.Pull(t, st.ps, st.sub, 1, 20*time.Second)
			require.Len(t, msgs, 1)
			assertRepublishedAttrs(t, msgs[0].Attributes, signedKey(t, body))
		})
	}
}

func TestUnknownSessionIsAckedWithoutPublishing(t *testing.T) {
	st := newStack(t)
	var logs strings.Builder
	h := &Handler{Decisions: st.client, Publisher: st.topic, Log: logging.New(&logs, "json", "info"), Now: time.Now}
	body := forgedSimple(t, "00000000-0000-4000-8000-00000000dead")
	require.NoError(t, h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)}))
	assert.Equal(t, 1, st.sim.Requests(diditsim.RouteDecision), "a 404 is not retried")
	assert.Contains(t, logs.String(), `"severity":"ERROR"`)
	assert.Contains(t, logs.String(), "does not know the session")
	assert.Empty(t, emulatortest.Pull(t, st.ps, st.sub, 1, 2*time.Second))
}

type discard struct{}

func (discard) Publish(context.Context, []byte, map[string]string) (string, error) { return "d", nil }

// pushOf wraps a pulled message the way a push subscription delivers it.
func pushOf(t *testing.T, m *pubsub.Message) event.Event {
	t.Helper()
	data, err := json.Marshal(queue.MessagePublished{Message: queue.Message{Data: m.Data, Attributes: m.Attributes, ID: m.ID}, Subscription: "s"})
	require.NoError(t, err)
	e := event.New()
	e.SetID(m.ID)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/didit-webhooks")
	require.NoError(t, e.SetData("application/json", data))
	return e
}
