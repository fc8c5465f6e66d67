package model

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLabel(t *testing.T) {
	a := func(action, didit, kind, session string) map[string]any {
		m := map[string]any{"action": action, "session_status": session, "signals": map[string]any{"didit_status": didit}}
		if kind != "" {
			m["step_up_kind"] = kind
		}
		return m
	}
	cases := []struct {
		name     string
		a        map[string]any
		outcomes []string
		label    int
		rule     string
		ok       bool
	}{
		{"approved by Didit, approved by policy", a("approve", "Approved", "", "Approved"), nil, 0, RuleDiditApproved, true},
		{"declined by Didit", a("review", "Declined", "", "Declined"), nil, 1, RuleDiditDeclined, true},
		{"blocked", a("block", "Approved", "", "Approved"), nil, 1, RuleBlocked, true},
		{"blocked wins over an approved step-up", a("block", "Approved", "", "Approved"), []string{"approved"}, 1, RuleBlocked, true},
		{"step-up asked and declined", a("step_up", "Approved", "", "Approved"), []string{"declined"}, 1, RuleStepUpDeclined, true},
		{"one of two step-ups declined", a("step_up", "Approved", "", "Approved"), []string{"approved", "declined"}, 1, RuleStepUpDeclined, true},
		{"step-up session declined", a("review", "Declined", "nfc", "Declined"), nil, 1, RuleStepUpDeclined, true},
		{"step-up approved", a("step_up", "Approved", "", "Approved"), []string{"approved"}, 0, RuleStepUpApproved, true},
		{"step-up pending", a("step_up", "Approved", "", "Approved"), []string{"pending"}, 0, RuleStepUpUnsettled, false},
		{"step-up not created yet", a("step_up", "Approved", "", "Approved"), nil, 0, RuleStepUpUnsettled, false},
		{"one approved, one in review", a("step_up", "Approved", "", "Approved"), []string{"approved", "review"}, 0, RuleStepUpUnsettled, false},
		{"sent to review", a("review", "Approved", "", "Approved"), nil, 0, RuleAwaitingReview, false},
		{"in review at Didit", a("approve", "In Review", "", "In Review"), nil, 0, RuleNoOutcome, false},
		{"abandoned", a("approve", "Abandoned", "", "Abandoned"), nil, 0, RuleNoOutcome, false},
		{"nothing stored", map[string]any{}, nil, 0, RuleNoOutcome, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			label, rule, ok := Label(c.a, c.outcomes)
			assert.Equal(t, c.rule, rule)
			assert.Equal(t, c.ok, ok)
			if c.ok {
				assert.Equal(t, c.label, label)
			}
		})
	}
}

func TestStepUpOutcomes(t *testing.T) {
	p := map[string]any{"step_ups": map[string]any{
		"nfc":       map[string]any{"assessment_id": "a1", "status": "completed", "outcome": "declined"},
		"phone":     map[string]any{"assessment_id": "a1", "status": "created"},
		"biometric": map[string]any{"assessment_id": "a2", "status": "completed", "outcome": "approved"},
		"poa":       map[string]any{"status": "failed"},
	}}
	got := StepUpOutcomes(p)
	assert.ElementsMatch(t, []string{"declined", "pending"}, got["a1"])
	assert.Equal(t, []string{"approved"}, got["a2"])
	assert.Len(t, got, 2)
	assert.Empty(t, StepUpOutcomes(map[string]any{}))
}
