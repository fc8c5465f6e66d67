package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

const secret = "whsec_test_secret"

var now = time.Unix(1767225607, 0)

// fakePublisher records what was published; publish decides the outcome.
type fakePublisher struct {
	mu      sync.Mutex
	got     []published
	publish func(ctx context.Context) (string, error)
}

type published struct {
	data  []byte
	attrs map[string]string
}

func (f *fakePublisher) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	if f.publish != nil {
		id, err := f.publish(ctx)
		if err != nil {
			return "", err
		}
		f.record(data, attrs)
		return id, nil
	}
	f.record(data, attrs)
	return "msg-1", nil
}

func (f *fakePublisher) record(data []byte, attrs map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, published{append([]byte(nil), data...), attrs})
}

func newHandler(t *testing.T, pub *fakePublisher, logs io.Writer, simple bool) *Handler {
	t.Helper()
	return newHandlerWith(t, pub, logs, webhook.Config{Secrets: [][]byte{[]byte(secret)}, AllowSimple: simple})
}

func newHandlerWith(t *testing.T, pub *fakePublisher, logs io.Writer, cfg webhook.Config) *Handler {
	t.Helper()
	cfg.Now = func() time.Time { return now }
	v, err := webhook.NewVerifier(cfg)
	require.NoError(t, err)
	return &Handler{
		Verify: v, Publisher: pub, Log: logging.New(logs, "json", "info"),
		Now: func() time.Time { return now }, MaxBodyBytes: 64 << 10, Project: "p",
	}
}

// signed returns a request signed the way Didit signs (raw and V2), at the given time.
func signed(t testing.TB, body []byte, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("X-Signature", webhook.Sign([]byte(secret), body))
	canon, err := webhook.Canonicalize(nil, body)
	if err == nil {
		r.Header.Set("X-Signature-V2", webhook.Sign([]byte(secret), canon))
	}
	return r
}

func TestAcceptedWebhookIsPublishedWithAttributes(t *testing.T) {
	pub := &fakePublisher{}
	var logs bytes.Buffer
	h := newHandler(t, pub, &logs, false)
	body := testdata.Read(t, "webhooks/full_v3.json")

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, signed(t, body, now))

	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Len(t, pub.got, 1)
	assert.Equal(t, body, pub.got[0].data, "the verified bytes are published untouched")
	a := pub.got[0].attrs
	assert.Equal(t, "raw", a[message.AttrSignature])
	assert.Equal(t, "true", a[message.AttrDecisionAuthenticated])
	assert.Equal(t, "user-4242", a[message.AttrVendorData])
	assert.Equal(t, "status.updated", a[message.AttrWebhookType])
	assert.NotEmpty(t, a[message.AttrEventID])
	assert.NotEmpty(t, a[message.AttrSessionID])
	assert.NotEmpty(t, a[message.AttrStatus])
	assert.NotEmpty(t, a[message.AttrTimestamp])
	assert.Equal(t, "webhook", a[message.AttrMessageType])
	assert.Equal(t, "session", a[message.AttrEventClass])
	assert.True(t, message.ParseWebhookAttrs(a).Scorable())

	// One log line, with ids and no personal data or signatures.
	line := logs.String()
	assert.Equal(t, 1, strings.Count(line, "\n"))
	for _, s := range []string{"Garc", "X1234567K", "1990-04-12", secret, "user-4242"} {
		assert.NotContains(t, line, s)
	}
	assert.Contains(t, line, `"signature":"raw"`)
	assert.Contains(t, line, `"latency_ms"`)
	assert.Contains(t, line, `"event_key":"`+a[message.AttrEventID]+`"`)
	assert.Contains(t, line, `"secret_index":0`)
}

func TestV2SurvivesReencodingProxy(t *testing.T) {
	pub := &fakePublisher{}
	h := newHandler(t, pub, io.Discard, false)
	body := testdata.Read(t, "webhooks/full_v3.json")
	r := signed(t, body, now)

	var pretty bytes.Buffer
	require.NoError(t, jsonIndent(&pretty, body))
	r2 := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(pretty.Bytes()))
	r2.Header = r.Header.Clone()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r2)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "v2", pub.got[0].attrs[message.AttrSignature])
}

func TestRefusals(t *testing.T) {
	valid := testdata.Read(t, "webhooks/approved_clean_v3.json")
	tests := []struct {
		name    string
		req     func(t *testing.T) *http.Request
		publish func(ctx context.Context) (string, error)
		simple  bool
		status  int
		reason  string
	}{
		{"GET", func(t *testing.T) *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, nil, false, http.StatusMethodNotAllowed, "method GET"},
		{"declared too large", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			r.ContentLength = 1 << 30
			return r
		}, nil, false, http.StatusRequestEntityTooLarge, "declared body"},
		{"streamed too large", func(t *testing.T) *http.Request {
			big := bytes.Repeat([]byte(" "), 64<<10+1)
			r := signed(t, big, now)
			r.ContentLength = -1
			return r
		}, nil, false, http.StatusRequestEntityTooLarge, "exceeds"},
		{"no timestamp", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			r.Header.Del("X-Timestamp")
			return r
		}, nil, false, http.StatusUnauthorized, ""},
		{"malformed timestamp", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			r.Header.Set("X-Timestamp", "yesterday")
			return r
		}, nil, false, http.StatusUnauthorized, ""},
		{"stale", func(t *testing.T) *http.Request { return signed(t, valid, now.Add(-301*time.Second)) }, nil, false, http.StatusUnauthorized, ""},
		{"from the future", func(t *testing.T) *http.Request { return signed(t, valid, now.Add(301*time.Second)) }, nil, false, http.StatusUnauthorized, ""},
		{"no signature", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			r.Header.Del("X-Signature")
			r.Header.Del("X-Signature-V2")
			return r
		}, nil, false, http.StatusUnauthorized, ""},
		{"forged", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			r.Header.Set("X-Signature", webhook.Sign([]byte("other"), valid))
			r.Header.Set("X-Signature-V2", webhook.Sign([]byte("other"), valid))
			return r
		}, nil, false, http.StatusUnauthorized, ""},
		{"tampered body", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			tampered := bytes.Replace(valid, []byte(`"Approved"`), []byte(`"Declined"`), 1)
			r.Body = io.NopCloser(bytes.NewReader(tampered))
			r.ContentLength = int64(len(tampered))
			return r
		}, nil, false, http.StatusUnauthorized, ""},
		{"simple only, not allowed", func(t *testing.T) *http.Request {
			r := simpleOnly(t, valid)
			return r
		}, nil, false, http.StatusUnauthorized, ""},
		{"signed but not JSON", func(t *testing.T) *http.Request { return signed(t, []byte(`{"session_id":`), now) }, nil, false, http.StatusBadRequest, "not valid JSON"},
		{"publish fails", func(t *testing.T) *http.Request { return signed(t, valid, now) },
			func(context.Context) (string, error) {
				return "", failure.New(failure.Transient, errors.New("pubsub down"))
			}, false, http.StatusServiceUnavailable, "pubsub down"},
		{"publish timed out", func(t *testing.T) *http.Request { return signed(t, valid, now) },
			func(ctx context.Context) (string, error) {
				return "", failure.New(failure.Transient, context.DeadlineExceeded)
			}, false, http.StatusServiceUnavailable, "deadline"},
		{"signature not hex", func(t *testing.T) *http.Request {
			r := signed(t, valid, now)
			r.Header.Set("X-Signature", strings.Repeat("z", 64))
			r.Header.Del("X-Signature-V2")
			return r
		}, nil, false, http.StatusUnauthorized, `"reason":"signature_malformed"`},
		{"replayed", func(t *testing.T) *http.Request {
			return signed(t, withTimestamp(t, valid, now.Add(-8*24*time.Hour).Unix()), now)
		}, nil, false, http.StatusUnauthorized, `"reason":"replay"`},
		{"repeated key", func(t *testing.T) *http.Request {
			return signed(t, append([]byte(`{"decision":{"status":"Approved"},`), valid[1:]...), now)
		}, nil, false, http.StatusBadRequest, `"reason":"duplicate_key"`},
		{"case variant key", func(t *testing.T) *http.Request {
			return signed(t, append([]byte(`{"STATUS":"Approved",`), valid[1:]...), now)
		}, nil, false, http.StatusBadRequest, `"reason":"key_case_variant"`},
		{"lone surrogate", func(t *testing.T) *http.Request {
			return signed(t, append([]byte(`{"x":"\ud800",`), valid[1:]...), now)
		}, nil, false, http.StatusBadRequest, `"reason":"lone_surrogate"`},
		{"not an object", func(t *testing.T) *http.Request { return signed(t, []byte(`[1]`), now) }, nil, false, http.StatusBadRequest, `"reason":"not_object"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub := &fakePublisher{publish: tt.publish}
			var logs bytes.Buffer
			h := newHandler(t, pub, &logs, tt.simple)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tt.req(t))

			assert.Equal(t, tt.status, rec.Code)
			assert.Empty(t, pub.got, "a refused webhook is never published")
			if tt.status == http.StatusUnauthorized {
				assert.JSONEq(t, `{"error":"unauthorized"}`, rec.Body.String(), "401 says nothing of why")
				assert.Contains(t, logs.String(), `"error":"`, "the reason goes to the log")
				if tt.name != "replayed" { // a replay is authentic: its secret matched
					assert.Contains(t, logs.String(), `"secret_index":-1`)
				}
			}
			if tt.reason != "" {
				assert.Contains(t, logs.String(), tt.reason)
			}
			if tt.status == http.StatusMethodNotAllowed {
				assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"))
			}
		})
	}
}

func jsonIndent(dst *bytes.Buffer, src []byte) error { return json.Indent(dst, src, "", "  ") }

func simpleOnly(t testing.TB, body []byte) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("X-Timestamp", strconv.FormatInt(now.Unix(), 10))
	f, err := webhook.Envelope(body) // what Didit signs: exact keys, Python's reading
	require.NoError(t, err)
	r.Header.Set("X-Signature-Simple", webhook.Sign([]byte(secret), []byte(webhook.SimpleMessage(f.Timestamp, f.SessionID, f.Status, f.WebhookType))))
	return r
}

func TestSimpleWhenAllowedIsMarkedUnauthenticated(t *testing.T) {
	pub := &fakePublisher{}
	h := newHandler(t, pub, io.Discard, true)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, simpleOnly(t, testdata.Read(t, "webhooks/approved_clean_v3.json")))
	require.Equal(t, http.StatusOK, rec.Code)
	require.Len(t, pub.got, 1)
	assert.Equal(t, "simple", pub.got[0].attrs[message.AttrSignature])
	assert.Equal(t, "false", pub.got[0].attrs[message.AttrDecisionAuthenticated])
}
