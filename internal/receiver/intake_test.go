package receiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

// withTimestamp returns body (a JSON object) with its timestamp and created_at set to ts.
func withTimestamp(t testing.TB, body []byte, ts int64) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(body, &m))
	m["timestamp"], m["created_at"] = ts, ts
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

// serve runs one request and returns the response code, what was published and the log.
func serve(t *testing.T, h *Handler, pub *fakePublisher, logs *bytes.Buffer, r *http.Request) (int, []published, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec.Code, pub.got, logs.String()
}

// tripwire is a body that fails the test if anything reads it.
type tripwire struct{ t *testing.T }

func (b tripwire) Read([]byte) (int, error) {
	b.t.Error("the body was read before a header-only refusal")
	return 0, errors.New("read")
}

func TestCheapRefusalsDoNotReadTheBody(t *testing.T) {
	valid := testdata.Read(t, "webhooks/approved_clean_v3.json")
	tests := []struct {
		name   string
		edit   func(h http.Header)
		simple bool
		reason string
	}{
		{"stale X-Timestamp", func(h http.Header) { h.Set("X-Timestamp", strconv.FormatInt(now.Unix()-301, 10)) }, false, "timestamp_stale"},
		{"no X-Timestamp", func(h http.Header) { h.Del("X-Timestamp") }, false, "timestamp_missing"},
		{"no signature", func(h http.Header) { h.Del("X-Signature"); h.Del("X-Signature-V2") }, false, "no_signature"},
		{"signatures not hex", func(h http.Header) {
			h.Set("X-Signature", strings.Repeat("g", 64))
			h.Set("X-Signature-V2", "abc")
		}, false, "signature_malformed"},
		{"only simple, not allowed", func(h http.Header) {
			h.Del("X-Signature")
			h.Del("X-Signature-V2")
			h.Set("X-Signature-Simple", strings.Repeat("a", 64))
		}, false, "simple_not_allowed"},
		{"only simple, not hex", func(h http.Header) {
			h.Del("X-Signature")
			h.Del("X-Signature-V2")
			h.Set("X-Signature-Simple", "x")
		}, true, "signature_malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, tt.simple)
			r := signed(t, valid, now)
			tt.edit(r.Header)
			r.Body = io.NopCloser(tripwire{t})
			code, got, log := serve(t, h, pub, &logs, r)
			assert.Equal(t, http.StatusUnauthorized, code)
			assert.Empty(t, got)
			assert.Contains(t, log, `"reason":"`+tt.reason+`"`)
			assert.Contains(t, log, `"bytes":0`)
		})
	}
}

// With only X-Signature-Simple, the published message holds the four signed fields and nothing
// from the rest of the body: no decision, vendor_data, event_id or metadata, however the body
// spells its keys.
func TestSimpleOnlyPublishesTheFourSignedFields(t *testing.T) {
	body := []byte(`{"STATUS":"Declined","Session_ID":"forged","created_at":1,"decision":{"status":"Approved"},` +
		`"event_id":"forged-event","metadata":{"risk_step_up":{"kind":"nfc","assessment_id":"a"}},` +
		`"session_id":"s-1","status":"In Review","timestamp":1767225600,"vendor_data":"victim","webhook_type":"status.updated"}`)
	pub := &fakePublisher{}
	var logs bytes.Buffer
	h := newHandler(t, pub, &logs, true)
	code, got, log := serve(t, h, pub, &logs, simpleOnly(t, body))
	require.Equal(t, http.StatusOK, code, log)
	require.Len(t, got, 1)

	assert.JSONEq(t, `{"session_id":"s-1","status":"In Review","timestamp":1767225600,"webhook_type":"status.updated"}`, string(got[0].data))
	a := message.ParseWebhookAttrs(got[0].attrs)
	assert.False(t, a.DecisionAuthenticated)
	assert.False(t, a.Scorable())
	assert.Equal(t, "simple", a.Signature)
	assert.Equal(t, "s-1", a.SessionID)
	assert.Equal(t, "In Review", a.Status, "the case variant STATUS changes nothing")
	assert.Empty(t, a.VendorData, "vendor_data is not signed")
	assert.NotEqual(t, "forged-event", a.EventKey, "event_id is not signed")
	assert.Equal(t, didit.EventKey("", "s-1", "status.updated", "In Review", 1767225600), a.EventKey)
	assert.NotContains(t, log, "victim")
}

func TestReplayHorizon(t *testing.T) {
	valid := testdata.Read(t, "webhooks/approved_clean_v3.json")
	tests := []struct {
		name   string
		body   []byte
		simple bool
		want   int
	}{
		{"within the horizon", withTimestamp(t, valid, now.Add(-167*time.Hour).Unix()), false, http.StatusOK},
		{"beyond the horizon", withTimestamp(t, valid, now.Add(-169*time.Hour).Unix()), false, http.StatusUnauthorized},
		{"created_at when no timestamp", bytes.Replace(withTimestamp(t, valid, now.Add(-200*time.Hour).Unix()), []byte(`"timestamp"`), []byte(`"other_ts"`), 1), false, http.StatusUnauthorized},
		{"simple, beyond", withTimestamp(t, valid, now.Add(-169*time.Hour).Unix()), true, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, tt.simple)
			r := signed(t, tt.body, now)
			if tt.simple {
				r = simpleOnly(t, tt.body)
			}
			code, got, log := serve(t, h, pub, &logs, r)
			assert.Equal(t, tt.want, code, log)
			if tt.want == http.StatusUnauthorized {
				assert.Empty(t, got, "a replay is never published")
				assert.Contains(t, log, `"reason":"replay"`)
			} else {
				assert.Len(t, got, 1)
			}
		})
	}
	// The horizon is configurable.
	pub := &fakePublisher{}
	var logs bytes.Buffer
	h := newHandler(t, pub, &logs, false)
	h.ReplayHorizon = time.Hour
	code, _, _ := serve(t, h, pub, &logs, signed(t, withTimestamp(t, valid, now.Add(-2*time.Hour).Unix()), now))
	assert.Equal(t, http.StatusUnauthorized, code)
}

// Every authentic event is acknowledged and published; only KYC session updates are marked
// for scoring.
func TestEventsThatAreNotKYCSessionUpdates(t *testing.T) {
	ts := `"timestamp":1767225600`
	tests := []struct {
		name     string
		body     string
		class    message.EventClass
		wantType string
	}{
		{"status.updated", `{"session_id":"s","status":"Approved","webhook_type":"status.updated",` + ts + `}`, message.ClassSession, "status.updated"},
		{"data.updated", `{"session_id":"s","status":"Approved","webhook_type":"data.updated",` + ts + `}`, message.ClassSession, "data.updated"},
		{"older shape without webhook_type", `{"session_id":"s","status":"Approved",` + ts + `}`, message.ClassSession, "status.updated"},
		{"no status", `{"session_id":"s","webhook_type":"status.updated",` + ts + `}`, message.ClassSession, "status.updated"},
		{"user event", `{"webhook_type":"user.status.updated","user_id":"u",` + ts + `}`, message.ClassOther, "user.status.updated"},
		{"transaction", `{"webhook_type":"transaction.created","transaction":{"id":"t"},` + ts + `}`, message.ClassOther, "transaction.created"},
		{"activity", `{"webhook_type":"activity.created",` + ts + `}`, message.ClassOther, "activity.created"},
		{"business event", `{"webhook_type":"business.status.updated","business_id":"b",` + ts + `}`, message.ClassBusiness, "business.status.updated"},
		{"KYB session", `{"session_id":"s","session_kind":"business","status":"Approved","webhook_type":"status.updated",` + ts + `}`, message.ClassBusiness, "status.updated"},
		{"KYB by business_session_id", `{"business_session_id":"b","session_id":"s","status":"Approved","webhook_type":"status.updated",` + ts + `}`, message.ClassBusiness, "status.updated"},
		{"no session_id, no type", `{"something":"else"}`, message.ClassOther, ""},
		{"typed field of another type", `{"webhook_type":"transaction.status.updated","status":{"code":"settled"},"timestamp":"2026-12-01T00:00:00Z"}`, message.ClassOther, "transaction.status.updated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, false)
			code, got, log := serve(t, h, pub, &logs, signed(t, []byte(tt.body), now))
			require.Equal(t, http.StatusOK, code, log)
			require.Len(t, got, 1)
			assert.Equal(t, tt.body, string(got[0].data))
			a := message.ParseWebhookAttrs(got[0].attrs)
			assert.Equal(t, tt.class, a.Class)
			assert.Equal(t, tt.wantType, a.WebhookType)
			assert.Equal(t, tt.class == message.ClassSession, a.Scorable())
		})
	}
}

func TestConsoleTestDeliveries(t *testing.T) {
	valid := testdata.Read(t, "webhooks/approved_clean_v3.json")
	var m map[string]any
	require.NoError(t, json.Unmarshal(valid, &m))
	delete(m, "event_id")
	m["vendor_data"] = "your-vendor-reference-id"
	placeholder, err := json.Marshal(m)
	require.NoError(t, err)

	for _, drop := range []bool{false, true} {
		for name, req := range map[string]func() *http.Request{
			"header": func() *http.Request {
				r := signed(t, valid, now)
				r.Header.Set("X-Didit-Test-Webhook", "true")
				return r
			},
			"placeholder body": func() *http.Request { return signed(t, placeholder, now) },
		} {
			t.Run(name+"/drop="+strconv.FormatBool(drop), func(t *testing.T) {
				pub := &fakePublisher{}
				var logs bytes.Buffer
				h := newHandler(t, pub, &logs, false)
				h.DropTestWebhooks = drop
				code, got, log := serve(t, h, pub, &logs, req())
				assert.Equal(t, http.StatusOK, code, "acknowledged")
				assert.Contains(t, log, `"event_class":"test"`)
				if drop {
					assert.Empty(t, got)
					assert.Contains(t, log, `"reason":"test_dropped"`)
					return
				}
				require.Len(t, got, 1)
				a := message.ParseWebhookAttrs(got[0].attrs)
				assert.Equal(t, message.ClassTest, a.Class)
				assert.False(t, a.Scorable(), "a test delivery never reaches a profile")
			})
		}
	}
}

// The receiver's dedupe key is the one the scorer derives from the published data.
func TestDedupeKeyAgreesWithTheScorer(t *testing.T) {
	env := `"session_id":"s","status":"Approved","webhook_type":"status.updated"`
	bodies := []string{
		`{` + env + `,"timestamp":1767225607}`,
		`{` + env + `,"timestamp":1767225607.0}`,
		`{` + env + `,"timestamp":1.767225607e9}`,
		`{` + env + `,"timestamp":null}`,
		`{` + env + `}`,
		`{"event_id":"e-1",` + env + `,"timestamp":1767225607}`,
		`{"session_id":"s","status":"Approved","timestamp":1767225607}`,
	}
	keys := map[string]string{}
	for _, simple := range []bool{false, true} {
		for _, b := range bodies {
			pub := &fakePublisher{}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, simple)
			r := signed(t, []byte(b), now)
			if simple {
				r = simpleOnly(t, []byte(b))
			}
			code, got, log := serve(t, h, pub, &logs, r)
			require.Equal(t, http.StatusOK, code, log)
			require.Len(t, got, 1)
			w, err := didit.DecodeWebhookStrict(got[0].data) // the scorer's reading
			require.NoError(t, err)
			key := got[0].attrs[message.AttrEventID]
			assert.Equal(t, didit.KeyOf(w), key, "simple=%v %s", simple, b)
			assert.Contains(t, log, `"event_key":"`+key+`"`)
			if !simple {
				keys[b] = key
			}
		}
	}
	assert.Equal(t, keys[bodies[0]], keys[bodies[1]])
	assert.Equal(t, keys[bodies[0]], keys[bodies[2]])
	assert.Equal(t, keys[bodies[3]], keys[bodies[4]])
	assert.NotEqual(t, keys[bodies[0]], keys[bodies[3]])
	assert.Equal(t, "e-1", keys[bodies[5]])
}

func TestLogLinesCarrySecretIndexReasonAndTrace(t *testing.T) {
	valid := testdata.Read(t, "webhooks/approved_clean_v3.json")
	pub := &fakePublisher{}
	var logs bytes.Buffer
	h := newHandlerWith(t, pub, &logs, webhook.Config{Secrets: [][]byte{[]byte("new-secret"), []byte(secret)}})
	r := signed(t, valid, now) // signed with the old secret, second in the list
	r.Header.Set("X-Cloud-Trace-Context", "4bf92f3577b34da6a3ce929d0e0e4736/1;o=1")
	code, _, log := serve(t, h, pub, &logs, r)
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, log, `"secret_index":1`)
	assert.Contains(t, log, `"reason":"accepted"`)
	assert.Contains(t, log, `"logging.googleapis.com/trace":"projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736"`)

	logs.Reset()
	r = signed(t, valid, now)
	r.Header.Set("X-Signature", webhook.Sign([]byte("forger"), valid))
	r.Header.Set("X-Signature-V2", webhook.Sign([]byte("forger"), valid))
	r.Header.Set("X-Cloud-Trace-Context", `x","severity":"DEBUG`)
	code, _, log = serve(t, h, pub, &logs, r)
	require.Equal(t, http.StatusUnauthorized, code)
	assert.Contains(t, log, `"reason":"signature_mismatch"`)
	assert.Contains(t, log, `"secret_index":-1`)
	assert.NotContains(t, log, "logging.googleapis.com/trace", "a malformed trace header is not logged")
	assert.Equal(t, 1, strings.Count(log, `"severity"`))
}
