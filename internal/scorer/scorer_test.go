package scorer

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

// fakeApplier is a hand-written Applier: apply decides each call's result.
type fakeApplier struct {
	mu    sync.Mutex
	got   []profile.Event
	apply func(ev profile.Event) (profile.Result, error)
}

func (f *fakeApplier) Apply(_ context.Context, ev profile.Event, _ profile.Evaluator, _ time.Time) (profile.Result, error) {
	f.mu.Lock()
	f.got = append(f.got, ev)
	f.mu.Unlock()
	if f.apply == nil {
		return profile.Result{Outcome: profile.Applied}, nil
	}
	return f.apply(ev)
}

func (f *fakeApplier) events() []profile.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]profile.Event(nil), f.got...)
}

// fakePublisher records decisions; publish, when set, decides each call's answer.
type fakePublisher struct {
	mu      sync.Mutex
	data    [][]byte
	attrs   []map[string]string
	publish func(ctx context.Context) error
}

func (f *fakePublisher) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	if f.publish != nil {
		if err := f.publish(ctx); err != nil {
			return "", err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data = append(f.data, data)
	f.attrs = append(f.attrs, attrs)
	return "d", nil
}

func (f *fakePublisher) decisions(t *testing.T) []message.Decision {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]message.Decision, len(f.data))
	for i, b := range f.data {
		d, err := message.DecodeDecision(b)
		require.NoError(t, err)
		out[i] = d
	}
	return out
}

func newHandler(t *testing.T) (*Handler, *fakeApplier, *fakePublisher, *strings.Builder) {
	t.Helper()
	logs := &strings.Builder{}
	app, pub := &fakeApplier{}, &fakePublisher{}
	return &Handler{
		Profiles: app, Engine: scoring.NewEngine(testPolicy(t)), Hash: scoring.NewHasher([]byte("k")),
		Decisions: pub, Log: logging.New(logs, "json", "debug"), Now: time.Now,
	}, app, pub, logs
}

func mutate(t testing.TB, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	f(m)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// push wraps a message the way the Functions Framework hands a Pub/Sub push over.
func push(t testing.TB, body []byte, attrs map[string]string) event.Event {
	t.Helper()
	data, err := json.Marshal(queue.MessagePublished{Message: queue.Message{Data: body, Attributes: attrs, ID: "m1"}, Subscription: "projects/p/subscriptions/s"})
	require.NoError(t, err)
	e := event.New()
	e.SetID("m1")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/didit-webhooks")
	require.NoError(t, e.SetData("application/json", data))
	return e
}

func assessment(id string, action policy.Action) *profile.Assessment {
	return &profile.Assessment{ID: id, Score: 40, Level: policy.Medium, Action: action, RequiredSteps: []policy.StepKind{policy.StepNFC},
		PolicyVersion: "v1", VerdictSession: "sess", Trusted: true, CreatedAt: time.Unix(1767225607, 0).UTC()}
}

func TestKeyFromAttributeOrDerivedLikeTheReceiver(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	noEventID := mutate(t, body, func(m map[string]any) { delete(m, "event_id") })
	tests := []struct {
		name    string
		body    []byte
		attrs   map[string]string
		wantKey string
	}{
		{"attribute wins", body, authenticated("key-from-receiver"), "key-from-receiver"},
		{"no attribute: event_id", body, authenticated(""), "0d8f0c5e-2222-4b7d-8e1f-000000004242"},
		{"no attribute, no event_id: derived as the receiver derives it", noEventID, authenticated(""), receiverKey(t, noEventID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, _, logs := newHandler(t)
			require.NoError(t, h.Handle(context.Background(), push(t, tt.body, tt.attrs)))
			evs := app.events()
			require.Len(t, evs, 1)
			assert.Equal(t, tt.wantKey, evs[0].Key)
			assert.Contains(t, logs.String(), `"event_key":"`+tt.wantKey+`"`, "one correlation key in the logs")
		})
	}
}

func TestTrustFailsClosed(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	tests := []struct {
		name    string
		attrs   map[string]string
		applied bool
	}{
		{"authenticated is scored", authenticated("k"), true},
		{"attribute missing: untrusted, not applied", withoutAuth("k"), false},
		{"attribute false (X-Signature-Simple): not applied", unauthenticated("k"), false},
		{"attribute malformed: untrusted, not applied", malformedAuth("k"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, pub, logs := newHandler(t)
			app.apply = func(profile.Event) (profile.Result, error) {
				return profile.Result{Outcome: profile.Applied, Assessment: assessment("a1", "approve")}, nil
			}
			require.NoError(t, h.Handle(context.Background(), push(t, body, tt.attrs)), "acked either way")
			if !tt.applied {
				assert.Empty(t, app.events(), "no state moves on data no signature covered")
				assert.Empty(t, pub.data)
				assert.Contains(t, logs.String(), "awaiting Didit's decision")
				return
			}
			evs := app.events()
			require.Len(t, evs, 1)
			assert.True(t, evs[0].Trusted)
			assert.True(t, evs[0].HasDecision)
			assert.Equal(t, "user-4242", evs[0].ProfileID)
			assert.NotEmpty(t, evs[0].DocumentHash)
			require.Len(t, pub.decisions(t), 1)
		})
	}
}

func TestStepUpLinkPointsAtTheOriginProfile(t *testing.T) {
	link := profile.StepUpLink{ProfileID: "user-origin", AssessmentID: "a-origin", OriginSessionID: "s-origin", Kind: "nfc"}
	body := mutate(t, testdata.Read(t, "webhooks/approved_clean_v3.json"), func(m map[string]any) {
		m["metadata"] = map[string]any{profile.StepUpMetadataKey: link}
		m["vendor_data"] = "someone-else"
	})
	h, app, _, logs := newHandler(t)
	require.NoError(t, h.Handle(context.Background(), push(t, body, authenticated("k"))))
	evs := app.events()
	require.Len(t, evs, 1)
	require.NotNil(t, evs[0].StepUp)
	assert.Equal(t, link, *evs[0].StepUp)
	assert.Equal(t, "user-origin", evs[0].ProfileID, "a step-up's webhook re-scores the profile that asked for it")
	assert.Contains(t, logs.String(), `"step_up_kind":"nfc"`)
}

func TestErrorsAckOrRetryThroughEventOutcome(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	transient := failure.Errorf(failure.Transient, "firestore unavailable")
	tests := []struct {
		name     string
		body     []byte
		apply    func(profile.Event) (profile.Result, error)
		publish  func(context.Context) error
		retry    bool
		severity string
	}{
		{"applied and published: ack", body, nil, nil, false, "INFO"},
		{"apply transient: retry", body, func(profile.Event) (profile.Result, error) { return profile.Result{}, transient }, nil, true, "WARNING"},
		{"apply unclassified: retry", body, func(profile.Event) (profile.Result, error) { return profile.Result{}, errors.New("boom") }, nil, true, "WARNING"},
		{"publish fails: retry", body, nil, func(context.Context) error { return errors.New("pubsub down") }, true, "WARNING"},
		{"undecodable body: retried to the dead-letter topic", []byte("not json"), nil, nil, true, "ERROR"},
		{"session webhook without session_id: dead-letter", mutate(t, body, func(m map[string]any) {
			delete(m, "session_id")
			delete(m["decision"].(map[string]any), "session_id")
		}), nil, nil, true, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, pub, logs := newHandler(t)
			app.apply = func(ev profile.Event) (profile.Result, error) {
				if tt.apply != nil {
					return tt.apply(ev)
				}
				return profile.Result{Outcome: profile.Applied, Assessment: assessment("a1", "review")}, nil
			}
			pub.publish = tt.publish
			err := h.Handle(context.Background(), push(t, tt.body, authenticated("k")))
			assert.Equal(t, tt.retry, err != nil)
			assert.Equal(t, failure.Resolve(err), err, "what Handle returns is failure.Resolve's answer")
			assert.Contains(t, logs.String(), `"severity":"`+tt.severity+`"`)
		})
	}
}

func TestUndecodablePushIsRetried(t *testing.T) {
	h, app, _, logs := newHandler(t)
	e := event.New()
	e.SetID("bad")
	require.NoError(t, e.SetData("application/json", []byte(`{"message":{}}`)))
	err := h.Handle(context.Background(), e)
	require.Error(t, err, "never acked silently: Pub/Sub dead-letters it after max attempts")
	assert.ErrorIs(t, err, queue.ErrNoData)
	assert.Empty(t, app.events())
	assert.Contains(t, logs.String(), `"severity":"ERROR"`)
}

func TestDecisionPublishedAfterApply(t *testing.T) {
	h, app, pub, _ := newHandler(t)
	applied := false
	app.apply = func(profile.Event) (profile.Result, error) {
		applied = true
		return profile.Result{Outcome: profile.Applied, Assessment: assessment("a1", "step_up")}, nil
	}
	pub.publish = func(context.Context) error {
		if !applied {
			return errors.New("published before the assessment was stored")
		}
		return nil
	}
	require.NoError(t, h.Handle(context.Background(), push(t, testdata.Read(t, "webhooks/full_v3.json"), authenticated("k"))))
	ds := pub.decisions(t)
	require.Len(t, ds, 1)
	d := ds[0]
	assert.Equal(t, "a1", d.AssessmentID)
	assert.Equal(t, policy.StepUp, d.Action)
	assert.Equal(t, []policy.StepKind{policy.StepNFC}, d.RequiredSteps)
	assert.Equal(t, "user-4242", d.ProfileID)
	assert.Equal(t, "user-4242", d.UserID)
	assert.True(t, d.DecisionTrusted)
	assert.Equal(t, "step_up", pub.attrs[0][message.AttrAction], "the step-up subscription filters on it")
}

func TestDuplicatePublishesAgain(t *testing.T) {
	h, app, pub, logs := newHandler(t)
	app.apply = func(profile.Event) (profile.Result, error) {
		return profile.Result{Outcome: profile.Duplicate, Assessment: assessment("a-first", "block")}, nil
	}
	require.NoError(t, h.Handle(context.Background(), push(t, testdata.Read(t, "webhooks/full_v3.json"), authenticated("k"))))
	ds := pub.decisions(t)
	require.Len(t, ds, 1, "the first delivery may have been stored but not announced")
	assert.Equal(t, "a-first", ds[0].AssessmentID)
	assert.Contains(t, logs.String(), `"outcome":"duplicate"`)
}

func TestNoAssessmentNoDecision(t *testing.T) {
	h, app, pub, _ := newHandler(t)
	app.apply = func(profile.Event) (profile.Result, error) { return profile.Result{Outcome: profile.Stale}, nil }
	body := testdata.Read(t, "webhooks/in_progress.json")
	require.NoError(t, h.Handle(context.Background(), push(t, body, authenticated("k"))))
	evs := app.events()
	require.Len(t, evs, 1)
	assert.False(t, evs[0].HasDecision, "a progress notice moves state, scores nothing")
	assert.Empty(t, pub.data)
}

func TestOnlyKYCSessionEventsReachAProfile(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	kyb := mutate(t, body, func(m map[string]any) { m["session_kind"] = "business" })
	transaction := []byte(`{"webhook_type":"transaction.created","timestamp":1767225607,"transaction_id":"t1"}`)
	tests := []struct {
		name        string
		body        []byte
		attrs       map[string]string
		webhookType string
	}{
		{"KYB business session", body, attrs("k", message.ClassBusiness, true, "v2"), ""},
		{"other event type", transaction, attrs("k", message.ClassOther, true, "v2"), ""},
		{"console test delivery", body, attrs("k", message.ClassTest, true, "v2"), ""},
		{"classed session, but the body says business", kyb, authenticated("k"), "status.updated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, pub, logs := newHandler(t)
			require.NoError(t, h.Handle(context.Background(), push(t, tt.body, tt.attrs)), "acked")
			assert.Empty(t, app.events(), "never folded into a profile")
			assert.Empty(t, pub.data)
			assert.Contains(t, logs.String(), `"severity":"INFO"`)
			assert.Contains(t, logs.String(), "not a KYC session event")
			assert.Contains(t, logs.String(), `"event_class":`)
		})
	}
}

func TestUntypedSessionWebhookCountsAsStatusUpdated(t *testing.T) {
	body := mutate(t, testdata.Read(t, "webhooks/full_v3.json"), func(m map[string]any) {
		delete(m, "webhook_type")
		delete(m, "event_id")
	})
	h, app, _, logs := newHandler(t)
	require.NoError(t, h.Handle(context.Background(), push(t, body, authenticated(""))))
	evs := app.events()
	require.Len(t, evs, 1)
	typed := mutate(t, body, func(m map[string]any) { m["webhook_type"] = "status.updated" })
	assert.Equal(t, receiverKey(t, typed), evs[0].Key, "the key of the same webhook as status.updated")
	assert.Contains(t, logs.String(), `"webhook_type":"status.updated"`)
}

func TestScoresOnlyWhatTheSignatureCovers(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	tests := []struct {
		name string
		body []byte
	}{
		{"repeated key", append([]byte(`{"decision":{"status":"Approved"},`), body[1:]...)},
		{"case-variant key", append([]byte(`{"STATUS":"Approved",`), body[1:]...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, _, _ := newHandler(t)
			err := h.Handle(context.Background(), push(t, tt.body, authenticated("k")))
			require.Error(t, err, "retried, then dead-lettered: never scored, never lost")
			assert.Equal(t, failure.DeadLetter, failure.EventOutcome(err))
			assert.Empty(t, app.events())
		})
	}
}

func TestMessageWithoutClassIsDeadLettered(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	noClass := authenticated("k")
	delete(noClass, message.AttrEventClass)
	unknown := authenticated("k")
	unknown[message.AttrEventClass] = "Session"
	tests := []struct {
		name  string
		attrs map[string]string
	}{
		{"no attributes at all", nil},
		{"no class", noClass},
		{"unknown class", unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, pub, logs := newHandler(t)
			err := h.Handle(context.Background(), push(t, body, tt.attrs))
			require.Error(t, err, "never scored, never silently acked")
			assert.Equal(t, failure.DeadLetter, failure.EventOutcome(err))
			assert.Empty(t, app.events())
			assert.Empty(t, pub.data)
			assert.Contains(t, logs.String(), `"severity":"ERROR"`)
		})
	}
}
