// Package profile keeps one living risk profile per user in Firestore: the contract with
// product code, which reads risk_profiles/{id}. Only derived signals and risk codes are stored,
// never names, birth dates, document numbers, addresses or image URLs.
package profile

import (
	"net/url"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// SchemaVersion is bumped on any change product code must know about. 2: verdict_state, no
// verdict fields while unverified, aggregates (document_hashes and device_hashes moved there).
// 3: sessions keep compact facts and their verdict (score, level, action, verdict_key), no
// signals: a session's signals are in its assessment (sessions.{id}.assessment_id).
const SchemaVersion = 3

// Collections and sub-collections.
const (
	Profiles    = "risk_profiles"
	Assessments = "assessments"      // risk_profiles/{id}/assessments/{assessment id}
	Processed   = "processed_events" // risk_profiles/{id}/processed_events/{event key}: dedupe markers, TTL on expire_at
)

// VerdictState says whether anybody (Didit, then the policy) has decided on the user yet.
type VerdictState string

// Verdict states.
const (
	// VerdictUnverified: no session of the user carries a decision (only Not Started, In
	// Progress, Expired, Resubmitted or a first Kyc Expired webhook). The profile then has no
	// score, level, action, reasons or required_steps fields at all: product code must treat the
	// user as not verified, never as low risk.
	VerdictUnverified VerdictState = "unverified"
	// VerdictAssessed: score, level and action are the policy's verdict on the latest decided
	// session.
	VerdictAssessed VerdictState = "assessed"
)

// ReviewState is the profile's place in the operators' review queue.
type ReviewState string

// Review states.
const (
	ReviewNone ReviewState = "none"
	ReviewOpen ReviewState = "open"
)

// Profile is risk_profiles/{id}.
//
// Its maps by kind (step_ups, didit_requests, aggregates.step_up_outcomes, an assessment's
// history.step_ups) are keyed by the kind's string (string(policy.StepKind),
// string(RequestKind)): the Firestore client panics merging a field path through a map whose
// key is a named type.
type Profile struct {
	SchemaVersion int    `firestore:"schema_version"`
	UserID        string `firestore:"user_id"` // Didit vendor_data; empty for anonymous sessions
	// VerdictState is unverified or assessed. While unverified the verdict fields below (score,
	// level, action, reasons, required_steps, policy_version) are absent from the document; Go
	// readers see their zero values and must look at VerdictState first.
	VerdictState     VerdictState      `firestore:"verdict_state"`
	Score            int               `firestore:"score"` // 0–100
	Level            policy.Level      `firestore:"level"`
	Action           policy.Action     `firestore:"action"`
	Reasons          []Reason          `firestore:"reasons"`
	RequiredSteps    []policy.StepKind `firestore:"required_steps"`
	PolicyVersion    string            `firestore:"policy_version"`
	LastSessionID    string            `firestore:"last_session_id"`
	LastAssessmentID string            `firestore:"last_assessment_id"`
	ReviewState      ReviewState       `firestore:"review_state"` // the operators' queue
	Blocked          bool              `firestore:"blocked"`
	// DecidedBy says who set Action (policy, reviewer, operator); PolicyVerdict is the policy's
	// own verdict when it is not the one applied (a person decided, or a cooldown held it back).
	DecidedBy     DecidedBy               `firestore:"decided_by,omitempty"`
	PolicyVerdict *PolicyVerdict          `firestore:"policy_verdict,omitempty"`
	HumanVerdict  *HumanVerdict           `firestore:"human_verdict,omitempty"` // the latest reviewer's decision
	Override      *Override               `firestore:"override,omitempty"`      // an operator's, until it expires or is cleared
	Cooldown      *Cooldown               `firestore:"cooldown,omitempty"`      // downgrades held back until cooldown.until
	Sessions      map[string]SessionState `firestore:"sessions"`                // by Didit session id; pruned (undecided first)
	StepUps       map[string]StepUp       `firestore:"step_ups"`                // by kind: nfc, phone, biometric, poa, ...
	// DiditRequests are the step-up function's latest requests to Didit about the user's
	// sessions, by kind: review, decline, blocklist (see DiditRequest).
	DiditRequests map[string]DiditRequest `firestore:"didit_requests"`
	// Aggregates are the per-user facts risk needs that pruning sessions never removes.
	Aggregates Aggregates `firestore:"aggregates"`
	// DocumentHashes and DeviceHashes list the distinct documents and devices of Aggregates, each
	// by its hash under the newest key it was seen with: keyed hashes, never the numbers.
	DocumentHashes   []string  `firestore:"document_hashes"`
	DeviceHashes     []string  `firestore:"device_hashes"`
	EventsApplied    int       `firestore:"events_applied"` // webhooks applied (duplicates excluded)
	AssessmentsTotal int       `firestore:"assessments_total"`
	CreatedAt        time.Time `firestore:"created_at"`
	UpdatedAt        time.Time `firestore:"updated_at"`
}

// Reason is one rule that counted towards the score.
type Reason struct {
	Rule        string `firestore:"rule" json:"rule"`
	Points      int    `firestore:"points" json:"points"`
	Description string `firestore:"description" json:"description"`
}

// SessionState is the latest known state of one Didit session of the user: compact facts, the
// verdict the fold gave it, and where its signals are (its assessment). The signals themselves
// are not stored on the profile (schema 3), so that each webhook writes little.
type SessionState struct {
	Status    didit.Status `firestore:"status"`
	EventTime time.Time    `firestore:"event_time"` // the webhook's timestamp: sessions only move forward
	FirstSeen time.Time    `firestore:"first_seen"`
	UpdatedAt time.Time    `firestore:"updated_at"`
	// AssessmentID is the assessment of the session's latest decision: its signals are there
	// (assessments/{id}.session_signals, or .signals when that is absent).
	AssessmentID string `firestore:"assessment_id,omitempty"`
	Decided      bool   `firestore:"decided"`
	// Score, Level and Action are the verdict the fold gave this decided primary session;
	// VerdictKey names the inputs it was computed from (evaluator version, decision, history,
	// step-ups), so that a later fold re-evaluates the session only when they changed.
	Score      int           `firestore:"score,omitempty"`
	Level      policy.Level  `firestore:"level,omitempty"`
	Action     policy.Action `firestore:"action,omitempty"`
	VerdictKey string        `firestore:"verdict_key,omitempty"`
	// SignalsExpired: the session's assessment is gone (the retention TTL deleted it), so its
	// stored verdict stands whatever changes later.
	SignalsExpired bool `firestore:"signals_expired,omitempty"`
	// Signals are the session's own derived signals while they are at hand: from the event that
	// decided it, or read from its assessment when a fold must re-evaluate it. Never stored.
	Signals         *scoring.Signals `firestore:"-"`
	StepUpKind      policy.StepKind  `firestore:"step_up_kind,omitempty"`      // set once this is known to be a step-up session we created
	OriginSessionID string           `firestore:"origin_session_id,omitempty"` // the session the step-up answers
	// StepUpClaim is the step-up link the session's metadata carries while the session is not
	// (yet) the Didit session recorded for that step (step_ups.{kind}.didit_session_id): until it
	// is, the session counts as an ordinary one.
	StepUpClaim *StepUpLink `firestore:"step_up_claim,omitempty"`
	// FaceSearch holds the derived facts of the Didit Face Searches run for the session, by
	// search type (ApplyFaceSearch): laid over Signals each time the verdict is derived.
	FaceSearch map[string]didit.FaceSearchFacts `firestore:"face_search,omitempty"`
	// Review is the latest review by a person in Didit's console that set the session's status
	// (Approved or Declined): status, keyed-hashed reviewer and time, never the email or comment.
	// The decision layer turns it into the profile's human_verdict.
	Review *ReviewFact `firestore:"review,omitempty"`
}

// Aggregates are per-user facts kept apart from the sessions, so that opening many new
// sessions (which pushes old ones out of Sessions) cannot launder a user's history.
type Aggregates struct {
	// DeclinedSessions are the sessions whose latest status is Declined, newest kept when more
	// than maxDeclined: history.declined_sessions counts them.
	DeclinedSessions []SessionMark `firestore:"declined_sessions"`
	// Documents and Devices are the distinct documents and devices the user verified with, each
	// as the keyed hashes it has under the hash keys it was seen with (see HASH_KEYS), capped.
	Documents []HashClass `firestore:"documents"`
	Devices   []HashClass `firestore:"devices"`
	// StepUpOutcomes is the latest completed step-up of each kind: kind -> outcome.
	StepUpOutcomes map[string]StepUpOutcome `firestore:"step_up_outcomes"`
	// HighestLevel and EverBlocked summarise every verdict on the user's decided sessions,
	// including those no longer in Sessions.
	HighestLevel policy.Level `firestore:"highest_level"`
	EverBlocked  bool         `firestore:"ever_blocked"`
	// Archive is what the sessions pruned from Sessions contributed to the verdict fold.
	Archive Archive `firestore:"archive"`
}

// SessionMark is one session at one event time.
type SessionMark struct {
	SessionID string    `firestore:"session_id" json:"session_id"`
	At        time.Time `firestore:"at" json:"at"`
}

// HashClass is one document (or device): its keyed hashes, one per hash key it was seen under.
type HashClass struct {
	Hashes    []string  `firestore:"hashes"`
	FirstSeen time.Time `firestore:"first_seen"`
}

// StepUpOutcome is a completed step-up's outcome.
type StepUpOutcome struct {
	Outcome         policy.StepOutcome `firestore:"outcome"`
	SessionID       string             `firestore:"session_id"`
	OriginSessionID string             `firestore:"origin_session_id"`
	At              time.Time          `firestore:"at"`
}

// Archive summarises the decided sessions pruned from Sessions: the verdict fold starts from it.
type Archive struct {
	Sessions     int           `firestore:"sessions"`      // decided sessions pruned
	Until        time.Time     `firestore:"until"`         // event time of the newest of them
	LastLevel    policy.Level  `firestore:"last_level"`    // the verdict on the newest of them
	LastAction   policy.Action `firestore:"last_action"`   //
	HighestLevel policy.Level  `firestore:"highest_level"` // highest level among them
	EverBlocked  bool          `firestore:"ever_blocked"`  // any of them was blocked
	// FirstSeen are the first_seen times of the pruned sessions (decided or not), newest
	// maxSessions kept: the history windows (sessions_24h, sessions_30d) still count them.
	FirstSeen []time.Time `firestore:"first_seen"`
}

// StepUp is the state of the latest step-up of one kind, as product code sees it.
type StepUp struct {
	Kind            policy.StepKind    `firestore:"kind"`
	Status          policy.StepStatus  `firestore:"status"`
	AssessmentID    string             `firestore:"assessment_id"`
	OriginSessionID string             `firestore:"origin_session_id"`
	DiditSessionID  string             `firestore:"didit_session_id,omitempty"`
	URL             string             `firestore:"url,omitempty"`     // where product code sends the user
	Outcome         policy.StepOutcome `firestore:"outcome,omitempty"` // once completed: scoring.StepUpOutcome of the Didit status
	Reason          string             `firestore:"reason,omitempty"`  // why it failed
	CreatedAt       time.Time          `firestore:"created_at"`
	UpdatedAt       time.Time          `firestore:"updated_at"`
	RetryAt         time.Time          `firestore:"retry_at,omitempty"` // a pending step waiting for Didit (reason says why) is not tried before
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
