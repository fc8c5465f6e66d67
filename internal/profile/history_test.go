package profile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
)

// TestAssessmentStoresTheStepUpHistory: the assessment of a step-up's webhook stores the
// step-up part of the history it was scored with, and replaying its signals against the stored
// history (HistoryRecord.Scoring) gives the stored verdict back.
func TestAssessmentStoresTheStepUpHistory(t *testing.T) {
	eng := NewEvaluator(policy.Default())
	origin := decided("e1", "s1", "Approved", t0, "doc-a", "POSSIBLE_DUPLICATED_USER")
	nfc := decided("e2", "x1", "Approved", t0.Add(time.Hour), "")
	nfc.Signals.FeaturesPresent, nfc.Signals.Warnings, nfc.Signals.RiskCodes = []string{policy.FeatureNFC}, nil, nil
	nfc.StepUp = &StepUpLink{ProfileID: "u", AssessmentID: "e1", OriginSessionID: "s1", Kind: "nfc"}

	p := newProfile(Event{UserID: "u"}, t0)
	first := Fold(&p, origin, eng, t0)
	require.NotNil(t, first)
	assert.False(t, first.History.IsStepUp)
	assert.Empty(t, first.History.StepUps)
	p.StepUps["nfc"] = StepUp{Kind: "nfc", Status: policy.StepCreated, AssessmentID: "e1", OriginSessionID: "s1", DiditSessionID: "x1", CreatedAt: t0}
	a := Fold(&p, nfc, eng, t0)
	require.NotNil(t, a)

	assert.True(t, a.History.IsStepUp)
	assert.Equal(t, policy.StepNFC, a.History.StepUpKind)
	assert.Equal(t, map[string]StepUpRecord{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}}, a.History.StepUps)

	for _, stored := range []*Assessment{first, a} {
		got := eng.Evaluate(stored.Signals, stored.History.Scoring())
		assert.Equal(t, stored.Score, got.Score)
		assert.Equal(t, stored.Action, got.Action)
		assert.Equal(t, ruleIDs(stored.Reasons), ruleIDs(reasons(got.Reasons)))
	}
	// Without its step-up part the same history gives another verdict: the part is needed.
	h := a.History
	h.StepUps, h.IsStepUp, h.StepUpKind = nil, false, ""
	assert.NotEqual(t, ruleIDs(a.Reasons), ruleIDs(reasons(eng.Evaluate(a.Signals, h.Scoring()).Reasons)))
}
