//go:build integration

package profile

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
	"github.com/riskwire/didit-risk/testdata"
)

// webhookEvent builds the Event the scorer would from one of the Didit-shaped fixtures.
func webhookEvent(t *testing.T, fixture, key, session, status string, at time.Time, h *scoring.Hasher) Event {
	t.Helper()
	body := testdata.Read(t, "webhooks/"+fixture)
	w, err := didit.DecodeWebhook(body)
	require.NoError(t, err)
	w.Status = didit.Status(status)
	ev := Event{Key: key, ProfileID: "user-4242", UserID: "user-4242", SessionID: session, Status: w.Status, EventTime: at, Trusted: true}
	if w.Status.HasDecision() && w.Decision != nil {
		ev.HasDecision = true
		ev.Signals = scoring.Extract(w, h.Hash)
		ev.DocumentHash, ev.DeviceHashes = ev.Signals.DocumentHash, ev.Signals.DeviceHashes
		ev.DocumentKeys, ev.DeviceKeys = h.Aliases(w)
	}
	return ev
}

func hasher(t *testing.T) *scoring.Hasher {
	h, err := scoring.NewKeyedHasher([]scoring.HashKey{{ID: "k2", Secret: []byte("new")}, {Secret: []byte("old")}})
	require.NoError(t, err)
	return h
}

// stored reads a document back as the JSON product code would see (timestamps as RFC 3339).
func stored(t *testing.T, ref *firestore.DocumentRef) (map[string]any, any) {
	t.Helper()
	snap, err := ref.Get(context.Background())
	require.NoError(t, err)
	b, err := json.Marshal(snap.Data())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	return m, doc
}

// TestStoredDocumentsMatchTheContract drives one user through Didit's lifecycle (first webhook
// without a decision, an approval, its Kyc Expired, a declined session) and validates every
// profile and assessment document actually stored against the published JSON Schemas.
func TestStoredDocumentsMatchTheContract(t *testing.T) {
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	st := NewStore(fs)
	// With the default model, as the scorer runs: the stored model result is validated too.
	mdl, err := modelscore.Load("")
	require.NoError(t, err)
	// A shadow policy beside it, so the stored shadow verdict is validated too.
	eng := WithShadow(NewEvaluator(policy.Default(), scoring.WithModel(mdl)), blockAll(t))
	h := hasher(t)
	profSchema, assessSchema := schemas(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := time.Unix(1767225600, 0).UTC()
	pref := fs.Collection(Profiles).Doc("user-4242")

	// 1. Not Started: an unverified profile without score, level or action.
	_, err = st.Apply(ctx, webhookEvent(t, "in_progress.json", "e1", "s1", "Not Started", at, h), eng, now)
	require.NoError(t, err)
	m, doc := stored(t, pref)
	require.NoError(t, profSchema.Validate(doc))
	assert.Equal(t, string(VerdictUnverified), m["verdict_state"])
	for _, f := range verdictFields {
		assert.NotContains(t, m, f, "an unverified profile has no %s field", f)
	}

	// 2. Approved, 3. Kyc Expired, 4. another session Declined.
	steps := []Event{
		webhookEvent(t, "approved_clean_v3.json", "e2", "s1", "Approved", at.Add(time.Minute), h),
		webhookEvent(t, "approved_clean_v3.json", "e3", "s1", "Kyc Expired", at.Add(400*24*time.Hour), h),
		webhookEvent(t, "declined_v3.json", "e4", "s2", "Declined", at.Add(401*24*time.Hour), h),
	}
	for _, ev := range steps {
		res, err := st.Apply(ctx, ev, eng, now)
		require.NoError(t, err, ev.Key)
		require.Equal(t, Applied, res.Outcome)
		require.NotNil(t, res.Assessment, "%s changes the verdict", ev.Key)
		m, doc = stored(t, pref)
		require.NoError(t, profSchema.Validate(doc), "profile after %s", ev.Key)
		assert.Equal(t, string(VerdictAssessed), m["verdict_state"])
		assert.Contains(t, m, "score")
		am, adoc := stored(t, pref.Collection(Assessments).Doc(ev.Key))
		require.NoError(t, assessSchema.Validate(adoc), "assessment %s", ev.Key)
		require.Contains(t, am, "model", "assessment %s", ev.Key)
		require.Contains(t, am, "shadow_policy", "assessment %s", ev.Key)
		assert.Equal(t, mdl.Version(), am["model"].(map[string]any)["version"])
		if ev.Key == "e2" {
			assert.Equal(t, policy.Approve, res.Profile.Action)
		}
		if ev.Key == "e3" {
			assert.Equal(t, policy.Review, res.Profile.Action, "an expired approval is not a current one: %v", res.Profile.Reasons)
			assert.Contains(t, ruleIDs(res.Profile.Reasons), "didit_kyc_expired")
		}
	}
	// 5. A reviewer approves the declined session in Didit's console; 6. an operator's override.
	rev := webhookEvent(t, "declined_v3.json", "e5", "s2", "Approved", at.Add(402*24*time.Hour), h)
	rev.Review = &ReviewFact{Status: didit.StatusApproved, ReviewerHash: h.Hash("reviewer:r@example.com"), At: rev.EventTime}
	res, err := st.Apply(ctx, rev, eng, now)
	require.NoError(t, err)
	require.Equal(t, DecidedByReviewer, res.Profile.DecidedBy)
	m, doc = stored(t, pref)
	require.NoError(t, profSchema.Validate(doc), "profile after a reviewer's verdict")
	for _, f := range []string{"decided_by", "policy_verdict", "human_verdict"} {
		assert.Contains(t, m, f)
	}
	_, adoc := stored(t, pref.Collection(Assessments).Doc("e5"))
	require.NoError(t, assessSchema.Validate(adoc), "assessment of a reviewer's verdict")
	_, changed, err := st.SetOverride(ctx, "user-4242", Override{ID: "o1", Action: policy.Block, Reason: "r", Actor: "ops",
		ExpiresAt: now.Add(time.Hour)}, eng, now)
	require.NoError(t, err)
	require.True(t, changed)
	m, doc = stored(t, pref)
	require.NoError(t, profSchema.Validate(doc), "profile under an override")
	assert.Equal(t, string(DecidedByOperator), m["decided_by"])

	p, found, err := st.Get(ctx, "user-4242")
	require.NoError(t, err)
	require.True(t, found)
	assert.Len(t, p.Aggregates.DeclinedSessions, 0, "the reviewer's approval is a newer status of s2")
	require.NotEmpty(t, p.Aggregates.Documents)
	assert.Len(t, p.Aggregates.Documents[0].Hashes, 2, "the document under both keys")

	// A document that breaks the contract is refused by the schema: the check has teeth.
	m["verdict_state"] = VerdictUnverified
	b, _ := json.Marshal(m)
	bad, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	assert.Error(t, profSchema.Validate(bad), "unverified with a score")
}

// TestReplayAfterMarkerExpiryIsDuplicate: once a dedupe marker is gone (its TTL passed), a
// replayed webhook meets its own assessment: a Duplicate that changes nothing, never an error.
func TestReplayAfterMarkerExpiryIsDuplicate(t *testing.T) {
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	st := NewStore(fs)
	eng := NewEvaluator(policy.Default())
	ctx := context.Background()
	now := time.Now().UTC()
	ev := webhookEvent(t, "full_v3.json", "e1", "s1", "Approved", time.Unix(1767225600, 0).UTC(), hasher(t))

	first, err := st.Apply(ctx, ev, eng, now)
	require.NoError(t, err)
	require.Equal(t, Applied, first.Outcome)
	marker := fs.Collection(Profiles).Doc("user-4242").Collection(Processed).Doc("e1")
	_, err = marker.Delete(ctx)
	require.NoError(t, err)

	again, err := st.Apply(ctx, ev, eng, now.Add(time.Hour))
	require.NoError(t, err, "an existing assessment is a duplicate, not a transient error")
	assert.Equal(t, Duplicate, again.Outcome)
	require.NotNil(t, again.Assessment)
	assert.Equal(t, first.Assessment.ID, again.Assessment.ID)
	snap, err := marker.Get(ctx)
	require.NoError(t, err, "the marker is written again")
	assert.Equal(t, "duplicate", snap.Data()["outcome"])
	p, _, err := st.Get(ctx, "user-4242")
	require.NoError(t, err)
	assert.Equal(t, 1, p.EventsApplied)
	assert.Equal(t, 1, p.AssessmentsTotal)
}

// TestStoreOptions: dedupe markers live DedupeTTL (default 8 days: the receiver's default replay
// horizon plus a day) and assessments expire after AssessmentRetention (default 400 days).
func TestStoreOptions(t *testing.T) {
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	eng := NewEvaluator(policy.Default())
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	tests := []struct {
		name      string
		opts      []Options
		ttl, keep time.Duration
		profileID string
	}{
		{"defaults", nil, 8 * 24 * time.Hour, 400 * 24 * time.Hour, "user-a"},
		{"configured", []Options{{DedupeTTL: 10 * 24 * time.Hour, AssessmentRetention: 30 * 24 * time.Hour}}, 10 * 24 * time.Hour, 30 * 24 * time.Hour, "user-b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewStore(fs, tt.opts...)
			ev := webhookEvent(t, "full_v3.json", "e-"+tt.profileID, "s1", "Approved", time.Unix(1767225600, 0).UTC(), hasher(t))
			ev.ProfileID = tt.profileID
			_, err := st.Apply(ctx, ev, eng, now)
			require.NoError(t, err)
			pref := fs.Collection(Profiles).Doc(tt.profileID)
			m, err := pref.Collection(Processed).Doc(ev.Key).Get(ctx)
			require.NoError(t, err)
			assert.WithinDuration(t, now.Add(tt.ttl), m.Data()["expire_at"].(time.Time), time.Millisecond)
			a, err := pref.Collection(Assessments).Doc(ev.Key).Get(ctx)
			require.NoError(t, err)
			assert.WithinDuration(t, now.Add(tt.keep), a.Data()["expire_at"].(time.Time), time.Millisecond)
		})
	}
}
