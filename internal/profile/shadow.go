package profile

import "github.com/riskwire/didit-risk/internal/policy"

// Shadowed is the live policy's Evaluator with a shadow policy beside it (SHADOW_POLICY_FILE).
// Everything that decides (the fold, the profile, the decision event) sees the live one alone:
// Evaluate is the live policy's. The shadow is evaluated once per assessment, on the signals
// and history of the live verdict's session, and its verdict is only stored with the
// assessment (shadow_policy), so a shadow that blocks everyone changes nothing.
type Shadowed struct {
	Evaluator           // the live policy
	Shadow    Evaluator // the candidate, never acted on
}

// WithShadow returns live with shadow beside it; a nil shadow returns live itself.
func WithShadow(live, shadow Evaluator) Evaluator {
	if shadow == nil {
		return live
	}
	return Shadowed{Evaluator: live, Shadow: shadow}
}

// Policy is the live policy (for the adjustments the live verdict records).
func (s Shadowed) Policy() *policy.Policy {
	if p, ok := s.Evaluator.(policyOf); ok {
		return p.Policy()
	}
	return nil
}

// shadowVerdict evaluates eng's shadow policy, if it has one, on the inputs of v's verdict.
func shadowVerdict(eng Evaluator, v Verdict) *ShadowVerdict {
	s, ok := eng.(Shadowed)
	if !ok || s.Shadow == nil || v.State != VerdictAssessed {
		return nil
	}
	a := s.Shadow.Evaluate(v.Assessment.Signals, v.Input)
	return &ShadowVerdict{PolicyVersion: a.PolicyVersion, Score: a.Score, Level: a.Level, Action: a.Action, Reasons: reasons(a.Reasons)}
}

var _ policyOf = Shadowed{}

// Version is the live evaluator's: the shadow never enters the stored verdicts' keys.
func (s Shadowed) Version() string { return evaluatorVersion(s.Evaluator) }
