package stepup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/docstore"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

// ClaimsCollection holds one claim per (verified session, kind):
// step_up_claims/{session id}:{kind}. Its expire_at field is meant for a Firestore TTL policy.
const ClaimsCollection = "step_up_claims"

// ClaimKind is what a claim is for: a step-up (a policy.StepKind), a request to Didit about the
// verified session (a profile.RequestKind), or a Face Search (KindFaceSearch).
type ClaimKind string

// StepUpClaim is the claim kind of a step-up of kind k.
func StepUpClaim(k policy.StepKind) ClaimKind { return ClaimKind(k) }

// RequestClaim is the claim kind of a request of kind k.
func RequestClaim(k profile.RequestKind) ClaimKind { return ClaimKind(k) }

// ClaimID is the claim document id of a step about one verified session (the decision's
// session, which a step-up answers). A '/' in an id is escaped: Firestore ids cannot hold one.
func ClaimID(sessionID string, kind ClaimKind) string {
	return url.PathEscape(sessionID) + ":" + url.PathEscape(string(kind))
}

// Claim is the record that makes a step happen once per verified session and kind, whatever
// number of assessments ask for it. State moves pending → created → completed, or pending →
// failed (a blocklisting goes pending → completed), and never back. While pending, Owner holds
// it until LeaseUntil, and RetryAt, when set, says Didit asked not to be called before then.
type Claim struct {
	ID              string            `firestore:"-"`
	State           policy.StepStatus `firestore:"state"`
	Owner           string            `firestore:"owner"`
	LeaseUntil      time.Time         `firestore:"lease_until"`
	Attempts        int               `firestore:"attempts"` // how many owners have held it
	Kind            ClaimKind         `firestore:"kind"`
	ProfileID       string            `firestore:"profile_id"`
	AssessmentID    string            `firestore:"assessment_id"` // the first assessment that asked
	OriginSessionID string            `firestore:"origin_session_id"`
	WorkflowID      string            `firestore:"workflow_id,omitempty"`
	DiditSessionID  string            `firestore:"didit_session_id,omitempty"`
	URL             string            `firestore:"url,omitempty"`
	Reason          string            `firestore:"reason,omitempty"`
	// DiditStatus is the step-up session's Didit status when it completed (e.g. "Approved").
	DiditStatus didit.Status `firestore:"didit_status,omitempty"`
	// CreateStartedAt is when an owner was first granted the claim: no create for this claim
	// can have reached Didit before it, so recovering a lost answer looks only at sessions
	// created since.
	CreateStartedAt time.Time `firestore:"create_started_at"`
	RetryAt         time.Time `firestore:"retry_at,omitempty"`
	CreatedAt       time.Time `firestore:"created_at"`
	UpdatedAt       time.Time `firestore:"updated_at"`
	ExpireAt        time.Time `firestore:"expire_at"` // TTL: a few weeks after the claim
	// FaceSearch is a Face Search claim's result, derived facts only: kept from the search
	// (state created) until the scorer's message is published (completed), so a lost publish
	// is repeated without searching again.
	FaceSearch *didit.FaceSearchFacts `firestore:"face_search,omitempty"`
}

// Grant is what Acquire decided.
type Grant int

const (
	// GrantNew: the claim did not exist; the caller owns it and nothing reached Didit before.
	GrantNew Grant = iota
	// GrantTakeover: a pending claim whose lease had expired (or was released); the caller owns
	// it now, and an earlier owner may have reached Didit before it stopped.
	GrantTakeover
	// GrantBusy: another owner holds a live lease; the caller must not call Didit.
	GrantBusy
	// GrantDone: the claim is settled; nothing is left to do.
	GrantDone
	// GrantDeferred: the claim waits until its RetryAt (Didit asked for it); the caller must
	// not call Didit before then.
	GrantDeferred
)

func (g Grant) String() string {
	return [...]string{"new", "takeover", "busy", "done", "deferred"}[g]
}

// Deferral is why and until when a released claim must not be tried.
type Deferral struct {
	Until  time.Time
	Reason string
}

// Claims is the claim storage the service needs; ClaimStore is the Firestore one.
type Claims interface {
	// Acquire creates the claim as want describes (want.UpdatedAt is "now"), or takes over an
	// expired pending one, or reports it busy, deferred or done. It returns the claim as stored.
	Acquire(ctx context.Context, id string, want Claim) (Claim, Grant, error)
	// Settle moves a pending claim to result.State with result's session id, URL and reason.
	// settled is false, and the stored claim returned, when it was already settled.
	Settle(ctx context.Context, id, owner string, result Claim) (stored Claim, settled bool, err error)
	// Release ends owner's lease early so a redelivery can take over without waiting; a
	// non-zero defer makes the claim wait until defer.Until.
	Release(ctx context.Context, id, owner string, now time.Time, deferral Deferral) error
	// Created returns the profile's claims in state created: step-ups waiting for their user.
	Created(ctx context.Context, profileID string) ([]Claim, error)
	// Complete moves a created claim whose Didit session is diditSessionID to completed.
	// completed is false when the claim was not in that state (already completed, say).
	Complete(ctx context.Context, id, diditSessionID string, diditStatus didit.Status, now time.Time) (stored Claim, completed bool, err error)
	// Get reads a claim; found is false when there is none.
	Get(ctx context.Context, id string) (c Claim, found bool, err error)
}

// ClaimStore keeps claims in Firestore; every change is a transaction on the claim document,
// so two instances racing for one claim are serialised by Firestore.
type ClaimStore struct {
	fs   *firestore.Client
	coll string
}

// NewClaimStore returns a store on ClaimsCollection.
func NewClaimStore(fs *firestore.Client) *ClaimStore {
	return &ClaimStore{fs: fs, coll: ClaimsCollection}
}

func (s *ClaimStore) ref(id string) *firestore.DocumentRef { return s.fs.Collection(s.coll).Doc(id) }

// Get reads a claim; found is false when there is none.
func (s *ClaimStore) Get(ctx context.Context, id string) (Claim, bool, error) {
	c, found, err := docstore.Get[Claim](ctx, s.ref(id))
	c.ID = id
	return c, found, err
}

// Acquire implements Claims.
func (s *ClaimStore) Acquire(ctx context.Context, id string, want Claim) (Claim, Grant, error) {
	var grant Grant
	now := want.UpdatedAt
	out, err := docstore.Update(ctx, s.fs, s.ref(id), func(cur *Claim, exists bool) (bool, error) {
		g, write := decideAcquire(cur, exists, want, now)
		grant = g
		return write, nil
	})
	out.ID = id
	if err != nil {
		return Claim{}, 0, fmt.Errorf("acquire claim %s: %w", id, err)
	}
	return out, grant, nil
}

// decideAcquire is Acquire's rule, shared with the in-memory claims of the unit tests: it
// changes *cur as the store must write it and says whether to write.
func decideAcquire(cur *Claim, exists bool, want Claim, now time.Time) (Grant, bool) {
	switch {
	case !exists:
		*cur = want
		cur.Attempts, cur.CreateStartedAt = 1, now
		return GrantNew, true
	case cur.State != policy.StepPending:
		return GrantDone, false
	case cur.RetryAt.After(now):
		return GrantDeferred, false
	case cur.Owner != want.Owner && cur.LeaseUntil.After(now):
		return GrantBusy, false
	}
	cur.Owner, cur.LeaseUntil, cur.UpdatedAt = want.Owner, want.LeaseUntil, now
	cur.WorkflowID = want.WorkflowID
	if cur.CreateStartedAt.IsZero() {
		cur.CreateStartedAt = now
	}
	cur.RetryAt, cur.Reason = time.Time{}, ""
	cur.Attempts++
	return GrantTakeover, true
}

// errNoClaim means a claim vanished under its owner (deleted by hand, or TTL'd).
var errNoClaim = errors.New("claim does not exist")

// Settle implements Claims. It settles a pending claim whoever owns it: an owner whose lease ran
// out still made its Didit call, and the first result recorded is the one kept.
func (s *ClaimStore) Settle(ctx context.Context, id, owner string, result Claim) (Claim, bool, error) {
	var settled bool
	out, err := docstore.Update(ctx, s.fs, s.ref(id), func(cur *Claim, exists bool) (bool, error) {
		if !exists {
			return false, failure.Errorf(failure.Transient, "settle claim %s: %w", id, errNoClaim)
		}
		settled = applySettle(cur, result)
		return settled, nil
	})
	out.ID = id
	if err != nil {
		return Claim{}, false, fmt.Errorf("settle claim %s: %w", id, err)
	}
	return out, settled, nil
}

// applySettle is Settle's rule.
func applySettle(cur *Claim, result Claim) bool {
	if cur.State != policy.StepPending {
		return false
	}
	cur.State, cur.DiditSessionID, cur.URL, cur.Reason = result.State, result.DiditSessionID, result.URL, result.Reason
	cur.FaceSearch = result.FaceSearch
	cur.UpdatedAt = result.UpdatedAt
	cur.LeaseUntil, cur.RetryAt = time.Time{}, time.Time{}
	return true
}

// Release implements Claims; it does nothing unless owner still holds a pending claim.
func (s *ClaimStore) Release(ctx context.Context, id, owner string, now time.Time, d Deferral) error {
	_, err := docstore.Update(ctx, s.fs, s.ref(id), func(cur *Claim, exists bool) (bool, error) {
		return exists && applyRelease(cur, owner, now, d), nil
	})
	if err != nil {
		return fmt.Errorf("release claim %s: %w", id, err)
	}
	return nil
}

// applyRelease is Release's rule.
func applyRelease(cur *Claim, owner string, now time.Time, d Deferral) bool {
	if cur.State != policy.StepPending || cur.Owner != owner {
		return false
	}
	cur.LeaseUntil, cur.UpdatedAt = now, now
	cur.RetryAt, cur.Reason = d.Until, d.Reason
	return true
}

// Created implements Claims: equality filters only, which Firestore serves from its automatic
// single-field indexes (no composite index to deploy).
func (s *ClaimStore) Created(ctx context.Context, profileID string) ([]Claim, error) {
	it := s.fs.Collection(s.coll).Where("profile_id", "==", profileID).Where("state", "==", policy.StepCreated).
		Limit(maxCreatedClaims).Documents(ctx)
	defer it.Stop()
	var out []Claim
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, failure.New(failure.Transient, fmt.Errorf("query created claims of %s: %w", profileID, err))
		}
		var c Claim
		if err := snap.DataTo(&c); err != nil {
			return nil, failure.New(failure.Internal, fmt.Errorf("decode claim %s: %w", snap.Ref.ID, err))
		}
		c.ID = snap.Ref.ID
		out = append(out, c)
	}
}

// maxCreatedClaims bounds one sweep: a user has a handful of open step-ups, one per kind and
// verified session; anything beyond is left for the next completed step-up.
const maxCreatedClaims = 50

// Complete implements Claims.
func (s *ClaimStore) Complete(ctx context.Context, id, diditSessionID string, diditStatus didit.Status, now time.Time) (Claim, bool, error) {
	var done bool
	out, err := docstore.Update(ctx, s.fs, s.ref(id), func(cur *Claim, exists bool) (bool, error) {
		done = exists && applyComplete(cur, diditSessionID, diditStatus, now)
		return done, nil
	})
	out.ID = id
	if err != nil {
		return Claim{}, false, fmt.Errorf("complete claim %s: %w", id, err)
	}
	return out, done, nil
}

// applyComplete is Complete's rule.
func applyComplete(cur *Claim, diditSessionID string, diditStatus didit.Status, now time.Time) bool {
	if cur.State != policy.StepCreated || cur.DiditSessionID != diditSessionID {
		return false
	}
	cur.State, cur.DiditStatus, cur.UpdatedAt = policy.StepCompleted, diditStatus, now
	return true
}
