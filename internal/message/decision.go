package message

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Decision is the message published to the decisions topic after each assessment, for the
// step-up function and for product consumers. It carries no personal data.
type Decision struct {
	ProfileID     string            `json:"profile_id"`
	UserID        string            `json:"user_id,omitempty"` // vendor_data
	AssessmentID  string            `json:"assessment_id"`
	SessionID     string            `json:"session_id"`
	Score         int               `json:"score"`
	Level         policy.Level      `json:"level"`
	Action        policy.Action     `json:"action"`
	RequiredSteps []policy.StepKind `json:"required_steps,omitempty"`
	PolicyVersion string            `json:"policy_version"`
	Reasons       []Reason          `json:"reasons,omitempty"`
	StepUpKind    policy.StepKind   `json:"step_up_kind,omitempty"` // when the assessed session was itself a step-up
	// DecidedBy says who set Action (and Level): "policy", "reviewer" (a person's verdict in
	// Didit's console) or "operator" (an override); the JSON field and attribute share
	// AttrDecidedBy's name. Empty on decisions of older publishers: read it as policy.
	DecidedBy string `json:"decided_by,omitempty"`
	// SessionStatus is Didit's status of SessionID (the session the verdict is about) as the
	// scorer knew it at the assessment; empty when unknown. The step-up function does not ask
	// Didit's console to review a session that is already In Review.
	SessionStatus didit.Status `json:"session_status,omitempty"`
	DecidedAt     time.Time    `json:"decided_at"`
	// DecisionTrusted is false when the webhook's decision was not signature-covered. Its JSON
	// field and attribute share AttrDecisionAuthenticated's name; a decision without it decodes
	// as untrusted.
	DecisionTrusted bool `json:"decision_authenticated"`
}

// Reason is one rule that counted, as the decision message carries it.
type Reason struct {
	Rule        string `json:"rule"`
	Points      int    `json:"points"`
	Description string `json:"description"`
}

// Attributes returns the message attributes of the decision.
func (d Decision) Attributes() map[string]string {
	a := map[string]string{
		AttrMessageType:           string(TypeDecision),
		AttrAction:                string(d.Action),
		AttrLevel:                 string(d.Level),
		AttrProfile:               d.ProfileID,
		AttrAssessmentID:          d.AssessmentID,
		AttrDecisionAuthenticated: strconv.FormatBool(d.DecisionTrusted),
	}
	if d.UserID != "" && len(d.UserID) <= maxAttr {
		a[AttrUser] = d.UserID
	}
	if d.StepUpKind != "" {
		a[AttrStepUpKind] = string(d.StepUpKind)
	}
	if d.DecidedBy != "" {
		a[AttrDecidedBy] = d.DecidedBy
	}
	return a
}

// Encode returns the decision's message data.
func (d Decision) Encode() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, failure.Errorf(failure.Internal, "encode decision: %w", err)
	}
	return b, nil
}

// DecodeDecision parses a decision message. A malformed one is Invalid: retrying cannot fix it.
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
