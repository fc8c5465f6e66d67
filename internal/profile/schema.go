// Package profile keeps one living risk profile per user in Firestore: the contract with
// product code, which reads risk_profiles/{id}. Only derived signals and risk codes are stored,
// never names, birth dates, document numbers, addresses or image URLs.
package profile

import (
	"net/url"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// SchemaVersion is bumped on any change product code must know about.
const SchemaVersion = 1

// Collections and sub-collections.
const (
	Profiles    = "risk_profiles"
	Assessments = "assessments"      // risk_profiles/{id}/assessments/{assessment id}
	Processed   = "processed_events" // risk_profiles/{id}/processed_events/{event key}: dedupe markers, TTL on expire_at
)

// Step-up statuses as stored in step_ups.{kind}.status and in the step-up claims. Their one
// declaration is policy.StepStatus (rules read the same values); these are its stored form.
const (
	StepPending   = string(policy.StepPending)   // claimed, Didit not yet called (or the call is being retried)
	StepCreated   = string(policy.StepCreated)   // the Didit session exists; send the user to URL
	StepCompleted = string(policy.StepCompleted) // the step-up session's webhook came back with a decision
	StepFailed    = string(policy.StepFailed)    // Didit refused permanently (reason says why)
)

// Review states.
const (
	ReviewNone = "none"
	ReviewOpen = "open"
)

// Profile is risk_profiles/{id}.
type Profile struct {
	SchemaVersion    int                     `firestore:"schema_version"`
	UserID           string                  `firestore:"user_id"` // Didit vendor_data; empty for anonymous sessions
	Score            int                     `firestore:"score"`   // 0–100
	Level            string                  `firestore:"level"`   // low, medium, high, critical
	Action           string                  `firestore:"action"`  // approve, step_up, review, block
	Reasons          []Reason                `firestore:"reasons"`
	RequiredSteps    []string                `firestore:"required_steps"`
	PolicyVersion    string                  `firestore:"policy_version"`
	LastSessionID    string                  `firestore:"last_session_id"`
	LastAssessmentID string                  `firestore:"last_assessment_id"`
	ReviewState      string                  `firestore:"review_state"` // none, open: the operators' queue
	Blocked          bool                    `firestore:"blocked"`
	Sessions         map[string]SessionState `firestore:"sessions"`        // by Didit session id
	StepUps          map[string]StepUp       `firestore:"step_ups"`        // by kind: nfc, phone, biometric, poa, ...
	DocumentHashes   []string                `firestore:"document_hashes"` // keyed hashes, never the numbers
	DeviceHashes     []string                `firestore:"device_hashes"`
	EventsApplied    int                     `firestore:"events_applied"` // webhooks applied (duplicates excluded)
	AssessmentsTotal int                     `firestore:"assessments_total"`
	CreatedAt        time.Time               `firestore:"created_at"`
	UpdatedAt        time.Time               `firestore:"updated_at"`
}

// Reason is one rule that counted towards the score.
type Reason struct {
	Rule        string `firestore:"rule" json:"rule"`
	Points      int    `firestore:"points" json:"points"`
	Description string `firestore:"description" json:"description"`
}

// SessionState is the latest known state of one Didit session of the user.
type SessionState struct {
	Status       string    `firestore:"status"`     // Didit's status, e.g. "Approved"
	EventTime    time.Time `firestore:"event_time"` // the webhook's timestamp: sessions only move forward
	FirstSeen    time.Time `firestore:"first_seen"`
	UpdatedAt    time.Time `firestore:"updated_at"`
	AssessmentID string    `firestore:"assessment_id,omitempty"`
	Decided      bool      `firestore:"decided"`
	// Signals are the session's derived signals (no personal data), kept so the verdict can be
	// re-derived from facts whatever order webhooks arrive in, and step-up results laid over them.
	Signals         *scoring.Signals `firestore:"signals,omitempty"`
	StepUpKind      string           `firestore:"step_up_kind,omitempty"`      // set when this is a step-up session
	OriginSessionID string           `firestore:"origin_session_id,omitempty"` // the session the step-up answers
}

// StepUp is the state of the latest step-up of one kind, as product code sees it.
type StepUp struct {
	Kind            string    `firestore:"kind"`
	Status          string    `firestore:"status"` // a policy.StepStatus: pending, created, completed, failed
	AssessmentID    string    `firestore:"assessment_id"`
	OriginSessionID string    `firestore:"origin_session_id"`
	DiditSessionID  string    `firestore:"didit_session_id,omitempty"`
	URL             string    `firestore:"url,omitempty"`     // where product code sends the user
	Outcome         string    `firestore:"outcome,omitempty"` // once completed: approved, declined, or review (In Review, Abandoned); see scoring.StepUpOutcome
	Reason          string    `firestore:"reason,omitempty"`  // why it failed
	CreatedAt       time.Time `firestore:"created_at"`
	UpdatedAt       time.Time `firestore:"updated_at"`
	RetryAt         time.Time `firestore:"retry_at,omitempty"` // a pending step waiting for Didit (reason says why) is not tried before
}

// DocID is the profile document id for a user: vendor_data itself when Firestore allows it (so
// product code can read risk_profiles/{its own user id}), escaped when it holds a '/', and
// "session:{session id}" for a session that carries no vendor_data.
func DocID(vendorData, sessionID string) string {
	if vendorData == "" {
		return "session:" + sessionID
	}
	if strings.ContainsRune(vendorData, '/') || vendorData == "." || vendorData == ".." ||
		strings.HasPrefix(vendorData, "u:") || strings.HasPrefix(vendorData, "session:") ||
		(strings.HasPrefix(vendorData, "__") && strings.HasSuffix(vendorData, "__")) || len(vendorData) > 1400 {
		return "u:" + url.PathEscape(vendorData)
	}
	return vendorData
}
