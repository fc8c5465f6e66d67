package profile

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

func TestDocID(t *testing.T) {
	tests := []struct{ vendor, session, want string }{
		{"user-42", "s", "user-42"},
		{"", "s1", "session:s1"},
		{"a/b", "s", "u:a%2Fb"},
		{"u:a%2Fb", "s", "u:u:a%252Fb"}, // cannot collide with the escaped "a/b"
		{"..", "s", "u:.."},
		{"__x__", "s", "u:__x__"},
		{"session:s1", "s", "u:session:s1"},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) { assert.Equal(t, tt.want, DocID(tt.vendor, tt.session)) })
	}
}

func TestSessionsOnlyMoveForward(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cur := SessionState{Status: "Approved", EventTime: t0}
	tests := []struct {
		name   string
		status didit.Status
		at     time.Time
		want   bool
	}{
		{"older", "In Progress", t0.Add(-time.Second), false},
		{"newer reviewer decline", "Declined", t0.Add(time.Second), true},
		{"same second, earlier stage", "In Progress", t0, false},
		{"same second, same status (retry)", "Approved", t0, false},
		{"same second, later stage", "Kyc Expired", t0, true},
		{"same second, Declined wins over Approved", "Declined", t0, true},
		{"same second, review does not move a verdict", "In Review", t0, false},
		{"same second, resubmission does not move a verdict", "Resubmitted", t0, false},
		{"unknown status never moves at the same second", "Weird", t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, moves(cur, Event{Status: tt.status, EventTime: tt.at}))
		})
	}
	declined := SessionState{Status: "Declined", EventTime: t0}
	assert.False(t, moves(declined, Event{Status: "Approved", EventTime: t0}), "Approved never undoes a Declined of the same second")
	assert.True(t, moves(declined, Event{Status: "Approved", EventTime: t0.Add(time.Second)}), "a reviewer's later approval does")
}

// TestStatusOrderIsTotal: every Didit session status has its own rank, so same-second webhooks
// of one session end in the same state whatever order they arrive in.
func TestStatusOrderIsTotal(t *testing.T) {
	all := []didit.Status{"Not Started", "In Progress", "Awaiting User", "In Review", "Approved", "Declined",
		"Resubmitted", "Expired", "Abandoned", "Kyc Expired"}
	ranks := map[int]didit.Status{}
	for _, s := range all {
		r := statusRank(s)
		require.GreaterOrEqual(t, r, 0, s)
		require.NotContains(t, ranks, r, "%s and %s share a rank", s, ranks[r])
		ranks[r] = s
	}
	t0 := time.Unix(1000, 0)
	for _, a := range all {
		for _, b := range all {
			end := func(first, second didit.Status) didit.Status {
				cur := SessionState{Status: first, EventTime: t0}
				if moves(cur, Event{Status: second, EventTime: t0}) {
					return second
				}
				return first
			}
			assert.Equal(t, end(a, b), end(b, a), "%s then %s", a, b)
		}
	}
}

func TestStepUpNeverMovesBackwards(t *testing.T) {
	t0 := time.Unix(1000, 0)
	created := StepUp{AssessmentID: "a1", Status: policy.StepCreated, CreatedAt: t0}
	assert.False(t, supersedes(StepUp{AssessmentID: "a1", Status: policy.StepPending, CreatedAt: t0}, created))
	assert.True(t, supersedes(StepUp{AssessmentID: "a1", Status: policy.StepCompleted, CreatedAt: t0}, created))
	assert.True(t, supersedes(StepUp{AssessmentID: "a2", Status: policy.StepPending, CreatedAt: t0.Add(time.Minute)}, created))
	assert.False(t, supersedes(StepUp{AssessmentID: "a0", Status: policy.StepCreated, CreatedAt: t0.Add(-time.Minute)}, created))
}

// TestVerdictIndependentOfOrder folds the same webhooks into a profile in many orders, with
// duplicates, and expects the same verdict as the in-order run: the verdict is derived from
// the facts, never from the arrival order.
func TestVerdictIndependentOfOrder(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	t0 := time.Unix(1767225600, 0).UTC()
	sig := func(status string, liveness float64, doc string, codes ...string) scoring.Signals {
		return scoring.Signals{DiditStatus: status, LivenessStatus: "Approved", LivenessScore: liveness, DocumentHash: doc,
			RiskCodes: codes, FeaturesPresent: []string{"session", "liveness", "id"}}
	}
	events := []Event{
		{Key: "e1", SessionID: "s1", Status: "In Progress", EventTime: t0},
		{Key: "e2", SessionID: "s1", Status: "Approved", EventTime: t0.Add(time.Minute), HasDecision: true, Signals: sig("Approved", 95, "doc-a"), DocumentHash: "doc-a"},
		{Key: "e3", SessionID: "s2", Status: "Declined", EventTime: t0.Add(time.Hour), HasDecision: true, Signals: sig("Declined", 30, "doc-b", "LOW_LIVENESS_SCORE")},
		{Key: "e4", SessionID: "s3", Status: "Approved", EventTime: t0.Add(2 * time.Hour), HasDecision: true, Signals: sig("Approved", 70, "doc-c", "POSSIBLE_DUPLICATED_USER")},
		{Key: "e5", SessionID: "s3", Status: "In Progress", EventTime: t0.Add(90 * time.Minute)},
		// An earlier decision of s1 (In Review, then Approved): when it arrives late it is stale,
		// yet its document was seen first at its time.
		{Key: "e6", SessionID: "s1", Status: "In Review", EventTime: t0.Add(30 * time.Second), HasDecision: true, Signals: sig("In Review", 95, "doc-a"), DocumentHash: "doc-a"},
	}
	fold := func(order []Event) Profile {
		p := newProfile(Event{UserID: "u"}, t0)
		seen := map[string]bool{}
		for _, ev := range order {
			if seen[ev.Key] {
				continue // the marker document
			}
			seen[ev.Key] = true
			if cur, ok := p.Sessions[ev.SessionID]; ok && !moves(cur, ev) {
				recordStaleT(&p, cur, ev, eng, nil) // as Apply does for a stale event
				continue
			}
			recordT(&p, ev, eng, t0, nil)
		}
		return p
	}
	want := fold(events)
	require.NotEmpty(t, want.Level)
	require.Equal(t, "s3", want.LastSessionID)

	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		var order []Event
		for range 3 {
			order = append(order, events...)
		}
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		got := fold(order)
		assert.Equal(t, want.Score, got.Score, "order %d", i)
		assert.Equal(t, want.Level, got.Level, "order %d", i)
		assert.Equal(t, want.Action, got.Action, "order %d", i)
		assert.Equal(t, want.Reasons, got.Reasons, "order %d", i)
		assert.Equal(t, want.RequiredSteps, got.RequiredSteps, "order %d", i)
		assert.Equal(t, want.ReviewState, got.ReviewState, "order %d", i)
		assert.Equal(t, want.Aggregates, got.Aggregates, "order %d", i)
		for id, s := range want.Sessions {
			assert.Equal(t, s.Status, got.Sessions[id].Status, "order %d session %s", i, id)
			assert.Equal(t, s.FirstSeen, got.Sessions[id].FirstSeen, "order %d session %s", i, id)
		}
	}
}
