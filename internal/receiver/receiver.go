// Package receiver is the webhook intake: it authenticates a Didit webhook on its raw bytes,
// reads it exactly as the signature covers it, and answers 2xx only once Pub/Sub has confirmed
// the publish. Scoring happens elsewhere, asynchronously, so the ack stays fast.
//
// What each signature authenticates decides what is published: with X-Signature or
// X-Signature-V2 the whole body is authentic and is published as received; with
// X-Signature-Simple alone only timestamp, session_id, status and webhook_type are, so only
// those four are published (decision_authenticated=false) and the step-up function fetches the
// decision from Didit. Every authentic event is acknowledged whatever its type; only KYC session
// updates are marked for scoring (message.ClassSession).
package receiver

import (
	"encoding/json"
	"errors"
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

// HeaderTestWebhook marks a console "Try webhook" delivery (shared/didit-api.md §1.1, §9.10;
// seen by a third party only).
const HeaderTestWebhook = "X-Didit-Test-Webhook"

// testVendorData is the placeholder vendor_data of console test deliveries (§9.10).
const testVendorData = "your-vendor-reference-id"

// Verifier authenticates deliveries; *webhook.Verifier is one.
type Verifier interface {
	// Precheck refuses from the headers alone, before the body is read.
	Precheck(h http.Header) error
	Verify(h http.Header, body []byte) (webhook.Result, error)
}

// Handler serves Didit's webhook POSTs.
type Handler struct {
	Verify       Verifier
	Publisher    queue.Publisher // bounds each publish itself (queue.NewTopic's timeout)
	Log          *slog.Logger
	Now          func() time.Time
	MaxBodyBytes int64
	// ReplayHorizon refuses a webhook whose signed body timestamp is older; 0 means
	// config.DefaultReplayHorizon's 7 days.
	ReplayHorizon time.Duration
	// DropTestWebhooks acknowledges console test deliveries without publishing them; by
	// default they are published with event_class=test, which no profile is built from.
	DropTestWebhooks bool
	Project          string // for trace links in logs
}

// defaultReplayHorizon mirrors config.DefaultReplayHorizon for handlers built without config.
const defaultReplayHorizon = 7 * 24 * time.Hour

// Reason codes of the receiver's own refusals and outcomes, logged under "reason" next to the
// verifier's (webhook.Reason) and the strict decoder's codes.
const (
	reasonAccepted    = "accepted"
	reasonTestDropped = "test_dropped"
	reasonMethod      = "method_not_allowed"
	reasonTooLarge    = "too_large"
	reasonReadFailed  = "read_failed"
	reasonReplay      = "replay"
	reasonNotObject   = "not_object"
	reasonShape       = "unexpected_shape"
	reasonPublish     = "publish_failed"
)

// outcome is what one request ended in, for the single log line.
type outcome struct {
	status      int
	err         error
	reason      string
	attrs       message.WebhookAttrs
	secretIndex int // -1 until a secret matched
	messageID   string
	bytes       int
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
	o := outcome{secretIndex: -1}
	fail := func(k failure.Kind, reason string, err error) outcome {
		o.err, o.reason = failure.New(k, err), reason
		return o
	}
	if r.Method != http.MethodPost {
		return fail(failure.MethodNotAllowed, reasonMethod, fmt.Errorf("method %s", r.Method))
	}
	// Cheap refusals first: nothing that needs the body, before the body is read.
	if err := h.Verify.Precheck(r.Header); err != nil {
		return fail(failure.Unauthorized, webhook.Reason(err), err)
	}
	body, reason, err := h.readBody(r)
	o.bytes = len(body)
	if err != nil {
		o.err, o.reason = err, reason
		return o
	}
	v, err := h.Verify.Verify(r.Header, body)
	if err != nil {
		return fail(failure.Unauthorized, webhook.Reason(err), err)
	}
	o.secretIndex, o.attrs.Signature = v.SecretIndex, string(v.Scheme)

	data, in, reason, err := h.read(body, v)
	if err != nil {
		o.err, o.reason = err, reason
		return o
	}
	o.attrs = attributes(in, v)
	if reason != "" { // authentic, but not a shape the scorer reads
		o.attrs.Class, o.reason = message.ClassOther, reason
	}
	if test(r.Header, in) {
		o.attrs.Class = message.ClassTest
	}

	if err := h.replay(in, v); err != nil {
		return fail(failure.Unauthorized, reasonReplay, err)
	}
	if o.attrs.Class == message.ClassTest && h.DropTestWebhooks {
		o.reason = reasonTestDropped
		return o
	}
	o.messageID, o.err = h.Publisher.Publish(r.Context(), data, o.attrs.Attributes())
	switch {
	case o.err != nil:
		o.reason = reasonPublish
	case o.reason == "":
		o.reason = reasonAccepted
	}
	return o
}

// readBody reads at most MaxBodyBytes; a declared or actual larger body is refused without
// reading past the limit.
func (h *Handler) readBody(r *http.Request) ([]byte, string, error) {
	if r.ContentLength > h.MaxBodyBytes {
		return nil, reasonTooLarge, failure.Errorf(failure.TooLarge, "declared body of %d bytes exceeds %d", r.ContentLength, h.MaxBodyBytes)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
	if err != nil {
		return nil, reasonReadFailed, failure.Errorf(failure.Invalid, "read body: %w", err)
	}
	if int64(len(body)) > h.MaxBodyBytes {
		return nil, reasonTooLarge, failure.Errorf(failure.TooLarge, "body exceeds %d bytes", h.MaxBodyBytes)
	}
	return body, "", nil
}

// read returns the message data to publish and the webhook as the scorer will read it. With
// X-Signature-Simple alone the data is the four signed fields and nothing else. A body that is
// not JSON, or has a shape on which Go and Python would read different values (which Didit never
// sends), is refused. An authentic JSON object whose typed fields do not decode (an event type
// this code does not know) is published as it is, with the reason unexpected_shape, so that it
// is not lost and is never scored.
func (h *Handler) read(body []byte, v webhook.Result) ([]byte, didit.Strict, string, error) {
	if !v.BodyAuthenticated {
		data, err := simpleData(v.Simple)
		if err != nil {
			return nil, didit.Strict{}, "", failure.Errorf(failure.Internal, "encode signed fields: %w", err)
		}
		in, err := didit.DecodeStrict(data)
		if err != nil {
			return nil, didit.Strict{}, webhook.Reason(err), failure.New(failure.Invalid, err)
		}
		return data, in, "", nil
	}
	in, err := didit.DecodeStrict(body)
	if err == nil {
		return body, in, "", nil
	}
	if code := webhook.Reason(err); code != "" {
		return nil, in, code, failure.New(failure.Invalid, err)
	}
	if errors.Is(err, didit.ErrNotObject) {
		return nil, in, reasonNotObject, failure.New(failure.Invalid, err)
	}
	// Valid JSON (the strict check passed), exact keys, but a typed field has another type.
	f, ferr := webhook.Envelope(body)
	if ferr != nil {
		return nil, in, webhook.Reason(ferr), failure.New(failure.Invalid, ferr)
	}
	w := &didit.Webhook{SessionID: f.SessionID, Status: didit.Status(f.Status), WebhookType: f.WebhookType}
	return body, didit.Strict{Webhook: w}, reasonShape, nil
}

// simpleData is the message data of a delivery only X-Signature-Simple verified: the four
// fields it covers, read with Python's semantics, and nothing else from the body.
func simpleData(f webhook.SimpleFields) ([]byte, error) {
	var ts json.RawMessage
	switch {
	case f.Timestamp == "":
	case isNumber(f.Timestamp):
		ts = json.RawMessage(f.Timestamp) // written as Didit wrote it
	default:
		b, err := json.Marshal(f.Timestamp)
		if err != nil {
			return nil, err
		}
		ts = b
	}
	return json.Marshal(struct {
		SessionID   string          `json:"session_id"`
		Status      string          `json:"status"`
		Timestamp   json.RawMessage `json:"timestamp,omitempty"`
		WebhookType string          `json:"webhook_type"`
	}{f.SessionID, f.Status, ts, f.WebhookType})
}

// isNumber reports whether s is a JSON number literal (as extractSimple copies them).
func isNumber(s string) bool {
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil && strings.TrimSpace(s) == s
}

// attributes derives the message attributes from what the scorer will read.
func attributes(in didit.Strict, v webhook.Result) message.WebhookAttrs {
	a := message.WebhookAttrs{
		EventKey: didit.KeyOf(in.Webhook), SessionID: in.SessionID, VendorData: in.VendorData,
		WebhookType: in.WebhookType, Status: string(in.Status), Signature: string(v.Scheme),
		Class: classify(in), DecisionAuthenticated: v.BodyAuthenticated,
	}
	if in.Timestamp != 0 {
		a.Timestamp = strconv.FormatInt(in.Timestamp, 10)
	}
	return a
}

// classify says what an authentic webhook is about; only ClassSession is ever scored.
func classify(in didit.Strict) message.EventClass {
	switch {
	case in.Business || strings.HasPrefix(in.WebhookType, "business."):
		return message.ClassBusiness
	case in.SessionID == "":
		return message.ClassOther
	case in.WebhookType == didit.TypeStatusUpdated || in.WebhookType == didit.TypeDataUpdated:
		return message.ClassSession
	}
	return message.ClassOther
}

// test reports a console test delivery: the header Didit is said to send, or the shape the
// console sends (no event_id, the placeholder vendor_data). Marking a genuine webhook as a test
// only keeps it from being scored, the safe side.
func test(h http.Header, in didit.Strict) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get(HeaderTestWebhook)), "true") ||
		in.Webhook != nil && in.EventID == "" && in.VendorData == testVendorData
}

// replay refuses a webhook whose signed timestamp (body timestamp, else created_at) is older than
// the horizon: X-Timestamp bounds delivery time but no body signature covers it, so a captured
// webhook could otherwise be sent again at any time with a fresh header. Didit documents a
// timestamp on every envelope; a body without one cannot be dated and is let through (dedupe
// still applies).
func (h *Handler) replay(in didit.Strict, v webhook.Result) error {
	if in.Webhook == nil {
		return nil
	}
	ts := in.Timestamp
	if ts == 0 {
		ts = in.CreatedAt
	}
	horizon := h.ReplayHorizon
	if horizon <= 0 {
		horizon = defaultReplayHorizon
	}
	if ts != 0 && time.Unix(ts, 0).Before(h.Now().Add(-horizon)) {
		return fmt.Errorf("signed timestamp %d is older than the replay horizon %s (signature %s)", ts, horizon, v.Scheme)
	}
	return nil
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
	switch {
	case o.err != nil && o.status >= 500:
		level, msg = slog.LevelError, "webhook not published"
	case o.err != nil:
		level, msg = slog.LevelWarn, "webhook refused"
	case o.reason == reasonShape:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.Int("status", o.status),
		slog.String("reason", o.reason),
		slog.String(logging.KeyEvent, o.attrs.EventKey),
		slog.String("session_id", o.attrs.SessionID),
		slog.String("webhook_type", o.attrs.WebhookType),
		slog.String("event_class", string(o.attrs.Class)),
		slog.String("signature", o.attrs.Signature),
		slog.Int("secret_index", o.secretIndex),
		slog.Int("bytes", o.bytes),
		slog.Float64("latency_ms", float64(took.Microseconds())/1000),
		logging.Trace(h.Project, r.Header),
	}
	if o.messageID != "" {
		attrs = append(attrs, slog.String("message_id", o.messageID))
	}
	if o.err != nil {
		attrs = append(attrs, slog.String("error", o.err.Error()))
	}
	h.Log.LogAttrs(r.Context(), level, msg, attrs...)
}
