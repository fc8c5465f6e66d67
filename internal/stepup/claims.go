package stepup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/profile"
)

// ClaimsCollection holds one claim per (assessment, kind): step_up_claims/{assessment id}:{kind}.
// Its expire_at field is meant for a Firestore TTL policy.
const ClaimsCollection = "step_up_claims"

// ClaimID is the claim document id of a step. A '/' in an id is escaped: Firestore ids cannot
// hold one.
func ClaimID(assessmentID, kind string) string {
	return url.PathEscape(assessmentID) + ":" + url.PathEscape(kind)
}

// Claim is the record that makes a step happen once. State moves pending → created | failed
// (profile.StepPending, StepCreated, StepFailed; StepCompleted for a done blocklisting) and
// never back. While pending, Owner holds it until LeaseUntil.
type Claim struct {
	State           string    `firestore:"state"`
	Owner           string    `firestore:"owner"`
	LeaseUntil      time.Time `firestore:"lease_until"`
	Attempts        int       `firestore:"attempts"` // how many owners have held it
	Kind            string    `firestore:"kind"`
	ProfileID       string    `firestore:"profile_id"`
	AssessmentID    string    `firestore:"assessment_id"`
	OriginSessionID string    `firestore:"origin_session_id"`
	WorkflowID      string    `firestore:"workflow_id,omitempty"`
	DiditSessionID  string    `firestore:"didit_session_id,omitempty"`
	URL             string    `firestore:"url,omitempty"`
	Reason          string    `firestore:"reason,omitempty"`
	CreatedAt       time.Time `firestore:"created_at"`
	UpdatedAt       time.Time `firestore:"updated_at"`
	ExpireAt        time.Time `firestore:"expire_at"` // TTL: a few weeks after the claim
}

// Grant is what Acquire decided.
type Grant int

const (
	// GrantNew: the claim did not exist; the caller owns it and nothing reached Didit before.
	GrantNew Grant = iota
	// GrantTakeover: a pending claim whose lease had expired; the caller owns it now, and an
	// earlier owner may have reached Didit before it stopped.
	GrantTakeover
	// GrantBusy: another owner holds a live lease; the caller must not call Didit.
	GrantBusy
	// GrantDone: the claim is settled; nothing is left to do.
	GrantDone
)

func (g Grant) String() string {
	return [...]string{"new", "takeover", "busy", "done"}[g]
}

// Claims is the claim storage the service needs; ClaimStore is the Firestore one.
type Claims interface {
	// Acquire creates the claim as want describes (want.UpdatedAt is "now"), or takes over an
	// expired pending one, or reports it busy or done. It returns the claim as stored.
	Acquire(ctx context.Context, id string, want Claim) (Claim, Grant, error)
	// Settle moves a pending claim to result.State with result's session id, URL and reason.
	// settled is false, and the stored claim returned, when it was already settled.
	Settle(ctx context.Context, id, owner string, result Claim) (stored Claim, settled bool, err error)
	// Release ends owner's lease early so a redelivery can take over without waiting.
	Release(ctx context.Context, id, owner string, now time.Time) error
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
func (s *ClaimStore) Get(ctx context.Context, id string) (c Claim, found bool, err error) {
	snap, err := s.ref(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return c, false, nil
	}
	if err != nil {
		return c, false, failure.New(failure.Transient, fmt.Errorf("read claim %s: %w", id, err))
	}
	if err := snap.DataTo(&c); err != nil {
		return c, false, fmt.Errorf("decode claim %s: %w", id, err)
	}
	return c, true, nil
}

// Acquire implements Claims.
func (s *ClaimStore) Acquire(ctx context.Context, id string, want Claim) (Claim, Grant, error) {
	var (
		out   Claim
		grant Grant
	)
	ref := s.ref(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			out, grant = want, GrantNew
			out.Attempts = 1
			return tx.Create(ref, out)
		}
		if err != nil {
			return err
		}
		var cur Claim
		if err := snap.DataTo(&cur); err != nil {
			return fmt.Errorf("decode claim: %w", err)
		}
		switch {
		case cur.State != profile.StepPending:
			out, grant = cur, GrantDone
			return nil
		case cur.Owner != want.Owner && cur.LeaseUntil.After(want.UpdatedAt):
			out, grant = cur, GrantBusy
			return nil
		}
		cur.Owner, cur.LeaseUntil, cur.UpdatedAt = want.Owner, want.LeaseUntil, want.UpdatedAt
		cur.WorkflowID = want.WorkflowID
		cur.Attempts++
		out, grant = cur, GrantTakeover
		return tx.Set(ref, cur)
	})
	if err != nil {
		return Claim{}, 0, failure.New(failure.Transient, fmt.Errorf("acquire claim %s: %w", id, err))
	}
	return out, grant, nil
}

// errNoClaim means a claim vanished under its owner (deleted by hand, or TTL'd).
var errNoClaim = errors.New("claim does not exist")

// Settle implements Claims. It settles a pending claim whoever owns it: an owner whose lease ran
// out still made its Didit call, and the first result recorded is the one kept.
func (s *ClaimStore) Settle(ctx context.Context, id, owner string, result Claim) (Claim, bool, error) {
	var (
		out     Claim
		settled bool
	)
	ref := s.ref(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return errNoClaim
		}
		if err != nil {
			return err
		}
		var cur Claim
		if err := snap.DataTo(&cur); err != nil {
			return fmt.Errorf("decode claim: %w", err)
		}
		if cur.State != profile.StepPending {
			out, settled = cur, false
			return nil
		}
		cur.State, cur.DiditSessionID, cur.URL, cur.Reason = result.State, result.DiditSessionID, result.URL, result.Reason
		cur.UpdatedAt = result.UpdatedAt
		cur.LeaseUntil = time.Time{}
		out, settled = cur, true
		return tx.Set(ref, cur)
	})
	if err != nil {
		return Claim{}, false, failure.New(failure.Transient, fmt.Errorf("settle claim %s: %w", id, err))
	}
	return out, settled, nil
}

// Release implements Claims; it does nothing unless owner still holds a pending claim.
func (s *ClaimStore) Release(ctx context.Context, id, owner string, now time.Time) error {
	ref := s.ref(id)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return nil
		}
		if err != nil {
			return err
		}
		var cur Claim
		if err := snap.DataTo(&cur); err != nil {
			return fmt.Errorf("decode claim: %w", err)
		}
		if cur.State != profile.StepPending || cur.Owner != owner {
			return nil
		}
		return tx.Update(ref, []firestore.Update{{Path: "lease_until", Value: now}, {Path: "updated_at", Value: now}})
	})
	if err != nil {
		return failure.New(failure.Transient, fmt.Errorf("release claim %s: %w", id, err))
	}
	return nil
}
