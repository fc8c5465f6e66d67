// Package scoring turns a Didit decision into a risk assessment. It is pure: Extract reads a
// decoded webhook into flat Signals, Merge lays a step-up session's signals over the user's
// last primary ones, and Engine.Evaluate runs a compiled policy over signals and History.
// No I/O, no clock, no personal data in anything it returns.
package scoring

// The signal declarations of package policy are generated from the Signals struct below.
//go:generate go test -run ^TestSignalVocabularyGenerated$ -update .

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Signals is the flat, storable view of one decision that rules read as signals.<name>.
// It holds no personal data (no names, birth dates, document numbers, addresses, URLs, emails or
// phone numbers): it is stored in Firestore with every assessment. Unknown numbers are -1 so a
// rule like `signals.liveness_score < 50` never fires on a missing check; guard with `>= 0`.
//
// The struct is the one declaration of the signal vocabulary. Each field's tags say:
//   - firestore, json: the storage name, which is also the rule variable signals.<name>;
//   - feature: which Didit feature owns the field, which is what Merge uses (a feature present
//     in a step-up session replaces all of that feature's fields); "session" fields follow the
//     latest event, "derived" fields are recomputed after a merge;
//   - doc: what the signal means, for rule authors; "-" keeps the field out of the rules.
//
// `go generate ./internal/scoring` writes, from these tags, the CEL declarations and the doc
// table of the signals (internal/policy/signals_gen.go, listed by `policy-check -vars`);
// TestSignalVocabularyGenerated fails while that file is stale. Adding a signal is a field
// here, its extractor and its test.
//
// Boolean signals agree with Didit's warning for the same fact (see fold): a rule needs one of them.
// Warnings is not a rule variable: it keeps each risk code with its feature so that Merge can
// drop a replaced feature's codes before risk_codes is derived again.
type Signals struct {
	DiditStatus     string   `firestore:"didit_status" json:"didit_status" feature:"session" doc:"Didit session status: Approved, Declined, In Review, Abandoned, ..."`
	WebhookType     string   `firestore:"webhook_type" json:"webhook_type" feature:"session" doc:"status.updated or data.updated"`
	KycExpired      bool     `firestore:"kyc_expired" json:"kyc_expired" feature:"session" doc:"Didit moved the approved session to Kyc Expired: the approval no longer holds and must be renewed (didit_status then reads Approved, the decision that expired)"`
	ReviewRequested bool     `firestore:"review_requested" json:"review_requested" feature:"session" doc:"the session is In Review because a review was asked with the API key (its latest review is the API client's In Review, as this system's review requests are), not by Didit's own checks"`
	FeaturesPresent []string `firestore:"features_present" json:"features_present" feature:"-" doc:"features with data: id, nfc, liveness, face_match, poa, phone, email, aml, ip, database, questionnaire, document_ai"`
	RiskCodes       []string `firestore:"risk_codes" json:"risk_codes" feature:"derived" doc:"every warning risk code of every feature (deduplicated, sorted)"`
	RiskErrors      []string `firestore:"risk_errors" json:"risk_errors" feature:"derived" doc:"risk codes whose log_type is error"`
	RiskWarnings    []string `firestore:"risk_warnings" json:"risk_warnings" feature:"derived" doc:"risk codes whose log_type is warning"`

	IDStatus             string `firestore:"id_status" json:"id_status" feature:"id" doc:"worst status of id_verifications"`
	DocumentType         string `firestore:"document_type" json:"document_type" feature:"id" doc:"document type as Didit names it (Passport, Identity Card, ...)"`
	DocumentCountry      string `firestore:"document_country" json:"document_country" feature:"id" doc:"issuing state, ISO alpha-3"`
	DocumentExpired      bool   `firestore:"document_expired" json:"document_expired" feature:"id" doc:"expiration date before the event, or DOCUMENT_EXPIRED"`
	Age                  int64  `firestore:"age" json:"age" feature:"id" doc:"age on the document in years; -1 unknown"`
	DuplicateUserMatches int64  `firestore:"duplicate_user_matches" json:"duplicate_user_matches" feature:"id" doc:"ID matches that belong to another vendor_data (allowlisted and blocklisted matches apart)"`
	DocumentBlocklisted  int64  `firestore:"document_blocklist_matches" json:"document_blocklist_matches" feature:"id" doc:"ID matches Didit flags is_blocklisted"`
	DocumentHash         string `firestore:"document_hash" json:"document_hash" feature:"id" doc:"keyed hash of the normalised document number; empty if none"`

	NFCStatus     string `firestore:"nfc_status" json:"nfc_status" feature:"nfc" doc:"worst status of nfc_verifications"`
	NFCVerified   bool   `firestore:"nfc_verified" json:"nfc_verified" feature:"nfc" doc:"chip read, approved, SOD/DG integrity not false, no NFC_CHIP_NOT_VERIFIED"`
	NFCSkipped    bool   `firestore:"nfc_skipped" json:"nfc_skipped" feature:"nfc" doc:"the chip read was skipped and none verified, or SKIPPED_NFC_VALIDATION"`
	NFCSkipReason string `firestore:"nfc_skip_reason" json:"nfc_skip_reason" feature:"nfc" doc:"USER_SKIPPED, DOCUMENT_WITHOUT_CHIP, DEVICE_WITHOUT_NFC, ..."`

	LivenessStatus       string  `firestore:"liveness_status" json:"liveness_status" feature:"liveness" doc:"worst status of liveness_checks"`
	LivenessScore        float64 `firestore:"liveness_score" json:"liveness_score" feature:"liveness" doc:"lowest liveness score 0-100; -1 unknown"`
	LivenessMethod       string  `firestore:"liveness_method" json:"liveness_method" feature:"liveness" doc:"ACTIVE_3D, FLASHING or PASSIVE (upper-cased)"`
	AgeEstimate          float64 `firestore:"age_estimate" json:"age_estimate" feature:"liveness" doc:"age estimated from the face in years; -1 unknown"`
	FaceQuality          float64 `firestore:"face_quality" json:"face_quality" feature:"liveness" doc:"lowest passive face quality 0-100; -1 unknown"`
	DuplicateFaceMatches int64   `firestore:"duplicate_face_matches" json:"duplicate_face_matches" feature:"liveness" doc:"face matches that belong to another vendor_data (allowlisted and blocklisted matches apart)"`
	FaceBlocklisted      int64   `firestore:"face_blocklist_matches" json:"face_blocklist_matches" feature:"liveness" doc:"face matches Didit flags is_blocklisted"`
	AgeGap               float64 `firestore:"age_gap" json:"age_gap" feature:"derived" doc:"|age_estimate - age| in years; -1 unless both are known"`

	FaceMatchStatus string  `firestore:"face_match_status" json:"face_match_status" feature:"face_match" doc:"worst status of face_matches"`
	FaceMatchScore  float64 `firestore:"face_match_score" json:"face_match_score" feature:"face_match" doc:"lowest 1:1 similarity 0-100; -1 unknown"`

	POAStatus       string `firestore:"poa_status" json:"poa_status" feature:"poa" doc:"worst status of poa_verifications"`
	POADocumentType string `firestore:"poa_document_type" json:"poa_document_type" feature:"poa" doc:"UTILITY_BILL, BANK_STATEMENT, ..."`

	PhoneStatus      string `firestore:"phone_status" json:"phone_status" feature:"phone" doc:"worst status of phone_verifications"`
	PhoneCarrierType string `firestore:"phone_carrier_type" json:"phone_carrier_type" feature:"phone" doc:"mobile, landline, voip or unknown (lower-cased)"`
	PhoneDisposable  bool   `firestore:"phone_disposable" json:"phone_disposable" feature:"phone" doc:"disposable number, or DISPOSABLE_NUMBER_DETECTED"`
	PhoneVoIP        bool   `firestore:"phone_voip" json:"phone_voip" feature:"phone" doc:"VoIP carrier or virtual number, or VOIP_NUMBER_DETECTED"`
	PhoneCountry     string `firestore:"phone_country" json:"phone_country" feature:"phone" doc:"phone country, ISO alpha-2"`

	EmailStatus        string `firestore:"email_status" json:"email_status" feature:"email" doc:"worst status of email_verifications"`
	EmailBreached      bool   `firestore:"email_breached" json:"email_breached" feature:"email" doc:"address found in known breaches, or BREACHED_EMAIL_DETECTED"`
	EmailBreachCount   int64  `firestore:"email_breach_count" json:"email_breach_count" feature:"email" doc:"number of breaches listed"`
	EmailDisposable    bool   `firestore:"email_disposable" json:"email_disposable" feature:"email" doc:"disposable address, or DISPOSABLE_EMAIL_DETECTED"`
	EmailUndeliverable bool   `firestore:"email_undeliverable" json:"email_undeliverable" feature:"email" doc:"undeliverable address, or UNDELIVERABLE_EMAIL_DETECTED"`

	AMLStatus   string  `firestore:"aml_status" json:"aml_status" feature:"aml" doc:"worst status of aml_screenings"`
	AMLHits     int64   `firestore:"aml_hits" json:"aml_hits" feature:"aml" doc:"hits not marked False Positive (total_hits when hits are not listed)"`
	AMLMaxScore float64 `firestore:"aml_max_score" json:"aml_max_score" feature:"aml" doc:"highest screening score 0-100; -1 unknown"`
	AMLPEP      bool    `firestore:"aml_pep" json:"aml_pep" feature:"aml" doc:"a hit that is not a false positive has PEP matches"`
	AMLSanction bool    `firestore:"aml_sanction" json:"aml_sanction" feature:"aml" doc:"a hit that is not a false positive has sanction matches"`

	IPStatus          string   `firestore:"ip_status" json:"ip_status" feature:"ip" doc:"worst status of ip_analyses"`
	IPVPNOrTor        bool     `firestore:"ip_vpn_or_tor" json:"ip_vpn_or_tor" feature:"ip" doc:"any observation through VPN, proxy or Tor, or PRIVATE_NETWORK_DETECTED"`
	IPDataCenter      bool     `firestore:"ip_data_center" json:"ip_data_center" feature:"ip" doc:"any observation from a data centre"`
	IPCountry         string   `firestore:"ip_country" json:"ip_country" feature:"ip" doc:"country of the first observation, ISO alpha-2"`
	IPCountries       []string `firestore:"ip_countries" json:"ip_countries" feature:"ip" doc:"distinct IP countries, ISO alpha-2"`
	IPCountryMismatch bool     `firestore:"ip_country_mismatch" json:"ip_country_mismatch" feature:"derived" doc:"an IP country differs from the document's, or COUNTRY_FROM_DOCUMENT_DOES_NOT_MATCH_COUNTRY_FROM_IP"`
	DeviceHashes      []string `firestore:"device_hashes" json:"device_hashes" feature:"ip" doc:"keyed hashes of the distinct device fingerprints"`

	DBStatus          string `firestore:"db_status" json:"db_status" feature:"database" doc:"worst status of database_validations"`
	DBValidationMatch string `firestore:"db_validation_match" json:"db_validation_match" feature:"database" doc:"full_match, partial_match or no_match (worst; DATABASE_VALIDATION_* codes included)"`

	QuestionnaireStatus string `firestore:"questionnaire_status" json:"questionnaire_status" feature:"questionnaire" doc:"worst status of questionnaire_responses"`
	DocumentAIStatus    string `firestore:"document_ai_status" json:"document_ai_status" feature:"document_ai" doc:"worst status of document_ai_documents"`

	Warnings []WarningSignal `firestore:"warnings" json:"warnings" feature:"-" doc:"-"`
}

// WarningSignal is a risk code with the feature whose array it came from.
type WarningSignal struct {
	Feature string `firestore:"feature" json:"feature"`
	Risk    string `firestore:"risk" json:"risk"`
	LogType string `firestore:"log_type" json:"log_type"`
}

var featureKeys = [...]string{policy.FeatureID, policy.FeatureNFC, policy.FeatureLiveness, policy.FeatureFaceMatch,
	policy.FeaturePOA, policy.FeaturePhone, policy.FeatureEmail, policy.FeatureAML, policy.FeatureIP,
	policy.FeatureDatabase, policy.FeatureQuestionnaire, policy.FeatureDocumentAI}

// allFeatures returns every feature key, in the order of the Signals table.
func allFeatures() []string { return slices.Clone(featureKeys[:]) }

// emptySignals is the value of a decision without any feature: unknown numbers at -1.
func emptySignals() Signals {
	return Signals{Age: -1, LivenessScore: -1, AgeEstimate: -1, FaceQuality: -1, AgeGap: -1,
		FaceMatchScore: -1, AMLMaxScore: -1}
}

// Extract reads a decoded webhook into Signals. hash must be a keyed hash (an HMAC with a
// secret), since document numbers and device fingerprints are guessable; a nil hash leaves
// document_hash and device_hashes empty. A webhook without a decision yields only the session
// fields.
func Extract(w *didit.Webhook, hash func(string) string) Signals {
	s := emptySignals()
	if w == nil {
		return s
	}
	s.DiditStatus = string(w.Status)
	s.WebhookType = w.WebhookType
	d := w.Decision
	if s.DiditStatus == "" && d != nil {
		s.DiditStatus = string(d.Status)
	}
	// Kyc Expired is, by Didit's definition (§9.7), a previously approved session whose KYC
	// expired: its decision is an approval that no longer holds. Rules see the approval and
	// kyc_expired, so an expired approval is never taken for a current one.
	if didit.Status(s.DiditStatus) == didit.StatusKycExpired {
		s.DiditStatus, s.KycExpired = string(didit.StatusApproved), true
	}
	if d == nil {
		return s
	}
	s.ReviewRequested = didit.Status(s.DiditStatus) == didit.StatusInReview && reviewRequested(d.Reviews)
	// One allocation each instead of growing: Extract runs for every webhook.
	s.FeaturesPresent = make([]string, 0, len(featureKeys))
	s.Warnings = make([]WarningSignal, 0, 8)
	x := extractor{s: &s, own: w.VendorData, hash: hash, at: eventDate(w)}
	x.id(d.IDVerifications)
	x.nfc(d.NFCVerifications)
	x.liveness(d.LivenessChecks)
	x.faceMatch(d.FaceMatches)
	x.poa(d.POAVerifications)
	x.phone(d.PhoneVerifications)
	x.email(d.EmailVerifications)
	x.aml(d.AMLScreenings)
	x.ip(d.IPAnalyses)
	x.database(d.DatabaseValidations)
	x.statusOnly(policy.FeatureQuestionnaire, &s.QuestionnaireStatus, questionnaireItems(d.QuestionnaireResponses))
	x.statusOnly(policy.FeatureDocumentAI, &s.DocumentAIStatus, documentAIItems(d.DocumentAIDocuments))
	s.derive()
	return s
}

// eventDate is the UTC date of the event ("" when the webhook carries no time), against which
// the document expiry is compared: Extract stays pure and replays give the same answer.
func eventDate(w *didit.Webhook) string {
	t := w.Timestamp
	if t <= 0 {
		t = w.CreatedAt
	}
	if t <= 0 {
		return ""
	}
	return time.Unix(t, 0).UTC().Format(time.DateOnly)
}

type extractor struct {
	s    *Signals
	own  string // the webhook's vendor_data: matches to it are the same user, not duplicates
	hash func(string) string
	at   string
}

func (x *extractor) present(feature string) {
	x.s.FeaturesPresent = append(x.s.FeaturesPresent, feature)
}

func (x *extractor) warnings(feature string, ws []didit.Warning) {
	for _, w := range ws {
		if w.Risk == "" {
			continue
		}
		x.s.Warnings = append(x.s.Warnings, WarningSignal{Feature: feature, Risk: w.Risk, LogType: strings.ToLower(w.LogType)})
	}
}

// others counts the matches that belong to someone else, and apart from them those Didit
// flags blocklisted (§9.8). An allowlisted match (an entry the operator vouched for) is not
// evidence of a duplicate user; a blocklisted one is a blocklist hit, not a mere duplicate.
// A match flagged both ways counts as blocklisted: the safe side.
func (x *extractor) others(ms []didit.Match) (duplicates, blocklisted int64) {
	for _, m := range ms {
		switch {
		case m.IsBlocklisted:
			blocklisted++
		case m.IsAllowlisted:
		case x.own == "" || m.VendorData != x.own:
			duplicates++
		}
	}
	return duplicates, blocklisted
}

// statusItem is an item of an array whose status and warnings are all Extract reads.
type statusItem struct {
	status   string
	warnings []didit.Warning
}

func questionnaireItems(items []didit.QuestionnaireResponse) []statusItem {
	out := make([]statusItem, len(items))
	for i, it := range items {
		out[i] = statusItem{it.Status, it.Warnings}
	}
	return out
}

func documentAIItems(items []didit.DocumentAIDocument) []statusItem {
	out := make([]statusItem, len(items))
	for i, it := range items {
		out[i] = statusItem{it.Status, it.Warnings}
	}
	return out
}

// statusOnly reads a feature whose items carry only a status and warnings.
func (x *extractor) statusOnly(feature string, status *string, items []statusItem) {
	if len(items) == 0 {
		return
	}
	x.present(feature)
	for _, it := range items {
		*status = worstStatus(*status, it.status)
		x.warnings(feature, it.warnings)
	}
}

func (x *extractor) id(items []didit.IDVerification) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureID)
	s := x.s
	for _, it := range items {
		s.IDStatus = worstStatus(s.IDStatus, it.Status)
		s.DocumentType = first(s.DocumentType, it.DocumentType)
		s.DocumentCountry = first(s.DocumentCountry, strings.ToUpper(strings.TrimSpace(it.IssuingState)))
		if s.Age < 0 && it.Age != nil && *it.Age >= 0 {
			s.Age = int64(*it.Age)
		}
		if x.at != "" && isDate(it.ExpirationDate) && it.ExpirationDate < x.at {
			s.DocumentExpired = true
		}
		if s.DocumentHash == "" && x.hash != nil {
			if n := normalizeDocumentNumber(it.DocumentNumber); n != "" {
				s.DocumentHash = x.hash(n)
			}
		}
		dup, blocked := x.others(it.Matches)
		s.DuplicateUserMatches += dup
		s.DocumentBlocklisted += blocked
		x.warnings(policy.FeatureID, it.Warnings)
	}
}

func (x *extractor) nfc(items []didit.NFCVerification) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureNFC)
	s := x.s
	skipped := false
	for _, it := range items {
		s.NFCStatus = worstStatus(s.NFCStatus, it.Status)
		if it.IsNFCSkipped {
			skipped = true
			s.NFCSkipReason = first(s.NFCSkipReason, it.SkipReason)
		} else if it.Status == string(didit.StatusApproved) && integrityOK(it) {
			s.NFCVerified = true
		}
		x.warnings(policy.FeatureNFC, it.Warnings)
	}
	s.NFCSkipped = skipped && !s.NFCVerified
}

func integrityOK(it didit.NFCVerification) bool {
	a := it.Authenticity
	return a == nil || (a.SODIntegrity == nil || *a.SODIntegrity) && (a.DGIntegrity == nil || *a.DGIntegrity)
}

func (x *extractor) liveness(items []didit.LivenessCheck) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureLiveness)
	s := x.s
	for _, it := range items {
		s.LivenessStatus = worstStatus(s.LivenessStatus, it.Status)
		s.LivenessScore = lowest(s.LivenessScore, it.Score)
		s.LivenessMethod = first(s.LivenessMethod, strings.ToUpper(it.Method))
		if s.AgeEstimate < 0 && it.AgeEstimation != nil && *it.AgeEstimation >= 0 {
			s.AgeEstimate = float64(*it.AgeEstimation)
		}
		s.FaceQuality = lowest(s.FaceQuality, it.FaceQuality)
		dup, blocked := x.others(it.Matches)
		s.DuplicateFaceMatches += dup
		s.FaceBlocklisted += blocked
		x.warnings(policy.FeatureLiveness, it.Warnings)
	}
}

func (x *extractor) faceMatch(items []didit.FaceMatch) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureFaceMatch)
	for _, it := range items {
		x.s.FaceMatchStatus = worstStatus(x.s.FaceMatchStatus, it.Status)
		x.s.FaceMatchScore = lowest(x.s.FaceMatchScore, it.Score)
		x.warnings(policy.FeatureFaceMatch, it.Warnings)
	}
}

func (x *extractor) poa(items []didit.POAVerification) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeaturePOA)
	for _, it := range items {
		x.s.POAStatus = worstStatus(x.s.POAStatus, it.Status)
		x.s.POADocumentType = first(x.s.POADocumentType, it.DocumentType)
		x.warnings(policy.FeaturePOA, it.Warnings)
	}
}

func (x *extractor) phone(items []didit.PhoneVerification) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeaturePhone)
	s := x.s
	for _, it := range items {
		s.PhoneStatus = worstStatus(s.PhoneStatus, it.Status)
		carrier := ""
		if it.Carrier != nil {
			carrier = strings.ToLower(it.Carrier.Type)
		}
		s.PhoneCarrierType = first(s.PhoneCarrierType, carrier)
		s.PhoneDisposable = s.PhoneDisposable || it.IsDisposable
		s.PhoneVoIP = s.PhoneVoIP || it.IsVirtual || carrier == "voip"
		s.PhoneCountry = first(s.PhoneCountry, strings.ToUpper(it.CountryCode))
		x.warnings(policy.FeaturePhone, it.Warnings)
	}
}

func (x *extractor) email(items []didit.EmailVerification) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureEmail)
	s := x.s
	for _, it := range items {
		s.EmailStatus = worstStatus(s.EmailStatus, it.Status)
		s.EmailBreached = s.EmailBreached || it.IsBreached || len(it.Breaches) > 0
		s.EmailBreachCount += int64(len(it.Breaches))
		s.EmailDisposable = s.EmailDisposable || it.IsDisposable
		s.EmailUndeliverable = s.EmailUndeliverable || it.IsUndeliverable
		x.warnings(policy.FeatureEmail, it.Warnings)
	}
}

func (x *extractor) aml(items []didit.AMLScreening) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureAML)
	s := x.s
	for _, it := range items {
		s.AMLStatus = worstStatus(s.AMLStatus, it.Status)
		hitMax := -1.0
		var real int64
		for _, h := range it.Hits {
			if strings.EqualFold(h.ReviewStatus, "False Positive") {
				continue
			}
			real++
			hitMax = highest(hitMax, h.MatchScore)
			s.AMLPEP = s.AMLPEP || didit.Present(h.PEPMatches)
			s.AMLSanction = s.AMLSanction || didit.Present(h.SanctionMatches)
		}
		if it.Hits != nil {
			s.AMLHits += real
		} else if it.TotalHits != nil && *it.TotalHits > 0 {
			s.AMLHits += int64(*it.TotalHits)
		}
		if it.Score != nil {
			s.AMLMaxScore = highest(s.AMLMaxScore, it.Score)
		} else if hitMax >= 0 {
			s.AMLMaxScore = math.Max(s.AMLMaxScore, hitMax)
		}
		x.warnings(policy.FeatureAML, it.Warnings)
	}
}

func (x *extractor) ip(items []didit.IPAnalysis) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureIP)
	s := x.s
	var seen []string // fingerprints already hashed: one device often shows in several entries
	for _, it := range items {
		s.IPStatus = worstStatus(s.IPStatus, it.Status)
		s.IPVPNOrTor = s.IPVPNOrTor || it.IsVPNOrTor
		s.IPDataCenter = s.IPDataCenter || it.IsDataCenter
		if c := strings.ToUpper(strings.TrimSpace(it.IPCountryCode)); c != "" {
			s.IPCountry = first(s.IPCountry, c)
			if !slices.Contains(s.IPCountries, c) {
				s.IPCountries = append(s.IPCountries, c)
			}
		}
		if x.hash != nil && it.DeviceFingerprint != "" && !slices.Contains(seen, it.DeviceFingerprint) {
			seen = append(seen, it.DeviceFingerprint)
			s.DeviceHashes = append(s.DeviceHashes, x.hash(it.DeviceFingerprint))
		}
		x.warnings(policy.FeatureIP, it.Warnings)
	}
	slices.Sort(s.DeviceHashes)
	s.DeviceHashes = slices.Compact(s.DeviceHashes)
}

func (x *extractor) database(items []didit.DatabaseValidation) {
	if len(items) == 0 {
		return
	}
	x.present(policy.FeatureDatabase)
	for _, it := range items {
		x.s.DBStatus = worstStatus(x.s.DBStatus, it.Status)
		if matchRank(it.MatchType) > matchRank(x.s.DBValidationMatch) {
			x.s.DBValidationMatch = strings.ToLower(it.MatchType)
		}
		x.warnings(policy.FeatureDatabase, it.Warnings)
	}
}

// derive recomputes the fields that combine features; Extract and Merge both end with it.
func (s *Signals) derive() {
	slices.Sort(s.FeaturesPresent)
	s.FeaturesPresent = slices.Compact(s.FeaturesPresent)

	slices.SortFunc(s.Warnings, func(a, b WarningSignal) int {
		return cmp.Or(strings.Compare(a.Feature, b.Feature), strings.Compare(a.Risk, b.Risk), strings.Compare(a.LogType, b.LogType))
	})
	s.Warnings = slices.Compact(s.Warnings)
	s.RiskCodes, s.RiskErrors, s.RiskWarnings = nil, nil, nil
	if len(s.Warnings) > 0 {
		s.RiskCodes = make([]string, 0, len(s.Warnings))
	}
	for _, w := range s.Warnings {
		s.RiskCodes = append(s.RiskCodes, w.Risk)
		switch w.LogType {
		case didit.LogError:
			s.RiskErrors = append(s.RiskErrors, w.Risk)
		case didit.LogWarning:
			s.RiskWarnings = append(s.RiskWarnings, w.Risk)
		}
	}
	s.RiskCodes = sortedSet(s.RiskCodes)
	s.RiskErrors = sortedSet(s.RiskErrors)
	s.RiskWarnings = sortedSet(s.RiskWarnings)

	s.IPCountryMismatch = false
	if doc := alpha2(s.DocumentCountry); doc != "" {
		for _, c := range s.IPCountries {
			if c != doc {
				s.IPCountryMismatch = true
			}
		}
	}
	for _, w := range s.Warnings {
		s.fold(w.Risk)
	}

	s.AgeGap = -1
	if s.Age >= 0 && s.AgeEstimate >= 0 {
		s.AgeGap = math.Round(math.Abs(s.AgeEstimate-float64(s.Age))*10) / 10
	}
}

// fold makes a boolean signal agree with the warning Didit raised for the same fact, so that a
// rule reads one signal whether the payload set the flag, the warning, or both.
func (s *Signals) fold(code string) {
	switch code {
	case "DOCUMENT_EXPIRED":
		s.DocumentExpired = true
	case "SKIPPED_NFC_VALIDATION":
		s.NFCSkipped = !s.NFCVerified
	case "NFC_CHIP_NOT_VERIFIED":
		s.NFCVerified = false
	case "DISPOSABLE_NUMBER_DETECTED":
		s.PhoneDisposable = true
	case "VOIP_NUMBER_DETECTED":
		s.PhoneVoIP = true
	case "BREACHED_EMAIL_DETECTED":
		s.EmailBreached = true
	case "DISPOSABLE_EMAIL_DETECTED":
		s.EmailDisposable = true
	case "UNDELIVERABLE_EMAIL_DETECTED":
		s.EmailUndeliverable = true
	case "PRIVATE_NETWORK_DETECTED":
		s.IPVPNOrTor = true
	case "COUNTRY_FROM_DOCUMENT_DOES_NOT_MATCH_COUNTRY_FROM_IP":
		s.IPCountryMismatch = true
	case "DATABASE_VALIDATION_PARTIAL_MATCH":
		if matchRank(s.DBValidationMatch) < matchRank("partial_match") {
			s.DBValidationMatch = "partial_match"
		}
	case "DATABASE_VALIDATION_NO_MATCH":
		s.DBValidationMatch = "no_match"
	}
}

func sortedSet(xs []string) []string {
	slices.Sort(xs)
	return slices.Compact(xs)
}

// Has reports whether feature was present in the decision (or in any merged one).
func (s *Signals) Has(feature string) bool { return slices.Contains(s.FeaturesPresent, feature) }

// normalizeDocumentNumber keeps letters and digits, upper-cased, so that "x-123 456" and
// "X123456" read from two sessions hash the same.
func normalizeDocumentNumber(n string) string {
	if isUpperAlnum(n) {
		return n
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(n) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isUpperAlnum reports whether s holds only A-Z and 0-9, the already normalised case.
func isUpperAlnum(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// isDate checks the YYYY-MM-DD shape, which is all a string comparison of dates needs.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func first(cur, v string) string {
	if cur != "" {
		return cur
	}
	return v
}

func lowest(cur float64, v *didit.Num) float64 {
	if v == nil || *v < 0 {
		return cur
	}
	if cur < 0 || float64(*v) < cur {
		return float64(*v)
	}
	return cur
}

func highest(cur float64, v *didit.Num) float64 {
	if v == nil || *v < 0 {
		return cur
	}
	return math.Max(cur, float64(*v))
}

// statusRank orders feature statuses from harmless to bad, so that several items of one feature
// report the worst. Unknown strings rank with "not finished": neither good nor a verdict.
// reviewRequested reports whether the latest review (by created_at; of equal times, the later
// listed) put the session In Review with the API key: a request for a person's review, not a
// finding of Didit's checks, and no new fact about the user.
func reviewRequested(reviews []didit.Review) bool {
	var latest didit.Review
	found := false
	for _, r := range reviews {
		if !found || !r.CreatedAt.Before(latest.CreatedAt.Time) {
			latest, found = r, true
		}
	}
	return found && latest.User == didit.ReviewerAPIClient && latest.NewStatus == didit.StatusInReview
}

func statusRank(s string) int {
	switch didit.Status(s) {
	case "":
		return 0
	case didit.StatusApproved:
		return 1
	case didit.StatusNotStarted:
		return 2
	case didit.StatusExpired:
		return 4
	case didit.StatusResubRequested, didit.StatusResubmitted:
		return 5
	case didit.StatusInReview:
		return 6
	case didit.StatusDeclined, didit.StatusRejected:
		return 7
	}
	return 3 // Not Finished, In Progress and anything unknown
}

func worstStatus(cur, v string) string {
	if statusRank(v) > statusRank(cur) {
		return v
	}
	return cur
}

func matchRank(m string) int {
	switch strings.ToLower(m) {
	case "full_match":
		return 1
	case "partial_match":
		return 2
	case "no_match":
		return 3
	}
	return 0
}
