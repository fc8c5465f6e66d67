package scoring

import (
	"github.com/riskwire/didit-risk/internal/didit"
)

// History is what the stored risk profile tells about the user before this event.
type History struct {
	Sessions24h       int               // distinct sessions seen in the last 24 h (this one included)
	Sessions30d       int               // distinct sessions seen in the last 30 days (this one included)
	DeclinedSessions  int               // sessions that ended Declined
	DistinctDocuments int               // distinct document hashes seen for this user (this one included)
	DistinctDevices   int               // distinct device hashes seen for this user (this one included)
	PreviousLevel     string            // "" for a new user
	PreviousAction    string            // "" for a new user
	StepUps           map[string]StepUp // by kind: "nfc", "phone", "biometric", "poa", "email", "aml"
	IsStepUp          bool              // this event is the webhook of a step-up session we created
	StepUpKind        string            // its kind when IsStepUp
}

// StepUp is the latest step-up of one kind.
type StepUp struct {
	Status  string // pending | created | completed | failed
	Outcome string // "" | approved | declined
}

// Step-up statuses and outcomes as History carries them.
const (
	StepPending   = "pending"
	StepCreated   = "created"
	StepCompleted = "completed"
	StepFailed    = "failed"

	OutcomeApproved = "approved"
	OutcomeDeclined = "declined"
)

// StepUpOutcome is the outcome a step-up session's Didit status stands for: approved,
// declined, or "" while it has none (in review, abandoned, in progress...).
func StepUpOutcome(s didit.Status) string {
	switch s {
	case didit.StatusApproved:
		return OutcomeApproved
	case didit.StatusDeclined:
		return OutcomeDeclined
	}
	return ""
}

// approved reports whether a step-up of this kind already succeeded, so it is not asked again.
func (h *History) approved(kind string) bool {
	su, ok := h.StepUps[kind]
	return ok && su.Status == StepCompleted && su.Outcome == OutcomeApproved
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
	if cur := h.StepUps[h.StepUpKind]; cur.Status == StepCompleted && cur.Outcome == out {
		return h
	}
	m := make(map[string]StepUp, len(h.StepUps)+1)
	for k, v := range h.StepUps {
		m[k] = v
	}
	m[h.StepUpKind] = StepUp{Status: StepCompleted, Outcome: out}
	h.StepUps = m
	return h
}
