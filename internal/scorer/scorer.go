// Package scorer turns one verified Didit webhook, delivered by Pub/Sub, into an assessment on
// the user's risk profile and a decision event.
//
// What it folds into a profile is only what a signature (or Didit's own API) covered: a
// message whose decision is not authenticated (only X-Signature-Simple verified it) is acked
// untouched, because the step-up function fetches that session's decision from Didit and
// publishes it again, authenticated, under the same dedupe key. Events that are not KYC user
// sessions (other event types, KYB business sessions, console test deliveries) are acked and
// never folded into a profile; they stay on the topic for other consumers.
//
// Ack or retry is failure.EventOutcome's decision, from the error alone: a message that can
// never be processed is retried and so dead-lettered after the subscription's attempts, never
// dropped.
package scorer

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Applier records an event on a profile; *profile.Store is one.
type Applier interface {
	Apply(ctx context.Context, ev profile.Event, eng profile.Evaluator, now time.Time) (profile.Result, error)
}

// DefaultTimeout bounds one message's work when Handler.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Handler scores webhooks.
type Handler struct {
	Profiles Applier
	Engine   profile.Evaluator
	Hash     func(string) string // keyed hash for document numbers and device fingerprints
	// Aliases hashes the webhook's document and devices under every configured hash key, so a
	// returning user matches across a key rotation; nil: only Hash's key.
	Aliases   func(w *didit.Webhook) (document []string, devices [][]string)
	Decisions queue.Publisher
	Log       *slog.Logger
	Now       func() time.Time
	// FaceSearches folds the step-up function's Face Search facts into profiles; nil retries
	// such a message (then dead-letters it), never drops it.
	FaceSearches FaceSearchApplier
	// Timeout bounds one message's work, so a Firestore or Pub/Sub outage fails the push (and
	// Pub/Sub retries) instead of holding it until the function's own deadline. 0: 30 s.
	// The decision publish is bounded by its topic (DECISION_PUBLISH_TIMEOUT, queue.NewTopic).
	Timeout time.Duration
}

// skip is why a message was acked without being folded into a profile.
type skip string

const (
	skipNone            skip = ""
	skipUnauthenticated skip = "awaiting Didit's decision"
	skipNotKYCSession   skip = "not a KYC session event"
)

// handled is what one message came to, for its single log line.
type handled struct {
	key, webhookType string
	class            message.EventClass
	skip             skip
	ev               profile.Event
	res              profile.Result
	published        bool
}

// Handle is the CloudEvent function.
func (h *Handler) Handle(ctx context.Context, e event.Event) error {
	start := h.Now()
	ctx, cancel := context.WithTimeout(ctx, orDefault(h.Timeout, DefaultTimeout))
	defer cancel()
	out, err := h.handle(ctx, e)
	h.log(ctx, e, out, err, h.Now().Sub(start))
	return failure.Resolve(err)
}

func (h *Handler) handle(ctx context.Context, e event.Event) (handled, error) {
	var out handled
	m, err := queue.Decode(e)
	if err != nil {
		return out, err
	}
	if message.TypeOf(m.Message.Attributes) == message.TypeFaceSearch {
		return h.faceSearch(ctx, m.Message)
	}
	in := message.ParseWebhookAttrs(m.Message.Attributes)
	out.key, out.class, out.webhookType = in.EventKey, in.Class, in.WebhookType
	switch {
	case in.Class == "":
		// The receiver classes every webhook: a message without a class was not published
		// by it (or lost its attributes in a hand replay). Never scored, never dropped:
		// retried, then dead-lettered, where it can be replayed with its attributes.
		return out, failure.Errorf(failure.Invalid, "webhook message without a valid %s attribute", message.AttrEventClass)
	case in.Class != message.ClassSession:
		// Other event types, KYB sessions, console test deliveries: acked here, kept on the
		// topic for other consumers.
		out.skip = skipNotKYCSession
		return out, nil
	case !in.DecisionAuthenticated:
		// No state moves on data no signature covered: the step-up function fetches this
		// session's decision from Didit and publishes it again, authenticated.
		out.skip = skipUnauthenticated
		return out, nil
	}
	// Read exactly what the signature covered: the receiver decoded the same bytes the same way.
	s, err := didit.DecodeStrict(m.Message.Data)
	if err != nil {
		return out, failure.New(failure.Invalid, err)
	}
	if s.Business {
		out.skip = skipNotKYCSession
		return out, nil
	}
	out.ev = h.event(s.Webhook, in.EventKey)
	out.webhookType = s.WebhookType
	out.key = out.ev.Key
	if out.ev.SessionID == "" {
		return out, failure.Errorf(failure.Invalid, "session webhook has no session_id")
	}
	out.res, err = h.Profiles.Apply(ctx, out.ev, h.Engine, h.Now())
	if err != nil {
		return out, err
	}
	// A duplicate publishes its decision again: the first delivery may have been stored but
	// not announced. Consumers deduplicate on assessment_id.
	if out.res.Assessment != nil {
		if err := h.publish(ctx, out.ev, out.res.Assessment, verdictStatus(out.res)); err != nil {
			return out, err
		}
		out.published = true
	}
	return out, nil
}

// event reduces an authenticated webhook to what the profile keeps: ids, state, derived
// signals. key is the message's dedupe key; empty derives the receiver's from the body.
func (h *Handler) event(w *didit.Webhook, key string) profile.Event {
	ts := time.Unix(w.Timestamp, 0).UTC()
	if w.Timestamp == 0 {
		ts = time.Unix(w.CreatedAt, 0).UTC()
	}
	if key == "" {
		key = didit.KeyOf(w)
	}
	ev := profile.Event{
		Key: key, UserID: w.VendorData, SessionID: w.SessionID, Status: w.Status, EventTime: ts,
		ProfileID: profile.DocID(w.VendorData, w.SessionID),
		Trusted:   true, // only authenticated decisions get this far
	}
	if link, ok := profile.ParseStepUpLink(w.Metadata); ok {
		ev.StepUp = &link
		if link.ProfileID != "" {
			ev.ProfileID = link.ProfileID
		}
	}
	if w.Status.HasDecision() && w.Decision != nil {
		ev.HasDecision = true
		ev.Signals = scoring.Extract(w, h.Hash)
		ev.DocumentHash, ev.DeviceHashes = ev.Signals.DocumentHash, ev.Signals.DeviceHashes
		if h.Aliases != nil {
			ev.DocumentKeys, ev.DeviceKeys = h.Aliases(w)
		}
	}
	if w.Decision != nil {
		ev.Review = reviewFact(w.Status, w.Decision.Reviews, h.Hash)
	}
	return ev
}

// reviewFact is the decision's latest review by a person (not this system's own API changes)
// when it set the session's current status to Approved or Declined: a reviewer's verdict, with
// the reviewer keyed-hashed. The comment is never read; nil when there is none.
func reviewFact(status didit.Status, reviews []didit.Review, hash func(string) string) *profile.ReviewFact {
	var latest *didit.Review
	for i, r := range reviews {
		if !r.ByPerson() {
			continue
		}
		if latest == nil || !r.CreatedAt.Before(latest.CreatedAt.Time) {
			latest = &reviews[i]
		}
	}
	if latest == nil || latest.NewStatus != status || (status != didit.StatusApproved && status != didit.StatusDeclined) {
		return nil
	}
	return &profile.ReviewFact{Status: status, ReviewerHash: reviewerHash(latest.User, hash), At: latest.CreatedAt.UTC()}
}

// reviewerHash is a reviewer's keyed hash: apart from documents' and devices' hashes, and the
// same for one email however Didit cases it.
func reviewerHash(user string, hash func(string) string) string {
	return hash("reviewer:" + strings.ToLower(strings.TrimSpace(user)))
}

// verdictStatus is Didit's status of the session a result's verdict is about: the profile's
// record of it, or, when the profile was not read (a duplicate), the assessed session's status
// if it is that session; empty when unknown.
func verdictStatus(res profile.Result) didit.Status {
	a := res.Assessment
	if st, ok := res.Profile.Sessions[a.VerdictSession]; ok {
		return didit.Status(st.Status)
	}
	if a.VerdictSession == a.SessionID {
		return didit.Status(a.SessionStatus)
	}
	return ""
}

func (h *Handler) publish(ctx context.Context, ev profile.Event, a *profile.Assessment, status didit.Status) error {
	d := Decision(ev.ProfileID, ev.UserID, a)
	d.SessionStatus = status
	data, err := d.Encode()
	if err != nil {
		return err
	}
	if _, err := h.Decisions.Publish(ctx, data, d.Attributes()); err != nil {
		return failure.New(failure.Transient, err)
	}
	return nil
}

// Decision is the decision event announcing assessment a of a profile: the one shape every
// publisher of decisions (the scorer, the rescore job) sends.
func Decision(profileID, userID string, a *profile.Assessment) message.Decision {
	reasons := make([]message.Reason, len(a.Reasons))
	for i, r := range a.Reasons {
		reasons[i] = message.Reason(r)
	}
	return message.Decision{
		ProfileID: profileID, UserID: userID, AssessmentID: a.ID, SessionID: a.VerdictSession,
		Score: a.Score, Level: a.Level, Action: a.Action, RequiredSteps: a.RequiredSteps,
		PolicyVersion: a.PolicyVersion, Reasons: reasons, StepUpKind: a.StepUpKind,
		DecidedAt: a.CreatedAt, DecisionTrusted: a.Trusted, DecidedBy: string(decidedBy(a)),
	}
}

// decidedBy is who set a's action; an assessment written before it was recorded was the
// policy's.
func decidedBy(a *profile.Assessment) profile.DecidedBy {
	if a.DecidedBy == "" {
		return profile.DecidedByPolicy
	}
	return a.DecidedBy
}

// log writes the message's one line, at the level failure.EventOutcome gives its error.
func (h *Handler) log(ctx context.Context, e event.Event, out handled, err error, took time.Duration) {
	o := failure.EventOutcome(err)
	msg := "webhook scored"
	attrs := []slog.Attr{slog.String("message_id", e.ID())}
	if out.key != "" {
		attrs = append(attrs, slog.String(logging.KeyEvent, out.key))
	}
	switch {
	case err != nil:
		msg = "webhook " + o.Message
		attrs = append(attrs, slog.String("error", err.Error()), slog.String("kind", failure.KindOf(err).String()))
	case out.skip != skipNone:
		msg = "webhook acked, not scored: " + string(out.skip)
		attrs = append(attrs, slog.String("event_class", string(out.class)), slog.String("webhook_type", out.webhookType))
	}
	if ev := out.ev; ev.SessionID != "" {
		attrs = append(attrs, slog.String("session_id", ev.SessionID), slog.String("profile_id", ev.ProfileID),
			slog.String("webhook_type", out.webhookType), slog.String("didit_status", string(ev.Status)))
		if ev.StepUp != nil {
			attrs = append(attrs, slog.String("step_up_kind", string(ev.StepUp.Kind)))
		}
	}
	if err == nil && out.skip == skipNone {
		attrs = append(attrs, slog.String("outcome", out.res.Outcome.String()), slog.Bool("decision_published", out.published))
		if a := out.res.Assessment; a != nil {
			rules := make([]string, len(a.Reasons))
			for i, r := range a.Reasons {
				rules[i] = r.Rule
			}
			attrs = append(attrs, slog.String("assessment_id", a.ID), slog.Int("score", a.Score), slog.String("level", string(a.Level)),
				slog.String("action", string(a.Action)), slog.Any("rules", rules), slog.Any("required_steps", a.RequiredSteps))
			if sv := a.ShadowPolicy; sv != nil {
				// The shadow's verdict beside the live one, never acted on: enough to compare in logs.
				attrs = append(attrs, slog.Group("shadow", slog.String("policy_version", sv.PolicyVersion), slog.Int("score", sv.Score),
					slog.String("level", string(sv.Level)), slog.String("action", string(sv.Action))))
			}
		}
	}
	attrs = append(attrs, slog.Float64("latency_ms", float64(took.Microseconds())/1000))
	h.Log.LogAttrs(ctx, o.Level, msg, attrs...)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
