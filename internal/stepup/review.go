package stepup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

// Requests about the verified session itself, under the step-ups' claims
// (step_up_claims/{session}:{kind}): each is made once per session, whatever the number of
// deliveries and assessments. None is a step-up kind; each shows on the profile as
// didit_requests.{kind}.
//
//   - review: a review decision asks Didit's console for a person's review (POST
//     /v3/sessions/{id}/reviews/, In Review), unless Didit's status for the session is In
//     Review already. Didit may answer with an In Review webhook of its own; its assessment
//     finds the session In Review and the claim settled, and asks nothing.
//   - decline: a block decision declines the session in Didit (update-status, Declined).
//   - blocklist: a block decision puts the session's face and document on Didit's blocklist.
//
// Decline and blocklist act only on a signature-covered decision (acting on forged data would
// lock an innocent user out of Didit) and never on a session awaiting a person's review: the
// profile already says block, so product code keeps the user out, and the reviewer decides.
const (
	KindReview    = ClaimKind(profile.RequestReview)
	KindDecline   = ClaimKind(profile.RequestDecline)
	KindBlocklist = ClaimKind(profile.RequestBlocklist)
)

// Reasons a request was not made.
const (
	ReasonInReview       = "session already in review"
	ReasonAwaitingReview = "session awaiting review"
	ReasonUntrusted      = "decision not signature-covered"
)

// isRequest reports whether a claim kind is a request about the verified session rather than
// a step-up.
func isRequest(kind ClaimKind) bool {
	return kind == KindReview || kind == KindDecline || kind == KindBlocklist
}

// commentPrefix names the sender in Didit's console, where reviewers read the comment.
const commentPrefix = "didit-risk"

// maxCommentRules bounds the rules listed in a comment; a policy's rules are few, and a
// comment stays readable (and far inside Didit's 10,000 characters).
const maxCommentRules = 40

// ReviewComment is the comment of a review request: the policy's verdict and the rules that
// fired, as ids and points. Never descriptions (a policy may put data in them), and nothing
// about the user.
func ReviewComment(d message.Decision) string {
	return comment("review requested", d)
}

// DeclineComment is the comment of a decline on block.
func DeclineComment(d message.Decision) string {
	return comment("declined", d)
}

func comment(what string, d message.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (policy %s, action %s, score %d, level %s, assessment %s).", commentPrefix, what,
		orNone(d.PolicyVersion), orNone(string(d.Action)), d.Score, orNone(string(d.Level)), orNone(d.AssessmentID))
	if len(d.Reasons) == 0 {
		b.WriteString(" No rule fired.")
		return b.String()
	}
	b.WriteString(" Rules:")
	for i, r := range d.Reasons {
		if i == maxCommentRules {
			fmt.Fprintf(&b, " +%d more", len(d.Reasons)-i)
			break
		}
		fmt.Fprintf(&b, " %s(%+d)", r.Rule, r.Points)
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// awaitingReview reports whether a session waits for a person's review: Didit has it In
// Review, or a review was asked for (its claim is pending or completed) and no reviewer's
// verdict on the session has been recorded since. A review request Didit refused (failed)
// asked nobody.
func awaitingReview(status didit.Status, review *Claim, humanDecided bool) bool {
	if status == didit.StatusInReview {
		return true
	}
	asked := review != nil && (review.State == policy.StepPending || review.State == policy.StepCompleted)
	return asked && !humanDecided
}

// sessionState is what the profile and the claims say about d's session now: Didit's status
// (the profile's, which is at least as recent as the decision's; the decision's when the
// profile does not have the session), whether a person's verdict on it is recorded, and its
// review claim.
func (s *Service) sessionState(ctx context.Context, d message.Decision) (status didit.Status, humanDecided bool, review *Claim, err error) {
	status = d.SessionStatus
	p, found, err := s.Profiles.Get(ctx, d.ProfileID)
	if err != nil {
		return "", false, nil, failure.New(failure.Transient, err)
	}
	if found {
		if st, ok := p.Sessions[d.SessionID]; ok && st.Status != "" {
			status = didit.Status(st.Status)
		}
		humanDecided = p.HumanVerdict != nil && p.HumanVerdict.SessionID == d.SessionID
	}
	c, ok, err := s.Claims.Get(ctx, ClaimID(d.SessionID, KindReview))
	if err != nil {
		return "", false, nil, failure.New(failure.Transient, fmt.Errorf("read review claim: %w", err))
	}
	if ok {
		review = &c
	}
	return status, humanDecided, review, nil
}

// review asks Didit's console to review d's session, once.
func (s *Service) review(ctx context.Context, d message.Decision) error {
	start := time.Now()
	r := result{kind: KindReview, session: d.SessionID}
	status := d.SessionStatus
	switch {
	case !s.ReviewRequests:
		r.outcome = "disabled"
	case d.SessionID == "":
		r.outcome = "invalid"
		r.err = failure.Errorf(failure.Invalid, "review decision %s has no session id", d.AssessmentID)
	default:
		if status == "" {
			// A duplicate's decision may not know the status: the profile does.
			st, _, _, err := s.sessionState(ctx, d)
			if err != nil {
				r.outcome, r.err = "retry", err
				break
			}
			status = st
		}
		if status == didit.StatusInReview {
			r.outcome, r.reason = "skipped", ReasonInReview
			break
		}
		r = s.claimed(ctx, d, KindReview, "", func(ctx context.Context, _ Claim, _ Grant) (Claim, string, error) {
			if err := s.Didit.CreateReview(ctx, d.SessionID, didit.StatusInReview, ReviewComment(d)); err != nil {
				return Claim{}, "", err
			}
			return Claim{State: policy.StepCompleted, DiditSessionID: d.SessionID}, "review_requested", nil
		})
	}
	r.kind, r.duration = KindReview, time.Since(start)
	s.logStep(ctx, d, r)
	return requestErr(d, r)
}

// block declines d's session in Didit and puts it on Didit's blocklist, each when enabled and
// once, unless the decision is not signature-covered or the session awaits a person's review.
func (s *Service) block(ctx context.Context, d message.Decision) error {
	var kinds []ClaimKind
	if s.DeclineOnBlock {
		kinds = append(kinds, KindDecline)
	}
	if s.BlocklistOnBlock {
		kinds = append(kinds, KindBlocklist)
	}
	if len(kinds) == 0 {
		s.logStep(ctx, d, result{kind: KindBlocklist, outcome: "disabled"})
		return nil
	}
	start := time.Now()
	var skip string
	var guard error
	switch {
	case !d.DecisionTrusted:
		skip = ReasonUntrusted
	case d.SessionID == "":
		guard = failure.Errorf(failure.Invalid, "block decision %s has no session id", d.AssessmentID)
	default:
		status, human, review, err := s.sessionState(ctx, d)
		switch {
		case err != nil:
			guard = err
		case awaitingReview(status, review, human):
			skip = ReasonAwaitingReview
		}
	}
	var errs []error
	for _, kind := range kinds {
		r := result{kind: kind, session: d.SessionID}
		switch {
		case guard != nil:
			r.outcome, r.err = "retry", guard
			if failure.Permanent(guard) {
				r.outcome = "invalid"
			}
		case skip != "":
			r.outcome, r.reason = "skipped", skip
		default:
			r = s.claimed(ctx, d, kind, "", s.blockAction(d, kind))
			r.session = d.SessionID
		}
		r.kind, r.duration = kind, time.Since(start)
		s.logStep(ctx, d, r)
		if err := requestErr(d, r); err != nil && guard == nil {
			errs = append(errs, err)
		}
	}
	switch {
	case guard != nil:
		return guard
	case len(errs) == 1:
		return errs[0]
	case len(errs) > 1:
		// A retry of one and a recorded refusal of the other: the retry wins, and the refusal
		// stays settled on its claim, so the redelivery acks it without calling Didit.
		for _, err := range errs {
			if !failure.Permanent(err) {
				return failure.New(failure.Transient, errors.Join(errs...))
			}
		}
		return failure.Recorded(failure.Errorf(failure.Invalid, "block %s: %w", d.AssessmentID, errors.Join(errs...)))
	}
	return nil
}

// blockAction is the Didit call of a block request.
func (s *Service) blockAction(d message.Decision, kind ClaimKind) action {
	return func(ctx context.Context, _ Claim, _ Grant) (Claim, string, error) {
		switch kind {
		case KindDecline:
			// Declining a Declined session is a no-op for Didit, so a takeover simply calls again.
			if err := s.Didit.UpdateStatus(ctx, d.SessionID, didit.StatusDeclined, DeclineComment(d)); err != nil {
				return Claim{}, "", err
			}
			return Claim{State: policy.StepCompleted, DiditSessionID: d.SessionID}, "declined", nil
		default:
			// Didit keeps one blocklist entry per face or document, so a takeover simply calls again.
			if err := s.Didit.AddToBlocklist(ctx, d.SessionID, true, true); err != nil {
				return Claim{}, "", err
			}
			return Claim{State: policy.StepCompleted, DiditSessionID: d.SessionID}, "blocklisted", nil
		}
	}
}

// requestErr is a request's result as the decision's error: nil when done or not needed, the
// error to retry, or a recorded refusal (acked).
func requestErr(d message.Decision, r result) error {
	switch {
	case r.err != nil:
		return r.err
	case r.refused:
		return failure.Recorded(failure.Errorf(failure.Invalid, "%s %s: %w", r.kind, d.AssessmentID, ErrStepFailed))
	}
	return nil
}
