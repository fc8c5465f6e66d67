// Package stepup turns risk decisions into Didit verification sessions: for a step_up decision,
// one session per required kind (nfc, phone, biometric, poa, ...) on that kind's workflow; for a
// block decision, when enabled, the assessed session's face and document go on Didit's blocklist.
//
// # Exactly one Didit session per (assessment, kind)
//
// Pub/Sub delivers at least once, possibly to two instances at once, and an instance can die
// between Didit's answer and the write that records it. So before calling Didit a handler
// claims step_up_claims/{assessment}:{kind} in a Firestore transaction: a new claim is pending,
// owned by a random token until a lease expires. Then:
//   - a settled claim (created, failed) is acked without calling Didit;
//   - a pending claim under a live lease belongs to a running handler: the duplicate returns a
//     Transient error, so Pub/Sub redelivers it later, when it will find the claim settled (and
//     ack), or the lease expired (and take over). Acking instead would also be safe while the
//     owner's own message is unacked, but costs nothing to not depend on: a retried duplicate
//     is a cheap read, a lost step is a user never asked to verify;
//   - a pending claim whose lease expired was left by a handler that stopped after claiming —
//     possibly after Didit created the session. The new owner first looks for that session in
//     Didit's listing (GET /v3/sessions/?vendor_data=&workflow_id=, matched on the metadata
//     link's assessment id and kind, which Didit stores and echoes) and records it if found;
//     only otherwise does it create one. The client does the same lookup before retrying a create
//     whose outcome it could not see (timeout, 5xx). Didit has no idempotency key on session
//     creation, and the listing is its only documented way to find "our" session again.
//
// A handler's Didit calls run under a deadline (StepBudget) well inside the lease, so an owner
// never calls Didit after another could have taken over.
package stepup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
)

// KindBlocklist is the claim kind of a blocklisting; it is not a step-up kind.
const KindBlocklist = "blocklist"

// Defaults for the zero values of Service's tuning fields.
const (
	DefaultLease      = 2 * time.Minute
	DefaultStepBudget = 45 * time.Second
	DefaultClaimTTL   = 30 * 24 * time.Hour
)

// ErrStepFailed marks a decision whose steps Didit refused for good: the refusal is recorded on
// the claim and the profile, so the event is acked, not retried.
var ErrStepFailed = errors.New("step-up refused permanently")

// Didit is the part of the Didit API the service uses; *didit.Client is one.
type Didit interface {
	CreateSession(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error)
	FindSession(ctx context.Context, q didit.SessionQuery, match func(didit.SessionSummary) bool) (didit.SessionSummary, bool, error)
	AddToBlocklist(ctx context.Context, sessionID string, face, document bool) error
}

// Profiles shows step-up states on risk profiles; *profile.Store is one.
type Profiles interface {
	RecordStepUp(ctx context.Context, profileID string, st profile.StepUp) error
	Get(ctx context.Context, profileID string) (profile.Profile, bool, error)
}

// Service handles decision events. Didit, Claims, Profiles and Log are required.
type Service struct {
	Didit    Didit
	Claims   Claims
	Profiles Profiles
	Log      *slog.Logger

	Workflows        map[string]string // kind → Didit workflow id
	CallbackURL      string
	BlocklistOnBlock bool

	Now      func() time.Time // nil: time.Now
	NewOwner func() string    // claim owner tokens; nil: random
	// Lease is how long a claim's owner has before others may take over; it must exceed
	// StepBudget plus the Firestore writes around it.
	Lease time.Duration
	// StepBudget bounds the Didit calls of one step, retries included.
	StepBudget time.Duration
	// ClaimTTL sets a claim's expire_at.
	ClaimTTL time.Duration
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) owner() string {
	if s.NewOwner != nil {
		return s.NewOwner()
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// HandleEvent is the CloudEvent function: it decodes the Pub/Sub message, handles the decision,
// and maps the outcome to ack or retry — the only place that does:
//   - nil: acked;
//   - ErrStepFailed (Didit refused for good, already recorded failed): logged at ERROR, acked;
//   - other permanent errors (an event that does not decode): logged at ERROR and returned, so
//     Pub/Sub retries up to the subscription's max attempts and then dead-letters it, where it can
//     be inspected and replayed; acking would silently lose a step the scorer asked for;
//   - anything else (Didit or Firestore unavailable, claim busy): logged at WARNING and returned
//     for a retry with the subscription's backoff.
func (s *Service) HandleEvent(ctx context.Context, e event.Event) error {
	msg, err := queue.Decode(e)
	var d profile.Decision
	if err == nil {
		d, err = profile.DecodeDecision(msg.Message.Data)
	}
	if err == nil {
		err = s.Handle(ctx, d)
	}
	if err == nil {
		return nil
	}
	attrs := []any{"message_id", msg.Message.ID, "delivery_attempt", msg.DeliveryAttempt,
		"assessment_id", d.AssessmentID, "action", d.Action, "error_kind", failure.KindOf(err).String(), "error", err.Error()}
	switch {
	case errors.Is(err, ErrStepFailed):
		s.Log.ErrorContext(ctx, "step-up decision acked with refused steps", attrs...)
		return nil
	case failure.Permanent(err):
		s.Log.ErrorContext(ctx, "step-up decision rejected; retried then dead-lettered", attrs...)
		return err
	default:
		s.Log.WarnContext(ctx, "step-up decision to be retried", attrs...)
		return err
	}
}

// Handle acts on one decision. It returns nil when everything is done, an error wrapping
// ErrStepFailed when some step was refused for good (and recorded so), and a Transient error
// when something must be retried.
func (s *Service) Handle(ctx context.Context, d profile.Decision) error {
	// The decision actions this function acts on (the subscriptions filter on them).
	switch policy.Action(d.Action) {
	case policy.StepUp:
		return s.stepUps(ctx, d)
	case policy.Block:
		return s.blocklist(ctx, d)
	default:
		s.Log.DebugContext(ctx, "decision ignored", "assessment_id", d.AssessmentID, "action", d.Action)
		return nil
	}
}

// result is one step's end, for its log line and the decision's error.
type result struct {
	kind     string
	outcome  string // created, recovered, failed, already_created, already_failed, busy, retry, unrecorded
	attempt  int
	session  string
	reason   string
	refused  bool // refused for good in this invocation
	err      error
	duration time.Duration
}

func (s *Service) stepUps(ctx context.Context, d profile.Decision) error {
	var kinds []string
	for _, k := range d.RequiredSteps {
		if k = strings.TrimSpace(k); k != "" && !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	open, err := s.openSteps(ctx, d)
	if err != nil {
		return err
	}
	var errs []error
	refused := 0
	for _, kind := range kinds {
		if prev, ok := open[kind]; ok {
			// The user already has a session of this kind to complete for the same verified
			// session (asked by an earlier assessment): a second one would only confuse them.
			s.logStep(ctx, d, result{kind: kind, outcome: "already_open", session: prev.DiditSessionID})
			continue
		}
		start := time.Now()
		r := s.step(ctx, d, kind)
		r.kind, r.duration = kind, time.Since(start)
		s.logStep(ctx, d, r)
		switch {
		case r.err != nil:
			errs = append(errs, r.err)
		case r.refused:
			refused++
		}
	}
	switch {
	case len(errs) > 0:
		return failure.New(failure.Transient, errors.Join(errs...))
	case refused > 0:
		return failure.Errorf(failure.Invalid, "assessment %s: %d of %d steps: %w", d.AssessmentID, refused, len(kinds), ErrStepFailed)
	}
	return nil
}

// openSteps returns the kinds with a step-up still open (pending or created) that an earlier
// assessment asked for about the same session as d.
func (s *Service) openSteps(ctx context.Context, d profile.Decision) (map[string]profile.StepUp, error) {
	p, found, err := s.Profiles.Get(ctx, d.ProfileID)
	if err != nil || !found {
		return nil, err
	}
	open := map[string]profile.StepUp{}
	for kind, su := range p.StepUps {
		if (su.Status == profile.StepPending || su.Status == profile.StepCreated) &&
			su.AssessmentID != d.AssessmentID && su.OriginSessionID == d.SessionID {
			open[kind] = su
		}
	}
	return open, nil
}

// step makes sure one (assessment, kind) has its Didit session, once.
func (s *Service) step(ctx context.Context, d profile.Decision, kind string) result {
	now := s.now()
	id := ClaimID(d.AssessmentID, kind)
	workflow := s.Workflows[kind]
	owner := s.owner()
	c, grant, err := s.Claims.Acquire(ctx, id, Claim{
		State: profile.StepPending, Owner: owner, LeaseUntil: now.Add(orDefault(s.Lease, DefaultLease)),
		Kind: kind, ProfileID: d.ProfileID, AssessmentID: d.AssessmentID, OriginSessionID: d.SessionID,
		WorkflowID: workflow, CreatedAt: now, UpdatedAt: now, ExpireAt: now.Add(orDefault(s.ClaimTTL, DefaultClaimTTL)),
	})
	if err != nil {
		return result{outcome: "retry", err: err}
	}
	switch grant {
	case GrantDone:
		// Show it again: an earlier handler may have stopped between settling and recording.
		r := result{outcome: "already_" + c.State, attempt: c.Attempts, session: c.DiditSessionID, reason: c.Reason}
		r.err = s.record(ctx, c)
		return r
	case GrantBusy:
		return result{outcome: "busy", attempt: c.Attempts, err: failure.Errorf(failure.Transient,
			"step-up %s is being handled by another instance (lease until %s)", id, c.LeaseUntil.UTC().Format(time.RFC3339))}
	}

	r := result{attempt: c.Attempts}
	if err := s.record(ctx, c); err != nil {
		s.release(ctx, id, owner)
		r.outcome, r.err = "retry", err
		return r
	}
	if workflow == "" {
		return s.settle(ctx, id, owner, c, Claim{State: profile.StepFailed, Reason: fmt.Sprintf("no workflow configured for step-up kind %q", kind)}, r)
	}

	dctx, cancel := context.WithTimeout(ctx, orDefault(s.StepBudget, DefaultStepBudget))
	defer cancel()
	ours := func(ss didit.SessionSummary) bool {
		l, ok := profile.ParseStepUpLink(ss.Metadata)
		return ok && l.AssessmentID == d.AssessmentID && l.Kind == kind
	}
	var (
		sess      didit.SessionCreated
		recovered bool
	)
	if grant == GrantTakeover {
		found, ok, err := s.Didit.FindSession(dctx, didit.SessionQuery{VendorData: d.UserID, WorkflowID: workflow}, ours)
		if err != nil {
			return s.diditFailed(ctx, id, owner, c, r, err)
		}
		if ok {
			sess, recovered = didit.SessionCreated{SessionID: found.SessionID, URL: found.Link()}, true
		}
	}
	if !recovered {
		sess, err = s.Didit.CreateSession(dctx, didit.CreateSessionRequest{
			WorkflowID: workflow,
			VendorData: d.UserID,
			Callback:   s.CallbackURL,
			Metadata: map[string]any{profile.StepUpMetadataKey: profile.StepUpLink{
				ProfileID: d.ProfileID, AssessmentID: d.AssessmentID, OriginSessionID: d.SessionID, Kind: kind,
			}},
			Existing: ours,
		})
		if err != nil {
			return s.diditFailed(ctx, id, owner, c, r, err)
		}
		recovered = sess.Recovered
	}
	r.outcome = "created"
	if recovered {
		r.outcome = "recovered"
	}
	r.session = sess.SessionID
	return s.settle(ctx, id, owner, c, Claim{State: profile.StepCreated, DiditSessionID: sess.SessionID, URL: sess.URL}, r)
}

// diditFailed settles a step Didit refused for good, or releases the claim for a retry.
func (s *Service) diditFailed(ctx context.Context, id, owner string, c Claim, r result, err error) result {
	if failure.Permanent(err) {
		return s.settle(ctx, id, owner, c, Claim{State: profile.StepFailed, Reason: reason(err)}, r)
	}
	s.release(ctx, id, owner)
	r.outcome, r.err = "retry", err
	return r
}

// settle records the step's end on the claim, then on the profile. A failure to write after
// Didit created the session leaves the claim pending under this owner's lease, deliberately not
// released: the redelivery that takes over once the lease has run out looks the session up in
// Didit's listing, long after the create that made it has finished.
func (s *Service) settle(ctx context.Context, id, owner string, c Claim, res Claim, r result) result {
	res.UpdatedAt = s.now()
	stored, settled, err := s.Claims.Settle(ctx, id, owner, res)
	if err != nil {
		r.outcome, r.session, r.err = "unrecorded", res.DiditSessionID, err
		return r
	}
	if res.State == profile.StepFailed {
		r.outcome, r.reason = "failed", res.Reason
		r.refused = settled
	}
	if !settled {
		// Another owner settled first. With the lease and the step budget this needs a handler
		// stalled past its lease; if both created a session, say so loudly.
		if res.DiditSessionID != "" && stored.DiditSessionID != "" && stored.DiditSessionID != res.DiditSessionID {
			s.Log.ErrorContext(ctx, "duplicate Didit session for one step-up", "assessment_id", c.AssessmentID,
				"kind", c.Kind, "kept_session_id", stored.DiditSessionID, "extra_session_id", res.DiditSessionID)
		}
		r.outcome = "already_" + stored.State
		r.refused = false
	}
	r.session = stored.DiditSessionID
	if err := s.record(ctx, stored); err != nil {
		r.err = err
	}
	return r
}

// release gives up the lease after a retryable failure, so the redelivery need not wait for it.
// It is best effort: if it fails, the lease simply runs out.
func (s *Service) release(ctx context.Context, id, owner string) {
	if err := s.Claims.Release(ctx, id, owner, s.now()); err != nil {
		s.Log.WarnContext(ctx, "release step-up claim", "claim", id, "error", err.Error())
	}
}

// record shows a claim's state on the profile as step_ups.{kind}.
func (s *Service) record(ctx context.Context, c Claim) error {
	if c.Kind == KindBlocklist {
		return nil
	}
	return s.Profiles.RecordStepUp(ctx, c.ProfileID, profile.StepUp{
		Kind: c.Kind, Status: c.State, AssessmentID: c.AssessmentID, OriginSessionID: c.OriginSessionID,
		DiditSessionID: c.DiditSessionID, URL: c.URL, Reason: c.Reason, CreatedAt: c.CreatedAt, UpdatedAt: s.now(),
	})
}

// logStep writes the one line per step: ids, outcome and attempt only — never the API key, the
// user id or the session URL.
func (s *Service) logStep(ctx context.Context, d profile.Decision, r result) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("assessment_id", d.AssessmentID),
		slog.String("kind", r.kind),
		slog.String("outcome", r.outcome),
		slog.Int("attempt", r.attempt),
		slog.Int64("duration_ms", r.duration.Milliseconds()),
	}
	if r.session != "" {
		attrs = append(attrs, slog.String("didit_session_id", r.session))
	}
	if r.reason != "" {
		attrs = append(attrs, slog.String("reason", r.reason))
	}
	switch {
	case r.err != nil:
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", r.err.Error()))
	case r.outcome == "failed":
		level = slog.LevelWarn
	}
	s.Log.LogAttrs(ctx, level, "step-up", attrs...)
}

// blocklist adds a blocked user's face and document to Didit's blocklist, once per assessment.
// Only a decision whose Didit data was signature-covered is acted on: an X-Signature-Simple
// webhook leaves the decision unauthenticated, and blocklisting someone on forged data would
// lock an innocent user out of every Didit customer's flow.
func (s *Service) blocklist(ctx context.Context, d profile.Decision) error {
	r := result{kind: KindBlocklist}
	start := time.Now()
	defer func() {
		r.duration = time.Since(start)
		s.logStep(ctx, d, r)
	}()
	switch {
	case !s.BlocklistOnBlock:
		r.outcome = "disabled"
		return nil
	case !d.DecisionTrusted:
		r.outcome, r.reason = "skipped", "decision not signature-covered"
		return nil
	case d.SessionID == "":
		r.outcome = "invalid"
		r.err = failure.Errorf(failure.Invalid, "block decision %s has no session id", d.AssessmentID)
		return r.err
	}
	now := s.now()
	id := ClaimID(d.AssessmentID, KindBlocklist)
	owner := s.owner()
	c, grant, err := s.Claims.Acquire(ctx, id, Claim{
		State: profile.StepPending, Owner: owner, LeaseUntil: now.Add(orDefault(s.Lease, DefaultLease)),
		Kind: KindBlocklist, ProfileID: d.ProfileID, AssessmentID: d.AssessmentID, OriginSessionID: d.SessionID,
		CreatedAt: now, UpdatedAt: now, ExpireAt: now.Add(orDefault(s.ClaimTTL, DefaultClaimTTL)),
	})
	r.attempt = c.Attempts
	switch {
	case err != nil:
		r.outcome, r.err = "retry", err
		return err
	case grant == GrantDone:
		r.outcome, r.session = "already_"+c.State, c.OriginSessionID
		return nil
	case grant == GrantBusy:
		r.outcome = "busy"
		r.err = failure.Errorf(failure.Transient, "blocklisting %s is being handled by another instance", id)
		return r.err
	}
	dctx, cancel := context.WithTimeout(ctx, orDefault(s.StepBudget, DefaultStepBudget))
	defer cancel()
	// Didit keeps one blocklist entry per face or document, so a takeover simply calls again.
	if err := s.Didit.AddToBlocklist(dctx, d.SessionID, true, true); err != nil {
		if !failure.Permanent(err) {
			s.release(ctx, id, owner)
			r.outcome, r.err = "retry", err
			return err
		}
		r = s.settle(ctx, id, owner, c, Claim{State: profile.StepFailed, Reason: reason(err)}, r)
	} else {
		r.outcome = "blocklisted"
		r = s.settle(ctx, id, owner, c, Claim{State: profile.StepCompleted}, r)
	}
	r.session = d.SessionID
	switch {
	case r.err != nil:
		return r.err
	case r.refused:
		return failure.Errorf(failure.Invalid, "blocklist %s: %w", d.AssessmentID, ErrStepFailed)
	}
	return nil
}

// reason is what a profile shows for a refused step: Didit's status and detail.
func reason(err error) string {
	var ae *didit.APIError
	if errors.As(err, &ae) {
		if ae.Detail != "" {
			return fmt.Sprintf("didit %d: %s", ae.StatusCode, ae.Detail)
		}
		return fmt.Sprintf("didit %d", ae.StatusCode)
	}
	return err.Error()
}
