package profile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

// recording is an Evaluator that keeps every input it was given.
type recording struct {
	Evaluator
	calls *[]evalInput
}

type evalInput struct {
	sig scoring.Signals
	h   scoring.History
}

func (r recording) Evaluate(sig scoring.Signals, h scoring.History) scoring.Assessment {
	*r.calls = append(*r.calls, evalInput{sig.Clone(), h})
	return r.Evaluator.Evaluate(sig, h)
}

func (r recording) Policy() *policy.Policy { return r.Evaluator.(policyOf).Policy() }

func blockAll(t testing.TB) *PolicyEvaluator {
	t.Helper()
	p, err := policy.Parse(testdata.Read(t, "policy/shadow_block_all.yaml"))
	require.NoError(t, err)
	return NewEvaluator(p)
}

// step is one event of a scenario, with what happens to the profile before it (the step-up
// function recording a step).
type step struct {
	ev     Event
	before func(p *Profile)
}

// TestShadowPolicyIsNeverActedOn: with a shadow policy that blocks everyone beside the live
// one, every profile and every assessment is what the live policy alone makes, except the
// stored shadow verdict; the shadow is evaluated once per assessment, on exactly the signals and
// history of the live verdict's session (not a second fold).
func TestShadowPolicyIsNeverActedOn(t *testing.T) {
	nfc := decided("e2", "x1", "Approved", t0.Add(time.Hour), "")
	nfc.Signals.FeaturesPresent, nfc.Signals.Warnings, nfc.Signals.RiskCodes = []string{policy.FeatureNFC}, nil, nil
	nfc.StepUp = &StepUpLink{ProfileID: "u", AssessmentID: "e1", OriginSessionID: "s1", Kind: "nfc"}
	recordNFC := func(p *Profile) {
		p.StepUps["nfc"] = StepUp{Kind: "nfc", Status: policy.StepCreated, AssessmentID: "e1", OriginSessionID: "s1", DiditSessionID: "x1", CreatedAt: t0}
	}
	tests := []struct {
		name  string
		steps []step
		live  []policy.Action // the live action after each step ("" when no assessment)
	}{
		{"one clean approval", []step{{ev: decided("e1", "s1", "Approved", t0, "doc-a")}}, []policy.Action{"approve"}},
		{"progress, then a decline", []step{
			{ev: progress("e1", "s1", "In Progress", t0)},
			{ev: decided("e2", "s1", "Declined", t0.Add(time.Minute), "doc-a")},
		}, []policy.Action{"", "review"}},
		{"a decline, then an approval with history", []step{
			{ev: decided("e1", "s1", "Declined", t0, "doc-a")},
			{ev: decided("e2", "s2", "Approved", t0.Add(30*time.Hour), "doc-b")},
		}, []policy.Action{"review", "step_up"}},
		{"an NFC step-up answers its session", []step{
			{ev: decided("e1", "s1", "Approved", t0, "doc-a", "POSSIBLE_DUPLICATED_USER")},
			{ev: nfc, before: recordNFC},
		}, []policy.Action{"step_up", "approve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var liveOnly, live, shadow []evalInput
			base := NewEvaluator(policy.Default())
			plain := recording{base, &liveOnly}
			shadowed := WithShadow(recording{base, &live}, recording{blockAll(t), &shadow})

			p1, p2 := newProfile(Event{UserID: "u"}, t0), newProfile(Event{UserID: "u"}, t0)
			for i, s := range tt.steps {
				if s.before != nil {
					s.before(&p1)
					s.before(&p2)
				}
				a1, _ := recordT(&p1, s.ev, plain, t0, nil)
				shadowCalls := len(shadow)
				a2, _ := recordT(&p2, s.ev, shadowed, t0, nil)

				require.Equal(t, p1, p2, "step %d: the profile is the live policy's alone", i)
				if a2 == nil {
					assert.Empty(t, tt.live[i], "step %d writes no assessment", i)
					assert.Nil(t, a1)
					assert.Len(t, shadow, shadowCalls, "step %d: no assessment, no shadow", i)
					continue
				}
				require.NotNil(t, a1)
				sv := a2.ShadowPolicy
				require.NotNil(t, sv, "step %d", i)
				a2.ShadowPolicy = nil
				assert.Equal(t, *a1, *a2, "step %d: the assessment is the live policy's, the shadow verdict apart", i)
				assert.Equal(t, tt.live[i], a2.Action)

				assert.Equal(t, &ShadowVerdict{PolicyVersion: "shadow-block-all-1", Score: 100, Level: policy.Critical, Action: policy.Block,
					Reasons: []Reason{{Rule: "block_everyone", Points: 100, Description: "Every decided session"}}}, sv)
				require.Len(t, shadow, shadowCalls+1, "step %d: the shadow runs once per assessment", i)
				assert.Equal(t, live[len(live)-1], shadow[len(shadow)-1], "step %d: on the live verdict's own signals and history", i)
			}
		})
	}
}

func TestWithShadow(t *testing.T) {
	live := NewEvaluator(policy.Default())
	assert.Same(t, live, WithShadow(live, nil), "no shadow: the live evaluator itself")
	s := WithShadow(live, blockAll(t))
	require.IsType(t, Shadowed{}, s)
	assert.Same(t, live.Policy(), s.(policyOf).Policy(), "adjustments are the live policy's")
	a := s.Evaluate(decided("", "", "Approved", t0, "d").Signals, scoring.History{})
	assert.Equal(t, policy.Default().Version, a.PolicyVersion, "Evaluate is the live policy's")
	assert.Nil(t, shadowVerdict(live, Verdict{State: VerdictAssessed}), "no shadow, no shadow verdict")
	assert.Nil(t, shadowVerdict(s, Verdict{State: VerdictUnverified}), "nothing to compare while unverified")
}
