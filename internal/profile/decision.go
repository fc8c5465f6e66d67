package profile

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Decision is the event published to the decisions topic after each assessment, for the
// step-up function and for product consumers. It carries no personal data.
type Decision struct {
	ProfileID       string    `json:"profile_id"`
	UserID          string    `json:"user_id,omitempty"` // vendor_data
	AssessmentID    string    `json:"assessment_id"`
	SessionID       string    `json:"session_id"`
	Score           int       `json:"score"`
	Level           string    `json:"level"`
	Action          string    `json:"action"`
	RequiredSteps   []string  `json:"required_steps,omitempty"`
	PolicyVersion   string    `json:"policy_version"`
	Reasons         []Reason  `json:"reasons,omitempty"`
	StepUpKind      string    `json:"step_up_kind,omitempty"` // when the assessed session was itself a step-up
	DecidedAt       time.Time `json:"decided_at"`
	DecisionTrusted bool      `json:"decision_trusted"` // false when the webhook's decision was not signature-covered
}

// Decision attributes: the step-up subscription filters on action.
const (
	AttrAction       = "action"
	AttrLevel        = "level"
	AttrUser         = "user"
	AttrProfile      = "profile_id"
	AttrAssessmentID = "assessment_id"
)

// Attributes returns the message attributes of the decision event.
func (d Decision) Attributes() map[string]string {
	a := map[string]string{
		AttrAction:       d.Action,
		AttrLevel:        d.Level,
		AttrProfile:      d.ProfileID,
		AttrAssessmentID: d.AssessmentID,
	}
	if d.UserID != "" && len(d.UserID) <= 1024 {
		a[AttrUser] = d.UserID
	}
	return a
}

// DecodeDecision parses a decision event. A malformed one is Invalid: retrying cannot fix it.
func DecodeDecision(data []byte) (Decision, error) {
	var d Decision
	if err := json.Unmarshal(data, &d); err != nil {
		return d, failure.Errorf(failure.Invalid, "decode decision: %w", err)
	}
	if d.ProfileID == "" || d.AssessmentID == "" || d.Action == "" {
		return d, failure.Errorf(failure.Invalid, "decision lacks profile_id, assessment_id or action")
	}
	return d, nil
}

// StepUpMetadataKey is the key under which a step-up session's Didit metadata links it back to
// the assessment that asked for it; Didit echoes metadata in the session's webhooks.
const StepUpMetadataKey = "risk_step_up"

// StepUpLink is the value stored under StepUpMetadataKey.
type StepUpLink struct {
	ProfileID       string `json:"profile_id"`
	AssessmentID    string `json:"assessment_id"`
	OriginSessionID string `json:"origin_session_id"`
	Kind            string `json:"kind"`
}

// ParseStepUpLink reads the link from a webhook's metadata object, if any.
func ParseStepUpLink(metadata map[string]any) (StepUpLink, bool) {
	raw, ok := metadata[StepUpMetadataKey]
	if !ok {
		return StepUpLink{}, false
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return StepUpLink{}, false
	}
	var l StepUpLink
	if err := json.Unmarshal(b, &l); err != nil || l.Kind == "" || l.AssessmentID == "" {
		return StepUpLink{}, false
	}
	return l, true
}

// String is for logs: ids only.
func (l StepUpLink) String() string {
	return fmt.Sprintf("%s/%s/%s", l.ProfileID, l.AssessmentID, l.Kind)
}
