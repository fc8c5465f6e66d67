package profile

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Store reads and writes risk profiles.
type Store struct {
	fs   *firestore.Client
	opts Options
}

// NewStore wraps a Firestore client; opts (at most one is read) override the defaults.
func NewStore(fs *firestore.Client, opts ...Options) *Store {
	s := &Store{fs: fs}
	if len(opts) > 0 {
		s.opts = opts[0]
	}
	return s
}

func (s *Store) profileRef(id string) *firestore.DocumentRef {
	return s.fs.Collection(Profiles).Doc(id)
}

var stepRank = map[string]int{StepPending: 0, StepCreated: 1, StepFailed: 2, StepCompleted: 3}

// RecordStepUp shows a step-up's state on the profile, in step_ups.{kind}. A write never moves
// a step backwards (a late "created" after "completed") and never replaces the step of a newer
// assessment with an older one, so duplicate or reordered deliveries are harmless.
func (s *Store) RecordStepUp(ctx context.Context, profileID string, st StepUp) error {
	ref := s.profileRef(profileID)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		snap, err := tx.Get(ref)
		if err != nil && status.Code(err) != codes.NotFound {
			return err
		}
		var p Profile
		if snap != nil && snap.Exists() {
			if err := snap.DataTo(&p); err != nil {
				return fmt.Errorf("decode profile: %w", err)
			}
		}
		if cur, ok := p.StepUps[st.Kind]; ok && !supersedes(st, cur) {
			return nil
		}
		if cur, ok := p.StepUps[st.Kind]; ok && cur.AssessmentID == st.AssessmentID && !cur.CreatedAt.IsZero() {
			st.CreatedAt = cur.CreatedAt
		}
		return tx.Set(ref, map[string]any{
			"step_ups":       map[string]any{st.Kind: st},
			"updated_at":     st.UpdatedAt,
			"schema_version": SchemaVersion,
		}, firestore.Merge([]string{"step_ups", st.Kind}, []string{"updated_at"}, []string{"schema_version"}))
	})
	if err != nil {
		return failure.New(failure.Transient, fmt.Errorf("record step-up %s for %s: %w", st.Kind, st.AssessmentID, err))
	}
	return nil
}

// supersedes reports whether next should replace cur.
func supersedes(next, cur StepUp) bool {
	if next.AssessmentID != cur.AssessmentID {
		return !next.CreatedAt.Before(cur.CreatedAt)
	}
	return stepRank[next.Status] >= stepRank[cur.Status]
}

// Get reads a profile; found is false when the user has none yet.
func (s *Store) Get(ctx context.Context, profileID string) (p Profile, found bool, err error) {
	snap, err := s.profileRef(profileID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return p, false, nil
	}
	if err != nil {
		return p, false, failure.New(failure.Transient, fmt.Errorf("read profile %s: %w", profileID, err))
	}
	if err := snap.DataTo(&p); err != nil {
		return p, false, fmt.Errorf("decode profile %s: %w", profileID, err)
	}
	return p, true, nil
}
