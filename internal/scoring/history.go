package scoring

import (
	"maps"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// History is what the stored risk profile tells about the user before this event.
type History struct {
	Sessions24h       int                        // distinct sessions seen in the last 24 h (this one included)
	Sessions30d       int                        // distinct sessions seen in the last 30 days (this one included)
	DeclinedSessions  int                        // sessions that ended Declined
	DistinctDocuments int                        // distinct document hashes seen for this user (this one included)
	DistinctDevices   int                        // distinct device hashes seen for this user (this one included)
	PreviousLevel     policy.Level               // "" for a new user
	PreviousAction    policy.Action              // "" for a new user
	StepUps           map[policy.StepKind]StepUp // the latest step-up of each kind
	IsStepUp          bool                       // this event is the webhook of a step-up session we created
	StepUpKind        policy.StepKind            // its kind when IsStepUp
}

// StepUp is the latest step-up of one kind.
type StepUp struct {
	Status  policy.StepStatus
	Outcome policy.StepOutcome // "" until Status is completed
}

// StepUpOutcome is the outcome a step-up session's Didit status stands for, for a status with a
// decision (didit.Status.HasDecision): approved, declined, or review for In Review and
// Abandoned. It is the one mapping: the stored profile's step_ups.<kind>.outcome and what rules
// read as step_up_outcome("kind") both come from it. "" for a status without a decision.
func StepUpOutcome(s didit.Status) policy.StepOutcome {
	switch {
	case s == didit.StatusApproved:
		return policy.OutcomeApproved
	case s == didit.StatusDeclined:
		return policy.OutcomeDeclined
	case s.HasDecision():
		return policy.OutcomeReview
	}
	return ""
}

// approved reports whether a step-up of this kind already succeeded, so it is not asked again.
func (h *History) approved(kind policy.StepKind) bool {
	su, ok := h.StepUps[kind]
	return ok && su.Status == policy.StepCompleted && su.Outcome == policy.OutcomeApproved
}

// withCurrentStepUp makes the step-up being scored count as completed with the outcome of its
// own Didit status when the stored history does not know it yet (the profile is written after
// the assessment), so "approved NFC step-up lowers the score" holds on the step-up's own webhook.
func (h History) withCurrentStepUp(status didit.Status) History {
	if !h.IsStepUp || h.StepUpKind == "" {
		return h
	}
	out := StepUpOutcome(status)
	if out == "" {
		return h
	}
	if cur := h.StepUps[h.StepUpKind]; cur.Status == policy.StepCompleted && cur.Outcome == out {
		return h
	}
	m := make(map[policy.StepKind]StepUp, len(h.StepUps)+1)
	maps.Copy(m, h.StepUps)
	m[h.StepUpKind] = StepUp{Status: policy.StepCompleted, Outcome: out}
	h.StepUps = m
	return h
}
