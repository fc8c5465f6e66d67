// Package scorer turns one verified Didit webhook, delivered by Pub/Sub, into an assessment on
// the user's risk profile and a decision event. It acks (returns nil) once both are durable and
// asks for a retry (returns an error) otherwise; a message that can never be processed is
// logged at ERROR and returned as an error too, so that Pub/Sub dead-letters it after the
// subscription's attempts instead of dropping it.
package scorer

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Applier records an event on a profile; *profile.Store is one.
type Applier interface {
	Apply(ctx context.Context, ev profile.Event, eng profile.Evaluator, now time.Time) (profile.Result, error)
}

// Handler scores webhooks.
type Handler struct {
	Profiles  Applier
	Engine    profile.Evaluator
	Hash      func(string) string // keyed hash for document numbers and device fingerprints
	Decisions queue.Publisher
	Log       *slog.Logger
	Now       func() time.Time
	// Timeout bounds one message's work, so a Firestore or Pub/Sub outage fails the push (and
	// Pub/Sub retries) instead of holding it until the function's own deadline. 0: 30 s.
	Timeout time.Duration
}

// Handle is the CloudEvent function.
func (h *Handler) Handle(ctx context.Context, e event.Event) error {
	start := h.Now()
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	attrs := []slog.Attr{slog.String("message_id", e.ID())}
	res, ev, err := h.handle(ctx, e)
	if ev.Key != "" {
		attrs = append(attrs, slog.String("event_key", ev.Key), slog.String("session_id", ev.SessionID),
			slog.String("profile_id", ev.ProfileID), slog.String("didit_status", ev.Status))
	}
	if ev.StepUp != nil {
		attrs = append(attrs, slog.String("step_up_kind", ev.StepUp.Kind))
	}
	attrs = append(attrs, slog.Float64("latency_ms", float64(h.Now().Sub(start).Microseconds())/1000))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()), slog.String("kind", failure.KindOf(err).String()))
		if failure.Permanent(err) {
			// Retrying cannot help: say so loudly; Pub/Sub dead-letters it after the configured attempts.
			h.Log.LogAttrs(ctx, slog.LevelError, "webhook cannot be processed", attrs...)
		} else {
			h.Log.LogAttrs(ctx, slog.LevelWarn, "webhook will be retried", attrs...)
		}
		return err
	}
	attrs = append(attrs, slog.String("outcome", res.Outcome.String()))
	if a := res.Assessment; a != nil {
		rules := make([]string, len(a.Reasons))
		for i, r := range a.Reasons {
			rules[i] = r.Rule
		}
		attrs = append(attrs, slog.String("assessment_id", a.ID), slog.Int("score", a.Score), slog.String("level", a.Level),
			slog.String("action", a.Action), slog.Any("rules", rules), slog.Any("required_steps", a.RequiredSteps))
	}
	h.Log.LogAttrs(ctx, slog.LevelInfo, "webhook scored", attrs...)
	return nil
}

func (h *Handler) handle(ctx context.Context, e event.Event) (profile.Result, profile.Event, error) {
	m, err := queue.Decode(e)
	if err != nil {
		return profile.Result{}, profile.Event{}, err
	}
	w, err := didit.DecodeWebhook(m.Message.Data)
	if err != nil {
		return profile.Result{}, profile.Event{}, failure.New(failure.Invalid, err)
	}
	ev := h.event(w, m.Message.Attributes)
	if ev.SessionID == "" {
		return profile.Result{}, ev, failure.Errorf(failure.Invalid, "webhook has no session_id")
	}
	res, err := h.Profiles.Apply(ctx, ev, h.Engine, h.Now())
	if err != nil {
		return res, ev, err
	}
	// A duplicate publishes its decision again: the first delivery may have been stored but
	// not announced. Consumers deduplicate on assessment_id.
	if res.Assessment != nil {
		if err := h.publish(ctx, ev, res.Assessment); err != nil {
			return res, ev, err
		}
	}
	return res, ev, nil
}

// event reduces a decoded webhook to what the profile keeps: ids, state, derived signals.
func (h *Handler) event(w *didit.Webhook, attrs map[string]string) profile.Event {
	ts := time.Unix(w.Timestamp, 0).UTC()
	if w.Timestamp == 0 {
		ts = time.Unix(w.CreatedAt, 0).UTC()
	}
	key := attrs["event_id"]
	if key == "" {
		key = didit.KeyOf(w)
	}
	ev := profile.Event{
		Key: key, UserID: w.VendorData, SessionID: w.SessionID, Status: string(w.Status), EventTime: ts,
		ProfileID: profile.DocID(w.VendorData, w.SessionID),
		// Only X-Signature-Simple leaves the decision unauthenticated: such a webhook moves the
		// session's state but its decision is not scored.
		Trusted: attrs["decision_authenticated"] != "false",
	}
	if link, ok := profile.ParseStepUpLink(w.Metadata); ok {
		ev.StepUp = &link
		if link.ProfileID != "" {
			ev.ProfileID = link.ProfileID
		}
	}
	if w.Status.HasDecision() && w.Decision != nil && ev.Trusted {
		ev.HasDecision = true
		ev.Signals = scoring.Extract(w, h.Hash)
		ev.DocumentHash, ev.DeviceHashes = ev.Signals.DocumentHash, ev.Signals.DeviceHashes
	}
	return ev
}

func (h *Handler) publish(ctx context.Context, ev profile.Event, a *profile.Assessment) error {
	reasons := make([]message.Reason, len(a.Reasons))
	for i, r := range a.Reasons {
		reasons[i] = message.Reason(r)
	}
	d := message.Decision{
		ProfileID: ev.ProfileID, UserID: ev.UserID, AssessmentID: a.ID, SessionID: a.VerdictSession,
		Score: a.Score, Level: a.Level, Action: a.Action, RequiredSteps: a.RequiredSteps,
		PolicyVersion: a.PolicyVersion, Reasons: reasons, StepUpKind: a.StepUpKind,
		DecidedAt: a.CreatedAt, DecisionTrusted: a.Trusted,
	}
	data, err := json.Marshal(d)
	if err != nil {
		return failure.Errorf(failure.Internal, "encode decision: %w", err)
	}
	if _, err := h.Decisions.Publish(ctx, data, d.Attributes()); err != nil {
		return err
	}
	return nil
}
