package operator

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
)

// fakeStore keeps profiles in memory and applies overrides the way the profile store's API
// promises: the same override id twice changes nothing; each change appends an audit entry.
type fakeStore struct {
	profiles    map[string]profile.Profile
	assessments map[string][]profile.Assessment // newest first
	audit       map[string][]profile.AuditEntry
	writes      int
	setErr      error
}

func newFakeStore() *fakeStore {
	return &fakeStore{profiles: map[string]profile.Profile{}, assessments: map[string][]profile.Assessment{}, audit: map[string][]profile.AuditEntry{}}
}

func (s *fakeStore) Get(_ context.Context, id string) (profile.Profile, bool, error) {
	p, ok := s.profiles[id]
	return p, ok, nil
}

func (s *fakeStore) Document(_ context.Context, id string) (map[string]any, bool, error) {
	p, ok := s.profiles[id]
	if !ok {
		return nil, false, nil
	}
	return map[string]any{"user_id": p.UserID, "level": string(p.Level), "action": string(p.Action), "score": int64(p.Score)}, true, nil
}

func (s *fakeStore) History(_ context.Context, id string, n int) ([]profile.Assessment, error) {
	as := s.assessments[id]
	return as[:min(n, len(as))], nil
}

func record(p profile.Profile) profile.DecisionRecord {
	by := p.DecidedBy
	if by == "" {
		by = profile.DecidedByPolicy
	}
	return profile.DecisionRecord{Level: p.Level, Action: p.Action, DecidedBy: by}
}

func (s *fakeStore) SetOverride(_ context.Context, id string, o profile.Override, _ profile.Evaluator, now time.Time) (profile.Profile, bool, error) {
	if s.setErr != nil {
		return profile.Profile{}, false, s.setErr
	}
	p, ok := s.profiles[id]
	if !ok {
		return p, false, errors.New("no profile")
	}
	if p.Override != nil && p.Override.ID == o.ID {
		return p, false, nil
	}
	before := record(p)
	if p.PolicyVerdict == nil {
		p.PolicyVerdict = &profile.PolicyVerdict{Score: p.Score, Level: p.Level, Action: p.Action}
	}
	p.Override, p.Action, p.DecidedBy, p.UpdatedAt = &o, o.Action, profile.DecidedByOperator, now
	s.profiles[id] = p
	s.writes++
	s.audit[id] = append(s.audit[id], profile.AuditEntry{ID: "set-" + o.ID, Kind: KindOverrideSet, Actor: o.Actor, Before: before, After: record(p), Reason: o.Reason, At: now})
	return p, true, nil
}

func (s *fakeStore) ClearOverride(_ context.Context, id, actor, reason string, _ profile.Evaluator, now time.Time) (profile.Profile, bool, error) {
	p, ok := s.profiles[id]
	if !ok {
		return p, false, errors.New("no profile")
	}
	if p.Override == nil {
		return p, false, nil
	}
	before := record(p)
	p.Override, p.Action, p.DecidedBy = nil, p.PolicyVerdict.Action, profile.DecidedByPolicy
	p.PolicyVerdict = nil
	s.profiles[id] = p
	s.writes++
	s.audit[id] = append(s.audit[id], profile.AuditEntry{ID: fmt.Sprintf("clr-%d", len(s.audit[id])), Kind: KindOverrideCleared, Actor: actor, Before: before, After: record(p), Reason: reason, At: now})
	return p, true, nil
}

func (s *fakeStore) AuditTrail(_ context.Context, id string) ([]profile.AuditEntry, error) {
	// newest first, as a store might return them: the operator orders them itself
	out := append([]profile.AuditEntry(nil), s.audit[id]...)
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

func (s *fakeStore) OpenReviews(_ context.Context, limit int) ([]profile.Profile, error) {
	var out []profile.Profile
	for _, id := range sortedIDs(s.profiles) {
		if p := s.profiles[id]; p.ReviewState == profile.ReviewOpen && len(out) < limit {
			out = append(out, p)
		}
	}
	return out, nil
}

func sortedIDs(m map[string]profile.Profile) []string {
	ids := make([]string, 0, len(m))
	for id := range maps.Keys(m) {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// fakePublisher records what is published; err fails every publish.
type fakePublisher struct {
	sent []sent
	err  error
}

type sent struct {
	data  []byte
	attrs map[string]string
}

func (p *fakePublisher) Publish(_ context.Context, data []byte, attrs map[string]string) (string, error) {
	if p.err != nil {
		return "", p.err
	}
	p.sent = append(p.sent, sent{data: data, attrs: attrs})
	return fmt.Sprintf("m%d", len(p.sent)), nil
}

func (p *fakePublisher) decisions() []message.Decision {
	out := make([]message.Decision, len(p.sent))
	for i, s := range p.sent {
		d, err := message.DecodeDecision(s.data)
		if err != nil {
			panic(err)
		}
		out[i] = d
	}
	return out
}

var _ queue.Publisher = (*fakePublisher)(nil)
