package profile

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

var t0 = time.Unix(1767225600, 0).UTC()

// decided builds a decided-session event with the given signals.
func decided(key, session, status string, at time.Time, doc string, codes ...string) Event {
	sig := scoring.Signals{DiditStatus: status, WebhookType: "status.updated", DocumentHash: doc, Age: -1,
		LivenessScore: -1, AgeEstimate: -1, FaceQuality: -1, AgeGap: -1, FaceMatchScore: -1, AMLMaxScore: -1,
		RiskCodes: codes, FeaturesPresent: []string{policy.FeatureID, policy.FeatureLiveness}}
	for _, c := range codes {
		sig.Warnings = append(sig.Warnings, scoring.WarningSignal{Feature: policy.FeatureLiveness, Risk: c, LogType: "error"})
	}
	return Event{Key: key, SessionID: session, Status: didit.Status(status), EventTime: at, HasDecision: true, Signals: sig, DocumentHash: doc, Trusted: true}
}

func progress(key, session string, status didit.Status, at time.Time) Event {
	return Event{Key: key, SessionID: session, Status: status, EventTime: at}
}

// fold applies events the way Apply does, without Firestore.
func fold(t *testing.T, eng Evaluator, evs ...Event) (Profile, []*Assessment) {
	t.Helper()
	p := newProfile(Event{UserID: "u"}, t0)
	var as []*Assessment
	for _, ev := range evs {
		if cur, ok := p.Sessions[ev.SessionID]; ok && !moves(cur, ev) {
			continue
		}
		as = append(as, must(recordT(&p, ev, eng, t0, nil)))
	}
	return p, as
}

// TestUnverifiedUsers: a first webhook without a decision (Didit §2.3 statuses Not Started, In
// Progress, Expired, Resubmitted, Kyc Expired) leaves the user unverified: no score, level or
// action, and no assessment.
func TestUnverifiedUsers(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	for _, status := range []didit.Status{"Not Started", "In Progress", "Expired", "Resubmitted", "Kyc Expired", "Awaiting User"} {
		t.Run(string(status), func(t *testing.T) {
			p, as := fold(t, eng, progress("e1", "s1", status, t0))
			assert.Equal(t, VerdictUnverified, p.VerdictState)
			assert.Zero(t, p.Score)
			assert.Empty(t, p.Level)
			assert.Empty(t, p.Action)
			assert.Empty(t, p.Reasons)
			assert.Equal(t, ReviewNone, p.ReviewState)
			assert.False(t, p.Blocked)
			assert.Nil(t, as[0], "nothing decided: no assessment")
			assert.Equal(t, VerdictUnverified, Derive(p, eng).State)
		})
	}
}

// TestKycExpiredIsNotACurrentApproval: Approved → Kyc Expired (Didit §9.7) moves the verdict from
// approve to review (the default policy's choice), and writes an assessment saying why.
func TestKycExpiredIsNotACurrentApproval(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	p, as := fold(t, eng, decided("e1", "s1", "Approved", t0, "doc-a"))
	require.Equal(t, policy.Approve, p.Action)
	require.NotNil(t, as[0])

	p2, as2 := fold(t, eng, decided("e1", "s1", "Approved", t0, "doc-a"), progress("e2", "s1", "Kyc Expired", t0.Add(time.Hour)))
	assert.Equal(t, VerdictAssessed, p2.VerdictState)
	assert.Equal(t, policy.Review, p2.Action)
	assert.Equal(t, ReviewOpen, p2.ReviewState)
	assert.Contains(t, ruleIDs(p2.Reasons), "didit_kyc_expired")
	require.NotNil(t, as2[1], "the verdict changed: it is recorded and announced")
	assert.Equal(t, didit.StatusKycExpired, as2[1].SessionStatus)
	assert.True(t, as2[1].Signals.KycExpired)
	assert.Contains(t, as2[1].Adjustments, Adjustment{Kind: AdjustAction, Rule: "didit_kyc_expired", Value: "review"})

	// The same second: Kyc Expired ranks after Approved whatever the delivery order.
	a, _ := fold(t, eng, decided("e1", "s1", "Approved", t0, "doc-a"), progress("e2", "s1", "Kyc Expired", t0))
	b, _ := fold(t, eng, progress("e2", "s1", "Kyc Expired", t0), decided("e1", "s1", "Approved", t0, "doc-a"))
	assert.Equal(t, policy.Review, a.Action)
	assert.Equal(t, a.Sessions["s1"].Status, b.Sessions["s1"].Status)
}

// TestDeclinedWinsAtTheSameSecond: an Approved and a Declined of one session in the same second
// end Declined in either delivery order.
func TestDeclinedWinsAtTheSameSecond(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	ap, de := decided("e1", "s1", "Approved", t0, "doc-a"), decided("e2", "s1", "Declined", t0, "doc-a")
	a, _ := fold(t, eng, ap, de)
	b, _ := fold(t, eng, de, ap)
	for _, p := range []Profile{a, b} {
		assert.Equal(t, didit.StatusDeclined, p.Sessions["s1"].Status)
		assert.Contains(t, ruleIDs(p.Reasons), "didit_declined")
		assert.NotEqual(t, policy.Approve, p.Action)
	}
	assert.Equal(t, a.Score, b.Score)
	assert.Equal(t, a.Action, b.Action)
}

// historyUser is a user with two declined sessions, a blocked one, and a second document.
func historyUser() []Event {
	day := 24 * time.Hour
	return []Event{
		decided("e1", "s1", "Declined", t0, "doc-a"),
		decided("e2", "s2", "Declined", t0.Add(2*day), "doc-a"),
		decided("e3", "s3", "Declined", t0.Add(4*day), "doc-a", "FACE_IN_BLOCKLIST"),
		decided("e4", "s4", "Approved", t0.Add(6*day), "doc-b"),
	}
}

// TestHistoryCannotBeLaundered: 50 new Not Started sessions (or 60 new decided ones) push old
// sessions out of the profile, but never the facts risk needs.
func TestHistoryCannotBeLaundered(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	base, _ := fold(t, eng, historyUser()...)
	require.Equal(t, 65, base.Score)
	require.Equal(t, policy.Review, base.Action)
	require.ElementsMatch(t, []string{"history_declined_sessions", "history_several_documents", "history_previous_high",
		"history_previously_blocked"}, ruleIDs(base.Reasons))
	assert.True(t, base.Aggregates.EverBlocked)
	assert.Equal(t, policy.Critical, base.Aggregates.HighestLevel)

	evs := historyUser()
	for i := range 50 {
		evs = append(evs, progress(fmt.Sprintf("n%d", i), fmt.Sprintf("new-%02d", i), "Not Started", t0.Add(7*24*time.Hour+time.Duration(i)*time.Minute)))
	}
	p, _ := fold(t, eng, evs...)
	assert.LessOrEqual(t, len(p.Sessions), maxSessions)
	assert.Equal(t, base.Score, p.Score, "verdict stays")
	assert.Equal(t, base.Action, p.Action)
	assert.Equal(t, ruleIDs(base.Reasons), ruleIDs(p.Reasons))
	for _, s := range []string{"s1", "s2", "s3", "s4"} {
		assert.Contains(t, p.Sessions, s, "undecided sessions are pruned first")
	}

	// 60 more decided sessions push even the declined and blocked ones out: the aggregates and
	// the archive keep what they said.
	evs = historyUser()
	for i := range 60 {
		evs = append(evs, decided(fmt.Sprintf("d%d", i), fmt.Sprintf("later-%02d", i), "Approved", t0.Add(10*24*time.Hour+time.Duration(i)*time.Hour), "doc-b"))
	}
	p, as := fold(t, eng, evs...)
	assert.LessOrEqual(t, len(p.Sessions), maxSessions)
	assert.NotContains(t, p.Sessions, "s1")
	assert.NotContains(t, p.Sessions, "s3")
	last := as[len(as)-1]
	require.NotNil(t, last)
	assert.Equal(t, 3, last.History.DeclinedSessions, "declined sessions survive pruning")
	assert.Equal(t, 2, last.History.DistinctDocuments, "documents survive pruning")
	assert.Contains(t, ruleIDs(p.Reasons), "history_declined_sessions")
	assert.Contains(t, ruleIDs(p.Reasons), "history_several_documents")
	assert.True(t, p.Aggregates.EverBlocked)
	assert.Equal(t, policy.Critical, p.Aggregates.HighestLevel)
	assert.Positive(t, p.Aggregates.Archive.Sessions)
	assert.True(t, p.Aggregates.Archive.EverBlocked)
}

// TestDerive is a table test of the pure verdict derivation over hand-built facts.
func TestDerive(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	sig := func(status string, doc string, codes ...string) *scoring.Signals {
		s := decided("", "", status, t0, doc, codes...).Signals
		return &s
	}
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	tests := []struct {
		name      string
		p         Profile
		state     VerdictState
		session   string
		action    policy.Action
		rules     []string
		declined  int
		documents int
		prevLevel policy.Level
	}{
		{name: "no sessions", p: Profile{}, state: VerdictUnverified},
		{name: "only progress", p: Profile{Sessions: map[string]SessionState{
			"s1": {Status: "In Progress", EventTime: at(0), FirstSeen: at(0)}}}, state: VerdictUnverified},
		{name: "one approval", p: Profile{Sessions: map[string]SessionState{
			"s1": {Status: "Approved", EventTime: at(0), FirstSeen: at(0), Decided: true, Signals: sig("Approved", "doc-a")}},
			Aggregates: Aggregates{Documents: []HashClass{{Hashes: []string{"doc-a"}, FirstSeen: at(0)}}}},
			state: VerdictAssessed, session: "s1", action: "approve", rules: []string{}, documents: 1},
		{name: "latest decided session decides, earlier declines count", p: Profile{Sessions: map[string]SessionState{
			"s1": {Status: "Declined", EventTime: at(0), FirstSeen: at(0), Decided: true, Signals: sig("Declined", "doc-a")},
			"s2": {Status: "Approved", EventTime: at(30), FirstSeen: at(30), Decided: true, Signals: sig("Approved", "doc-a")},
			"s3": {Status: "Not Started", EventTime: at(40), FirstSeen: at(40)}},
			Aggregates: Aggregates{Documents: []HashClass{{Hashes: []string{"doc-a"}, FirstSeen: at(0)}}}},
			state: VerdictAssessed, session: "s2", action: "review", rules: []string{"history_previous_high"}, declined: 1, documents: 1, prevLevel: "high"},
		{name: "aggregates count what the sessions no longer hold", p: Profile{
			Sessions: map[string]SessionState{
				"s9": {Status: "Approved", EventTime: at(100), FirstSeen: at(100), Decided: true, Signals: sig("Approved", "doc-b")}},
			Aggregates: Aggregates{
				DeclinedSessions: []SessionMark{{"s1", at(0)}, {"s2", at(1)}},
				Documents:        []HashClass{{Hashes: []string{"doc-a"}, FirstSeen: at(0)}, {Hashes: []string{"doc-b"}, FirstSeen: at(100)}},
				Archive:          Archive{Sessions: 2, Until: at(1), LastLevel: "critical", LastAction: "block", HighestLevel: "critical", EverBlocked: true}}},
			state: VerdictAssessed, session: "s9", action: "review", declined: 2, documents: 2, prevLevel: "critical",
			rules: []string{"history_declined_sessions", "history_several_documents", "history_previous_high", "history_previously_blocked"}},
		{name: "a document seen under an old key is the same document", p: Profile{
			Sessions: map[string]SessionState{
				"s1": {Status: "Approved", EventTime: at(0), FirstSeen: at(0), Decided: true, Signals: sig("Approved", "k1:aaaa")},
				"s2": {Status: "Approved", EventTime: at(48), FirstSeen: at(48), Decided: true, Signals: sig("Approved", "k2:bbbb")}},
			Aggregates: Aggregates{Documents: []HashClass{{Hashes: []string{"k2:bbbb", "k1:aaaa"}, FirstSeen: at(0)}}}},
			state: VerdictAssessed, session: "s2", action: "approve", rules: []string{}, documents: 1, prevLevel: "low"},
		{name: "kyc expired approval", p: Profile{Sessions: map[string]SessionState{
			"s1": {Status: "Kyc Expired", EventTime: at(0), FirstSeen: at(0), Decided: true, Signals: sig("Approved", "doc-a")}},
			Aggregates: Aggregates{Documents: []HashClass{{Hashes: []string{"doc-a"}, FirstSeen: at(0)}}}},
			state: VerdictAssessed, session: "s1", action: "review", rules: []string{"didit_kyc_expired"}, documents: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Derive(tt.p, eng)
			assert.Equal(t, tt.state, v.State)
			if tt.state != VerdictAssessed {
				return
			}
			assert.Equal(t, tt.session, v.Session)
			assert.Equal(t, tt.action, v.Assessment.Action)
			assert.Equal(t, tt.rules, ruleIDs(reasons(v.Assessment.Reasons)))
			assert.Equal(t, tt.declined, v.History.DeclinedSessions)
			assert.Equal(t, tt.documents, v.History.DistinctDocuments)
			assert.Equal(t, tt.prevLevel, v.History.PreviousLevel)
		})
	}
}

// TestStepUpBoundToWhatWasCreated: a session whose metadata carries a step-up link counts as
// that step-up only when it is the Didit session recorded for the step; otherwise it is an
// ordinary session.
func TestStepUpBoundToWhatWasCreated(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	origin := decided("e1", "s1", "Approved", t0, "doc-a", "POSSIBLE_DUPLICATED_USER")
	nfc := decided("e2", "x1", "Approved", t0.Add(time.Hour), "")
	nfc.Signals.FeaturesPresent = []string{policy.FeatureNFC}
	nfc.Signals.Warnings = nil
	nfc.Signals.RiskCodes = nil
	nfc.StepUp = &StepUpLink{ProfileID: "u", AssessmentID: "e1", OriginSessionID: "s1", Kind: "nfc"}

	run := func(recorded string) Profile {
		p := newProfile(Event{UserID: "u"}, t0)
		recordT(&p, origin, eng, t0, nil)
		require.Equal(t, policy.StepUp, p.Action)
		p.StepUps["nfc"] = StepUp{Kind: "nfc", Status: policy.StepCreated, AssessmentID: "e1", OriginSessionID: "s1", DiditSessionID: recorded, CreatedAt: t0}
		recordT(&p, nfc, eng, t0, nil)
		return p
	}

	bound := run("x1")
	assert.Contains(t, ruleIDs(bound.Reasons), "stepup_nfc_approved")
	assert.Equal(t, "s1", bound.LastSessionID, "the verdict is about the session the step-up answers")
	assert.Equal(t, policy.StepNFC, bound.Sessions["x1"].StepUpKind)
	assert.Equal(t, policy.StepCompleted, bound.StepUps["nfc"].Status)
	assert.Equal(t, policy.OutcomeApproved, bound.StepUps["nfc"].Outcome)
	assert.Equal(t, policy.OutcomeApproved, bound.Aggregates.StepUpOutcomes["nfc"].Outcome)

	forged := run("another-session")
	assert.NotContains(t, ruleIDs(forged.Reasons), "stepup_nfc_approved")
	assert.Equal(t, "x1", forged.LastSessionID, "an unbound session is an ordinary session")
	assert.Empty(t, forged.Sessions["x1"].StepUpKind)
	require.NotNil(t, forged.Sessions["x1"].StepUpClaim)
	assert.Equal(t, policy.StepCreated, forged.StepUps["nfc"].Status, "the step is not completed by a session it did not create")
	assert.Empty(t, forged.Aggregates.StepUpOutcomes)

	// The step-up's webhook came before the step was recorded: it binds as soon as it is.
	early := run("")
	assert.Equal(t, "x1", early.LastSessionID)
	su := early.StepUps["nfc"]
	su.DiditSessionID = "x1"
	early.StepUps["nfc"] = su
	recordT(&early, progress("e3", "other", "Not Started", t0.Add(2*time.Hour)), eng, t0, nil)
	assert.Equal(t, policy.StepNFC, early.Sessions["x1"].StepUpKind)
	assert.Equal(t, "s1", early.LastSessionID)
	assert.Contains(t, ruleIDs(early.Reasons), "stepup_nfc_approved")
}

// TestAdjustmentsExplainTheVerdict: the rules' minimum levels and forced actions and the
// engine's overrides that changed a verdict are kept with it.
func TestAdjustmentsExplainTheVerdict(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	_, as := fold(t, eng, decided("e1", "s1", "Approved", t0, "doc-a", "FACE_IN_BLOCKLIST", "POSSIBLE_FACE_IN_BLOCKLIST"))
	require.NotNil(t, as[0])
	assert.Equal(t, policy.Block, as[0].Action)
	// 150 points clamp to 100 (critical → block already): nothing raised the verdict.
	assert.Empty(t, as[0].Adjustments)
	assert.Equal(t, 150, as[0].RawScore)

	_, as = fold(t, eng, decided("e1", "s1", "Declined", t0, "doc-a"))
	assert.Equal(t, []Adjustment{{Kind: AdjustMinLevel, Rule: "didit_declined", Value: "high"}}, as[0].Adjustments)

	_, as = fold(t, eng, decided("e1", "s1", "Approved", t0, "doc-a", "POSSIBLE_FACE_IN_BLOCKLIST"))
	assert.Equal(t, []Adjustment{{Kind: AdjustAction, Rule: "liveness_possible_face_in_blocklist", Value: "review"}}, as[0].Adjustments)
}

// TestHashClasses: a document hashed under the new and the old key merges into one class.
func TestHashClasses(t *testing.T) {
	var cs []HashClass
	cs = addClass(cs, 3, t0, []string{"k1:aa"})
	cs = addClass(cs, 3, t0.Add(time.Hour), []string{"k2:bb", "k1:aa"})
	require.Len(t, cs, 1)
	assert.Equal(t, []string{"k2:bb", "k1:aa"}, cs[0].Hashes)
	assert.Equal(t, t0, cs[0].FirstSeen)
	cs = addClass(cs, 3, t0.Add(-time.Hour), []string{"k2:bb"})
	assert.Equal(t, t0.Add(-time.Hour), cs[0].FirstSeen, "first seen is the earliest, whatever the order")
	for i := range 5 {
		cs = addClass(cs, 3, t0.Add(time.Duration(i+2)*time.Hour), []string{fmt.Sprintf("k2:%d", i)})
	}
	assert.Len(t, cs, 3, "capped")
	cs = addClass(cs, 3, t0, nil)
	assert.Len(t, cs, 3)
}

// TestReturningUserMatchesAfterKeyRotation: a secret version added to the hash keys does not
// make a returning user's document look new (+10 and an NFC step-up): the event carries the
// document under every key and matches the stored hash of the old key.
func TestReturningUserMatchesAfterKeyRotation(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	old, err := scoring.NewKeyedHasher([]scoring.HashKey{{Secret: []byte("v1")}})
	require.NoError(t, err)
	rotated, err := scoring.NewKeyedHasher([]scoring.HashKey{{ID: "k2", Secret: []byte("v2")}, {Secret: []byte("v1")}})
	require.NoError(t, err)

	first := decided("e1", "s1", "Approved", t0, old.Hash("X1234567K"))
	first.DocumentKeys = old.All("X1234567K")
	again := decided("e2", "s2", "Approved", t0.Add(48*time.Hour), rotated.Hash("X1234567K"))
	again.DocumentKeys = rotated.All("X1234567K")

	p, as := fold(t, eng, first, again)
	require.NotNil(t, as[1])
	assert.Equal(t, 1, as[1].History.DistinctDocuments)
	assert.NotContains(t, ruleIDs(p.Reasons), "history_several_documents")
	require.Len(t, p.Aggregates.Documents, 1)
	assert.Equal(t, rotated.All("X1234567K"), p.Aggregates.Documents[0].Hashes, "the class learns the new key's hash")
	assert.Equal(t, []string{rotated.Hash("X1234567K")}, p.DocumentHashes)

	// Without the aliases (only the current key's hash) the same user would look new.
	again.DocumentKeys = nil
	p, _ = fold(t, eng, first, again)
	assert.Contains(t, ruleIDs(p.Reasons), "history_several_documents")
}

// erroring is an Evaluator whose policy hit a rule error and an engine override.
type erroring struct{}

func (erroring) Evaluate(sig scoring.Signals, _ scoring.History) scoring.Assessment {
	return scoring.Assessment{Scored: true, Score: 10, RawScore: 10, Level: policy.Low, Action: policy.Review,
		Reasons: []scoring.Reason{{Rule: "r1", Points: 10}}, Overrides: []string{scoring.OverrideDeclined},
		RuleErrors: []scoring.RuleError{{Rule: "r2", Error: "no such overload"}}, PolicyVersion: "test", Signals: sig}
}

// TestAssessmentKeepsRuleErrors: the rules that failed at evaluation time and the overrides are
// stored with the assessment, not only logged.
func TestAssessmentKeepsRuleErrors(t *testing.T) {
	_, as := fold(t, erroring{}, decided("e1", "s1", "Declined", t0, "doc-a"))
	require.NotNil(t, as[0])
	assert.Equal(t, []scoring.RuleError{{Rule: "r2", Error: "no such overload"}}, as[0].RuleErrors)
	assert.Equal(t, []Adjustment{{Kind: AdjustOverride, Value: scoring.OverrideDeclined}}, as[0].Adjustments,
		"without a policy at hand, the overrides alone")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
