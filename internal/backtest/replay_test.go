package backtest

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

// liveEvaluator is what the scorer runs by default: the default policy and the default model.
func liveEvaluator(t testing.TB) *profile.PolicyEvaluator {
	t.Helper()
	m, err := modelscore.Load("")
	require.NoError(t, err)
	return profile.NewEvaluator(policy.Default(), scoring.WithModel(m))
}

// seeded is the seeded set: synthetic users folded through the scorer's fold.
func seeded(t testing.TB, seed uint64, users int) Records {
	t.Helper()
	var out Records
	require.NoError(t, Synthetic{Seed: seed, Users: users, Eval: liveEvaluator(t)}.Each(context.Background(), Window{}, true,
		func(pid string, a *profile.Assessment) error {
			out = append(out, Record{ProfileID: pid, Assessment: a})
			return nil
		}))
	return out
}

// TestReplayWithTheLivePolicyReproducesTheStoredVerdict: every seeded assessment, replayed from
// what it stored with the policy that produced it, gives its verdict back exactly — the set
// covers step-up sessions, the model and most rules, so nothing the verdict needs is missing.
func TestReplayWithTheLivePolicyReproducesTheStoredVerdict(t *testing.T) {
	recs := seeded(t, 1, 400)
	rp := NewReplayer(policy.Default())
	var stepUps, withModel, fired int
	rules := map[string]bool{}
	for _, rec := range recs {
		a := rec.Assessment
		got := rp.Replay(a)
		require.Empty(t, Mismatch(a, got), "assessment %s", a.ID)
		if a.History.IsStepUp {
			stepUps++
		}
		if a.Model != nil {
			withModel++
		}
		for _, r := range a.Reasons {
			rules[r.Rule] = true
		}
		if len(a.Reasons) > 0 {
			fired++
		}
	}
	t.Logf("%d assessments, %d refined by a step-up, %d with a model score, %d distinct rules fired", len(recs), stepUps, withModel, len(rules))
	assert.Greater(t, len(recs), 700)
	assert.Positive(t, stepUps, "the set must hold step-up sessions")
	assert.Equal(t, len(recs), withModel)
	assert.GreaterOrEqual(t, len(rules), 20)
}

// TestReplayNeedsTheStepUpHistory: without the step-up part of the history, replays of step-up
// assessments stop matching: it is what the verdict needs.
func TestReplayNeedsTheStepUpHistory(t *testing.T) {
	rp := NewReplayer(policy.Default())
	broken := 0
	for _, rec := range seeded(t, 1, 400) {
		a := *rec.Assessment
		if !a.History.IsStepUp {
			continue
		}
		a.History.StepUps, a.History.IsStepUp, a.History.StepUpKind = nil, false, ""
		if Mismatch(rec.Assessment, rp.Replay(&a)) != "" {
			broken++
		}
	}
	assert.Positive(t, broken)
}

func TestMismatchNamesTheField(t *testing.T) {
	recs := seeded(t, 2, 20)
	a := recs[0].Assessment
	got := NewReplayer(policy.Default()).Replay(a)
	got.Score++
	got.Action = policy.Block
	m := Mismatch(a, got)
	assert.Contains(t, m, "score: stored")
	assert.Contains(t, m, "action: stored")
}

// withModelRule is the default policy with its model rule counted instead of shadow.
func withModelRule(t testing.TB) *policy.Policy {
	t.Helper()
	src := strings.Replace(string(policy.DefaultSource()), "    when: model.score >= 0.8\n    points: 30\n    shadow: true\n", "    when: model.score >= 0.8\n    points: 30\n", 1)
	p, err := policy.Parse([]byte(src))
	require.NoError(t, err)
	require.False(t, p.Rule("model_high_risk").Shadow)
	return p
}

// TestAPersonsDecisionIsNotThePolicys: where a reviewer, an override or the cooldown set the
// applied action, the live side of a comparison (and of a replay check) is the policy's own
// verdict, policy_verdict.
func TestAPersonsDecisionIsNotThePolicys(t *testing.T) {
	recs := seeded(t, 2, 20)
	a := *recs[0].Assessment
	replayed := NewReplayer(policy.Default()).Replay(&a)
	require.Empty(t, Mismatch(&a, replayed))
	own := Stored(&a)

	decided := a
	decided.DecidedBy = profile.DecidedByOperator
	decided.PolicyVerdict = &profile.PolicyVerdict{Score: a.Score, Level: a.Level, Action: a.Action, PolicyVersion: a.PolicyVersion}
	decided.Action, decided.Level = policy.Block, policy.Critical
	if a.Action == policy.Block {
		decided.Action = policy.Approve
	}
	assert.Equal(t, own, Stored(&decided), "the policy's verdict, not the operator's")
	assert.Empty(t, Mismatch(&decided, replayed), "the replay reproduces the policy's verdict")

	decided.PolicyVerdict = nil
	assert.NotEqual(t, own, Stored(&decided), "without policy_verdict the applied verdict is the policy's")
}
