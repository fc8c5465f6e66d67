package diditsim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/webhook"
)

// Session and feature statuses a simulated decision can take.
const (
	StatusApproved = "Approved"
	StatusDeclined = "Declined"
	StatusInReview = "In Review"
)

// Features a simulated decision can carry, by the names of a workflow's features[].
const (
	FeatureID        = "ID_VERIFICATION"
	FeatureNFC       = "NFC"
	FeatureLiveness  = "LIVENESS"
	FeatureFaceMatch = "FACE_MATCH"
	FeaturePoA       = "POA"
	FeaturePhone     = "PHONE"
	FeatureEmail     = "EMAIL"
)

// Outcome is how Complete finishes a session.
type Outcome struct {
	// Status of the session: Approved, Declined or In Review. Empty derives it from the
	// features (any Declined → Declined, any In Review → In Review, else Approved).
	Status string `json:"status"`
	// Features lists the feature results; empty means the features of the step-up kind in the
	// session's metadata link (nfc → NFC; phone → PHONE; biometric → LIVENESS + FACE_MATCH;
	// poa → POA; email → EMAIL; otherwise ID + LIVENESS + FACE_MATCH), each with Status.
	Features []FeatureResult `json:"features"`
}

// FeatureResult is one feature's result in a simulated decision.
type FeatureResult struct {
	Feature string `json:"feature"` // a Feature constant
	// Status of the feature; empty means the outcome's status (Approved when that is empty too).
	Status string `json:"status"`
	// Risks are warning codes to attach; empty on a Declined or In Review feature means the
	// feature's typical risk (NFC_CHIP_NOT_VERIFIED, LOW_LIVENESS_SCORE, ...).
	Risks []string `json:"risks"`
}

// Approve and Decline are the common outcomes.
var (
	Approve = Outcome{Status: StatusApproved}
	Decline = Outcome{Status: StatusDeclined}
)

// Delivery is one webhook sent to the receiver.
type Delivery struct {
	EventID    string
	Body       []byte      // exactly the bytes sent
	Header     http.Header // the headers sent
	StatusCode int         // the receiver's answer; 0 when none came
	Response   []byte
}

// ErrUnknownSession is returned by Complete for a session the simulator does not know.
var ErrUnknownSession = errors.New("diditsim: unknown session")

// ErrNoReceiver is returned when no webhook URL is configured.
var ErrNoReceiver = errors.New("diditsim: no webhook URL configured")

// Complete finishes a session: it records the decision (so GET .../decision/ returns it) and
// POSTs a v3 status.updated webhook to the receiver exactly as Didit does — body serialised like
// Didit's raw body (see Marshal), signed with X-Signature, X-Signature-V2 and X-Signature-Simple.
// A non-2xx answer is an error (Didit would retry it; the simulator leaves that to the caller).
func (s *Server) Complete(ctx context.Context, sessionID string, o Outcome) (Delivery, error) {
	s.mu.Lock()
	ss, ok := s.sessions[sessionID]
	if !ok {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("%w %s", ErrUnknownSession, sessionID)
	}
	link, _ := profile.ParseStepUpLink(ss.Metadata)
	status, features := resolve(o, link.Kind)
	decision := baseDecision(ss, status, features)
	for _, f := range features {
		key, items := featureItems(ss, link, f, func(name string) string { return s.mediaURLLocked(ss, name) })
		decision[key] = items
	}
	ss.Status = status
	ss.Decision = decision
	ss.Features = features
	env := s.envelopeLocked(ss)
	s.mu.Unlock()
	return s.sendEnvelope(ctx, env)
}

// envelopeLocked is the v3 status.updated webhook for the session as it stands
// (shared/didit-api.md §2.1): a decision when the status is one that has one, resubmit_info
// on Resubmitted, metadata only when set.
func (s *Server) envelopeLocked(ss *Session) map[string]any {
	env := map[string]any{
		"application_id":   cmp.Or(s.opts.ApplicationID, "6f1c2a9e-0000-4000-8000-00000000d1d1"),
		"created_at":       ss.CreatedAt.Unix(),
		"event_id":         uuid.NewString(),
		"session_id":       ss.ID,
		"status":           ss.Status,
		"timestamp":        s.now().Unix(),
		"webhook_type":     "status.updated",
		"workflow_id":      ss.WorkflowID,
		"workflow_version": max(ss.WorkflowVersion, 1),
	}
	if ss.VendorData != "" {
		env["vendor_data"] = ss.VendorData
	}
	if ss.Metadata != nil {
		env["metadata"] = ss.Metadata // Didit includes metadata only when it was set
	}
	switch ss.Status {
	case StatusApproved, StatusDeclined, StatusInReview, StatusAbandoned:
		env["decision"] = s.decisionLocked(ss)
	case StatusResubmitted:
		nodes := []any{}
		for _, n := range ss.resubmitNodes {
			nodes = append(nodes, n)
		}
		env["resubmit_info"] = map[string]any{"nodes_to_resubmit": nodes, "reasons": map[string]any{}}
	}
	return env
}

// Sign returns the headers Didit sends with body: X-Timestamp (now), X-Signature over the raw
// bytes, X-Signature-V2 over CanonicalV2Body(body) — the simulator's own rendering of Didit's
// Python recipe, not the receiver's canonicaliser, so the two check each other — (omitted
// when body is not JSON, which Didit never sends), X-Signature-Simple over the body's
// timestamp, session_id, status and webhook_type, User-Agent and Content-Type.
func (s *Server) Sign(body []byte) http.Header {
	secret := []byte(s.opts.Secret)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "DiditWebhook/2.0 +https://didit.me")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(s.now().Unix(), 10))
	h.Set(webhook.HeaderSignature, webhook.Sign(secret, body))
	if canon, err := CanonicalV2Body(body); err == nil {
		h.Set(webhook.HeaderSignatureV2, webhook.Sign(secret, canon))
	}
	var env struct {
		Timestamp   json.Number `json:"timestamp"`
		SessionID   string      `json:"session_id"`
		Status      string      `json:"status"`
		WebhookType string      `json:"webhook_type"`
	}
	if unmarshalNumbers(body, &env) == nil {
		// Written out here rather than shared with the receiver, for the same reason as V2.
		msg := env.Timestamp.String() + ":" + env.SessionID + ":" + env.Status + ":" + env.WebhookType
		h.Set(webhook.HeaderSignatureSimple, webhook.Sign(secret, []byte(msg)))
	}
	return h
}

// SendWebhook POSTs body, signed by Sign, to the receiver: any fixture can be delivered exactly
// as Didit would deliver it.
func (s *Server) SendWebhook(ctx context.Context, body []byte) (Delivery, error) {
	s.mu.Lock()
	target := s.webhookURL
	s.mu.Unlock()
	d := Delivery{Body: body, Header: s.Sign(body)}
	var ev struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(body, &ev) == nil {
		d.EventID = ev.EventID
	}
	if target == "" {
		return d, ErrNoReceiver
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return d, fmt.Errorf("diditsim: webhook request: %w", err)
	}
	req.Header = d.Header.Clone()
	defer func() {
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		s.mu.Unlock()
	}()
	resp, err := s.hc.Do(req)
	if err != nil {
		return d, fmt.Errorf("diditsim: deliver webhook: %w", err)
	}
	defer resp.Body.Close()
	d.StatusCode = resp.StatusCode
	d.Response, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return d, fmt.Errorf("diditsim: receiver answered %d: %s", resp.StatusCode, bytes.TrimSpace(d.Response))
	}
	return d, nil
}

// resolve settles the session status and the feature results.
func resolve(o Outcome, kind policy.StepKind) (string, []FeatureResult) {
	features := o.Features
	if len(features) == 0 {
		for _, f := range kindFeatures(kind) {
			features = append(features, FeatureResult{Feature: f})
		}
	}
	out := make([]FeatureResult, len(features))
	worst := StatusApproved
	for i, f := range features {
		if f.Status == "" {
			f.Status = cmp.Or(o.Status, StatusApproved)
		}
		switch {
		case f.Status == StatusDeclined:
			worst = StatusDeclined
		case f.Status == StatusInReview && worst != StatusDeclined:
			worst = StatusInReview
		}
		out[i] = f
	}
	return cmp.Or(o.Status, worst), out
}

// kindFeatures are the features of a step-up session of kind (a full KYC otherwise).
func kindFeatures(kind policy.StepKind) []string {
	switch kind {
	case policy.StepNFC:
		return []string{FeatureNFC}
	case policy.StepPhone:
		return []string{FeaturePhone}
	case policy.StepBiometric:
		return []string{FeatureLiveness, FeatureFaceMatch}
	case policy.StepPOA:
		return []string{FeaturePoA}
	case policy.StepEmail:
		return []string{FeatureEmail}
	}
	return []string{FeatureID, FeatureLiveness, FeatureFaceMatch}
}

// decisionArrays are the decision's feature arrays: the ten KYC arrays and the newer ones
// (shared/didit-api.md §2.2, §9.9).
var decisionArrays = []string{"id_verifications", "nfc_verifications", "liveness_checks", "face_matches",
	"poa_verifications", "phone_verifications", "email_verifications", "aml_screenings", "ip_analyses",
	"database_validations", "questionnaire_responses", "document_ai_documents", "signatures", "bank_verifications"}

// baseDecision is the decision object's top level (shared/didit-api.md §2.2); feature arrays
// stay null until a feature has produced data.
func baseDecision(ss *Session, status string, features []FeatureResult) map[string]any {
	names := []any{}
	for _, f := range features {
		names = append(names, f.Feature)
	}
	d := map[string]any{
		"session_id":       ss.ID,
		"session_number":   ss.Number,
		"session_kind":     "user",
		"session_url":      ss.URL,
		"status":           status,
		"environment":      "sandbox",
		"workflow_id":      ss.WorkflowID,
		"features":         names,
		"vendor_data":      nullIfEmpty(ss.VendorData),
		"metadata":         ss.Metadata,
		"callback":         nullIfEmpty(ss.Callback),
		"expected_details": nil,
		"contact_details":  nil,
		"reviews":          []any{},
		"created_at":       ss.CreatedAt.Unix(),
		"expires_at":       ss.CreatedAt.Add(7 * 24 * time.Hour).Unix(),
	}
	for _, k := range decisionArrays {
		d[k] = nil
	}
	return d
}

// riskInfo describes the default risk of each feature, with the warning's feature name.
var riskInfo = map[string]struct{ warningFeature, risk, short, long string }{
	FeatureID:        {"ID_VERIFICATION", "DOCUMENT_EXPIRED", "Document expired", "The document's expiration date has passed."},
	FeatureNFC:       {"NFC", "NFC_CHIP_NOT_VERIFIED", "NFC chip not verified", "The chip's data could not be authenticated against its certificates."},
	FeatureLiveness:  {"LIVENESS", "LOW_LIVENESS_SCORE", "Low liveness score", "The liveness score is below the workflow's threshold."},
	FeatureFaceMatch: {"FACEMATCH", "LOW_FACE_MATCH_SIMILARITY", "Low face match similarity", "The face does not match the reference image closely enough."},
	FeaturePoA:       {"PROOF_OF_ADDRESS", "EXPIRED_DOCUMENT", "Expired document", "The proof of address was issued more than 90 days ago."},
	FeaturePhone:     {"PHONE", "VERIFICATION_CODE_ATTEMPTS_EXCEEDED", "Verification code attempts exceeded", "The user entered a wrong code too many times."},
	FeatureEmail:     {"EMAIL", "EMAIL_CODE_ATTEMPTS_EXCEEDED", "Email code attempts exceeded", "The user entered a wrong code too many times."},
}

// featureItems builds one feature's v3 array (shared/didit-api.md §3) with invented values.
func featureItems(ss *Session, link profile.StepUpLink, f FeatureResult, media func(name string) string) (string, []any) {
	ok := f.Status == StatusApproved
	info := riskInfo[f.Feature]
	node := map[string]string{FeatureID: "feature_ocr", FeatureNFC: "feature_nfc", FeatureLiveness: "feature_liveness",
		FeatureFaceMatch: "feature_face_match", FeaturePoA: "feature_poa", FeaturePhone: "feature_phone", FeatureEmail: "feature_email"}[f.Feature]
	warnings := []any{}
	risks := f.Risks
	if len(risks) == 0 && !ok && info.risk != "" {
		risks = []string{info.risk}
	}
	logType := "error"
	if f.Status == StatusInReview {
		logType = "warning"
	} else if ok {
		logType = "information"
	}
	for _, r := range risks {
		short, long := info.short, info.long
		if r != info.risk {
			short, long = r, "See the Didit console for details."
		}
		warnings = append(warnings, map[string]any{
			"additional_data": nil, "feature": cmp.Or(info.warningFeature, f.Feature), "log_type": logType,
			"long_description": long, "node_id": node, "risk": r, "short_description": short,
		})
	}
	pick := func(good, bad float64) float64 {
		if ok {
			return good
		}
		return bad
	}
	item := map[string]any{"node_id": node, "status": f.Status, "warnings": warnings}
	var key string
	switch f.Feature {
	case FeatureNFC:
		key = "nfc_verifications"
		item["is_nfc_skipped"] = false
		item["skip_reason"] = nil
		item["portrait_image"] = media("nfc_portrait")
		item["signature_image"] = media("nfc_signature")
		item["authenticity"] = map[string]any{"dg_integrity": ok, "sod_integrity": ok}
		item["chip_data"] = map[string]any{
			"address": "Calle de Alcalá 42, 28014 Madrid", "birth_date": "1990-04-12", "document_number": "X1234567K",
			"document_type": "ID", "expiration_date": "2031-04-12", "first_name": "ANA", "gender": "F",
			"issuing_country": "ESP", "last_name": "GARCÍA LÓPEZ", "nationality": "ESP", "place_of_birth": "Sevilla",
		}
		item["certificate_summary"] = map[string]any{
			"issuer": "C=ES, O=DIRECCION GENERAL DE LA POLICIA, CN=CSCA SPAIN", "not_valid_after": "2031-07-14T00:00:00Z",
			"not_valid_before": "2021-04-14T00:00:00Z", "serial_number": "6A1F0C3D9B2E7F48",
			"subject": "C=ES, O=DIRECCION GENERAL DE LA POLICIA, CN=DS-DNI 3.0 0007",
		}
	case FeaturePhone:
		key = "phone_verifications"
		attempts, verified := 1, any(time.Unix(ss.CreatedAt.Unix()+95, 0).UTC().Format("2006-01-02T15:04:05.000Z"))
		if !ok {
			attempts, verified = 3, nil
		}
		item["phone_number_prefix"] = "+34"
		item["phone_number"] = "612345678"
		item["full_number"] = "+34612345678"
		item["country_code"] = "ES"
		item["country_name"] = "Spain"
		item["carrier"] = map[string]any{"name": "Telefónica Móviles España", "type": "mobile"}
		item["is_disposable"] = false
		item["is_virtual"] = false
		item["verification_method"] = "sms"
		item["verification_attempts"] = attempts
		item["verified_at"] = verified
		item["lifecycle"] = []any{}
		item["matches"] = []any{}
	case FeatureLiveness:
		key = "liveness_checks"
		item["method"] = "PASSIVE"
		item["score"] = pick(93.1, 22.5)
		item["reference_image"] = media("liveness_reference")
		item["video_url"] = nil
		item["age_estimation"] = 34.2
		item["face_quality"] = pick(82.4, 41.0)
		item["face_luminance"] = 118.25
		item["matches"] = []any{}
	case FeatureFaceMatch:
		key = "face_matches"
		item["score"] = pick(96.0, 41.0)
		item["source_image"] = media("face_source")
		item["target_image"] = media("face_target")
		item["source_image_session_id"] = nullIfEmpty(link.OriginSessionID)
	case FeaturePoA:
		key = "poa_verifications"
		issued := "2025-12-03"
		if !ok {
			issued = "2024-06-01"
		}
		item["document_file"] = media("poa_document")
		item["issuing_state"] = "ESP"
		item["document_type"] = "UTILITY_BILL"
		item["document_language"] = "es"
		item["issuer"] = "Iberdrola Clientes, S.A.U."
		item["issue_date"] = issued
		item["poa_address"] = "Calle de Alcalá 42, 3º Izq., 28014 Madrid"
		item["poa_formatted_address"] = "Calle de Alcalá, 42, 3º Izq., 28014 Madrid, España"
		item["name_on_document"] = "Ana García López"
		item["expected_details_address"] = nil
	case FeatureEmail:
		key = "email_verifications"
		item["email"] = "ana.garcia@example.es"
		item["is_breached"] = false
		item["breaches"] = []any{}
		item["is_disposable"] = false
		item["is_undeliverable"] = false
		item["verification_attempts"] = map[bool]int{true: 1, false: 3}[ok]
		item["lifecycle"] = []any{}
		item["matches"] = []any{}
	default:
		key = "id_verifications"
		item["document_type"] = "Identity Card"
		item["document_number"] = "X1234567K"
		item["first_name"] = "Ana"
		item["last_name"] = "García López"
		item["full_name"] = "Ana García López"
		item["date_of_birth"] = "1990-04-12"
		item["age"] = 35
		item["expiration_date"] = map[bool]string{true: "2031-04-12", false: "2024-01-31"}[ok]
		item["issuing_state"] = "ESP"
		item["issuing_state_name"] = "Spain"
		item["nationality"] = "ESP"
		item["gender"] = "F"
		item["portrait_image"] = media("id_portrait")
		item["matches"] = []any{}
	}
	return key, []any{item}
}
