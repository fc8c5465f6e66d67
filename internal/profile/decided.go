package profile

import (
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// DecidedBy says who set a profile's action: the policy, a reviewer in Didit's console, or an
// operator's override.
type DecidedBy string

const (
	DecidedByPolicy   DecidedBy = "policy"
	DecidedByReviewer DecidedBy = "reviewer" // a person, in Didit's console (the session's reviews)
	DecidedByOperator DecidedBy = "operator" // an override set with the operators' command
)

// PolicyVerdict is the policy's own verdict on the user, kept beside the applied one when
// something else decided (a reviewer, an override) or a downgrade cooldown held it back.
type PolicyVerdict struct {
	Score         int           `firestore:"score" json:"score"`
	Level         policy.Level  `firestore:"level" json:"level"`
	Action        policy.Action `firestore:"action" json:"action"`
	PolicyVersion string        `firestore:"policy_version" json:"policy_version"`
}

// HumanVerdict is a reviewer's decision on a session in Didit's console (the decision's
// reviews): a person's verdict, which holds against the facts it was made on.
type HumanVerdict struct {
	SessionID string        `firestore:"session_id" json:"session_id"`
	Status    didit.Status  `firestore:"status" json:"status"` // Approved or Declined
	Action    policy.Action `firestore:"action" json:"action"` // approve or block
	// ReviewerHash is the reviewer as a keyed hash (HASH_KEYS), never the email; the reviewer's
	// comment is not stored.
	ReviewerHash string `firestore:"reviewer_hash" json:"reviewer_hash"`
	// Rules are the rules that fired when the reviewer decided: a rule outside them is a new
	// adverse fact, which the verdict yields to.
	Rules     []string  `firestore:"rules" json:"rules"`
	DecidedAt time.Time `firestore:"decided_at" json:"decided_at"`
	// ExpiresAt ends an approval's hold (HUMAN_OVERRIDE_TTL after DecidedAt); zero: no expiry.
	ExpiresAt time.Time `firestore:"expires_at,omitempty" json:"expires_at,omitempty"`
}

// Override is an operator's decision set outside Didit: it replaces the action until it expires
// or is cleared.
type Override struct {
	ID     string        `firestore:"id" json:"id"` // idempotency: setting the same override twice changes nothing
	Action policy.Action `firestore:"action" json:"action"`
	// Reason is the operator's explanation: free text that must carry no personal data.
	Reason string `firestore:"reason" json:"reason"`
	// Actor is the operator's handle (never an email or phone number).
	Actor     string    `firestore:"actor" json:"actor"`
	SetAt     time.Time `firestore:"set_at" json:"set_at"`
	ExpiresAt time.Time `firestore:"expires_at" json:"expires_at"`
}

// Active reports whether o applies at now.
func (o *Override) Active(now time.Time) bool {
	return o != nil && o.Action.Valid() && now.Before(o.ExpiresAt)
}

// Cooldown holds back downgrades: after a high or critical verdict, a lower policy verdict
// within the cooldown is recorded (policy_verdict) but not applied.
type Cooldown struct {
	Level policy.Level `firestore:"level" json:"level"` // the verdict level that started it
	Since time.Time    `firestore:"since" json:"since"`
	Until time.Time    `firestore:"until" json:"until"`
	// SessionID is the session whose verdict started it: that session's own later verdicts (its
	// step-ups, a reviewer) are refinements, never held back. Score and Action are that
	// verdict's, applied while a lower one from another session is held back.
	SessionID string        `firestore:"session_id" json:"session_id"`
	Score     int           `firestore:"score" json:"score"`
	Action    policy.Action `firestore:"action" json:"action"`
}

// Audit is risk_profiles/{id}/audit/{entry id}: one change a person made to a profile.
const Audit = "audit"

// AuditEntry is one change to a profile's decision by a person (an operator's override set or
// cleared, a reviewer's verdict applied).
type AuditEntry struct {
	ID     string         `firestore:"id" json:"id"`
	Kind   string         `firestore:"kind" json:"kind"` // override_set, override_cleared, human_verdict
	Actor  string         `firestore:"actor" json:"actor"`
	Before DecisionRecord `firestore:"before" json:"before"`
	After  DecisionRecord `firestore:"after" json:"after"`
	Reason string         `firestore:"reason" json:"reason"`
	At     time.Time      `firestore:"at" json:"at"`
}

// DecisionRecord is a profile's applied decision at one moment, as the audit trail keeps it.
type DecisionRecord struct {
	Level     policy.Level  `firestore:"level" json:"level"`
	Action    policy.Action `firestore:"action" json:"action"`
	DecidedBy DecidedBy     `firestore:"decided_by" json:"decided_by"`
}
