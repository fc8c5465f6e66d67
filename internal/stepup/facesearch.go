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
	"github.com/riskwire/didit-risk/internal/queue"
)

// Face Search (issue 14): when a verdict reaches FaceSearch.MinLevel, the session's current
// face is read from Didit (its decision's liveness reference or portrait link, downloaded and
// held in memory for this one call) and sent to Didit's Face Search 1:N with
// save_api_request=false. Exactly once per (session, search type), through the same claims
// as step-ups: the claim face_search:<type> goes pending → created (searched; the derived facts
// kept on the claim) → completed (the facts published for the scorer). A lost publish is
// repeated from the claim without searching again; once completed, nothing is published again,
// so the scorer's re-announced decisions cannot loop back into searches. What leaves this
// function is didit.FaceSearchFacts alone, on the webhooks topic as a message.FaceSearch: the
// scorer folds it into the profile and re-scores the user.

// kindFaceSearchPrefix starts the claim kind of a Face Search: face_search:<search type>.
const kindFaceSearchPrefix = "face_search:"

// KindFaceSearch is the claim kind of a Face Search of searchType; it is not a step-up kind.
func KindFaceSearch(searchType string) ClaimKind { return ClaimKind(kindFaceSearchPrefix + searchType) }

func isFaceSearchKind(kind ClaimKind) bool {
	return strings.HasPrefix(string(kind), kindFaceSearchPrefix)
}

// ReasonNoFace is what a Face Search claim records when the session's decision has no face.
const ReasonNoFace = "no face image in the session's decision"

// FaceSearcher is the part of the Didit API a Face Search uses; *didit.Client is one.
type FaceSearcher interface {
	SessionFace(ctx context.Context, sessionID string, mediaHosts []string) ([]byte, error)
	FaceSearch(ctx context.Context, img []byte, searchType string) (didit.FaceSearchAnswer, error)
}

// FaceSearch configures the Face Search of high-risk sessions; nil on Service: off.
type FaceSearch struct {
	Didit FaceSearcher
	// Type is didit.SearchBlocklistedOrApproved or didit.SearchMostSimilar.
	Type string
	// MinLevel is the lowest verdict level searched (FACE_SEARCH_MIN_LEVEL).
	MinLevel policy.Level
	// MediaHosts are the hosts the face image link may point at (DIDIT_MEDIA_HOSTS).
	MediaHosts []string
	// Publisher is the webhooks topic, which the scorer reads.
	Publisher queue.Publisher
}

// searchFace runs the Face Search a decision calls for, once per session and search type; nil
// when it calls for none, is done, or was refused for good (recorded on the claim).
func (s *Service) searchFace(ctx context.Context, d message.Decision) error {
	fs := s.FaceSearch
	if fs == nil || !policy.Level(d.Level).Valid() || policy.Level(d.Level).Rank() < fs.MinLevel.Rank() {
		return nil // not asked for: the subscription filters let more through than this handles
	}
	start := time.Now()
	kind := KindFaceSearch(fs.Type)
	var r result
	switch {
	case !d.DecisionTrusted:
		// A biometric search on data no signature covered would be a search for nothing.
		r.outcome, r.reason = "skipped", "decision not signature-covered"
	case d.SessionID == "":
		r.outcome = "invalid"
		r.err = failure.Errorf(failure.Invalid, "decision %s has no session id to search the face of", d.AssessmentID)
	default:
		r = s.claimed(ctx, d, kind, "", func(ctx context.Context, _ Claim, _ Grant) (Claim, string, error) {
			img, err := fs.Didit.SessionFace(ctx, d.SessionID, fs.MediaHosts)
			if errors.Is(err, didit.ErrNoFace) {
				return Claim{State: policy.StepCompleted, Reason: ReasonNoFace}, "no_face", nil
			}
			if err != nil {
				return Claim{}, "", fmt.Errorf("face of session %s: %w", d.SessionID, err)
			}
			ans, err := fs.Didit.FaceSearch(ctx, img, fs.Type)
			clear(img) // the image is discarded; nothing of it is kept
			if err != nil {
				return Claim{}, "", err
			}
			facts := ans.Facts(fs.Type, d.UserID, d.SessionID)
			return Claim{State: policy.StepCreated, FaceSearch: &facts}, "searched", nil
		})
	}
	r.kind, r.duration = kind, time.Since(start)
	s.logStep(ctx, d, r)
	switch {
	case r.err != nil:
		return r.err
	case r.refused:
		return failure.Recorded(failure.Errorf(failure.Invalid, "face search %s: %w", d.AssessmentID, ErrStepFailed))
	}
	return nil
}

// publishFaceSearch publishes a searched claim's facts for the scorer, then completes the
// claim; a claim in any other state has nothing to publish.
func (s *Service) publishFaceSearch(ctx context.Context, c Claim) error {
	if c.State != policy.StepCreated || c.FaceSearch == nil || s.FaceSearch == nil {
		return nil
	}
	m := message.FaceSearch{ProfileID: c.ProfileID, SessionID: c.OriginSessionID, AssessmentID: c.AssessmentID,
		Facts: *c.FaceSearch, SearchedAt: c.UpdatedAt.UTC()}
	data, err := m.Encode()
	if err != nil {
		return err
	}
	if _, err := s.FaceSearch.Publisher.Publish(ctx, data, m.Attributes()); err != nil {
		return failure.New(failure.Transient, fmt.Errorf("publish face search %s: %w", m.Key(), err))
	}
	if _, _, err := s.Claims.Complete(ctx, c.ID, "", "", s.now()); err != nil {
		// Published but not marked: a redelivery publishes again, which the scorer dedupes.
		return failure.New(failure.Transient, err)
	}
	return nil
}

// joinOutcomes combines the ends of two independent pieces of one decision's work: nil when
// both are done; a retry when either must be retried (both are idempotent through their
// claims); otherwise the permanent one.
func joinOutcomes(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case !failure.Permanent(a) || !failure.Permanent(b):
		return failure.New(failure.Transient, errors.Join(a, b))
	}
	return a
}
