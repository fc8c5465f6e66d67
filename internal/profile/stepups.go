package profile

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"

	"github.com/riskwire/didit-risk/internal/docstore"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
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

var stepRank = map[policy.StepStatus]int{policy.StepPending: 0, policy.StepCreated: 1, policy.StepFailed: 2, policy.StepCompleted: 3}

// RecordStepUp shows a step-up's state on the profile, in step_ups.{kind}. A write never moves
// a step backwards (a late "created" after "completed") and never replaces the step of a newer
// assessment with an older one, so duplicate or reordered deliveries are harmless. Only
// step_ups.{kind}, updated_at and schema_version are written.
func (s *Store) RecordStepUp(ctx context.Context, profileID string, st StepUp) error {
	_, err := docstore.Update(ctx, s.fs, s.profileRef(profileID), func(p *Profile, _ bool) (bool, error) {
		cur, ok := p.StepUps[string(st.Kind)]
		if ok && !supersedes(st, cur) {
			return false, nil
		}
		if ok && cur.AssessmentID == st.AssessmentID && !cur.CreatedAt.IsZero() {
			st.CreatedAt = cur.CreatedAt
		}
		if p.StepUps == nil {
			p.StepUps = map[string]StepUp{}
		}
		p.StepUps[string(st.Kind)] = st
		p.UpdatedAt, p.SchemaVersion = st.UpdatedAt, SchemaVersion
		return true, nil
	}, firestore.Merge([]string{"step_ups", string(st.Kind)}, []string{"updated_at"}, []string{"schema_version"}))
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
func (s *Store) Get(ctx context.Context, profileID string) (Profile, bool, error) {
	p, found, err := docstore.Get[Profile](ctx, s.profileRef(profileID))
	if err != nil {
		return p, false, fmt.Errorf("profile %s: %w", profileID, err)
	}
	return p, found, nil
}
