package profile

import (
	"bytes"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
)

// memStore folds events the way Apply does against Firestore, without it: the profile is kept
// as Firestore keeps it (no signals on its sessions) and the assessments by id; a fold reads
// the signals it needs from them.
type memStore struct {
	p     Profile
	as    map[string]*Assessment
	reads int // assessments read by the last event
}

func newMemStore() *memStore {
	return &memStore{p: newProfile(Event{UserID: "u"}, t0), as: map[string]*Assessment{}}
}

// asStored is p as read back: sessions without their signals.
func asStored(p Profile) Profile {
	p.Sessions = maps.Clone(p.Sessions)
	for id, st := range p.Sessions {
		st.Signals = nil
		p.Sessions[id] = st
	}
	p.StepUps = maps.Clone(p.StepUps)
	return p
}

func (m *memStore) apply(t *testing.T, ev Event, eng Evaluator) {
	t.Helper()
	m.reads = 0
	if _, dup := m.as[ev.Key]; dup {
		return
	}
	p := asStored(m.p)
	load := loadSignals(func(ids []string) ([]*Assessment, error) {
		m.reads += len(ids)
		out := make([]*Assessment, len(ids))
		for i, id := range ids {
			out[i] = m.as[id]
		}
		return out, nil
	})
	if cur, ok := p.Sessions[ev.SessionID]; ok && !moves(cur, ev) {
		_, err := recordStaleT(&p, cur, ev, eng, load)
		require.NoError(t, err)
		m.p = p
		return
	}
	a, err := recordT(&p, ev, eng, t0, load)
	require.NoError(t, err)
	if a != nil {
		m.as[a.ID] = a
	}
	m.p = p
}

// sameVerdict asserts that two folds reached the same verdict, on the user and on each session.
func sameVerdict(t *testing.T, want, got Profile, msg ...any) {
	t.Helper()
	assert.Equal(t, want.VerdictState, got.VerdictState, msg...)
	assert.Equal(t, want.Score, got.Score, msg...)
	assert.Equal(t, want.Level, got.Level, msg...)
	assert.Equal(t, want.Action, got.Action, msg...)
	assert.Equal(t, want.Reasons, got.Reasons, msg...)
	assert.Equal(t, want.RequiredSteps, got.RequiredSteps, msg...)
	assert.Equal(t, want.LastSessionID, got.LastSessionID, msg...)
	assert.Equal(t, want.Aggregates, got.Aggregates, msg...)
	assert.Equal(t, facts(want), facts(got), msg...)
}

// facts are p's sessions without what depends on which assessments were there to read: a
// step-up session decided before any session of the user was (reordered delivery) has no
// assessment, so its signals are unavailable later (signals_expired) though the verdict is
// the same.
func facts(p Profile) map[string]SessionState {
	out := asStored(p).Sessions
	for id, st := range out {
		st.SignalsExpired = false
		out[id] = st
	}
	return out
}

// foldEvents is a user's life: an approval, a decline, a step-up asked for and answered, a
// later approval. (A Kyc Expired is left out: arriving before the approval it ends, it finds the
// session undecided and the approval is then stale, in this design as in the one before.)
func foldEvents() []Event {
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	nfc := decided("e6", "x1", "Approved", h(5), "")
	nfc.Signals.FeaturesPresent, nfc.Signals.Warnings, nfc.Signals.RiskCodes = []string{policy.FeatureNFC}, nil, nil
	nfc.StepUp = &StepUpLink{ProfileID: "u", AssessmentID: "e5", OriginSessionID: "s3", Kind: "nfc"}
	return []Event{
		progress("e1", "s1", "In Progress", h(0)),
		decided("e2", "s1", "Approved", h(1), "doc-a"),
		decided("e3", "s2", "Declined", h(2), "doc-b", "LOW_LIVENESS_SCORE"),
		progress("e4", "s3", "Not Started", h(3)),
		decided("e5", "s3", "Approved", h(4), "doc-a", "POSSIBLE_DUPLICATED_USER"),
		nfc,
		decided("e7", "s4", "Approved", h(30), "doc-c"),
	}
}

// withStep records the nfc step-up the policy asked for on s3, as the stepup function does.
func withStep(p *Profile) {
	if _, ok := p.StepUps["nfc"]; !ok {
		p.StepUps["nfc"] = StepUp{Kind: "nfc", Status: policy.StepCreated, AssessmentID: "e5", OriginSessionID: "s3", DiditSessionID: "x1", CreatedAt: t0}
	}
}

// TestFoldFromAssessmentsMatchesFullFold: a fold that keeps no signals on the profile and reads
// them from the assessments only when a session's inputs changed reaches the verdict a fold
// evaluating every session from its signals does, whatever the delivery order (each event
// three times, shuffled); in-order arrival reads no assessment.
func TestFoldFromAssessmentsMatchesFullFold(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	evs := foldEvents()

	full := newProfile(Event{UserID: "u"}, t0)
	withStep(&full)
	inOrder := newMemStore()
	withStep(&inOrder.p)
	for _, ev := range evs {
		_, err := recordT(&full, ev, eng, t0, nil)
		require.NoError(t, err)
		inOrder.apply(t, ev, eng)
		if ev.Key != "e6" {
			assert.Zero(t, inOrder.reads, "in-order event %s reads no assessment", ev.Key)
		} else {
			assert.Equal(t, 1, inOrder.reads, "a step-up re-evaluates the session it answers, read from its assessment")
		}
	}
	require.Equal(t, VerdictAssessed, full.VerdictState)
	require.Equal(t, "s4", full.LastSessionID)
	sameVerdict(t, full, inOrder.p)

	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		var order []Event
		for range 3 {
			order = append(order, evs...)
		}
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		m := newMemStore()
		withStep(&m.p)
		for _, ev := range order {
			m.apply(t, ev, eng)
		}
		sameVerdict(t, full, m.p, "order %d", i)
	}

	// Kyc Expired, in order, re-evaluates the approval it ends: one read.
	ke := progress("e8", "s4", "Kyc Expired", t0.Add(40*time.Hour))
	_, err := recordT(&full, ke, eng, t0, nil)
	require.NoError(t, err)
	inOrder.apply(t, ke, eng)
	assert.Equal(t, 1, inOrder.reads)
	require.Contains(t, ruleIDs(full.Reasons), "didit_kyc_expired")
	sameVerdict(t, full, inOrder.p)
}

// TestExpiredAssessmentsKeepTheVerdict: once the retention TTL has deleted a user's
// assessments, the sessions' stored verdicts and the aggregates carry the verdict: a new
// undecided webhook or a late webhook of an old session leaves it as it was, and the sessions
// whose signals are gone are marked so.
func TestExpiredAssessmentsKeepTheVerdict(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	m := newMemStore()
	withStep(&m.p)
	for _, ev := range foldEvents() {
		m.apply(t, ev, eng)
	}
	before := m.p
	clear(m.as) // the TTL policy deleted every assessment

	m.apply(t, progress("e9", "s5", "Not Started", t0.Add(50*time.Hour)), eng)
	assert.Zero(t, m.reads, "nothing changed for the decided sessions: nothing to read")
	sameVerdict(t, before, asStored(m.p).withoutSession("s5"))

	// A late webhook of s2 (older than its decision) changes nothing either.
	m.apply(t, progress("e10", "s2", "In Progress", t0.Add(90*time.Minute)), eng)
	assert.Equal(t, before.Score, m.p.Score)
	assert.Equal(t, before.Level, m.p.Level)
	assert.Equal(t, before.Action, m.p.Action)
	assert.Equal(t, before.Aggregates.HighestLevel, m.p.Aggregates.HighestLevel)
	assert.Equal(t, before.Aggregates.DeclinedSessions, m.p.Aggregates.DeclinedSessions)
}

func (p Profile) withoutSession(id string) Profile {
	p.Sessions = maps.Clone(p.Sessions)
	delete(p.Sessions, id)
	return p
}

// TestNewPolicyReevaluatesEverySession: under an evaluator of another version, every decided
// session is re-evaluated from its assessment, and the verdict is the one a fold under that
// policy from the start reaches.
func TestNewPolicyReevaluatesEverySession(t *testing.T) {
	old := NewEvaluator(policy.Default())
	src := bytes.Replace(policy.DefaultSource(), []byte(`version: "`), []byte(`version: "stricter-`), 1)
	src = bytes.Replace(src, []byte("when: history.declined_sessions >= 2"), []byte("when: history.declined_sessions >= 1"), 1)
	pol, err := policy.Parse(src)
	require.NoError(t, err)
	stricter := NewEvaluator(pol)

	evs := foldEvents()
	m := newMemStore()
	withStep(&m.p)
	for _, ev := range evs[:len(evs)-1] {
		m.apply(t, ev, old)
	}
	m.apply(t, evs[len(evs)-1], stricter)
	assert.Equal(t, 4, m.reads, "the 3 earlier decided sessions and the step-up, in one batch (the new one comes with its event)")

	want := newMemStore()
	withStep(&want.p)
	for _, ev := range evs {
		want.apply(t, ev, stricter)
	}
	sameVerdict(t, want.p, m.p)
	assert.Equal(t, pol.Version, m.p.PolicyVersion)
}

// TestProfileUpdatesWriteOnlyWhatChanged: the profile write names the session entries and
// fields that changed, deletes the sessions pruned, and leaves the others alone.
func TestProfileUpdatesWriteOnlyWhatChanged(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	m := newMemStore()
	for i, ev := range []Event{decided("e1", "s1", "Approved", t0, "doc-a"), decided("e2", "s2", "Approved", t0.Add(48*time.Hour), "doc-a")} {
		m.apply(t, ev, eng)
		require.Equal(t, i+1, len(m.p.Sessions))
	}
	old := asStored(m.p)
	m.apply(t, decided("e3", "s3", "Approved", t0.Add(96*time.Hour), "doc-a"), eng)
	paths := func(ups []firestore.Update) map[string]bool {
		out := map[string]bool{}
		for _, u := range ups {
			out[strings.Join(u.FieldPath, ".")] = u.Value == firestore.Delete
		}
		return out
	}
	got := paths(profileUpdates(old, m.p))
	assert.Contains(t, got, "sessions.s3")
	assert.NotContains(t, got, "sessions.s1", "an earlier session whose verdict stands is not written")
	assert.NotContains(t, got, "sessions.s2")
	assert.NotContains(t, got, "user_id")
	assert.NotContains(t, got, "created_at")
	assert.Contains(t, got, "last_session_id")

	gone := asStored(m.p)
	delete(gone.Sessions, "s1")
	assert.Equal(t, map[string]bool{"sessions.s1": true}, paths(profileUpdates(asStored(m.p), gone)), "a pruned session is deleted")
	assert.Empty(t, profileUpdates(asStored(m.p), m.p), "nothing changed, nothing written")
}
