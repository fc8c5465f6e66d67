// Package refetch completes webhooks whose decision no signature covered. When only
// X-Signature-Simple verified a webhook, just four body fields are authentic: timestamp,
// session_id, status and webhook_type. This handler takes those four and nothing else from
// the body, reads the session's decision from Didit (GET /v3/session/{id}/decision/, with the
// API key: it runs in the StepUp function, the only one holding it), and publishes a webhook
// built from Didit's answer to the webhooks topic, marked authenticated and signed by
// "didit_api", under the dedupe key of the original webhook. The scorer acks the original
// untouched and scores the republished one.
//
// Ack or retry follows failure.EventOutcome: a fetch that fails transiently (5xx, 429,
// timeout) returns a Transient error and Pub/Sub redelivers; a session Didit does not know
// (404) or a decision about another session is permanent and recorded in the log, so it is
// acked; anything that cannot be read is retried, then dead-lettered.
package refetch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/queue"
)

// Decisions reads a session's decision from Didit; *didit.Client is one.
type Decisions interface {
	GetDecision(ctx context.Context, sessionID string) (json.RawMessage, error)
}

// SignatureDiditAPI is the republished message's signature attribute (next to the receiver's
// raw, v2 and simple): its content came from Didit's API, read with our API key, not from a
// webhook body.
const SignatureDiditAPI = message.SignatureDiditAPI

// DefaultTimeout bounds one message's work when Handler.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Handler fetches and republishes. Decisions, Publisher and Log are required.
type Handler struct {
	Decisions Decisions
	Publisher queue.Publisher // the webhooks topic
	Log       *slog.Logger
	Now       func() time.Time // nil: time.Now
	// Timeout bounds one message's work, the Didit calls' retries included. 0: DefaultTimeout.
	Timeout time.Duration
}

// Errors of permanent outcomes, logged by Handle (and acked: they are recorded in the log).
var (
	// ErrUnknownSession: Didit answered 404 for the session. Permanent and recorded (logged):
	// there is nothing to score.
	ErrUnknownSession = errors.New("didit does not know the session")
	// ErrOtherSession: Didit's decision is about another session. Permanent and recorded.
	ErrOtherSession = errors.New("didit's decision is about another session")
)

// outcome of one message, for its log line.
type outcome string

const (
	republished     outcome = "republished"           // Didit's decision is on the webhooks topic
	notNeeded       outcome = "already_authenticated" // the message needs no fetch
	notSessionEvent outcome = "not_a_session_event"   // no session to fetch: acked
	failed          outcome = "failed"
)

// HandleEvent is a complete CloudEvent function: it decodes the push, handles the message,
// logs one line at failure.EventOutcome's level and returns failure.Resolve's answer.
func (h *Handler) HandleEvent(ctx context.Context, e event.Event) error {
	m, err := queue.Decode(e)
	if err == nil {
		return h.Handle(ctx, m.Message)
	}
	h.logEnd(ctx, result{messageID: e.ID(), outcome: failed}, err, 0)
	return failure.Resolve(err)
}

// Handle handles one webhook message and logs its one line (at failure.EventOutcome's level).
// It returns what an event function returns: nil to ack, an error to retry — failure.Resolve
// already applied, so a caller that resolves again gets the same answer.
func (h *Handler) Handle(ctx context.Context, m queue.Message) error {
	start := h.now()
	r, err := h.fetch(ctx, m)
	h.logEnd(ctx, r, err, h.now().Sub(start))
	return failure.Resolve(err)
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// result is what one message came to.
type result struct {
	messageID, key, sessionID, signedStatus, status, webhookType string
	outcome                                                      outcome
	publishedID                                                  string
}

// fetch does the work without logging or resolving: nil when done or nothing is needed; an
// error classified for failure.EventOutcome otherwise.
func (h *Handler) fetch(ctx context.Context, m queue.Message) (result, error) {
	r := result{messageID: m.ID, outcome: failed}
	ctx, cancel := context.WithTimeout(ctx, orDefault(h.Timeout, DefaultTimeout))
	defer cancel()

	in := message.ParseWebhookAttrs(m.Attributes)
	if in.DecisionAuthenticated {
		// Covered by a signature, or already republished by this handler: never loop.
		r.outcome = notNeeded
		return r, nil
	}
	if in.Class == "" {
		// Not published by the receiver, which classes every webhook: dead-lettered, not guessed.
		return r, failure.Errorf(failure.Invalid, "webhook message without a valid %s attribute", message.AttrEventClass)
	}
	s, err := readSigned(m.Data)
	if err != nil {
		return r, err
	}
	r.key, r.sessionID, r.signedStatus, r.webhookType = s.key(), s.SessionID, s.Status, s.WebhookType
	if s.SessionID == "" || in.Class != message.ClassSession {
		// Nothing to fetch (KYB, other event types, console tests): the scorer acks those too.
		r.outcome = notSessionEvent
		return r, nil
	}

	raw, err := h.Decisions.GetDecision(ctx, s.SessionID)
	if err != nil {
		var apiErr *didit.APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound {
			return r, failure.Recorded(failure.Errorf(failure.Invalid, "session %s: %w: %w", s.SessionID, ErrUnknownSession, err))
		}
		// 5xx, 429 and timeouts come back Transient (retry); a 400 or 403 is permanent but
		// not recorded: retried, then dead-lettered, where it can be replayed once fixed.
		return r, fmt.Errorf("fetch decision of session %s: %w", s.SessionID, err)
	}
	d, err := parseDecision(raw)
	if err != nil {
		return r, err
	}
	if d.SessionID != s.SessionID {
		return r, failure.Recorded(failure.Errorf(failure.Invalid, "asked for session %s, got %q: %w", s.SessionID, d.SessionID, ErrOtherSession))
	}
	body := buildBody(s, d)
	r.status = body.Status
	data, err := json.Marshal(body)
	if err != nil {
		return r, failure.Errorf(failure.Internal, "encode republished webhook: %w", err)
	}
	id, err := h.Publisher.Publish(ctx, data, attributes(s, body))
	if err != nil {
		return r, failure.New(failure.Transient, fmt.Errorf("republish session %s: %w", s.SessionID, err))
	}
	r.outcome, r.publishedID = republished, id
	return r, nil
}

// signed holds the four fields X-Signature-Simple covers, as the receiver read them when it
// verified the signature (the same strict decoder: exact keys, no repeats).
type signed struct {
	SessionID, Status, WebhookType string
	Timestamp                      int64
}

func readSigned(body []byte) (signed, error) {
	w, err := didit.DecodeWebhookStrict(body)
	if err != nil {
		return signed{}, failure.New(failure.Invalid, err)
	}
	return signed{SessionID: w.SessionID, Status: string(w.Status), WebhookType: w.WebhookType, Timestamp: w.Timestamp}, nil
}

// key is the dedupe key from the signed fields alone: event_id is not among them.
func (s signed) key() string {
	return didit.EventKey("", s.SessionID, s.WebhookType, s.Status, s.Timestamp)
}

// attributes are the republished message's: authenticated, by Didit's API, under the key of
// the signed fields.
func attributes(s signed, b webhookBody) map[string]string {
	a := message.WebhookAttrs{
		EventKey: s.key(), SessionID: b.SessionID, WebhookType: b.WebhookType, Status: b.Status,
		Signature: SignatureDiditAPI, Class: message.ClassSession, DecisionAuthenticated: true,
	}
	if b.VendorData != nil {
		a.VendorData = *b.VendorData
	}
	if b.SessionKind == didit.SessionKindBusiness {
		a.Class = message.ClassBusiness
	}
	if s.Timestamp != 0 {
		a.Timestamp = strconv.FormatInt(s.Timestamp, 10)
	}
	return a.Attributes()
}

// decision is what the republished body takes from Didit's answer; the decision itself goes
// on whole, as Didit sent it.
type decision struct {
	SessionID   string          `json:"session_id"`
	Status      string          `json:"status"`
	SessionKind string          `json:"session_kind"`
	VendorData  *string         `json:"vendor_data"`
	WorkflowID  *string         `json:"workflow_id"`
	Metadata    json.RawMessage `json:"metadata"`
	raw         json.RawMessage
}

func parseDecision(raw json.RawMessage) (decision, error) {
	var d decision
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, failure.Errorf(failure.Invalid, "decode Didit decision: %w", err)
	}
	d.raw = raw
	return d, nil
}

// webhookBody is the republished webhook: the four signed fields' webhook_type and timestamp,
// everything else from Didit's API.
type webhookBody struct {
	SessionID   string          `json:"session_id"`
	Status      string          `json:"status"`
	WebhookType string          `json:"webhook_type,omitempty"`
	Timestamp   int64           `json:"timestamp,omitempty"`
	SessionKind string          `json:"session_kind,omitempty"`
	VendorData  *string         `json:"vendor_data,omitempty"`
	WorkflowID  *string         `json:"workflow_id,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Decision    json.RawMessage `json:"decision"`
}

func buildBody(s signed, d decision) webhookBody {
	b := webhookBody{
		SessionID: d.SessionID, Status: d.Status, WebhookType: s.WebhookType, Timestamp: s.Timestamp,
		SessionKind: d.SessionKind, VendorData: d.VendorData, WorkflowID: d.WorkflowID, Decision: d.raw,
	}
	if len(d.Metadata) > 0 && string(d.Metadata) != "null" {
		b.Metadata = d.Metadata
	}
	if b.Status == "" {
		// Didit's decision always carries its status (shared/didit-api.md §2.2); if one does
		// not, the signed status is the only authentic one there is.
		b.Status = s.Status
	}
	return b
}

func (h *Handler) logEnd(ctx context.Context, r result, err error, took time.Duration) {
	o := failure.EventOutcome(err)
	attrs := []slog.Attr{slog.String("message_id", r.messageID), slog.String("outcome", string(r.outcome))}
	if r.key != "" {
		attrs = append(attrs, slog.String(logging.KeyEvent, r.key))
	}
	if r.sessionID != "" {
		attrs = append(attrs, slog.String("session_id", r.sessionID), slog.String("signed_status", r.signedStatus),
			slog.String("webhook_type", r.webhookType))
	}
	if r.status != "" {
		attrs = append(attrs, slog.String("didit_status", r.status))
	}
	if r.publishedID != "" {
		attrs = append(attrs, slog.String("published_message_id", r.publishedID))
	}
	attrs = append(attrs, slog.Float64("latency_ms", float64(took.Microseconds())/1000))
	msg := "webhook decision fetched from Didit and republished"
	switch {
	case err != nil:
		msg = "webhook decision fetch " + o.Message
		attrs = append(attrs, slog.String("error", err.Error()), slog.String("error_kind", failure.KindOf(err).String()))
	case r.outcome == notNeeded:
		msg = "webhook decision already authenticated: nothing to fetch"
		o.Level = slog.LevelDebug
	case r.outcome == notSessionEvent:
		msg = "webhook without a KYC session: nothing to fetch, acked"
	}
	h.Log.LogAttrs(ctx, o.Level, msg, attrs...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
