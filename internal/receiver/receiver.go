// Package receiver is the webhook intake: it authenticates a Didit webhook on its raw bytes,
// checks the few fields routing needs, and answers 2xx only once Pub/Sub has confirmed the
// publish. Scoring happens elsewhere, asynchronously, so the ack stays fast.
package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/webhook"
)

// Message attributes, so consumers can route, filter and deduplicate without decoding.
const (
	AttrEventID       = "event_id"
	AttrSessionID     = "session_id"
	AttrVendorData    = "vendor_data"
	AttrWebhookType   = "webhook_type"
	AttrStatus        = "status"
	AttrTimestamp     = "timestamp"
	AttrScheme        = "signature"
	AttrAuthenticated = "decision_authenticated"
)

// maxAttr is Pub/Sub's limit on an attribute value.
const maxAttr = 1024

// Verification is what authentication established about a webhook.
type Verification struct {
	Scheme string // which signature verified it: raw, v2 or simple
	// DecisionAuthenticated is false when only X-Signature-Simple verified the webhook:
	// that signature does not cover the decision, so consumers must not trust it blindly.
	DecisionAuthenticated bool
}

// VerifyFunc authenticates the raw body against the request headers.
type VerifyFunc func(h http.Header, body []byte) (Verification, error)

// WebhookVerifier adapts Didit's signature verifier.
func WebhookVerifier(v *webhook.Verifier) VerifyFunc {
	return func(h http.Header, body []byte) (Verification, error) {
		r, err := v.Verify(h, body)
		if err != nil {
			return Verification{}, err
		}
		return Verification{Scheme: string(r.Scheme), DecisionAuthenticated: r.BodyAuthenticated}, nil
	}
}

// Handler serves Didit's webhook POSTs.
type Handler struct {
	Verify         VerifyFunc
	Publisher      queue.Publisher
	Log            *slog.Logger
	Now            func() time.Time
	MaxBodyBytes   int64
	PublishTimeout time.Duration
	Project        string // for trace links in logs
}

// envelope holds the top-level fields the receiver needs; the decision stays opaque.
type envelope struct {
	EventID     string          `json:"event_id"`
	SessionID   string          `json:"session_id"`
	Status      string          `json:"status"`
	WebhookType string          `json:"webhook_type"`
	VendorData  string          `json:"vendor_data"`
	Timestamp   json.RawMessage `json:"timestamp"`
}

// outcome is what one request ended in, for the single log line.
type outcome struct {
	status    int
	err       error
	sessionID string
	eventID   string
	scheme    string
	messageID string
	bytes     int
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.Now()
	o := h.handle(r)
	o.status = failure.HTTPStatus(o.err)

	w.Header().Set("Content-Type", "application/json")
	if o.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.WriteHeader(o.status)
	_, _ = io.WriteString(w, responseBody(o.status))

	h.logOutcome(r, o, h.Now().Sub(start))
}

func (h *Handler) handle(r *http.Request) outcome {
	var o outcome
	if r.Method != http.MethodPost {
		o.err = failure.Errorf(failure.MethodNotAllowed, "method %s", r.Method)
		return o
	}
	body, err := h.readBody(r)
	o.bytes = len(body)
	if err != nil {
		o.err = err
		return o
	}
	v, err := h.Verify(r.Header, body)
	if err != nil {
		o.err = failure.New(failure.Unauthorized, err)
		return o
	}
	o.scheme = v.Scheme

	env, err := decodeEnvelope(body)
	o.sessionID, o.eventID = env.SessionID, eventKey(env)
	if err != nil {
		o.err = err
		return o
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.PublishTimeout)
	defer cancel()
	o.messageID, o.err = h.Publisher.Publish(ctx, body, attributes(env, o.eventID, v))
	return o
}

// readBody reads at most MaxBodyBytes; a declared or actual larger body is refused without
// reading past the limit.
func (h *Handler) readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > h.MaxBodyBytes {
		return nil, failure.Errorf(failure.TooLarge, "declared body of %d bytes exceeds %d", r.ContentLength, h.MaxBodyBytes)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
	if err != nil {
		return nil, failure.Errorf(failure.Invalid, "read body: %w", err)
	}
	if int64(len(body)) > h.MaxBodyBytes {
		return nil, failure.Errorf(failure.TooLarge, "body exceeds %d bytes", h.MaxBodyBytes)
	}
	return body, nil
}

var errMissingField = errors.New("missing required field")

func decodeEnvelope(body []byte) (envelope, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return env, failure.Errorf(failure.Invalid, "decode webhook: %w", err)
	}
	for name, v := range map[string]string{"session_id": env.SessionID, "status": env.Status, "webhook_type": env.WebhookType} {
		if v == "" {
			return env, failure.Errorf(failure.Invalid, "%w %s", errMissingField, name)
		}
	}
	return env, nil
}

// eventKey is the dedupe key downstream consumers use (see didit.EventKey).
func eventKey(env envelope) string {
	if env.EventID == "" && env.SessionID == "" {
		return ""
	}
	return didit.EventKey(env.EventID, env.SessionID, env.WebhookType, env.Status, timestamp(env))
}

func timestamp(env envelope) string {
	ts := string(env.Timestamp)
	if unq, err := strconv.Unquote(ts); err == nil {
		return unq
	}
	if ts == "null" {
		return ""
	}
	return ts
}

func attributes(env envelope, key string, v Verification) map[string]string {
	a := map[string]string{
		AttrEventID:       key,
		AttrSessionID:     env.SessionID,
		AttrWebhookType:   env.WebhookType,
		AttrStatus:        env.Status,
		AttrScheme:        v.Scheme,
		AttrAuthenticated: strconv.FormatBool(v.DecisionAuthenticated),
	}
	if ts := timestamp(env); ts != "" {
		a[AttrTimestamp] = ts
	}
	if env.VendorData != "" {
		a[AttrVendorData] = env.VendorData
	}
	for k, val := range a {
		if len(val) > maxAttr {
			delete(a, k) // consumers fall back to the body, which always has it
		}
	}
	return a
}

func responseBody(status int) string {
	switch status {
	case http.StatusOK:
		return `{"status":"accepted"}`
	case http.StatusUnauthorized:
		return `{"error":"unauthorized"}` // never say which check failed
	default:
		return fmt.Sprintf(`{"error":%q}`, http.StatusText(status))
	}
}

func (h *Handler) logOutcome(r *http.Request, o outcome, took time.Duration) {
	level, msg := slog.LevelInfo, "webhook accepted"
	if o.err != nil {
		level, msg = slog.LevelWarn, "webhook refused"
		if o.status >= 500 {
			level, msg = slog.LevelError, "webhook not published"
		}
	}
	attrs := []slog.Attr{
		slog.Int("status", o.status),
		slog.String("session_id", o.sessionID),
		slog.String("event_id", o.eventID),
		slog.String("signature", o.scheme),
		slog.Int("bytes", o.bytes),
		slog.Float64("latency_ms", float64(took.Microseconds())/1000),
		logging.Trace(h.Project, r.Header),
	}
	if o.messageID != "" {
		attrs = append(attrs, slog.String("message_id", o.messageID))
	}
	if o.err != nil {
		attrs = append(attrs, slog.String("reason", o.err.Error()))
	}
	h.Log.LogAttrs(r.Context(), level, msg, attrs...)
}
