package scoring

import (
	"errors"
	"testing"

	"cel.dev/cel-go/common/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// fakeModel returns a fixed result and records what it read through get.
type fakeModel struct {
	score float64
	err   error
	calls int
	read  map[string]any // names to read on each call, filled with what get returned
}

func (f *fakeModel) Version() string { return "fake-1" }

func (f *fakeModel) Score(get func(string) (any, bool)) (ModelResult, error) {
	f.calls++
	for name := range f.read {
		v, ok := get(name)
		if !ok {
			v = "<missing>"
		}
		f.read[name] = v
	}
	if f.err != nil {
		return ModelResult{}, f.err
	}
	return ModelResult{Score: f.score, Version: "fake-1", Top: []ModelContribution{{Feature: "liveness_score", Value: 12, Contribution: 1.5}}}, nil
}

const modelPolicy = `version: model-test
thresholds: {medium: 25, high: 55, critical: 85}
actions: {low: approve, medium: step_up, high: review, critical: block}
rules:
  - {id: model_high, description: the model says risky, when: 'model.score >= 0.8', points: 30, steps: [nfc]}
  - {id: model_named, description: a model runs, when: 'model.version == "fake-1"', points: 0}
  - {id: no_model, description: no model runs, when: 'model.score == -1.0 && model.version == ""', points: 0}
`

func modelEngine(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	p, err := policy.Parse([]byte(modelPolicy))
	require.NoError(t, err)
	return NewEngine(p, opts...)
}

func approved() Signals {
	s := emptySignals()
	s.DiditStatus, s.WebhookType = string(didit.StatusApproved), "status.updated"
	return s
}

// TestModelInCEL: rules read model.score and model.version; the assessment keeps the result.
func TestModelInCEL(t *testing.T) {
	h := History{Sessions24h: 1, Sessions30d: 1, DistinctDocuments: 1, DistinctDevices: 1}
	tests := []struct {
		name   string
		score  float64
		fired  []string
		action policy.Action
	}{
		{"high score fires", 0.93, []string{"model_high", "model_named"}, policy.StepUp},
		{"low score does not", 0.2, []string{"model_named"}, policy.Approve},
		{"on the threshold", 0.8, []string{"model_high", "model_named"}, policy.StepUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeModel{score: tt.score}
			e := modelEngine(t, WithModel(m))
			m.calls = 0 // NewEngine asks the model once, to learn the names it reads
			a := e.Evaluate(approved(), h)
			assert.Equal(t, tt.fired, ruleIDs(a.Reasons))
			assert.Equal(t, tt.action, a.Action)
			assert.Empty(t, a.RuleErrors)
			require.NotNil(t, a.Model)
			assert.Equal(t, tt.score, a.Model.Score)
			assert.Equal(t, "fake-1", a.Model.Version)
			assert.Equal(t, []ModelContribution{{Feature: "liveness_score", Value: 12, Contribution: 1.5}}, a.Model.Top)
			assert.Equal(t, 1, m.calls)
		})
	}
}

// TestNoModel: an engine built without a model reads model.score -1 and model.version "", and
// stores no model result.
func TestNoModel(t *testing.T) {
	a := modelEngine(t).Evaluate(approved(), History{Sessions24h: 1})
	assert.Equal(t, []string{"no_model"}, ruleIDs(a.Reasons))
	assert.Nil(t, a.Model)

	act := vocabulary().newActivation(&Signals{}, &History{})
	defer act.release()
	v, ok := act.ResolveName("model.score")
	require.True(t, ok)
	assert.Equal(t, types.Double(NoModelScore), v)
	v, ok = act.ResolveName("model.version")
	require.True(t, ok)
	assert.Equal(t, types.String(""), v)
}

// TestModelOnlyForDecisions: a status without a decision is not scored, by the model neither.
func TestModelOnlyForDecisions(t *testing.T) {
	m := &fakeModel{score: 0.9}
	s := approved()
	s.DiditStatus = string(didit.StatusInProgress)
	e := modelEngine(t, WithModel(m))
	m.calls = 0
	a := e.Evaluate(s, History{})
	assert.False(t, a.Scored)
	assert.Nil(t, a.Model)
	assert.Zero(t, m.calls)
}

// TestModelFailureFailsItsRules: a model that cannot score is recorded; the rules reading
// model.* fail (recorded, not fired), the others are unaffected.
func TestModelFailureFailsItsRules(t *testing.T) {
	m := &fakeModel{err: errors.New("feature db_validation_match: unknown value \"maybe\"")}
	a := modelEngine(t, WithModel(m)).Evaluate(approved(), History{Sessions24h: 1})
	assert.Nil(t, a.Model)
	assert.Equal(t, []string{"model_named"}, ruleIDs(a.Reasons), "model.version is known")
	require.NotEmpty(t, a.RuleErrors)
	assert.Equal(t, RuleError{Rule: ModelRule, Error: m.err.Error()}, a.RuleErrors[0])
	var failed []string
	for _, e := range a.RuleErrors[1:] {
		failed = append(failed, e.Rule)
		assert.Contains(t, e.Error, "unknown value")
	}
	// no_model is `model.score == -1.0 && model.version == ""`: CEL's && is false as soon as
	// one side is, the error notwithstanding.
	assert.Equal(t, []string{"model_high"}, failed)
}

// TestModelReadsTheVariables: the model's features come from the same variables as the rules',
// as Go values (model.FeaturesFrom's types), by their rule names.
func TestModelReadsTheVariables(t *testing.T) {
	m := &fakeModel{score: 0.5, read: map[string]any{
		"signals.liveness_score": nil, "signals.duplicate_face_matches": nil, "signals.nfc_verified": nil,
		"signals.risk_errors": nil, "signals.db_validation_match": nil, "signals.didit_status": nil,
		"history.sessions_24h": nil, "history.declined_sessions": nil, "history.previous_level": nil,
		"signals.nope": nil,
	}}
	s := approved()
	s.DiditStatus, s.LivenessScore, s.DuplicateFaceMatches, s.NFCVerified = "Declined", 42.5, 3, true
	s.RiskErrors, s.DBValidationMatch = []string{"A", "B"}, "partial_match"
	modelEngine(t, WithModel(m)).Evaluate(s, History{Sessions24h: 4, DeclinedSessions: 2, PreviousLevel: policy.High})
	assert.Equal(t, map[string]any{
		"signals.liveness_score": 42.5, "signals.duplicate_face_matches": int64(3), "signals.nfc_verified": true,
		"signals.risk_errors": []string{"A", "B"}, "signals.db_validation_match": "partial_match",
		"signals.didit_status": "Declined", "history.sessions_24h": int64(4), "history.declined_sessions": int64(2),
		"history.previous_level": "high", "signals.nope": "<missing>",
	}, m.read)
}
