package policy

import (
	"fmt"
	"slices"
	"sync"

	"cel.dev/cel-go/cel"
)

// Kind is the CEL type of a variable rules may read.
type Kind int

// Variable kinds. Unknown numeric signals are -1 rather than absent, so that every variable
// always has a value and rules never fail on a missing key.
const (
	KindBool       Kind = iota
	KindInt             // CEL int (int64)
	KindDouble          // CEL double (float64)
	KindString          // CEL string
	KindStringList      // CEL list(string); `"CODE" in signals.risk_codes`
	KindStepUps         // CEL map(string, map(string, string)): kind -> {status, outcome}
)

// Var is one name a rule may read. The policy owns this vocabulary so that a rule file can be
// type-checked without the scorer; the scoring package resolves each name and a test there
// proves that it resolves all of them.
type Var struct {
	Name string // qualified, e.g. "signals.liveness_score"
	Kind Kind
	Doc  string
}

// celType maps a Kind to the declared CEL type.
func (k Kind) celType() *cel.Type {
	switch k {
	case KindBool:
		return cel.BoolType
	case KindInt:
		return cel.IntType
	case KindDouble:
		return cel.DoubleType
	case KindString:
		return cel.StringType
	case KindStringList:
		return cel.ListType(cel.StringType)
	case KindStepUps:
		return cel.MapType(cel.StringType, cel.MapType(cel.StringType, cel.StringType))
	}
	return cel.DynType
}

// String names the kind as CEL does.
func (k Kind) String() string { return k.celType().String() }

// Feature keys used in signals.features_present and to merge step-up signals.
const (
	FeatureID        = "id"
	FeatureNFC       = "nfc"
	FeatureLiveness  = "liveness"
	FeatureFaceMatch = "face_match"
	FeaturePOA       = "poa"
	FeaturePhone     = "phone"
	FeatureEmail     = "email"
	FeatureAML       = "aml"
	FeatureIP        = "ip"
	FeatureDatabase  = "database"
	// Newer decision arrays (shared/didit-api.md §9.9).
	FeatureQuestionnaire = "questionnaire"
	FeatureDocumentAI    = "document_ai"
	// FeatureFaceSearch is not a decision array: the facts of a Didit Face Search the step-up
	// function ran for the session (scoring.WithFaceSearch).
	FeatureFaceSearch = "face_search"
)

// historyVars are the history.* variables; package scoring resolves each from its History
// (TestVocabularyResolves there proves it resolves every declared name).
var historyVars = []Var{
	{"history.sessions_24h", KindInt, "distinct sessions in the last 24 h, this one included"},
	{"history.sessions_30d", KindInt, "distinct sessions in the last 30 days, this one included"},
	{"history.declined_sessions", KindInt, "sessions that ended Declined"},
	{"history.distinct_documents", KindInt, "distinct document hashes, this one included"},
	{"history.distinct_devices", KindInt, "distinct device hashes, this one included"},
	{"history.previous_level", KindString, "level of the previous assessment; empty for a new user"},
	{"history.previous_action", KindString, "action of the previous assessment; empty for a new user"},
	{"history.is_step_up", KindBool, "this event is the webhook of a step-up session"},
	{"history.step_up_kind", KindString, "its kind when is_step_up"},
	{"history.step_ups", KindStepUps, "kind -> {status, outcome} for the kinds that have a step-up; step_up_status(kind) and step_up_outcome(kind) read \"\" for the others"},
}

// modelVars are the model.* variables: the scorer's model (MODEL_FILE, or the embedded
// demonstration model) on this assessment. An engine without a model reads -1 and "". A model
// that fails to score makes the rules reading them fail (recorded, counted as not fired).
var modelVars = []Var{
	{"model.score", KindDouble, "the model's probability of a bad outcome, 0–1; -1 when the scorer runs no model"},
	{"model.version", KindString, "the model's version; empty when the scorer runs no model"},
}

// vocabulary is every variable a rule may read: the signals (generated from scoring.Signals
// into signals_gen.go), the history, the model, each step-up kind's status and outcome, and
// risk.<CODE>.
var vocabulary = sync.OnceValue(func() []Var {
	out := append(slices.Clone(signalVars), historyVars...)
	out = append(out, modelVars...)
	// history.step_ups.<kind>.status and .outcome are also declared one by one: CEL resolves
	// the whole qualified name to a plain string, and a misspelt kind fails to load.
	for _, k := range stepKinds {
		out = append(out,
			Var{"history.step_ups." + string(k) + ".status", KindString, fmt.Sprintf("status of the latest %s step-up: %s, %s, %s, %s or \"\"", k, StepPending, StepCreated, StepCompleted, StepFailed)},
			Var{"history.step_ups." + string(k) + ".outcome", KindString, fmt.Sprintf("outcome of the latest %s step-up: %s, %s, %s or \"\"", k, OutcomeApproved, OutcomeDeclined, OutcomeReview)})
	}
	for _, group := range riskCodes {
		for _, c := range group {
			out = append(out, Var{RiskVarPrefix + c, KindBool, "Didit reported warning " + c})
		}
	}
	return out
})

// Vars returns the vocabulary rules are checked against.
func Vars() []Var { return slices.Clone(vocabulary()) }

var varNames = sync.OnceValue(func() map[string]bool {
	vs := vocabulary()
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v.Name] = true
	}
	return m
})

func isVar(name string) bool { return varNames()[name] }

// riskCodes are the warning codes Didit documents (shared/didit-api.md §3), by product. Each is
// the bool variable risk.<CODE>: true when any feature of the decision reported it. A rule that
// names a code outside this list fails to load, so a typo cannot silently never fire; a code
// Didit adds later can still be matched with `"NEW_CODE" in signals.risk_codes`.
var riskCodes = [][]string{
	{ // ID verification
		"DOCUMENT_NOT_SUPPORTED_FOR_APPLICATION", "DOCUMENT_EXPIRED", "MINIMUM_AGE_NOT_MET",
		"PORTRAIT_IMAGE_NOT_DETECTED", "ID_DOCUMENT_IN_BLOCKLIST", "POSSIBLE_DUPLICATED_USER",
		"QR_NOT_DETECTED", "BARCODE_NOT_DETECTED", "QR_VALIDATION_FAILED", "BARCODE_VALIDATION_FAILED",
		"MRZ_VALIDATION_FAILED", "MRZ_NOT_DETECTED", "DATA_INCONSISTENT",
		"MRZ_AND_DATA_EXTRACTED_FROM_OCR_NOT_SAME", "DOCUMENT_NAME_DIFFERENT_FROM_OTHER_APPROVED_DOCUMENTS",
		"DOCUMENT_SIDES_MISMATCH", "SCREEN_CAPTURE_DETECTED", "PRINTED_COPY_DETECTED",
		"PORTRAIT_MANIPULATION_DETECTED", "NAME_NOT_DETECTED", "DATE_OF_BIRTH_NOT_DETECTED",
		"DOCUMENT_NUMBER_NOT_DETECTED", "FULL_NAME_MISMATCH_WITH_PROVIDED", "DOB_MISMATCH_WITH_PROVIDED",
		"GENDER_MISMATCH_WITH_PROVIDED", "DOCUMENT_COUNTRY_MISMATCH",
		// Always-decline codes from Didit's OpenAPI (§9.9).
		"PUBLIC_DOCUMENT_IMAGE_DETECTED", "INVALID_DATE", "COULD_NOT_DETECT_DOCUMENT_TYPE",
		"EXPIRATION_DATE_NOT_DETECTED",
	},
	{ // NFC
		"SKIPPED_NFC_VALIDATION", "NFC_CHIP_NOT_VERIFIED", "NFC_TRUST_ANCHOR_MISSING",
		"NFC_AND_OCR_DATA_NOT_SAME", "DSC_CERTIFICATE_REVOKED", "DSC_CERTIFICATE_EXPIRED",
	},
	{ // Liveness, age estimation, face match
		"NO_FACE_DETECTED", "LIVENESS_FACE_ATTACK", "FACE_IN_BLOCKLIST", "POSSIBLE_FACE_IN_BLOCKLIST",
		"AGE_BELOW_MINIMUM", "AGE_NOT_DETECTED", "LOW_LIVENESS_SCORE", "DUPLICATED_FACE",
		"POSSIBLE_DUPLICATED_FACE", "MULTIPLE_FACES_DETECTED", "LOW_FACE_QUALITY", "LOW_FACE_LUMINANCE",
		"HIGH_FACE_LUMINANCE", "NO_REFERENCE_IMAGE", "LOW_FACE_MATCH_SIMILARITY",
	},
	{ // AML
		"POSSIBLE_MATCH_FOUND", "COULD_NOT_PERFORM_AML_SCREENING",
	},
	{ // Phone
		"VERIFICATION_CODE_ATTEMPTS_EXCEEDED", "PHONE_NUMBER_IN_BLOCKLIST", "HIGH_RISK_PHONE_NUMBER",
		"DISPOSABLE_NUMBER_DETECTED", "VOIP_NUMBER_DETECTED", "DUPLICATED_PHONE_NUMBER",
	},
	{ // Email
		"EMAIL_CODE_ATTEMPTS_EXCEEDED", "EMAIL_IN_BLOCKLIST", "UNDELIVERABLE_EMAIL_DETECTED",
		"BREACHED_EMAIL_DETECTED", "DISPOSABLE_EMAIL_DETECTED", "DUPLICATED_EMAIL",
	},
	{ // Proof of address
		"POA_DOCUMENT_NOT_SUPPORTED_FOR_APPLICATION", "EXPIRED_DOCUMENT", "INVALID_DOCUMENT_TYPE",
		"MISSING_ADDRESS_INFORMATION", "NAME_MISMATCH_WITH_PROVIDED", "NAME_MISMATCH_ID_VERIFICATION",
		"POA_NAME_MISMATCH_BETWEEN_DOCUMENTS", "POOR_DOCUMENT_QUALITY", "DOCUMENT_METADATA_MISMATCH",
		"SUSPECTED_DOCUMENT_MANIPULATION", "UNSUPPORTED_DOCUMENT_LANGUAGE", "ADDRESS_MISMATCH_WITH_PROVIDED",
		"UNABLE_TO_EXTRACT_ISSUE_DATE", "ISSUER_NOT_IDENTIFIED", "UNPARSABLE_OR_INVALID_ADDRESS",
		"UNABLE_TO_VALIDATE_DOCUMENT_AGE", "FUTURE_ISSUE_DATE",
	},
	{ // IP and device (the device-integrity names are UNCONFIRMED in the research notes)
		"PRIVATE_NETWORK_DETECTED", "COUNTRY_FROM_DOCUMENT_DOES_NOT_MATCH_COUNTRY_FROM_IP",
		"DUPLICATED_DEVICE_FINGERPRINT", "DEVICE_RECOVERED_HIGH_CONFIDENCE", "IP_LOCATION_NOT_ALLOWED",
		"DUPLICATED_IP_ADDRESS", "AUTOMATION_FRAMEWORK_DETECTED", "DEVICE_EMULATOR_DETECTED",
		"DEVICE_ROOTED_OR_JAILBROKEN", "DEVICE_RUNTIME_HOOKING_DETECTED", "DEVICE_APP_TAMPERED",
		// The console blocklist (§9.9: docs.didit.me/console/blocklist-users).
		"IP_ADDRESS_IN_BLOCKLIST", "DEVICE_FINGERPRINT_IN_BLOCKLIST",
	},
	{ // Database validation
		"COULD_NOT_PERFORM_DATABASE_VALIDATION", "DATABASE_VALIDATION_PARTIAL_MATCH",
		"DATABASE_VALIDATION_NO_MATCH",
	},
}

// RiskVarPrefix prefixes the risk.<CODE> variables.
const RiskVarPrefix = "risk."

// RiskCodes returns the known warning codes.
func RiskCodes() []string {
	var out []string
	for _, g := range riskCodes {
		out = append(out, g...)
	}
	return out
}
