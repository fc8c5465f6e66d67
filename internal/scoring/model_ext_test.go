package scoring_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

func defaultModel(tb testing.TB) *modelscore.Adapter {
	tb.Helper()
	m, err := modelscore.Load("")
	require.NoError(tb, err)
	return m
}

// TestGoldenWithModel: with the default model the golden cases keep their verdicts (score,
// level, action, reasons, steps, overrides): the default policy reads the model only in the
// shadow rule model_high_risk, which alone may join the shadow hits.
func TestGoldenWithModel(t *testing.T) {
	opts := []scoring.Option{scoring.WithModel(defaultModel(t))}
	var fired []string
	var scored int
	scoring.RunGolden(t, opts, func(t *testing.T, want, got *scoring.GoldenWant, a scoring.Assessment) {
		if a.Scored {
			scored++
			require.NotNil(t, a.Model, "the model scores every decided case: %v", a.RuleErrors)
			assert.InDelta(t, 0.5, a.Model.Score, 0.5)
		} else {
			assert.Nil(t, a.Model)
		}
		if i := slices.Index(got.Shadow, "model_high_risk"); i >= 0 {
			fired = append(fired, t.Name())
			got.Shadow = slices.Delete(got.Shadow, i, i+1)
		}
		assert.Equal(t, want, got, "only the shadow rule model_high_risk may differ")
	})
	assert.Positive(t, scored)
	assert.NotEmpty(t, fired, "some risky case reaches the model's threshold")
	t.Logf("model_high_risk fired (shadow) in %d cases: %v", len(fired), fired)
}

// TestDefaultModelInCEL: the embedded model's score and version reach the rules and the
// assessment.
func TestDefaultModelInCEL(t *testing.T) {
	m := defaultModel(t)
	p, err := policy.Parse([]byte(`version: t
thresholds: {medium: 25, high: 55, critical: 85}
actions: {low: approve, medium: step_up, high: review, critical: block}
rules:
  - {id: scored, description: the model ran, when: 'model.score >= 0.0 && model.score <= 1.0 && model.version != ""', points: 0}
`))
	require.NoError(t, err)
	sig := scoring.Extract(scoring.BenchPayload(t), scoring.NewHasher([]byte("k")))
	a := scoring.NewEngine(p, scoring.WithModel(m)).Evaluate(sig, scoring.History{Sessions24h: 1, Sessions30d: 1, DistinctDocuments: 1, DistinctDevices: 1})
	require.True(t, a.Scored)
	assert.Empty(t, a.RuleErrors)
	require.NotNil(t, a.Model)
	assert.Equal(t, m.Version(), a.Model.Version)
	assert.Equal(t, []string{"scored"}, []string{a.Reasons[0].Rule})
}

// BenchmarkScoreWithModel is BenchmarkScore with the default model: the difference between the
// two is what the model costs per webhook (issue 16: at most 5 µs).
func BenchmarkScoreWithModel(b *testing.B) {
	scoring.BenchScore(b, scoring.NewEngine(policy.Default(), scoring.WithModel(defaultModel(b))))
}
