package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

var t0 = time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)

// seeded is a store with user u1 (a review verdict on session s1, its last assessment
// signature-covered), a user whose id needs escaping, and an anonymous profile.
func seeded() *fakeStore {
	s := newFakeStore()
	s.profiles["u1"] = profile.Profile{UserID: "u1", VerdictState: profile.VerdictAssessed, Score: 55, Level: "medium", Action: "review",
		Reasons: []profile.Reason{{Rule: "dup_document", Points: 40}, {Rule: "vpn", Points: 15}}, PolicyVersion: "2026-12-01.4",
		LastSessionID: "s1", LastAssessmentID: "a2", ReviewState: profile.ReviewOpen, UpdatedAt: t0.Add(-time.Hour),
		Sessions: map[string]profile.SessionState{"s1": {Status: "In Review", Decided: true}}}
	s.assessments["u1"] = []profile.Assessment{
		{ID: "a2", SessionID: "s1", VerdictSession: "s1", Score: 55, Level: "medium", Action: "review", Reasons: []profile.Reason{{Rule: "dup_document"}, {Rule: "vpn"}}, PolicyVersion: "2026-12-01.4", Trusted: true, CreatedAt: t0.Add(-time.Hour)},
		{ID: "a1", SessionID: "s0", VerdictSession: "s1", Score: 10, Level: "low", Action: "approve", PolicyVersion: "2026-12-01.3", Trusted: true, CreatedAt: t0.Add(-2 * time.Hour)},
	}
	s.profiles["u:a%2Fb"] = profile.Profile{UserID: "a/b", VerdictState: profile.VerdictAssessed, Level: "low", Action: "approve", LastSessionID: "s9", ReviewState: profile.ReviewNone}
	s.profiles["session:s5"] = profile.Profile{VerdictState: profile.VerdictAssessed, Level: "high", Action: "review", Score: 70, LastSessionID: "s5", ReviewState: profile.ReviewOpen, UpdatedAt: t0}
	return s
}

func newOp(s *fakeStore, pub *fakePublisher) *Operator {
	now := t0
	return &Operator{Store: s, Decisions: pub, Now: func() time.Time { now = now.Add(time.Second); return now }}
}

func TestResolve(t *testing.T) {
	op := newOp(seeded(), &fakePublisher{})
	for _, c := range []struct{ in, want, err string }{
		{in: "u1", want: "u1"},
		{in: "a/b", want: "u:a%2Fb"},     // a user id, mapped by profile.DocID
		{in: "u:a%2Fb", want: "u:a%2Fb"}, // the profile id itself
		{in: "session:s5", want: "session:s5"},
		{in: "nobody", err: "no such profile: nobody (tried nobody)"},
		{in: "x/y", err: "tried u:x%2Fy"},
		{in: "", err: "required"},
	} {
		t.Run(c.in, func(t *testing.T) {
			id, _, err := op.Resolve(context.Background(), c.in)
			if c.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, id)
		})
	}
}

func set(id string, a policy.Action, reason string) OverrideRequest {
	e, _ := ParseExpiry("72h")
	return OverrideRequest{ID: id, Action: a, Reason: reason, Expires: e, Actor: "ops"}
}

func clear(id string) ClearRequest {
	return ClearRequest{ID: id, Actor: "ops", Reason: "RISK-1 resolved"}
}

// TestOverrideSequences runs sequences of commands and checks, after each, whether the store
// changed and what was published.
func TestOverrideSequences(t *testing.T) {
	type step struct {
		set     *OverrideRequest
		clear   *ClearRequest
		changed bool
		action  policy.Action // the profile's action after the step
	}
	setA, setB := set("u1", policy.Block, "RISK-1 chargeback"), set("u1", policy.Approve, "RISK-2 false positive")
	clr := clear("u1")
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"set twice: the second changes nothing", []step{{set: &setA, changed: true, action: "block"}, {set: &setA, action: "block"}}},
		{"set, other set, first again: each applies", []step{{set: &setA, changed: true, action: "block"}, {set: &setB, changed: true, action: "approve"}, {set: &setA, changed: true, action: "block"}}},
		{"set, clear, set again: applies again", []step{{set: &setA, changed: true, action: "block"}, {clear: &clr, changed: true, action: "review"}, {set: &setA, changed: true, action: "block"}}},
		{"clear without override: nothing", []step{{clear: &clr, action: "review"}}},
		{"clear twice", []step{{set: &setB, changed: true, action: "approve"}, {clear: &clr, changed: true, action: "review"}, {clear: &clr, action: "review"}}},
		{"a user id reaches its profile", []step{{set: ptr(set("a/b", policy.Review, "RISK-3")), changed: true, action: "review"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, pub := seeded(), &fakePublisher{}
			op := newOp(s, pub)
			for i, st := range c.steps {
				before := len(pub.sent)
				var ch Change
				var err error
				if st.set != nil {
					ch, err = op.SetOverride(context.Background(), *st.set)
				} else {
					ch, err = op.ClearOverride(context.Background(), *st.clear)
				}
				require.NoError(t, err, "step %d", i)
				assert.Equal(t, st.changed, ch.Changed, "step %d", i)
				assert.Equal(t, st.action, ch.Action, "step %d", i)
				if !st.changed {
					assert.Len(t, pub.sent, before, "step %d: nothing published", i)
					assert.Nil(t, ch.Entry)
					continue
				}
				require.Len(t, pub.sent, before+1, "step %d: one decision", i)
				d := pub.decisions()[before]
				require.NotNil(t, ch.Entry)
				assert.Equal(t, ch.Entry.ID, d.AssessmentID, "the audit entry names the decision")
				assert.Equal(t, ch.ProfileID, d.ProfileID)
				assert.Equal(t, st.action, d.Action)
				assert.Equal(t, ch.Level, d.Level)
				assert.Equal(t, string(message.TypeDecision), pub.sent[before].attrs[message.AttrMessageType])
				assert.Equal(t, string(st.action), pub.sent[before].attrs[message.AttrAction])
				if st.set != nil {
					assert.Equal(t, "operator", d.DecidedBy, "step %d", i)
				} else {
					assert.Equal(t, "policy", d.DecidedBy, "step %d: the policy decides again", i)
				}
			}
			// every decision published has its own assessment id: consumers never drop one as a duplicate
			seen := map[string]bool{}
			for _, d := range pub.decisions() {
				assert.False(t, seen[d.AssessmentID], d.AssessmentID)
				seen[d.AssessmentID] = true
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestOverrideDecisionCarriesTheVerdict(t *testing.T) {
	s, pub := seeded(), &fakePublisher{}
	ch, err := newOp(s, pub).SetOverride(context.Background(), set("u1", policy.StepUp, "RISK-4"))
	require.NoError(t, err)
	require.Len(t, pub.sent, 1)
	d := pub.decisions()[0]
	assert.Equal(t, message.Decision{ProfileID: "u1", UserID: "u1", AssessmentID: ch.Entry.ID, SessionID: "s1", Score: 55, Level: "medium",
		Action: "step_up", PolicyVersion: "2026-12-01.4", Reasons: []message.Reason{{Rule: "dup_document", Points: 40}, {Rule: "vpn", Points: 15}},
		SessionStatus: "In Review", DecidedAt: d.DecidedAt, DecisionTrusted: true, DecidedBy: "operator"}, d)
	assert.Equal(t, "operator", pub.sent[0].attrs[message.AttrDecidedBy])
	assert.Equal(t, t0.Add(72*time.Hour+time.Second), s.profiles["u1"].Override.ExpiresAt)
	assert.Equal(t, "ops", ch.Entry.Actor)
	assert.Equal(t, profile.DecisionRecord{Level: "medium", Action: "review", DecidedBy: profile.DecidedByPolicy}, ch.Entry.Before)
	assert.Equal(t, profile.DecisionRecord{Level: "medium", Action: "step_up", DecidedBy: profile.DecidedByOperator}, ch.Entry.After)

	// a profile whose latest assessment is not signature-covered announces untrusted (fail closed)
	s.assessments["u1"][0].Trusted = false
	_, err = newOp(s, pub).SetOverride(context.Background(), set("u1", policy.Block, "RISK-5"))
	require.NoError(t, err)
	assert.False(t, pub.decisions()[1].DecisionTrusted)
}

func TestOverridePublishFailureThenRepublish(t *testing.T) {
	s, pub := seeded(), &fakePublisher{err: errors.New("pubsub down")}
	op := newOp(s, pub)
	r := set("u1", policy.Block, "RISK-6")
	ch, err := op.SetOverride(context.Background(), r)
	require.Error(t, err)
	assert.True(t, ch.Changed, "stored before the publish failed")
	assert.Contains(t, err.Error(), "-republish")

	pub.err = nil
	ch, err = op.SetOverride(context.Background(), r)
	require.NoError(t, err)
	assert.False(t, ch.Changed)
	assert.Empty(t, pub.sent, "the same command without -republish publishes nothing")

	r.Republish = true
	ch, err = op.SetOverride(context.Background(), r)
	require.NoError(t, err)
	assert.False(t, ch.Changed)
	require.Len(t, pub.sent, 1)
	assert.Equal(t, "set-"+s.profiles["u1"].Override.ID, pub.decisions()[0].AssessmentID, "the stored change's audit entry")
	assert.Equal(t, 1, s.writes, "one write in all")
}

func TestOverrideRefusedBeforeAnyRead(t *testing.T) {
	for name, r := range map[string]OverrideRequest{
		"email actor":   {ID: "u1", Action: policy.Block, Reason: "RISK-1", Expires: Expiry{After: time.Hour}, Actor: "ops@example.com"},
		"phone reason":  {ID: "u1", Action: policy.Block, Reason: "user said +1 415 555 0100", Expires: Expiry{After: time.Hour}, Actor: "ops"},
		"no action":     {ID: "u1", Reason: "RISK-1", Expires: Expiry{After: time.Hour}, Actor: "ops"},
		"no expiry":     {ID: "u1", Action: policy.Block, Reason: "RISK-1", Actor: "ops"},
		"expiry passed": {ID: "u1", Action: policy.Block, Reason: "RISK-1", Expires: Expiry{At: t0.Add(-time.Hour)}, Actor: "ops"},
	} {
		t.Run(name, func(t *testing.T) {
			s, pub := seeded(), &fakePublisher{}
			_, err := newOp(s, pub).SetOverride(context.Background(), r)
			require.Error(t, err)
			assert.Zero(t, s.writes)
			assert.Empty(t, pub.sent)
		})
	}
	s, pub := seeded(), &fakePublisher{}
	_, err := newOp(s, pub).ClearOverride(context.Background(), ClearRequest{ID: "u1", Actor: "ops", Reason: "mail x@y.io"})
	require.ErrorIs(t, err, ErrPersonalData)
}

func TestShow(t *testing.T) {
	s := seeded()
	s.audit["u1"] = []profile.AuditEntry{
		{ID: "e2", Kind: KindOverrideCleared, Actor: "ops", Reason: "RISK-1 resolved", At: t0.Add(-10 * time.Minute)},
		{ID: "e1", Kind: KindOverrideSet, Actor: "ops", Reason: "RISK-1", At: t0.Add(-20 * time.Minute)},
	}
	got, err := newOp(s, &fakePublisher{}).Show(context.Background(), "u1", 1)
	require.NoError(t, err)
	assert.Equal(t, "u1", got.ProfileID)
	assert.Equal(t, "review", got.Profile["action"])
	assert.Equal(t, []HistoryRow{{At: t0.Add(-time.Hour), AssessmentID: "a2", SessionID: "s1", Score: 55, Level: "medium", Action: "review",
		Rules: []string{"dup_document", "vpn"}, PolicyVersion: "2026-12-01.4", DecidedBy: "policy"}}, got.History)
	require.Len(t, got.Audit, 2)
	assert.Equal(t, []string{"e1", "e2"}, ids(got.Audit), "oldest first")

	// the JSON is stable: the same bytes twice, keys in order
	var a, b bytes.Buffer
	require.NoError(t, writeJSON(&a, got))
	require.NoError(t, writeJSON(&b, got))
	assert.Equal(t, a.String(), b.String())
	var back map[string]any
	require.NoError(t, json.Unmarshal(a.Bytes(), &back))
	assert.Contains(t, back, "history")

	got, err = newOp(s, &fakePublisher{}).Show(context.Background(), "session:s5", 20)
	require.NoError(t, err)
	assert.Empty(t, got.History)
	assert.NotNil(t, got.Audit, "an empty trail is [], not null")
}

func TestReviews(t *testing.T) {
	got, err := newOp(seeded(), &fakePublisher{}).Reviews(context.Background(), 10)
	require.NoError(t, err)
	assert.Equal(t, []Review{
		{ProfileID: "session:s5", Level: "high", Score: 70, Action: "review", Rules: []string{}, Since: t0},
		{ProfileID: "u1", Level: "medium", Score: 55, Action: "review", Rules: []string{"dup_document", "vpn"}, Since: t0.Add(-time.Hour)},
	}, got)
	var out bytes.Buffer
	require.NoError(t, writeReviews(&out, got))
	assert.Contains(t, out.String(), "u1          medium  55     review  dup_document,vpn")
	assert.Contains(t, out.String(), "(2 open)")
}
