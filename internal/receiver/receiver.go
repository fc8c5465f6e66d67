// Package receiver is the webhook intake: it authenticates a Didit webhook on its raw bytes,
// checks the few fields routing needs, and answers 2xx only once Pub/Sub has confirmed the
// publish. Scoring happens elsewhere, asynchronously, so the ack stays fast.
package receiver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/webhook"
)

// Message attributes, kept for callers that have not moved to package message.
//
// Deprecated: use the message package's constants.
const (
	AttrEventID       = message.AttrEventID
	AttrSessionID     = message.AttrSessionID
	AttrVendorData    = message.AttrVendorData
	AttrWebhookType   = message.AttrWebhookType
	AttrStatus        = message.AttrStatus
	AttrTimestamp     = message.AttrTimestamp
	AttrScheme        = message.AttrSignature
	AttrAuthenticated = message.AttrDecisionAuthenticated
)

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

	in, err := didit.DecodeStrict(body)
	if err != nil {
		o.err = failure.New(failure.Invalid, err)
		return o
	}
	attrs := message.WebhookAttrs{
		EventKey: didit.KeyOf(in.Webhook), SessionID: in.SessionID, VendorData: in.VendorData,
		WebhookType: in.WebhookType, Status: string(in.Status), Signature: v.Scheme,
		Class: classify(in), DecisionAuthenticated: v.DecisionAuthenticated,
	}
	if in.Timestamp != 0 {
		attrs.Timestamp = strconv.FormatInt(in.Timestamp, 10)
	}
	o.sessionID, o.eventID = in.SessionID, attrs.EventKey

	ctx, cancel := context.WithTimeout(r.Context(), h.PublishTimeout)
	defer cancel()
	o.messageID, o.err = h.Publisher.Publish(ctx, body, attrs.Attributes())
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

// classify says what an authentic webhook is about; only ClassSession is ever scored.
func classify(in didit.Strict) message.EventClass {
	switch {
	case in.Business:
		return message.ClassBusiness
	case in.SessionID == "":
		return message.ClassOther
	case in.WebhookType == didit.TypeStatusUpdated || in.WebhookType == didit.TypeDataUpdated:
		return message.ClassSession
	case strings.HasPrefix(in.WebhookType, "business."):
		return message.ClassBusiness
	}
	return message.ClassOther
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
