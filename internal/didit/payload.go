// Package didit holds the typed shape of Didit's session webhooks (and, in client.go, the API
// client). Only what risk scoring needs is decoded: statuses, scores, flags, warning codes and
// the few identifiers that are hashed before they are stored. Names, birth dates, addresses and
// media URLs are never decoded, so they cannot leak into signals or logs by accident.
package didit

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Status is a session status exactly as Didit spells it (case-sensitive).
type Status string

// Session statuses (shared/didit-api.md §2.3).
const (
	StatusNotStarted   Status = "Not Started"
	StatusInProgress   Status = "In Progress"
	StatusAwaitingUser Status = "Awaiting User"
	StatusInReview     Status = "In Review"
	StatusApproved     Status = "Approved"
	StatusDeclined     Status = "Declined"
	StatusResubmitted  Status = "Resubmitted"
	StatusExpired      Status = "Expired"
	StatusAbandoned    Status = "Abandoned"
	StatusKycExpired   Status = "Kyc Expired"

	// Feature-level statuses (the `status` of one item of a decision's feature arrays, §2.3)
	// that are not also session statuses.
	StatusNotFinished    Status = "Not Finished"
	StatusResubRequested Status = "Resub Requested"
	StatusRejected       Status = "Rejected" // listed for ID verification by Didit's skill only
)

// HasDecision reports whether a webhook with this status carries a decision worth scoring.
// Didit attaches `decision` to Approved, Declined, In Review and Abandoned only; the other
// statuses are progress notices (or, for Kyc Expired, the end of an earlier approval).
func (s Status) HasDecision() bool {
	switch s {
	case StatusApproved, StatusDeclined, StatusInReview, StatusAbandoned:
		return true
	}
	return false
}

// Webhook is one session webhook (webhook_type status.updated or data.updated), v3 or v2.
// Build it with DecodeWebhook, which reads both shapes and lenient numbers.
type Webhook struct {
	EventID     string `json:"event_id"`
	WebhookType string `json:"webhook_type"`
	SessionID   string `json:"session_id"`
	Status      Status `json:"status"`
	VendorData  string `json:"vendor_data"`
	WorkflowID  string `json:"workflow_id"`
	// Timestamp and CreatedAt are Unix seconds.
	Timestamp int64 `json:"timestamp"`
	CreatedAt int64 `json:"created_at"`
	// Metadata is the free object set at session creation, echoed back; nil when absent or
	// not an object. It may hold anything the caller put there: don't log or store it whole.
	Metadata map[string]any `json:"metadata"`
	// Decision is nil for statuses without one (see Status.HasDecision).
	Decision *Decision `json:"decision"`
}

// Decision is the `decision` object (= GET /v3/session/{id}/decision/). DecodeWebhook moves a v2
// payload's singular feature objects into the v3 arrays, so callers see one shape.
type Decision struct {
	SessionID  string   `json:"session_id"`
	Status     Status   `json:"status"`
	Features   []string `json:"features"`
	VendorData string   `json:"vendor_data"`
	WorkflowID string   `json:"workflow_id"`

	IDVerifications     []IDVerification     `json:"id_verifications"`
	NFCVerifications    []NFCVerification    `json:"nfc_verifications"`
	LivenessChecks      []LivenessCheck      `json:"liveness_checks"`
	FaceMatches         []FaceMatch          `json:"face_matches"`
	POAVerifications    []POAVerification    `json:"poa_verifications"`
	PhoneVerifications  []PhoneVerification  `json:"phone_verifications"`
	EmailVerifications  []EmailVerification  `json:"email_verifications"`
	AMLScreenings       []AMLScreening       `json:"aml_screenings"`
	IPAnalyses          []IPAnalysis         `json:"ip_analyses"`
	DatabaseValidations []DatabaseValidation `json:"database_validations"`
	// The newer arrays (§9.9): only their statuses and warnings are read, never the answers or
	// the documents' contents.
	QuestionnaireResponses []QuestionnaireResponse `json:"questionnaire_responses"`
	DocumentAIDocuments    []DocumentAIDocument    `json:"document_ai_documents"`
	// Reviews are the session's manual status changes (§9.2), in Didit's console or with the
	// API key, oldest first as Didit lists them.
	Reviews []Review `json:"reviews"`
}

// ReviewerAPIClient is a review's `user` when the change was made with the API key (this
// system's own requests, e.g. asking for review or declining a blocked session), not by a
// person in the console.
const ReviewerAPIClient = "API Client"

// Review is an item of the decision's `reviews[]`. The comment is free text a person wrote (it
// may name people, or quote the user): it is not decoded.
type Review struct {
	// User is the reviewer's email, or ReviewerAPIClient: personal data, decoded only to be
	// hashed with a key. Never store or log it.
	User      string `json:"user"`
	NewStatus Status `json:"new_status"`
	CreatedAt Time   `json:"created_at"`
}

// ByPerson reports whether a person made the review in Didit's console.
func (r Review) ByPerson() bool { return r.User != "" && r.User != ReviewerAPIClient }

// LatestVerdictReview returns the latest review that moved the session to Approved or Declined
// (by created_at; of equal times, the later listed). ok is false when there is none.
func (d *Decision) LatestVerdictReview() (Review, bool) {
	var best Review
	found := false
	for _, r := range d.Reviews {
		if r.NewStatus != StatusApproved && r.NewStatus != StatusDeclined {
			continue
		}
		if !found || !r.CreatedAt.Before(best.CreatedAt.Time) {
			best, found = r, true
		}
	}
	return best, found
}

// Warning is one entry of a feature's `warnings[]`. Risk is the stable code rules match on.
type Warning struct {
	Risk    string `json:"risk"`
	LogType string `json:"log_type"` // information | warning | error
	Feature string `json:"feature"`  // ID_VERIFICATION, LIVENESS, LOCATION, ...
	NodeID  string `json:"node_id"`
}

// Log types of a warning.
const (
	LogInformation = "information"
	LogWarning     = "warning"
	LogError       = "error"
)

// Match is an entry of a feature's `matches[]`: another session, imported face or list entry
// that looks like this one (§9.8). Didit already leaves out sessions of the same vendor_data.
type Match struct {
	SessionID            string `json:"session_id"`
	VendorData           string `json:"vendor_data"` // null for list entries
	SimilarityPercentage *Num   `json:"similarity_percentage"`
	// Source is session, imported, list_entry or retained_template.
	Source        string `json:"source"`
	IsBlocklisted bool   `json:"is_blocklisted"`
	IsAllowlisted bool   `json:"is_allowlisted"`
}

// Match sources (§9.8).
const (
	MatchSourceSession          = "session"
	MatchSourceImported         = "imported"
	MatchSourceListEntry        = "list_entry"
	MatchSourceRetainedTemplate = "retained_template"
)

// IDVerification is an item of `id_verifications[]`.
type IDVerification struct {
	NodeID       string `json:"node_id"`
	Status       string `json:"status"`
	DocumentType string `json:"document_type"`
	// DocumentNumber is decoded only to be hashed with a key; never store or log it.
	DocumentNumber string    `json:"document_number"`
	IssuingState   string    `json:"issuing_state"`   // ISO alpha-3
	ExpirationDate string    `json:"expiration_date"` // YYYY-MM-DD
	Age            *Num      `json:"age"`
	Warnings       []Warning `json:"warnings"`
	Matches        []Match   `json:"matches"`
}

// NFCVerification is an item of `nfc_verifications[]`.
type NFCVerification struct {
	NodeID       string `json:"node_id"`
	Status       string `json:"status"`
	IsNFCSkipped bool   `json:"is_nfc_skipped"`
	SkipReason   string `json:"skip_reason"`
	Authenticity *struct {
		SODIntegrity *bool `json:"sod_integrity"`
		DGIntegrity  *bool `json:"dg_integrity"`
	} `json:"authenticity"`
	Warnings []Warning `json:"warnings"`
}

// LivenessCheck is an item of `liveness_checks[]`.
type LivenessCheck struct {
	NodeID        string    `json:"node_id"`
	Status        string    `json:"status"`
	Method        string    `json:"method"` // ACTIVE_3D | FLASHING | PASSIVE (case varies)
	Score         *Num      `json:"score"`  // 0–100
	AgeEstimation *Num      `json:"age_estimation"`
	FaceQuality   *Num      `json:"face_quality"`
	Warnings      []Warning `json:"warnings"`
	Matches       []Match   `json:"matches"`
}

// FaceMatch is an item of `face_matches[]`.
type FaceMatch struct {
	NodeID   string    `json:"node_id"`
	Status   string    `json:"status"`
	Score    *Num      `json:"score"` // 0–100 similarity
	Warnings []Warning `json:"warnings"`
}

// POAVerification is an item of `poa_verifications[]`.
type POAVerification struct {
	NodeID       string    `json:"node_id"`
	Status       string    `json:"status"`
	DocumentType string    `json:"document_type"`
	IssuingState string    `json:"issuing_state"`
	Warnings     []Warning `json:"warnings"`
}

// PhoneVerification is an item of `phone_verifications[]`.
type PhoneVerification struct {
	NodeID      string `json:"node_id"`
	Status      string `json:"status"`
	CountryCode string `json:"country_code"` // alpha-2
	Carrier     *struct {
		Type string `json:"type"` // mobile | landline | voip | unknown
	} `json:"carrier"`
	IsDisposable bool      `json:"is_disposable"`
	IsVirtual    bool      `json:"is_virtual"`
	Warnings     []Warning `json:"warnings"`
	Matches      []Match   `json:"matches"`
}

// EmailVerification is an item of `email_verifications[]`.
type EmailVerification struct {
	NodeID          string     `json:"node_id"`
	Status          string     `json:"status"`
	IsBreached      bool       `json:"is_breached"`
	Breaches        []struct{} `json:"breaches"` // counted only
	IsDisposable    bool       `json:"is_disposable"`
	IsUndeliverable bool       `json:"is_undeliverable"`
	Warnings        []Warning  `json:"warnings"`
	Matches         []Match    `json:"matches"`
}

// AMLScreening is an item of `aml_screenings[]`.
type AMLScreening struct {
	NodeID    string    `json:"node_id"`
	Status    string    `json:"status"`
	TotalHits *Num      `json:"total_hits"`
	Score     *Num      `json:"score"` // 0–100, highest across hits
	Hits      []AMLHit  `json:"hits"`
	Warnings  []Warning `json:"warnings"`
}

// AMLHit is one entry of an AML screening's `hits[]`. The *_matches fields are counts in some
// payloads and arrays in others, so they are kept raw and read with Present.
type AMLHit struct {
	MatchScore      *Num            `json:"match_score"`
	RiskScore       *Num            `json:"risk_score"`
	ReviewStatus    string          `json:"review_status"` // False Positive | Unreviewed | Confirmed Match | Inconclusive
	PEPMatches      json.RawMessage `json:"pep_matches"`
	SanctionMatches json.RawMessage `json:"sanction_matches"`
}

// IPAnalysis is an item of `ip_analyses[]`: one observed (IP, device) pair.
type IPAnalysis struct {
	NodeID string `json:"node_id"`
	Status string `json:"status"`
	// DeviceFingerprint is decoded only to be hashed with a key.
	DeviceFingerprint string    `json:"device_fingerprint"`
	IPCountryCode     string    `json:"ip_country_code"` // alpha-2
	IsVPNOrTor        bool      `json:"is_vpn_or_tor"`
	IsDataCenter      bool      `json:"is_data_center"`
	Platform          string    `json:"platform"`
	Warnings          []Warning `json:"warnings"`
	Matches           []Match   `json:"matches"`
}

// DatabaseValidation is an item of `database_validations[]`.
type DatabaseValidation struct {
	NodeID    string    `json:"node_id"`
	Status    string    `json:"status"`
	MatchType string    `json:"match_type"` // full_match | partial_match | no_match
	Warnings  []Warning `json:"warnings"`
}

// QuestionnaireResponse is an item of `questionnaire_responses[]` (warnings' feature
// QUESTIONNAIRE). The answers are the user's own words: they are not decoded.
type QuestionnaireResponse struct {
	NodeID   string    `json:"node_id"`
	Status   string    `json:"status"`
	Warnings []Warning `json:"warnings"`
}

// DocumentAIDocument is an item of `document_ai_documents[]` (warnings' feature DOCUMENT_AI).
// The extracted contents are not decoded.
type DocumentAIDocument struct {
	NodeID   string    `json:"node_id"`
	Status   string    `json:"status"`
	Warnings []Warning `json:"warnings"`
}

// ErrNotObject is returned when a body is JSON but not an object.
var ErrNotObject = errors.New("didit webhook: body is not a JSON object")

// DecodeWebhook decodes a session webhook body. It accepts v3 (plural arrays) and v2 (singular
// objects) decisions; unknown fields, nulls and missing features are normal and ignored. An error
// means the body is not JSON or a field Didit documents has an impossible type.
func DecodeWebhook(body []byte) (*Webhook, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		if json.Valid(body) {
			return nil, ErrNotObject
		}
		return nil, errors.New("didit webhook: body is not valid JSON")
	}
	// One pass of encoding/json over a wire struct: custom UnmarshalJSON methods on the large
	// objects would make encoding/json validate and scan the decision several times.
	var in wireWebhook
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, fmt.Errorf("didit webhook: %w", err)
	}
	w := &Webhook{
		EventID: in.EventID, WebhookType: in.WebhookType, SessionID: in.SessionID, Status: in.Status,
		VendorData: in.VendorData, WorkflowID: in.WorkflowID,
		Timestamp: int64(in.Timestamp), CreatedAt: int64(in.CreatedAt),
	}
	if m := bytes.TrimSpace(in.Metadata); len(m) > 0 && m[0] == '{' {
		var md map[string]any
		if json.Unmarshal(m, &md) == nil {
			w.Metadata = md
		}
	}
	if in.Decision != nil {
		d := in.Decision.merged()
		w.Decision = &d
		w.VendorData = cmp.Or(w.VendorData, d.VendorData)
		w.WorkflowID = cmp.Or(w.WorkflowID, d.WorkflowID)
		w.SessionID = cmp.Or(w.SessionID, d.SessionID)
		w.Status = cmp.Or(w.Status, d.Status)
	}
	return w, nil
}

// wireWebhook is the body as sent: lenient numbers, raw metadata, v2 keys next to v3 ones.
type wireWebhook struct {
	EventID     string          `json:"event_id"`
	WebhookType string          `json:"webhook_type"`
	SessionID   string          `json:"session_id"`
	Status      Status          `json:"status"`
	VendorData  string          `json:"vendor_data"`
	WorkflowID  string          `json:"workflow_id"`
	Timestamp   flexInt         `json:"timestamp"`
	CreatedAt   flexInt         `json:"created_at"`
	Metadata    json.RawMessage `json:"metadata"`
	Decision    *wireDecision   `json:"decision"`
}

type wireDecision struct {
	Decision
	IDVerification     *IDVerification     `json:"id_verification"`
	NFC                *NFCVerification    `json:"nfc"`
	Liveness           *LivenessCheck      `json:"liveness"`
	FaceMatch          *FaceMatch          `json:"face_match"`
	POA                *POAVerification    `json:"poa"`
	Phone              *PhoneVerification  `json:"phone"`
	Email              *EmailVerification  `json:"email"`
	AML                *AMLScreening       `json:"aml"`
	IPAnalysis         *IPAnalysis         `json:"ip_analysis"`
	DatabaseValidation *DatabaseValidation `json:"database_validation"`
}

// merged returns the decision with the v2 singular objects moved into the v3 arrays.
func (in *wireDecision) merged() Decision {
	d := in.Decision
	addSingular(&d.IDVerifications, in.IDVerification)
	addSingular(&d.NFCVerifications, in.NFC)
	addSingular(&d.LivenessChecks, in.Liveness)
	addSingular(&d.FaceMatches, in.FaceMatch)
	addSingular(&d.POAVerifications, in.POA)
	addSingular(&d.PhoneVerifications, in.Phone)
	addSingular(&d.EmailVerifications, in.Email)
	addSingular(&d.AMLScreenings, in.AML)
	addSingular(&d.IPAnalyses, in.IPAnalysis)
	addSingular(&d.DatabaseValidations, in.DatabaseValidation)
	return d
}

// addSingular uses a v2 object only when the v3 array is empty, so a payload carrying both
// shapes is not counted twice.
func addSingular[T any](arr *[]T, one *T) {
	if one != nil && len(*arr) == 0 {
		*arr = []T{*one}
	}
}

// Time is a timestamp Didit gives as an ISO 8601 string ("2026-01-01T00:00:00.000000Z", with
// or without fraction and zone) or as Unix seconds. A string it cannot read, or null, is the
// zero time: callers fall back to the event's own time.
type Time struct{ time.Time }

// isoLayouts are the ISO 8601 shapes read, most specific first; without a zone, UTC.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}

// UnmarshalJSON reads a string or a number; another JSON type is an error.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("time: %w", err)
		}
		for _, l := range isoLayouts {
			if v, err := time.Parse(l, s); err == nil {
				t.Time = v.UTC()
				return nil
			}
		}
		return nil
	default:
		var n Num
		if err := n.UnmarshalJSON(b); err != nil {
			return fmt.Errorf("time: %w", err)
		}
		if f := float64(n); f > 0 && f < 1e12 {
			sec, frac := math.Modf(f)
			t.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		}
		return nil
	}
}

// Num is a JSON number that may arrive as an int, a float or a numeric string.
type Num float64

// UnmarshalJSON accepts 35, 35.0, 89.92 and "89.92"; null leaves the pointer nil upstream.
func (n *Num) UnmarshalJSON(b []byte) error {
	if len(b) > 1 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("number: %w", err)
		}
		b = []byte(s)
	}
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("number: invalid value %.20q", b)
	}
	*n = Num(f)
	return nil
}

// Float returns the value, or def when n is nil.
func (n *Num) Float(def float64) float64 {
	if n == nil {
		return def
	}
	return float64(*n)
}

// flexInt reads Unix seconds given as an int, a float or a numeric string.
type flexInt int64

func (i *flexInt) UnmarshalJSON(b []byte) error {
	var n Num
	if err := n.UnmarshalJSON(b); err != nil {
		return err
	}
	if f := float64(n); f > -1e15 && f < 1e15 {
		*i = flexInt(f)
	}
	return nil
}

// Present reports whether a raw JSON value signals something: a non-zero number, true, a
// non-empty string, array or object. It reads the AML hit fields that are counts or lists.
func Present(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case 'n', 'f':
		return false
	case 't':
		return true
	case '"':
		return len(raw) > 2
	case '[', '{':
		return len(raw) > 2 && len(bytes.TrimSpace(raw[1:len(raw)-1])) > 0
	default:
		f, err := strconv.ParseFloat(string(raw), 64)
		return err == nil && f != 0
	}
}
