// Package stepup turns risk decisions into Didit verification sessions: for a step_up decision,
// one session per required kind (nfc, phone, biometric, poa, ...) on that kind's workflow; for a
// review decision, a request that Didit's console review the session (In Review); for a block
// decision, when enabled, the session declined in Didit and its face and document on Didit's
// blocklist (review.go). Each request about a session is made once, under the same claims.
//
// # One Didit session per (verified session, kind)
//
// Pub/Sub delivers at least once, possibly to two instances at once, an instance can die
// between Didit's answer and the write that records it, and several assessments (status.updated
// then data.updated, a re-score) can ask for the same step about the same verified session. So
// before calling Didit a handler claims step_up_claims/{session}:{kind} in a Firestore
// transaction — the guard "one open step-up per kind per session" is the claim itself. A new
// claim is pending, owned by a random token until a lease expires. Then:
//   - a settled claim (created, completed, failed) is acked without calling Didit;
//   - a pending claim under a live lease belongs to a running handler: the duplicate returns a
//     Transient error, so Pub/Sub redelivers it later, when it will find the claim settled (and
//     ack), or the lease expired (and take over);
//   - a pending claim deferred by Didit (429 with a long Retry-After) is not tried before its
//     retry_at: the delivery is handed back, and the profile says why the step waits;
//   - a pending claim whose lease expired was left by a handler that stopped after claiming —
//     possibly after Didit created the session. The new owner looks at one short page of the
//     user's sessions on the workflow created since the claim's create_started_at (list rows
//     carry no metadata, so the creation time is the only link) and records the oldest such
//     session; otherwise it creates one, which Didit's session reuse makes safe too (see
//     didit.Client.CreateSession).
//
// # One Didit session can answer several claims
//
// Didit returns the unfinished session of a vendor_data on a workflow instead of creating a
// second one, overwriting its metadata (shared/didit-api.md §9.4). Two verified sessions of one
// user asking for the same kind therefore get the same Didit session, and both claims record
// its id. When that session is decided, the scorer publishes a decision whose step_up_kind is
// set; this function then completes every created claim of the profile whose Didit session the
// profile shows decided, so none is left dangling. The step's outcome is on the profile, where
// the scorer records it (step_ups.{kind}); the claim keeps Didit's status.
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
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
)

// Defaults for the zero values of Service's tuning fields.
const (
	DefaultLease      = 2 * time.Minute
	DefaultStepBudget = 45 * time.Second
	DefaultClaimTTL   = 30 * 24 * time.Hour
)

// DefaultVerifyHost is Didit's hosted verification flow (shared/didit-api.md §5).
const DefaultVerifyHost = "verify.didit.me"

// Reasons a pending step shows while it waits for the time Didit gave: a 429 (rate limit,
// sandbox quota) or a 503 with a Retry-After.
const (
	ReasonRateLimit   = "didit rate limit"
	ReasonUnavailable = "didit unavailable"
)

// Recovery of a lost create answer reads at most recoverListLimit rows (one request), and
// counts as ours a session created at most clockSkew before the claim's create_started_at.
const (
	recoverListLimit = 10
	clockSkew        = time.Minute
)

// ErrStepFailed marks a decision whose steps Didit refused for good: the refusal is recorded on
// the claim and the profile, so the event is acked, not retried.
var ErrStepFailed = errors.New("step-up refused permanently")

// Didit is the part of the Didit API the service uses; *didit.Client is one.
type Didit interface {
	CreateSession(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error)
	ListSessions(ctx context.Context, q didit.SessionQuery) ([]didit.SessionSummary, error)
	AddToBlocklist(ctx context.Context, sessionID string, face, document bool) error
	CreateReview(ctx context.Context, sessionID string, newStatus didit.Status, comment string) error
	UpdateStatus(ctx context.Context, sessionID string, newStatus didit.Status, comment string) error
}

// Profiles shows step-up states on risk profiles; *profile.Store is one.
type Profiles interface {
	RecordStepUp(ctx context.Context, profileID string, st profile.StepUp) error
	RecordDiditRequest(ctx context.Context, profileID string, r profile.DiditRequest) error
	Get(ctx context.Context, profileID string) (profile.Profile, bool, error)
}

// Service handles decision events. Didit, Claims, Profiles and Log are required.
type Service struct {
	Didit    Didit
	Claims   Claims
	Profiles Profiles
	Log      *slog.Logger

	Workflows        map[policy.StepKind]string // kind → Didit workflow id
	CallbackURL      string
	BlocklistOnBlock bool
	// ReviewRequests asks Didit's console to review a session whose decision is review
	// (DIDIT_REVIEW_REQUESTS); DeclineOnBlock declines a blocked session in Didit
	// (DIDIT_DECLINE_ON_BLOCK). See review.go.
	ReviewRequests bool
	DeclineOnBlock bool
	// VerifyHosts are the hosts (host[:port]) a Didit session URL may point at to be shown to
	// product code; empty means DefaultVerifyHost. An https URL elsewhere, or an http URL on a
	// host that is not loopback, fails the step.
	VerifyHosts []string
	// FaceSearch, when set, runs a Didit Face Search for verdicts at or above its MinLevel
	// (facesearch.go); nil: off (FACE_SEARCH).
	FaceSearch *FaceSearch

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

// HandleEvent is the CloudEvent function for decision messages: it decodes the Pub/Sub message,
// handles the decision, and ends as every event function does, through failure.EventOutcome:
// nil is acked; a step Didit refused for good is already recorded failed (failure.Recorded) and
// acked; an event that does not decode is retried, then dead-lettered, where it can be
// inspected and replayed (acking it would silently lose a step the scorer asked for); anything
// else (Didit or Firestore unavailable, claim busy, a step deferred until the time Didit gave)
// is retried with the subscription's backoff. A wait longer than the subscription's attempts
// cover dead-letters the message; the claim and the profile still show the step pending with
// retry_at and its reason, and replaying the dead letter after that time resumes it, once.
func (s *Service) HandleEvent(ctx context.Context, e event.Event) error {
	msg, err := queue.Decode(e)
	if err != nil {
		return s.end(ctx, msg, message.Decision{}, err)
	}
	return s.HandleMessage(ctx, msg)
}

// HandleMessage handles one decoded decision message, as HandleEvent does.
func (s *Service) HandleMessage(ctx context.Context, msg queue.MessagePublished) error {
	d, err := message.DecodeDecision(msg.Message.Data)
	if err == nil {
		err = s.Handle(ctx, d)
	}
	return s.end(ctx, msg, d, err)
}

// end logs a decision's end when it is not a plain success and returns failure.Resolve's answer.
func (s *Service) end(ctx context.Context, msg queue.MessagePublished, d message.Decision, err error) error {
	if err == nil {
		return nil
	}
	o := failure.EventOutcome(err)
	s.Log.LogAttrs(ctx, o.Level, "step-up decision "+o.Message,
		slog.String(logging.KeyEvent, d.AssessmentID), slog.String("message_id", msg.Message.ID),
		slog.Int("delivery_attempt", msg.DeliveryAttempt), slog.String("assessment_id", d.AssessmentID),
		slog.String("action", string(d.Action)), slog.String("error_kind", failure.KindOf(err).String()),
		slog.String("error", err.Error()))
	return failure.Resolve(err)
}

// Handle acts on one decision. It returns nil when everything is done, an error wrapping
// ErrStepFailed when some step was refused for good (and recorded so), and a Transient error
// when something must be retried.
func (s *Service) Handle(ctx context.Context, d message.Decision) error {
	if d.StepUpKind != "" {
		// The assessed session was a step-up: its decision settles the claims it answers.
		if err := s.completeAnswered(ctx, d); err != nil {
			return err
		}
	}
	// A Face Search runs before a blocklisting, whatever the action (facesearch.go).
	searched := s.searchFace(ctx, d)
	// The decision actions this function acts on (the subscriptions filter on them).
	var err error
	switch d.Action {
	case policy.StepUp:
		err = s.stepUps(ctx, d)
	case policy.Review:
		err = s.review(ctx, d)
	case policy.Block:
		err = s.block(ctx, d)
	default:
		s.Log.DebugContext(ctx, "decision ignored", logging.KeyEvent, d.AssessmentID, "assessment_id", d.AssessmentID, "action", d.Action)
	}
	return joinOutcomes(err, searched)
}

// result is one step's end, for its log line and the decision's error.
type result struct {
	kind     ClaimKind
	claim    string
	outcome  string // created, recovered, failed, deferred, already_created, already_failed, busy, retry, unrecorded, blocklisted
	attempt  int
	session  string
	reason   string
	retryAt  time.Time
	refused  bool // refused for good in this invocation
	err      error
	duration time.Duration
}

func (s *Service) stepUps(ctx context.Context, d message.Decision) error {
	var kinds []policy.StepKind
	for _, k := range d.RequiredSteps {
		if k = policy.StepKind(strings.TrimSpace(string(k))); k != "" && !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	var errs []error
	refused := 0
	for _, kind := range kinds {
		start := time.Now()
		r := s.step(ctx, d, kind)
		r.duration = time.Since(start)
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
		return failure.Recorded(failure.Errorf(failure.Invalid, "assessment %s: %d of %d steps: %w", d.AssessmentID, refused, len(kinds), ErrStepFailed))
	}
	return nil
}

// action is the Didit work a claim guards. It runs only while its caller owns the claim, under
// the step budget, and returns the claim's settled state and the outcome to log; an error is
// settled failed when permanent, deferred when Didit asked for a wait, and released otherwise.
type action func(ctx context.Context, c Claim, grant Grant) (settled Claim, outcome string, err error)

// claimed is the one claim lifecycle of step-ups and of requests about the verified session
// (review, decline, blocklist): acquire the claim of
// (d's session, kind); unless it is settled, busy or deferred, show it pending on the profile,
// run act, and settle, defer or release the claim by act's result.
func (s *Service) claimed(ctx context.Context, d message.Decision, kind ClaimKind, workflow string, act action) result {
	now := s.now()
	subject := d.SessionID
	if subject == "" {
		subject = "assessment:" + d.AssessmentID // a decision always names its session; never share a claim otherwise
	}
	id := ClaimID(subject, kind)
	owner := s.owner()
	c, grant, err := s.Claims.Acquire(ctx, id, Claim{
		State: policy.StepPending, Owner: owner, LeaseUntil: now.Add(orDefault(s.Lease, DefaultLease)),
		Kind: kind, ProfileID: d.ProfileID, AssessmentID: d.AssessmentID, OriginSessionID: d.SessionID,
		WorkflowID: workflow, CreatedAt: now, UpdatedAt: now, ExpireAt: now.Add(orDefault(s.ClaimTTL, DefaultClaimTTL)),
	})
	r := result{kind: kind, claim: id, attempt: c.Attempts}
	if err != nil {
		r.outcome, r.err = "retry", err
		return r
	}
	switch grant {
	case GrantDone:
		r.outcome, r.session, r.reason = "already_"+string(c.State), c.DiditSessionID, c.Reason
		if c.State != policy.StepCompleted || isRequest(c.Kind) {
			// Show it again: an earlier handler may have stopped between settling and recording.
			// A completed step's outcome is recorded by the scorer, not rewritten here.
			r.err = s.record(ctx, c)
		}
		return r
	case GrantBusy:
		r.outcome = "busy"
		r.err = failure.Errorf(failure.Transient, "step %s is being handled by another instance (lease until %s)", id, c.LeaseUntil.UTC().Format(time.RFC3339))
		return r
	case GrantDeferred:
		r.outcome, r.reason, r.retryAt = "deferred", c.Reason, c.RetryAt
		r.err = failure.Errorf(failure.Transient, "step %s waits until %s (%s)", id, c.RetryAt.UTC().Format(time.RFC3339), c.Reason)
		return r
	}

	if err := s.record(ctx, c); err != nil {
		s.release(ctx, d, id, owner, Deferral{})
		r.outcome, r.err = "retry", err
		return r
	}
	dctx, cancel := context.WithTimeout(ctx, orDefault(s.StepBudget, DefaultStepBudget))
	res, outcome, err := act(dctx, c, grant)
	cancel()
	switch {
	case err == nil:
		r.outcome = outcome
		return s.settle(ctx, d, id, owner, res, r)
	case failure.Permanent(err):
		return s.settle(ctx, d, id, owner, Claim{State: policy.StepFailed, Reason: reason(err)}, r)
	}
	if wait, ok := didit.RetryAfter(err); ok {
		// Didit asked for a wait that does not fit this invocation: hand the message back, and
		// neither this nor any redelivery calls Didit before the time it gave.
		def := Deferral{Until: s.now().Add(wait), Reason: ReasonRateLimit}
		if ae := (*didit.APIError)(nil); errors.As(err, &ae) && ae.StatusCode != http.StatusTooManyRequests {
			def.Reason = ReasonUnavailable
		}
		s.release(ctx, d, id, owner, def)
		c.RetryAt, c.Reason = def.Until, def.Reason
		r.outcome, r.reason, r.retryAt = "deferred", def.Reason, def.Until
		r.err = failure.New(failure.Transient, errors.Join(
			fmt.Errorf("step %s deferred %s until %s: %w", id, wait, def.Until.UTC().Format(time.RFC3339), err), s.record(ctx, c)))
		return r
	}
	s.release(ctx, d, id, owner, Deferral{})
	r.outcome, r.err = "retry", err
	return r
}

// step makes sure d's session has its Didit session of this kind, once.
func (s *Service) step(ctx context.Context, d message.Decision, kind policy.StepKind) result {
	workflow := s.Workflows[kind]
	return s.claimed(ctx, d, StepUpClaim(kind), workflow, func(ctx context.Context, c Claim, grant Grant) (Claim, string, error) {
		if workflow == "" {
			return Claim{State: policy.StepFailed, Reason: fmt.Sprintf("no workflow configured for step-up kind %q", kind)}, "failed", nil
		}
		sess, outcome, err := s.session(ctx, d, c, grant)
		if err != nil {
			return Claim{}, "", err
		}
		if why := s.refuseURL(sess.URL); why != "" {
			return Claim{State: policy.StepFailed, DiditSessionID: sess.SessionID, Reason: why}, "failed", nil
		}
		return Claim{State: policy.StepCreated, DiditSessionID: sess.SessionID, URL: sess.URL}, outcome, nil
	})
}

// session returns the claim's Didit session: on a takeover after an earlier owner may have
// created it, the one found in one short listing page; otherwise a new (or, by Didit's reuse
// rule, the user's unfinished) session. A decision without vendor_data (an anonymous session)
// can be neither listed nor reused: after a lost answer its takeover may create a second
// session (the claim records one; the other is never shown to product code).
func (s *Service) session(ctx context.Context, d message.Decision, c Claim, grant Grant) (didit.SessionCreated, string, error) {
	if grant == GrantTakeover && !c.CreateStartedAt.IsZero() && d.UserID != "" {
		rows, err := s.Didit.ListSessions(ctx, didit.SessionQuery{VendorData: d.UserID, WorkflowID: c.WorkflowID, Limit: recoverListLimit})
		if err != nil {
			return didit.SessionCreated{}, "", err
		}
		if row, ok := oldestSince(rows, d.UserID, c.CreateStartedAt.Add(-clockSkew)); ok {
			return didit.SessionCreated{SessionID: row.SessionID, URL: row.SessionURL, Status: row.Status, VendorData: row.VendorData}, "recovered", nil
		}
	}
	sess, err := s.Didit.CreateSession(ctx, didit.CreateSessionRequest{
		WorkflowID: c.WorkflowID,
		VendorData: d.UserID,
		Callback:   s.CallbackURL,
		// The link names the claim's first assessment, as the profile's step_ups.{kind} does, so
		// the scorer matches the session's decision to it.
		Metadata: map[string]any{profile.StepUpMetadataKey: profile.StepUpLink{
			ProfileID: c.ProfileID, AssessmentID: c.AssessmentID, OriginSessionID: c.OriginSessionID, Kind: policy.StepKind(c.Kind),
		}},
	})
	return sess, "created", err
}

// oldestSince picks, from a newest-first listing, the oldest session of vendorData created at or
// after since: the one an earlier owner's create made (or, with Didit's reuse, returned). A
// session created since by something else on the same step-up workflow for the same user
// would be taken too; it answers the same kind for the same user.
func oldestSince(rows []didit.SessionSummary, vendorData string, since time.Time) (didit.SessionSummary, bool) {
	var out didit.SessionSummary
	found := false
	for _, r := range rows {
		if r.SessionID != "" && r.VendorData == vendorData && !r.CreatedAt.Before(since) && (!found || r.CreatedAt.Before(out.CreatedAt)) {
			out, found = r, true
		}
	}
	return out, found
}

// refuseURL says why a session URL from Didit must not be shown to product code (which sends
// users there), or "" when it may: https on one of VerifyHosts, or http on a loopback one (a
// local simulator). The URL itself is never part of the reason: it is a bearer link.
func (s *Service) refuseURL(raw string) string {
	hosts := s.VerifyHosts
	if len(hosts) == 0 {
		hosts = []string{DefaultVerifyHost}
	}
	u, err := url.Parse(raw)
	switch {
	case raw == "" || err != nil || u.Host == "":
		return "didit returned no usable session url"
	case u.User != nil || !slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, u.Host) }):
		return "didit session url refused: not on a verification host (DIDIT_VERIFY_HOSTS)"
	case u.Scheme == "https", u.Scheme == "http" && config.IsLoopback(u.Host):
		return ""
	default:
		return "didit session url refused: not https"
	}
}

// settle records the step's end on the claim, then on the profile. A failure to write after
// Didit created the session leaves the claim pending under this owner's lease, deliberately not
// released: the redelivery that takes over once the lease has run out finds the session in
// Didit's listing, or gets it back from the create by Didit's reuse rule.
func (s *Service) settle(ctx context.Context, d message.Decision, id, owner string, res Claim, r result) result {
	res.UpdatedAt = s.now()
	stored, settled, err := s.Claims.Settle(ctx, id, owner, res)
	if err != nil {
		r.outcome, r.session, r.err = "unrecorded", res.DiditSessionID, err
		return r
	}
	if res.State == policy.StepFailed {
		r.outcome, r.reason = "failed", res.Reason
		r.refused = settled
	}
	if !settled {
		// Another owner settled first. With the lease and the step budget this needs a handler
		// stalled past its lease; if both got different sessions, say so loudly.
		if res.DiditSessionID != "" && stored.DiditSessionID != "" && stored.DiditSessionID != res.DiditSessionID {
			s.Log.ErrorContext(ctx, "duplicate Didit session for one step-up", logging.KeyEvent, d.AssessmentID, "claim", id,
				"kind", stored.Kind, "kept_session_id", stored.DiditSessionID, "extra_session_id", res.DiditSessionID)
		}
		r.outcome = "already_" + string(stored.State)
		r.refused = false
	}
	r.session = stored.DiditSessionID
	if stored.State != policy.StepCompleted || isRequest(stored.Kind) {
		if err := s.record(ctx, stored); err != nil {
			r.err = err
		}
	}
	return r
}

// completeAnswered completes the created claims of d's profile whose Didit session the profile
// shows decided as a step-up session of the claim's kind: with Didit's session reuse, one
// session answers every claim that recorded it. Each claim moves once (a transaction), so
// redeliveries and concurrent decisions are harmless.
func (s *Service) completeAnswered(ctx context.Context, d message.Decision) error {
	p, found, err := s.Profiles.Get(ctx, d.ProfileID)
	if err != nil || !found {
		return err
	}
	open, err := s.Claims.Created(ctx, d.ProfileID)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range open {
		st, ok := p.Sessions[c.DiditSessionID]
		if !ok || !st.Decided || StepUpClaim(st.StepUpKind) != c.Kind {
			continue
		}
		_, done, err := s.Claims.Complete(ctx, c.ID, c.DiditSessionID, st.Status, s.now())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if done {
			s.Log.InfoContext(ctx, "step-up", logging.KeyEvent, d.AssessmentID, "assessment_id", c.AssessmentID, "claim", c.ID,
				"kind", c.Kind, "outcome", "completed", "didit_session_id", c.DiditSessionID, "didit_status", st.Status)
		}
	}
	if len(errs) > 0 {
		return failure.New(failure.Transient, errors.Join(errs...))
	}
	return nil
}

// release gives up the lease after a retryable failure, so the redelivery need not wait for it
// (unless the deferral says when it may try). It is best effort: if it fails, the lease simply
// runs out.
func (s *Service) release(ctx context.Context, d message.Decision, id, owner string, def Deferral) {
	if err := s.Claims.Release(ctx, id, owner, s.now(), def); err != nil {
		s.Log.WarnContext(ctx, "release step-up claim", logging.KeyEvent, d.AssessmentID, "claim", id, "error", err.Error())
	}
}

// record shows a claim's state on the profile as step_ups.{kind}, or, for a request about the
// verified session itself, didit_requests.{kind}.
func (s *Service) record(ctx context.Context, c Claim) error {
	if isRequest(c.Kind) {
		return s.Profiles.RecordDiditRequest(ctx, c.ProfileID, profile.DiditRequest{
			Kind: profile.RequestKind(c.Kind), Status: c.State, SessionID: c.OriginSessionID, AssessmentID: c.AssessmentID,
			Reason: c.Reason, RetryAt: c.RetryAt, CreatedAt: c.CreatedAt, UpdatedAt: s.now(),
		})
	}
	if isFaceSearchKind(c.Kind) {
		return s.publishFaceSearch(ctx, c)
	}
	return s.Profiles.RecordStepUp(ctx, c.ProfileID, profile.StepUp{
		Kind: policy.StepKind(c.Kind), Status: c.State, AssessmentID: c.AssessmentID, OriginSessionID: c.OriginSessionID,
		DiditSessionID: c.DiditSessionID, URL: c.URL, Reason: c.Reason, RetryAt: c.RetryAt,
		CreatedAt: c.CreatedAt, UpdatedAt: s.now(),
	})
}

// logStep writes the one line per step: ids, outcome and attempt only — never the API key, the
// user id or the session URL.
func (s *Service) logStep(ctx context.Context, d message.Decision, r result) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String(logging.KeyEvent, d.AssessmentID),
		slog.String("assessment_id", d.AssessmentID),
		slog.String("kind", string(r.kind)),
		slog.String("outcome", r.outcome),
		slog.Int("attempt", r.attempt),
		slog.Int64("duration_ms", r.duration.Milliseconds()),
	}
	if r.claim != "" {
		attrs = append(attrs, slog.String("claim", r.claim))
	}
	if r.session != "" {
		attrs = append(attrs, slog.String("didit_session_id", r.session))
	}
	if r.reason != "" {
		attrs = append(attrs, slog.String("reason", r.reason))
	}
	if !r.retryAt.IsZero() {
		attrs = append(attrs, slog.Time("retry_at", r.retryAt.UTC()))
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
