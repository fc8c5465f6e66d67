package synth

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/model"
)

func TestGenerate(t *testing.T) {
	ps := Generate(3, 600)
	assert.Equal(t, ps, Generate(3, 600), "same seed, same data")
	assert.NotEqual(t, ps, Generate(4, 600))

	total, labels, rules := 0, map[int]int{}, map[string]int{}
	for _, p := range ps {
		outcomes := model.StepUpOutcomes(p.Doc)
		for _, a := range p.Assessments {
			total++
			sig, hist := a["signals"].(map[string]any), a["history"].(map[string]any)
			_, err := model.FeaturesFromMaps(sig, hist)
			require.NoError(t, err, "every synthetic assessment has every feature")
			label, rule, ok := model.Label(a, outcomes[a["id"].(string)])
			rules[rule]++
			if ok {
				labels[label]++
			}
		}
	}
	assert.Equal(t, 600, total)
	assert.Greater(t, labels[0], 100)
	assert.Greater(t, labels[1], 60)
	for _, r := range []string{model.RuleBlocked, model.RuleDiditDeclined, model.RuleStepUpDeclined, model.RuleStepUpApproved,
		model.RuleDiditApproved, model.RuleAwaitingReview, model.RuleStepUpUnsettled, model.RuleNoOutcome} {
		assert.Positive(t, rules[r], "rule %s occurs", r)
	}
}
