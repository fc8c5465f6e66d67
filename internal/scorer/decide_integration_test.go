//go:build integration

package scorer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

// The reviewer the simulator plays, and a comment that names people: neither may be stored.
const (
	reviewerEmail = "alice.reviewer@example.com"
	reviewComment = "Called Jane Roe on +44 20 7946 0000, ID matches; cleared by Alice"
	reviewUser    = "user-review-1"
)

// reviewEnv is the scorer on the Firestore emulator behind the Didit simulator: the test sends
// Didit-shaped webhooks and plays the console reviewer; the webhooks the simulator sends are
// caught and scored as the receiver's publish and the scorer's push subscription would.
type reviewEnv struct {
	t     *testing.T
	fs    *firestore.Client
	store *profile.Store
	sim   *diditsim.Server
	h     *Handler
	dec   *decisions
	b     *scenario.Builder

	mu    sync.Mutex
	hooks [][]byte
}

func newReviewEnv(t *testing.T, opts profile.Options) *reviewEnv {
	t.Helper()
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	e := &reviewEnv{t: t, fs: fs, store: profile.NewStore(fs, opts), dec: &decisions{},
		sim: diditsim.New(diditsim.Options{APIKey: "k", ReviewerEmail: reviewerEmail})}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.hooks = append(e.hooks, b)
		e.mu.Unlock()
	}))
	t.Cleanup(func() { recv.Close(); _ = e.sim.Close() })
	e.sim.SetWebhookURL(recv.URL)
	e.h = &Handler{Profiles: e.store, FaceSearches: e.store, Engine: scoring.NewEngine(policy.Default()),
		Hash: scoring.NewHasher([]byte("test-hash-key")), Decisions: e.dec, Log: logging.New(io.Discard, "json", "info"), Now: time.Now}
	var err error
	e.b, err = scenario.NewBuilder(testdata.Dir(t, "webhooks"))
	require.NoError(t, err)
	return e
}

// webhook is Didit's webhook of kind k for session at, registered with the simulator.
func (e *reviewEnv) webhook(k scenario.Kind, session, eventID string, at time.Time) []byte {
	e.t.Helper()
	body, err := e.b.Webhook(k, reviewUser, session, eventID, at)
	require.NoError(e.t, err)
	e.sim.RegisterWebhookSession(body)
	return body
}

// score scores one authenticated webhook body.
func (e *reviewEnv) score(body []byte) {
	e.t.Helper()
	require.NoError(e.t, e.h.Handle(context.Background(), pushEvent(e.t, body, nil)))
}

// review plays the console reviewer on session and returns the webhook Didit sent.
func (e *reviewEnv) review(session, status string) []byte {
	e.t.Helper()
	// The session waits in Didit's review queue (as our review request puts it there).
	require.True(e.t, e.sim.SetStatus(session, diditsim.StatusInReview))
	d, err := e.sim.ConsoleReview(context.Background(), session, status, reviewComment)
	require.NoError(e.t, err)
	require.NotEmpty(e.t, d.Body)
	return d.Body
}

func (e *reviewEnv) profile() profile.Profile {
	e.t.Helper()
	return getProfile(e.t, e.fs, reviewUser)
}

func (e *reviewEnv) audit() []profile.AuditEntry {
	e.t.Helper()
	es, err := e.store.AuditTrail(context.Background(), reviewUser)
	require.NoError(e.t, err)
	return es
}

func (e *reviewEnv) lastDecision() message.Decision {
	e.t.Helper()
	all := e.dec.all()
	require.NotEmpty(e.t, all)
	return all[len(all)-1]
}

// laterWebhook is body as a later webhook of the same session: a new event id and timestamp,
// the status set, and the review (if any) appended to the decision's reviews.
func laterWebhook(t *testing.T, body []byte, eventID, status string, at time.Time, review map[string]any) []byte {
	t.Helper()
	return mutate(t, body, func(m map[string]any) {
		m["event_id"], m["timestamp"], m["status"] = eventID, at.Unix(), status
		d := m["decision"].(map[string]any)
		d["status"] = status
		if review != nil {
			rs, _ := d["reviews"].([]any)
			d["reviews"] = append(rs, review)
		}
	})
}

// TestReviewerApprovalIsADecision: a reviewer's approval in Didit's console approves the user
// (decided_by reviewer, review closed, the policy's verdict kept beside it, audited once) and
// stays through a duplicate delivery, a later In Review webhook of our own review request and a
// rescore.
func TestReviewerApprovalIsADecision(t *testing.T) {
	e := newReviewEnv(t, profile.Options{})
	ctx := context.Background()
	t0 := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	e.score(e.webhook(scenario.Review, "s1", "e1", t0))
	p := e.profile()
	require.Equal(t, policy.Review, p.Action, "the scenario goes to review")
	assert.Equal(t, profile.ReviewOpen, p.ReviewState)
	assert.Equal(t, profile.DecidedByPolicy, p.DecidedBy)
	assert.Nil(t, p.PolicyVerdict)
	assert.Equal(t, string(profile.DecidedByPolicy), e.lastDecision().DecidedBy)

	approved := e.review("s1", diditsim.StatusApproved)
	e.score(approved)
	p = e.profile()
	assert.Equal(t, policy.Approve, p.Action)
	assert.Equal(t, profile.DecidedByReviewer, p.DecidedBy)
	assert.Equal(t, profile.ReviewNone, p.ReviewState, "a reviewer's approval closes review")
	assert.False(t, p.Blocked)
	require.NotNil(t, p.PolicyVerdict)
	assert.Equal(t, policy.Review, p.PolicyVerdict.Action, "the policy's own verdict is kept")
	require.NotNil(t, p.HumanVerdict)
	assert.Equal(t, "s1", p.HumanVerdict.SessionID)
	assert.Equal(t, didit.StatusApproved, p.HumanVerdict.Status)
	assert.Equal(t, reviewerHash(reviewerEmail, e.h.Hash), p.HumanVerdict.ReviewerHash)
	assert.NotEmpty(t, p.HumanVerdict.Rules)
	assert.WithinDuration(t, p.HumanVerdict.DecidedAt.Add(profile.DefaultHumanVerdictTTL), p.HumanVerdict.ExpiresAt, 0)
	require.NotNil(t, p.Sessions["s1"].Review)
	d := e.lastDecision()
	assert.Equal(t, string(profile.DecidedByReviewer), d.DecidedBy)
	assert.Equal(t, policy.Approve, d.Action)
	a := getAssessment(t, e.fs, reviewUser, p.LastAssessmentID)
	assert.Equal(t, profile.DecidedByReviewer, a.DecidedBy)
	require.NotNil(t, a.PolicyVerdict)
	audit := e.audit()
	require.Len(t, audit, 1)
	assert.Equal(t, profile.AuditHumanVerdict, audit[0].Kind)
	assert.Equal(t, p.HumanVerdict.ReviewerHash, audit[0].Actor)
	assert.Equal(t, profile.DecisionRecord{Level: policy.Level(p.Level), Action: policy.Review, DecidedBy: profile.DecidedByPolicy}, audit[0].Before)
	assert.Equal(t, profile.DecisionRecord{Level: policy.Level(p.Level), Action: policy.Approve, DecidedBy: profile.DecidedByReviewer}, audit[0].After)

	noPersonalData(t, e.fs, reviewUser)

	held := func(t *testing.T, step string) {
		t.Helper()
		p := e.profile()
		assert.Equal(t, policy.Approve, p.Action, step)
		assert.Equal(t, profile.DecidedByReviewer, p.DecidedBy, step)
		assert.Equal(t, profile.ReviewNone, p.ReviewState, "%s: review does not re-open", step)
		assert.Len(t, e.audit(), 1, "%s: the verdict is audited once", step)
	}
	e.score(approved)
	held(t, "a duplicate delivery")
	// Our review request comes after the reviewer's review (whole seconds later: Didit's
	// created_at may be whole seconds), so the session is In Review at our request.
	later := time.Now().Add(2 * time.Second)
	ours := laterWebhook(t, approved, "e-ours", string(didit.StatusInReview), later,
		map[string]any{"user": didit.ReviewerAPIClient, "new_status": "In Review", "comment": "didit-risk: review requested", "created_at": later.Unix()})
	e.score(ours)
	held(t, "a later In Review webhook of our own review request")
	_, err := e.store.Rescore(ctx, reviewUser, e.h.Engine, time.Now())
	require.NoError(t, err)
	held(t, "a rescore")
	noPersonalData(t, e.fs, reviewUser)
}

// approvedByReviewer is a profile whose review-scenario session s1 a reviewer approved.
func approvedByReviewer(t *testing.T) *reviewEnv {
	t.Helper()
	e := newReviewEnv(t, profile.Options{})
	e.score(e.webhook(scenario.Review, "s1", "e1", time.Now().UTC().Add(-2*time.Hour)))
	e.score(e.review("s1", diditsim.StatusApproved))
	require.Equal(t, profile.DecidedByReviewer, e.profile().DecidedBy)
	return e
}

// TestReviewerVerdictYieldsToNewFacts: a rule that did not fire at review time (a Face Search
// finding), or a new session, makes the policy decide again; the reviewer's verdict stays as
// history.
func TestReviewerVerdictYieldsToNewFacts(t *testing.T) {
	ctx := context.Background()
	t.Run("a rule that did not fire at review time", func(t *testing.T) {
		e := approvedByReviewer(t)
		_, err := e.store.ApplyFaceSearch(ctx, profile.FaceSearchEvent{Key: "fs-s1", ProfileID: reviewUser, SessionID: "s1", At: time.Now(),
			Facts: didit.FaceSearchFacts{SearchType: "blocklisted_or_approved", Matches: 1, TopSimilarity: 97, Blocklisted: true}}, e.h.Engine, time.Now())
		require.NoError(t, err)
		p := e.profile()
		assert.Equal(t, profile.DecidedByPolicy, p.DecidedBy)
		assert.Contains(t, ruleIDs(p.Reasons), "face_search_possible_in_blocklist")
		assert.NotEqual(t, policy.Approve, p.Action)
		assert.Nil(t, p.PolicyVerdict)
		require.NotNil(t, p.HumanVerdict, "kept as history")
		assert.Equal(t, "s1", p.HumanVerdict.SessionID)
		assert.Len(t, e.audit(), 1)
	})
	t.Run("a new session", func(t *testing.T) {
		e := approvedByReviewer(t)
		e.score(e.webhook(scenario.Review, "s2", "e2", time.Now().Add(time.Minute)))
		p := e.profile()
		assert.Equal(t, "s2", p.LastSessionID)
		assert.Equal(t, profile.DecidedByPolicy, p.DecidedBy)
		assert.NotEqual(t, policy.Approve, p.Action, "the policy's verdict on s2 (a second document: block)")
		assert.Nil(t, p.PolicyVerdict, "the applied verdict is the policy's")
		require.NotNil(t, p.HumanVerdict, "kept as history")
		assert.Len(t, e.audit(), 1)
	})
}

// TestReviewerDeclineBlocks: a reviewer's decline blocks the user, decided by the reviewer.
func TestReviewerDeclineBlocks(t *testing.T) {
	e := newReviewEnv(t, profile.Options{})
	e.score(e.webhook(scenario.Review, "s1", "e1", time.Now().UTC().Add(-time.Hour)))
	require.Equal(t, policy.Review, e.profile().Action)
	e.score(e.review("s1", diditsim.StatusDeclined))
	p := e.profile()
	assert.Equal(t, policy.Block, p.Action)
	assert.True(t, p.Blocked)
	assert.Equal(t, profile.DecidedByReviewer, p.DecidedBy)
	assert.Equal(t, profile.ReviewNone, p.ReviewState)
	require.NotNil(t, p.HumanVerdict)
	assert.Equal(t, policy.Block, p.HumanVerdict.Action)
	assert.True(t, p.HumanVerdict.ExpiresAt.IsZero(), "a decline never expires")
	assert.Equal(t, string(profile.DecidedByReviewer), e.lastDecision().DecidedBy)
	assert.Equal(t, policy.Block, e.lastDecision().Action)
	noPersonalData(t, e.fs, reviewUser)
}

// TestOverrideAudited: an operator's override applies at once (idempotent by id), stops
// applying once expired at the next derivation, and is cleared; each change is audited.
func TestOverrideAudited(t *testing.T) {
	e := newReviewEnv(t, profile.Options{})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	e.score(e.webhook(scenario.Clean, "s1", "e1", now.Add(-time.Hour)))
	require.Equal(t, policy.Approve, e.profile().Action)

	o := profile.Override{ID: "op-1", Action: policy.Block, Reason: "ticket FR-123", Actor: "ops-jdoe", ExpiresAt: now.Add(time.Hour)}
	p, changed, err := e.store.SetOverride(ctx, reviewUser, o, e.h.Engine, now)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, policy.Block, p.Action)
	assert.True(t, p.Blocked)
	assert.Equal(t, profile.DecidedByOperator, p.DecidedBy)
	got := e.profile()
	assert.Equal(t, profile.DecidedByOperator, got.DecidedBy, "stored")
	require.NotNil(t, got.PolicyVerdict)
	assert.Equal(t, policy.Approve, got.PolicyVerdict.Action)

	_, changed, err = e.store.SetOverride(ctx, reviewUser, o, e.h.Engine, now.Add(time.Minute))
	require.NoError(t, err)
	assert.False(t, changed, "the same override id again changes nothing")
	require.Len(t, e.audit(), 1)

	// Expired: the next derivation (a rescore here) lets the policy's verdict apply again.
	res, err := e.store.Rescore(ctx, reviewUser, e.h.Engine, now.Add(2*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, profile.RescoreChanged, res.Outcome)
	got = e.profile()
	assert.Equal(t, policy.Approve, got.Action)
	assert.Equal(t, profile.DecidedByPolicy, got.DecidedBy)
	assert.False(t, got.Blocked)

	_, changed, err = e.store.ClearOverride(ctx, reviewUser, "ops-jdoe", "expired; tidy up", e.h.Engine, now.Add(3*time.Hour))
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Nil(t, e.profile().Override)
	_, changed, err = e.store.ClearOverride(ctx, reviewUser, "ops-jdoe", "again", e.h.Engine, now.Add(4*time.Hour))
	require.NoError(t, err)
	assert.False(t, changed, "no override: unchanged")

	audit := e.audit()
	require.Len(t, audit, 2)
	assert.Equal(t, profile.AuditOverrideSet, audit[0].Kind)
	assert.Equal(t, "ops-jdoe", audit[0].Actor)
	assert.Equal(t, "ticket FR-123", audit[0].Reason)
	assert.Equal(t, profile.DecisionRecord{Level: policy.Level(got.Level), Action: policy.Approve, DecidedBy: profile.DecidedByPolicy}, audit[0].Before)
	assert.Equal(t, profile.DecisionRecord{Level: policy.Level(got.Level), Action: policy.Block, DecidedBy: profile.DecidedByOperator}, audit[0].After)
	assert.Equal(t, profile.AuditOverrideCleared, audit[1].Kind)
	assert.Equal(t, audit[1].Before, audit[1].After, "the override had expired: clearing changes no decision")

	_, _, err = e.store.SetOverride(ctx, "nobody", o, e.h.Engine, now)
	assert.ErrorIs(t, err, profile.ErrNoProfile)

	// An operator can send the user to review: the review queue lists the profile.
	open, err := e.store.OpenReviews(ctx, 10)
	require.NoError(t, err)
	require.Empty(t, open)
	_, changed, err = e.store.SetOverride(ctx, reviewUser, profile.Override{ID: "op-2", Action: policy.Review, Reason: "second look",
		Actor: "ops-jdoe", ExpiresAt: now.Add(48 * time.Hour)}, e.h.Engine, now.Add(5*time.Hour))
	require.NoError(t, err)
	require.True(t, changed)
	open, err = e.store.OpenReviews(ctx, 10)
	require.NoError(t, err)
	require.Len(t, open, 1)
	assert.Equal(t, reviewUser, open[0].UserID)
	assert.Equal(t, profile.DecidedByOperator, open[0].DecidedBy)
	assert.Len(t, e.audit(), 3)
}

// TestDowngradeCooldown: after a high verdict, a lower one on another session within the
// cooldown is recorded, not applied; a reviewer's verdict is not held back, and neither is the
// same session refined.
func TestDowngradeCooldown(t *testing.T) {
	t0 := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	t.Run("another session is held back", func(t *testing.T) {
		e := newReviewEnv(t, profile.Options{})
		e.score(e.webhook(scenario.Review, "s1", "e1", t0))
		first := e.profile()
		require.Contains(t, []policy.Level{policy.High, policy.Critical}, first.Level)
		require.NotNil(t, first.Cooldown)
		assert.Equal(t, "s1", first.Cooldown.SessionID)

		e.score(e.webhook(scenario.Clean, "s2", "e2", t0.Add(time.Hour)))
		p := e.profile()
		assert.Equal(t, "s2", p.LastSessionID)
		assert.Equal(t, first.Action, p.Action, "the downgrade is held back")
		assert.Equal(t, first.Level, p.Level)
		require.NotNil(t, p.PolicyVerdict, "the lower verdict is recorded")
		assert.Less(t, p.PolicyVerdict.Level.Rank(), policy.Level(first.Level).Rank())
		assert.Equal(t, profile.DecidedByPolicy, p.DecidedBy)
		require.NotNil(t, p.Cooldown)
		assert.Equal(t, t0.Add(profile.DefaultDowngradeCooldown), p.Cooldown.Until.UTC())

		// A reviewer's verdict on the new session is not subject to it.
		e.score(e.review("s2", diditsim.StatusApproved))
		p = e.profile()
		assert.Equal(t, policy.Approve, p.Action)
		assert.Equal(t, profile.DecidedByReviewer, p.DecidedBy)
		assert.Nil(t, p.Cooldown)
	})
	t.Run("control: without the cooldown the policy's verdict applies", func(t *testing.T) {
		e := newReviewEnv(t, profile.Options{DowngradeCooldown: profile.Off})
		e.score(e.webhook(scenario.Review, "s1", "e1", t0))
		e.score(e.webhook(scenario.Clean, "s2", "e2", t0.Add(time.Hour)))
		p := e.profile()
		assert.Nil(t, p.PolicyVerdict)
		assert.Nil(t, p.Cooldown)
		assert.NotEqual(t, policy.Review, p.Action)
	})
	t.Run("the same session refined applies", func(t *testing.T) {
		e := newReviewEnv(t, profile.Options{})
		body := e.webhook(scenario.Review, "s1", "e1", t0)
		e.score(body)
		require.NotNil(t, e.profile().Cooldown)
		// Didit's later webhook of the same session, on cleaner facts.
		clean := e.webhook(scenario.Clean, "s1", "e1b", t0.Add(time.Hour))
		e.score(clean)
		p := e.profile()
		assert.Equal(t, "s1", p.LastSessionID)
		assert.Nil(t, p.PolicyVerdict, "a refinement of the session is not a downgrade attempt")
		assert.Nil(t, p.Cooldown)
	})
}

// noPersonalData: the reviewer's email and comment are in no stored document of the profile
// (the profile, its assessments, audit entries and dedupe markers), in any field.
func noPersonalData(t *testing.T, fs *firestore.Client, id string) {
	t.Helper()
	ctx := context.Background()
	pref := fs.Collection(profile.Profiles).Doc(id)
	snaps := []*firestore.DocumentSnapshot{}
	snap, err := pref.Get(ctx)
	require.NoError(t, err)
	snaps = append(snaps, snap)
	for _, sub := range []string{profile.Assessments, profile.Audit, profile.Processed} {
		docs, err := pref.Collection(sub).Documents(ctx).GetAll()
		require.NoError(t, err)
		snaps = append(snaps, docs...)
	}
	require.Greater(t, len(snaps), 3)
	for _, s := range snaps {
		b, err := json.Marshal(s.Data())
		require.NoError(t, err)
		for _, pii := range []string{reviewerEmail, "alice.reviewer", "Jane Roe", "7946", "cleared by Alice"} {
			assert.NotContains(t, string(b), pii, "%s holds %q", s.Ref.Path, pii)
		}
	}
}

func getAssessment(t *testing.T, fs *firestore.Client, profileID, id string) profile.Assessment {
	t.Helper()
	snap, err := fs.Collection(profile.Profiles).Doc(profileID).Collection(profile.Assessments).Doc(id).Get(context.Background())
	require.NoError(t, err)
	var a profile.Assessment
	require.NoError(t, snap.DataTo(&a))
	return a
}
