package profile

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/riskwire/didit-risk/internal/docstore"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
)

// RequestKind is a kind of didit_requests: what the step-up function asked Didit to do about a
// session.
type RequestKind string

// Request kinds.
const (
	RequestReview    RequestKind = "review"    // POST /v3/sessions/{id}/reviews/ with In Review: a person looks in Didit's console
	RequestDecline   RequestKind = "decline"   // PATCH /v3/session/{id}/update-status/ to Declined (DIDIT_DECLINE_ON_BLOCK)
	RequestBlocklist RequestKind = "blocklist" // POST /v3/blocklist/add/ with the face and document (DIDIT_BLOCKLIST_ON_BLOCK)
)

// DiditRequest is didit_requests.{kind}: the latest request of a kind, for operators. Status
// is pending (with retry_at and reason while Didit asked to wait), completed (Didit accepted
// it) or failed (Didit refused it for good: reason). At most one request of a kind is ever
// made per session.
type DiditRequest struct {
	Kind         RequestKind       `firestore:"kind"`
	Status       policy.StepStatus `firestore:"status"` // pending, completed or failed
	SessionID    string            `firestore:"session_id"`
	AssessmentID string            `firestore:"assessment_id"` // the first assessment that asked
	Reason       string            `firestore:"reason,omitempty"`
	RetryAt      time.Time         `firestore:"retry_at,omitempty"`
	CreatedAt    time.Time         `firestore:"created_at"`
	UpdatedAt    time.Time         `firestore:"updated_at"`
}

// RecordDiditRequest shows a request's state on the profile, in didit_requests.{kind}, with
// RecordStepUp's rules: never backwards, never an older assessment's request over a newer
// one's. Only that field, updated_at and schema_version are written.
func (s *Store) RecordDiditRequest(ctx context.Context, profileID string, r DiditRequest) error {
	_, err := docstore.Update(ctx, s.fs, s.profileRef(profileID), func(p *Profile, _ bool) (bool, error) {
		cur, ok := p.DiditRequests[string(r.Kind)]
		if ok && !requestSupersedes(r, cur) {
			return false, nil
		}
		if ok && cur.SessionID == r.SessionID && !cur.CreatedAt.IsZero() {
			r.CreatedAt = cur.CreatedAt
		}
		if p.DiditRequests == nil {
			p.DiditRequests = map[string]DiditRequest{}
		}
		p.DiditRequests[string(r.Kind)] = r
		p.UpdatedAt, p.SchemaVersion = r.UpdatedAt, SchemaVersion
		return true, nil
	}, firestore.Merge([]string{"didit_requests", string(r.Kind)}, []string{"updated_at"}, []string{"schema_version"}))
	if err != nil {
		return failure.New(failure.Transient, fmt.Errorf("record didit %s request for %s: %w", r.Kind, r.AssessmentID, err))
	}
	return nil
}

// requestSupersedes reports whether next should replace cur: a request about another session
// replaces it when it is not older; one about the same session only moves it forward.
func requestSupersedes(next, cur DiditRequest) bool {
	if next.SessionID != cur.SessionID {
		return !next.CreatedAt.Before(cur.CreatedAt)
	}
	return stepRank[next.Status] >= stepRank[cur.Status]
}
