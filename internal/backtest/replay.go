// Package backtest measures a policy change before it acts: it re-evaluates stored assessments
// (risk_profiles/{id}/assessments) with a candidate policy, from the signals, history and model
// result each assessment recorded, and reports what would change: levels and actions live vs
// candidate, rule fire counts, the users whose action moves, the score distribution. The same
// report compares the stored live verdict with the stored shadow policy's verdict.
//
// The core (Replayer, Tally) is pure; Source adapts where assessments come from (Firestore in
// streamed pages, or a generator in tests and benchmarks).
package backtest

import (
	"errors"
	"fmt"
	"slices"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Verdict is one side of a comparison: what a policy concluded on an assessment.
type Verdict struct {
	Score  int
	Level  policy.Level
	Action policy.Action
	Rules  []string // fired rules that counted, in policy order
	Shadow []string // fired shadow rules
}

// Stored is the verdict an assessment recorded: what the live policy decided. When something
// else set the action (a reviewer, an operator's override, a downgrade cooldown), that is the
// policy's own verdict (policy_verdict), so a candidate policy is compared with a policy.
func Stored(a *profile.Assessment) Verdict {
	score, level, action := livePolicy(a)
	return Verdict{Score: score, Level: level, Action: action, Rules: ruleIDs(a.Reasons), Shadow: ruleIDs(a.Shadow)}
}

// livePolicy is the live policy's own verdict on an assessment: policy_verdict when a person
// or the cooldown set the applied one, else the applied one.
func livePolicy(a *profile.Assessment) (int, policy.Level, policy.Action) {
	if pv := a.PolicyVerdict; pv != nil {
		return pv.Score, pv.Level, pv.Action
	}
	return a.Score, policy.Level(a.Level), policy.Action(a.Action)
}

// ShadowOf is the stored shadow policy's verdict (SHADOW_POLICY_FILE); false when there is none.
func ShadowOf(a *profile.Assessment) (Verdict, bool) {
	s := a.ShadowPolicy
	if s == nil {
		return Verdict{}, false
	}
	return Verdict{Score: s.Score, Level: s.Level, Action: s.Action, Rules: ruleIDs(s.Reasons)}, true
}

// Of is the verdict of a fresh evaluation.
func Of(a scoring.Assessment) Verdict {
	v := Verdict{Score: a.Score, Level: a.Level, Action: a.Action}
	for _, r := range a.Reasons {
		v.Rules = append(v.Rules, r.Rule)
	}
	for _, r := range a.ShadowHits {
		v.Shadow = append(v.Shadow, r.Rule)
	}
	return v
}

func ruleIDs(rs []profile.Reason) []string {
	if len(rs) == 0 {
		return nil
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Rule
	}
	return out
}

// Replayer evaluates stored assessments with one policy. The model's part is replayed from
// what each assessment recorded (model.score and model.version as the scorer saw them; none
// when it ran none), so a candidate is judged on the same inputs as the live verdict, whatever
// model file is deployed now. Not safe for concurrent use: each goroutine needs its own.
type Replayer struct {
	pol      *policy.Policy
	plain    *scoring.Engine // for assessments without a model
	recorded *scoring.Engine // for those with one: rec answers with the assessment's result
	rec      *recordedModel
}

// NewReplayer returns a Replayer of p.
func NewReplayer(p *policy.Policy) *Replayer {
	rec := &recordedModel{}
	return &Replayer{pol: p, plain: scoring.NewEngine(p), recorded: scoring.NewEngine(p, scoring.WithModel(rec)), rec: rec}
}

// Policy returns the policy replayed.
func (r *Replayer) Policy() *policy.Policy { return r.pol }

// Replay evaluates a's recorded signals and history (step-ups included) with the policy.
func (r *Replayer) Replay(a *profile.Assessment) scoring.Assessment {
	h := a.History.Scoring()
	switch {
	case a.Model != nil:
		r.rec.res, r.rec.err = *a.Model, nil
	case modelFailed(a):
		r.rec.res, r.rec.err = scoring.ModelResult{}, errModelFailed
	default:
		return r.plain.Evaluate(a.Signals, h)
	}
	return r.recorded.Evaluate(a.Signals, h)
}

var errModelFailed = errors.New("model failed when the assessment was scored")

func modelFailed(a *profile.Assessment) bool {
	return slices.ContainsFunc(a.RuleErrors, func(e scoring.RuleError) bool { return e.Rule == scoring.ModelRule })
}

// recordedModel answers the engine with the result an assessment recorded.
type recordedModel struct {
	res scoring.ModelResult
	err error
}

func (m *recordedModel) Version() string { return m.res.Version }

func (m *recordedModel) Score(func(string) (any, bool)) (scoring.ModelResult, error) {
	return m.res, m.err
}

// Mismatch describes how a replay differs from the verdict the assessment stored, "" when it
// reproduces it: score, raw score, level, action, fired and shadow rules (with their points),
// required steps and the rules that failed.
func Mismatch(stored *profile.Assessment, got scoring.Assessment) string {
	var diffs []string
	check := func(field string, want, have any) {
		if fmt.Sprint(want) != fmt.Sprint(have) {
			diffs = append(diffs, fmt.Sprintf("%s: stored %v, replayed %v", field, want, have))
		}
	}
	score, level, action := livePolicy(stored)
	check("score", score, got.Score)
	check("raw_score", stored.RawScore, got.RawScore)
	check("level", level, got.Level)
	check("action", action, got.Action)
	check("reasons", reasonKeys(stored.Reasons), scoringKeys(got.Reasons))
	check("shadow_rules", reasonKeys(stored.Shadow), scoringKeys(got.ShadowHits))
	steps := make([]string, len(got.RequiredSteps))
	for i, s := range got.RequiredSteps {
		steps[i] = string(s)
	}
	check("required_steps", stored.RequiredSteps, steps)
	check("rule_errors", errorRules(stored.RuleErrors), errorRules(got.RuleErrors))
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprint(diffs)
}

func reasonKeys(rs []profile.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s%+d", r.Rule, r.Points)
	}
	return out
}

func scoringKeys(rs []scoring.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = fmt.Sprintf("%s%+d", r.Rule, r.Points)
	}
	return out
}

func errorRules(es []scoring.RuleError) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Rule
	}
	return out
}
