package refetch

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/queue"
)

// fakeDecisions answers GetDecision with get.
type fakeDecisions struct {
	mu    sync.Mutex
	asked []string
	get   func(sessionID string) (json.RawMessage, error)
}

func (f *fakeDecisions) GetDecision(_ context.Context, sessionID string) (json.RawMessage, error) {
	f.mu.Lock()
	f.asked = append(f.asked, sessionID)
	f.mu.Unlock()
	return f.get(sessionID)
}

type published struct {
	data  []byte
	attrs map[string]string
}

// fakePublisher records what is published; fail, when set, refuses.
type fakePublisher struct {
	mu   sync.Mutex
	got  []published
	fail error
}

func (f *fakePublisher) Publish(_ context.Context, data []byte, attrs map[string]string) (string, error) {
	if f.fail != nil {
		return "", f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, published{data, attrs})
	return "pub-1", nil
}

const sessionID = "2c1f7d7e-1111-4c5e-9a3b-000000004242"

// didDecision is what Didit's API answers for the session: its own vendor_data and metadata.
func diditDecision(sessionID, status string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{
		"session_id": sessionID, "session_kind": "user", "status": status, "vendor_data": "user-from-didit",
		"workflow_id": "wf-didit", "metadata": map[string]any{"origin": "didit"},
		"features":         []string{"ID_VERIFICATION"},
		"id_verifications": []any{map[string]any{"status": status, "document_number": "X1", "warnings": []any{}}},
	})
	return b
}

// simpleBody is a Simple-signed webhook whose unsigned fields an attacker rewrote.
func simpleBody(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"session_id": sessionID, "status": "Approved", "webhook_type": "status.updated", "timestamp": 1767225607,
		"event_id": "forged-event-id", "vendor_data": "forged-user", "metadata": map[string]any{"forged": true},
		"decision":    map[string]any{"session_id": sessionID, "status": "Approved", "features": []string{}},
		"workflow_id": "forged-workflow", "created_at": 1,
	})
	require.NoError(t, err)
	return b
}

func newHandler(t *testing.T) (*Handler, *fakeDecisions, *fakePublisher, *strings.Builder) {
	t.Helper()
	logs := &strings.Builder{}
	dec := &fakeDecisions{get: func(id string) (json.RawMessage, error) { return diditDecision(id, "Declined"), nil }}
	pub := &fakePublisher{}
	return &Handler{Decisions: dec, Publisher: pub, Log: logging.New(logs, "json", "debug"), Now: time.Now}, dec, pub, logs
}

func TestRepublishesWhatDiditReturnsUnderTheSignedKey(t *testing.T) {
	h, dec, pub, logs := newHandler(t)
	body := simpleBody(t)
	require.NoError(t, h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)}))

	assert.Equal(t, []string{sessionID}, dec.asked)
	require.Len(t, pub.got, 1)
	var got map[string]any
	require.NoError(t, json.Unmarshal(pub.got[0].data, &got))
	assert.Equal(t, sessionID, got["session_id"])
	assert.Equal(t, "Declined", got["status"], "Didit's status, consistent with Didit's decision")
	assert.Equal(t, "status.updated", got["webhook_type"])
	assert.EqualValues(t, 1767225607, got["timestamp"])
	assert.Equal(t, "user-from-didit", got["vendor_data"])
	assert.Equal(t, "wf-didit", got["workflow_id"])
	assert.Equal(t, map[string]any{"origin": "didit"}, got["metadata"])
	var want map[string]any
	require.NoError(t, json.Unmarshal(diditDecision(sessionID, "Declined"), &want))
	assert.Equal(t, want, got["decision"], "the decision goes on as Didit sent it")
	for _, k := range []string{"event_id", "created_at"} {
		assert.NotContains(t, got, k, "nothing unsigned from the original body")
	}
	assert.NotContains(t, string(pub.got[0].data), "forged")
	s, err := didit.DecodeStrict(pub.got[0].data)
	require.NoError(t, err, "the scorer's strict decoder reads it")
	assert.False(t, s.Business)
	assert.Equal(t, "user-from-didit", s.VendorData)

	a := pub.got[0].attrs
	assertRepublishedAttrs(t, a, signedKey(t, body))
	assert.Contains(t, logs.String(), "republished")
	assert.Contains(t, logs.String(), `"event_key":"`+signedKey(t, body)+`"`)
}

func TestBodiesTheSignatureDoesNotPinAreRefused(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"case-variant keys", `{"Session_ID":"other-session","session_id":"` + sessionID + `","STATUS":"Approved","status":"In Review","webhook_type":"status.updated","timestamp":1767225607}`},
		{"repeated key", `{"session_id":"other-session","session_id":"` + sessionID + `","status":"Approved","webhook_type":"status.updated","timestamp":1767225607}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, dec, pub, _ := newHandler(t)
			body := []byte(tt.body)
			err := h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)})
			require.Error(t, err)
			assert.Equal(t, failure.DeadLetter, failure.EventOutcome(err), "the receiver refuses these; one that got here is dead-lettered")
			assert.Empty(t, dec.asked)
			assert.Empty(t, pub.got)
		})
	}
}

func TestAckOrRetry(t *testing.T) {
	notFound := failure.New(failure.Invalid, &didit.APIError{Method: "GET", Path: "/v3/session/x/decision/", StatusCode: http.StatusNotFound})
	forbidden := failure.New(failure.Invalid, &didit.APIError{Method: "GET", Path: "/v3/session/x/decision/", StatusCode: http.StatusForbidden})
	unavailable := failure.Errorf(failure.Transient, "didit GET: giving up after 4 attempts: %w",
		&didit.APIError{Method: "GET", StatusCode: http.StatusServiceUnavailable})
	tests := []struct {
		name      string
		get       func(string) (json.RawMessage, error)
		pubFail   error
		body      []byte
		retry     bool
		published bool
		severity  string
		is        error
	}{
		{"fetched and republished: ack", nil, nil, nil, false, true, "INFO", nil},
		{"Didit unavailable (5xx, 429, timeout): retry", func(string) (json.RawMessage, error) { return nil, unavailable }, nil, nil, true, false, "WARNING", nil},
		{"deadline: retry", func(string) (json.RawMessage, error) { return nil, context.DeadlineExceeded }, nil, nil, true, false, "WARNING", context.DeadlineExceeded},
		{"404: nothing to score, recorded, ack", func(string) (json.RawMessage, error) { return nil, notFound }, nil, nil, false, false, "ERROR", nil},
		{"decision about another session: recorded, ack", func(string) (json.RawMessage, error) { return diditDecision("someone-else", "Approved"), nil }, nil, nil, false, false, "ERROR", nil},
		{"decision without session_id: recorded, ack", func(string) (json.RawMessage, error) { return json.RawMessage(`{"status":"Approved"}`), nil }, nil, nil, false, false, "ERROR", nil},
		{"403 (bad API key): retried, then dead-lettered", func(string) (json.RawMessage, error) { return nil, forbidden }, nil, nil, true, false, "ERROR", nil},
		{"decision not an object: dead-lettered", func(string) (json.RawMessage, error) { return json.RawMessage(`[1]`), nil }, nil, nil, true, false, "ERROR", nil},
		{"publish fails: retry", nil, errors.New("pubsub down"), nil, true, false, "WARNING", nil},
		{"body not JSON: retried, then dead-lettered", nil, nil, []byte("not json"), true, false, "ERROR", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, dec, pub, logs := newHandler(t)
			if tt.get != nil {
				dec.get = tt.get
			}
			pub.fail = tt.pubFail
			body := tt.body
			if body == nil {
				body = simpleBody(t)
			}
			err := h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)})
			assert.Equal(t, tt.retry, err != nil)
			assert.Equal(t, failure.Resolve(err), err, "resolving again gives the same answer")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Equal(t, tt.published, len(pub.got) == 1)
			assert.Contains(t, logs.String(), `"severity":"`+tt.severity+`"`)
		})
	}
}

func TestNothingToFetch(t *testing.T) {
	transaction := []byte(`{"webhook_type":"transaction.created","timestamp":1767225607,"transaction_id":"t1"}`)
	full := simpleBody(t)
	classed := func(c message.EventClass) func(testing.TB, []byte) map[string]string {
		return func(testing.TB, []byte) map[string]string { return webhookAttrs(c, false, "simple") }
	}
	tests := []struct {
		name  string
		body  []byte
		attrs func(t testing.TB, body []byte) map[string]string
	}{
		{"signature-covered decision", full, authenticatedAttrs},
		{"already republished by this handler: no loop", full, republishedAttrs},
		{"not a session event", transaction, classed(message.ClassOther)},
		{"KYB session", full, classed(message.ClassBusiness)},
		{"console test delivery", full, classed(message.ClassTest)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, dec, pub, _ := newHandler(t)
			require.NoError(t, h.Handle(context.Background(), queue.Message{ID: "m1", Data: tt.body, Attributes: tt.attrs(t, tt.body)}))
			assert.Empty(t, dec.asked)
			assert.Empty(t, pub.got)
		})
	}
}

func TestHandleEvent(t *testing.T) {
	body := simpleBody(t)
	good, err := json.Marshal(queue.MessagePublished{Message: queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)}})
	require.NoError(t, err)
	tests := []struct {
		name      string
		data      []byte
		retry     bool
		published int
	}{
		{"a push of a Simple webhook is fetched and republished", good, false, 1},
		{"a push without a message is retried, then dead-lettered", []byte(`{"message":{}}`), true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _, pub, logs := newHandler(t)
			e := event.New()
			e.SetID("e1")
			e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
			e.SetSource("//pubsub.googleapis.com/projects/p/topics/didit-webhooks")
			require.NoError(t, e.SetData("application/json", tt.data))
			err := h.HandleEvent(context.Background(), e)
			assert.Equal(t, tt.retry, err != nil)
			assert.Len(t, pub.got, tt.published)
			assert.Equal(t, 1, strings.Count(logs.String(), "\n"), "one line per message")
		})
	}
}

func TestBusinessSessionIsRepublishedAsBusiness(t *testing.T) {
	h, dec, pub, _ := newHandler(t)
	dec.get = func(id string) (json.RawMessage, error) {
		return json.RawMessage(`{"session_id":"` + id + `","session_kind":"business","status":"Approved"}`), nil
	}
	body := simpleBody(t)
	require.NoError(t, h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: simpleAttrs(t, body)}))
	require.Len(t, pub.got, 1)
	a := message.ParseWebhookAttrs(pub.got[0].attrs)
	assert.Equal(t, message.ClassBusiness, a.Class, "Didit says KYB: never scored as a user")
	assert.False(t, a.Scorable())
	s, err := didit.DecodeStrict(pub.got[0].data)
	require.NoError(t, err)
	assert.True(t, s.Business)
}

func TestMessageWithoutClassIsDeadLettered(t *testing.T) {
	h, dec, pub, _ := newHandler(t)
	body := simpleBody(t)
	a := simpleAttrs(t, body)
	delete(a, message.AttrEventClass)
	err := h.Handle(context.Background(), queue.Message{ID: "m1", Data: body, Attributes: a})
	require.Error(t, err)
	assert.Equal(t, failure.DeadLetter, failure.EventOutcome(err))
	assert.Empty(t, dec.asked)
	assert.Empty(t, pub.got)
}
