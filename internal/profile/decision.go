package profile

import (
	"encoding/json"
	"fmt"

	"github.com/riskwire/didit-risk/internal/policy"
)

// StepUpMetadataKey is the key under which a step-up session's Didit metadata links it back to
// the assessment that asked for it; Didit echoes metadata in the session's webhooks.
const StepUpMetadataKey = "risk_step_up"

// StepUpLink is the value stored under StepUpMetadataKey.
type StepUpLink struct {
	ProfileID       string          `json:"profile_id"`
	AssessmentID    string          `json:"assessment_id"`
	OriginSessionID string          `json:"origin_session_id"`
	Kind            policy.StepKind `json:"kind"`
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
