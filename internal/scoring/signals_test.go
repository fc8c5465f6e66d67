package scoring

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/testdata"
)

func decode(t *testing.T, body string) *didit.Webhook {
	t.Helper()
	w, err := didit.DecodeWebhook([]byte(body))
	require.NoError(t, err)
	return w
}

// fakeHash marks its input so tests can see what was hashed, without being a real hash.
func fakeHash(s string) string { return "h(" + s + ")" }

func TestExtractFullV3(t *testing.T) {
	s := loadSignals(t, "webhooks/full_v3.json", fakeHash)

	assert.Equal(t, "Approved", s.DiditStatus)
	assert.Equal(t, "status.updated", s.WebhookType)
	assert.Equal(t, []string{"aml", "database", "email", "face_match", "id", "ip", "liveness", "nfc", "phone", "poa"}, s.FeaturesPresent)
	assert.Equal(t, []string{"BREACHED_EMAIL_DETECTED", "POOR_DOCUMENT_QUALITY", "POSSIBLE_DUPLICATED_USER", "PRIVATE_NETWORK_DETECTED"}, s.RiskCodes)
	assert.Equal(t, []string{"POSSIBLE_DUPLICATED_USER"}, s.RiskWarnings)
	assert.Empty(t, s.RiskErrors)

	assert.Contains(t, []string{"Approved", "In Review"}, s.IDStatus)
	assert.Equal(t, "Identity Card", s.DocumentType)
	assert.Equal(t, "ESP", s.DocumentCountry)
	assert.False(t, s.DocumentExpired)
	assert.Equal(t, int64(35), s.Age)
	assert.Equal(t, int64(1), s.DuplicateUserMatches)
	assert.Equal(t, "h(X1234567K)", s.DocumentHash)

	assert.True(t, s.NFCVerified)
	assert.False(t, s.NFCSkipped)
	assert.InDelta(t, 95.0, s.LivenessScore, 0)
	assert.Equal(t, "PASSIVE", s.LivenessMethod)
	assert.InDelta(t, 34.7, s.AgeEstimate, 1e-9)
	assert.InDelta(t, 0.3, s.AgeGap, 1e-9)
	assert.InDelta(t, 91.37, s.FaceMatchScore, 1e-9)

	assert.Equal(t, "mobile", s.PhoneCarrierType)
	assert.False(t, s.PhoneVoIP)
	assert.Equal(t, "ES", s.PhoneCountry)
	assert.True(t, s.EmailBreached)
	assert.Equal(t, int64(1), s.EmailBreachCount)

	assert.Equal(t, int64(1), s.AMLHits)
	assert.InDelta(t, 62.5, s.AMLMaxScore, 0)
	assert.True(t, s.AMLPEP)
	assert.False(t, s.AMLSanction)

	assert.True(t, s.IPVPNOrTor)
	assert.False(t, s.IPDataCenter)
	assert.Equal(t, "ES", s.IPCountry)
	assert.Equal(t, []string{"ES", "JP"}, s.IPCountries)
	assert.True(t, s.IPCountryMismatch, "one observation from Japan for a Spanish document")
	assert.Equal(t, []string{"h(fp_8c1e6a0f3b2d4e57)"}, s.DeviceHashes, "one device seen twice is hashed once")
	assert.Equal(t, "full_match", s.DBValidationMatch)
	assert.Equal(t, "UTILITY_BILL", s.POADocumentType)
}

func TestExtractWithoutDecision(t *testing.T) {
	s := loadSignals(t, "webhooks/in_progress.json", fakeHash)
	want := emptySignals()
	want.DiditStatus = "In Progress"
	want.WebhookType = "status.updated"
	assert.Equal(t, want, s)
	assert.Equal(t, emptySignals(), Extract(nil, fakeHash))
}

func TestExtractV2MatchesV3(t *testing.T) {
	s := loadSignals(t, "webhooks/v2_singular.json", fakeHash)
	assert.Equal(t, []string{"aml", "face_match", "id", "ip", "liveness"}, s.FeaturesPresent)
	assert.Equal(t, "FRA", s.DocumentCountry)
	assert.Equal(t, "h(P7654321)", s.DocumentHash)
	assert.InDelta(t, 90, s.LivenessScore, 0)
	assert.False(t, s.IPCountryMismatch)
	assert.Equal(t, int64(-1), s.Age, "the v2 fixture has no age")
	assert.InDelta(t, -1, s.AgeGap, 0)
}

func TestExtractAggregatesItems(t *testing.T) {
	w := decode(t, `{"status":"Approved","vendor_data":"me","timestamp":1767225607,"decision":{
		"id_verifications":[
			{"status":"Approved","document_number":"ab-12 34","issuing_state":"deu","age":30,"expiration_date":"2025-12-31",
			 "matches":[{"vendor_data":"me"},{"vendor_data":"other"},{"vendor_data":""}]},
			{"status":"In Review","document_number":"ZZ9","age":31}],
		"nfc_verifications":[{"status":"Approved","authenticity":{"sod_integrity":true,"dg_integrity":false}}],
		"liveness_checks":[{"status":"Approved","score":91,"method":"active_3d","face_quality":70},
		                   {"status":"Declined","score":48.5,"age_estimation":52,"face_quality":55,"matches":[{"vendor_data":"me"}]}],
		"face_matches":[{"score":88},{"score":72.5}],
		"aml_screenings":[
			{"status":"In Review","score":70,"hits":[{"match_score":70,"review_status":"Unreviewed","sanction_matches":[{"id":"s"}]},
			                                        {"match_score":99,"review_status":"False Positive","pep_matches":3}]},
			{"status":"Approved","total_hits":2}],
		"phone_verifications":[{"carrier":{"type":"VOIP"},"country_code":"gb"}],
		"ip_analyses":[{"ip_country_code":"de","device_fingerprint":"b"},{"ip_country_code":"DE","is_data_center":true,"device_fingerprint":"a"},
		               {"device_fingerprint":"b"}],
		"database_validations":[{"match_type":"partial_match"},{"match_type":"full_match"}]}}`)
	s := Extract(w, fakeHash)

	assert.Equal(t, "In Review", s.IDStatus, "worst status wins")
	assert.Equal(t, "DEU", s.DocumentCountry)
	assert.Equal(t, int64(30), s.Age, "first known age")
	assert.True(t, s.DocumentExpired, "expired the day before the event")
	assert.Equal(t, "h(AB1234)", s.DocumentHash, "first document, normalised")
	assert.Equal(t, int64(2), s.DuplicateUserMatches, "matches of the same vendor_data are not duplicates")

	assert.False(t, s.NFCVerified, "DG integrity false")
	assert.Equal(t, "Declined", s.LivenessStatus)
	assert.InDelta(t, 48.5, s.LivenessScore, 0, "lowest score")
	assert.Equal(t, "ACTIVE_3D", s.LivenessMethod)
	assert.InDelta(t, 52, s.AgeEstimate, 0)
	assert.InDelta(t, 22, s.AgeGap, 0)
	assert.InDelta(t, 55, s.FaceQuality, 0)
	assert.Equal(t, int64(0), s.DuplicateFaceMatches)
	assert.InDelta(t, 72.5, s.FaceMatchScore, 0)

	assert.Equal(t, int64(3), s.AMLHits, "one real hit listed + total_hits 2 where hits are not listed")
	assert.InDelta(t, 70, s.AMLMaxScore, 0)
	assert.True(t, s.AMLSanction)
	assert.False(t, s.AMLPEP, "the PEP hit is a false positive")
	assert.Equal(t, "In Review", s.AMLStatus)

	assert.Equal(t, "voip", s.PhoneCarrierType)
	assert.True(t, s.PhoneVoIP)
	assert.Equal(t, "GB", s.PhoneCountry)

	assert.Equal(t, []string{"DE"}, s.IPCountries)
	assert.True(t, s.IPDataCenter)
	assert.False(t, s.IPCountryMismatch)
	assert.Equal(t, []string{"h(a)", "h(b)"}, s.DeviceHashes)
	assert.Equal(t, "partial_match", s.DBValidationMatch)
}

func TestExtractFoldsWarningsIntoFlags(t *testing.T) {
	w := decode(t, `{"status":"Approved","decision":{
		"id_verifications":[{"warnings":[{"risk":"DOCUMENT_EXPIRED","log_type":"error"}]}],
		"nfc_verifications":[{"status":"Approved","warnings":[{"risk":"NFC_CHIP_NOT_VERIFIED","log_type":"warning"}]}],
		"phone_verifications":[{"warnings":[{"risk":"DISPOSABLE_NUMBER_DETECTED"},{"risk":"VOIP_NUMBER_DETECTED"}]}],
		"email_verifications":[{"warnings":[{"risk":"BREACHED_EMAIL_DETECTED"},{"risk":"DISPOSABLE_EMAIL_DETECTED"},{"risk":"UNDELIVERABLE_EMAIL_DETECTED"}]}],
		"ip_analyses":[{"warnings":[{"risk":"PRIVATE_NETWORK_DETECTED","log_type":"Information"},{"risk":"COUNTRY_FROM_DOCUMENT_DOES_NOT_MATCH_COUNTRY_FROM_IP"}]}],
		"database_validations":[{"match_type":"full_match","warnings":[{"risk":"DATABASE_VALIDATION_NO_MATCH","log_type":"error"}]}]}}`)
	s := Extract(w, nil)
	assert.True(t, s.DocumentExpired)
	assert.False(t, s.NFCVerified)
	assert.True(t, s.PhoneDisposable)
	assert.True(t, s.PhoneVoIP)
	assert.True(t, s.EmailBreached)
	assert.True(t, s.EmailDisposable)
	assert.True(t, s.EmailUndeliverable)
	assert.True(t, s.IPVPNOrTor)
	assert.True(t, s.IPCountryMismatch)
	assert.Equal(t, "no_match", s.DBValidationMatch)
	assert.Equal(t, []string{"DATABASE_VALIDATION_NO_MATCH", "DOCUMENT_EXPIRED"}, s.RiskErrors)
	assert.Contains(t, s.Warnings, WarningSignal{Feature: "ip", Risk: "PRIVATE_NETWORK_DETECTED", LogType: "information"})
	assert.Empty(t, s.DocumentHash, "no hash function, no hash")
	assert.Empty(t, s.DeviceHashes)
}

// piiKeys are payload fields that hold personal data or secrets; none of their values may
// reach Signals, which are stored with every assessment.
var piiKeys = map[string]bool{
	"first_name": true, "last_name": true, "full_name": true, "date_of_birth": true, "birth_date": true,
	"document_number": true, "personal_number": true, "address": true, "formatted_address": true,
	"poa_address": true, "place_of_birth": true, "email": true, "full_number": true, "phone_number": true,
	"ip_address": true, "device_fingerprint": true, "caption": true, "name_on_document": true,
	"portrait_image": true, "front_image": true, "back_image": true, "reference_image": true, "video_url": true,
	"source_image": true, "target_image": true, "document_file": true, "session_url": true,
}

func collectPII(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && piiKeys[k] && len(s) > 3 {
				out[s] = true
			}
			collectPII(e, out)
		}
	case []any:
		for _, e := range x {
			collectPII(e, out)
		}
	}
}

func TestSignalsHoldNoPersonalData(t *testing.T) {
	files := append(testdata.Glob(t, "*/*.json"), testdata.Glob(t, "scoring/payloads/*.json")...)
	hash := NewHasher([]byte("k"))
	checked := 0
	for _, f := range files {
		body := testdata.Read(t, f)
		var raw any
		if json.Unmarshal(body, &raw) != nil {
			continue
		}
		w, err := didit.DecodeWebhook(body)
		if err != nil {
			continue // not a webhook fixture
		}
		pii := map[string]bool{}
		collectPII(raw, pii)
		out, err := json.Marshal(Extract(w, hash))
		require.NoError(t, err)
		for v := range pii {
			assert.NotContains(t, string(out), v, "%s leaks a personal value", filepath.Base(f))
		}
		assert.NotContains(t, string(out), "https://")
		checked++
	}
	assert.Greater(t, checked, 20)
}

func TestMergeStepUpOverPrimary(t *testing.T) {
	base := loadSignals(t, "scoring/payloads/moderate.json", fakeHash)
	overlay := loadSignals(t, "scoring/payloads/stepup_nfc_declined.json", fakeHash)
	require.Equal(t, []string{"nfc"}, overlay.FeaturesPresent)

	m := Merge(base, overlay)
	assert.Equal(t, "Declined", m.DiditStatus, "the step-up is the event being scored")
	assert.Equal(t, base.FeaturesPresent, m.FeaturesPresent)
	assert.Equal(t, overlay.NFCStatus, m.NFCStatus)
	assert.False(t, m.NFCVerified)
	assert.Equal(t, base.LivenessScore, m.LivenessScore, "features absent from the step-up keep the primary's values")
	assert.Equal(t, base.DocumentHash, m.DocumentHash)
	assert.Equal(t, base.DeviceHashes, m.DeviceHashes)
	assert.Equal(t, []string{"NFC_CHIP_NOT_VERIFIED", "POSSIBLE_DUPLICATED_USER", "PRIVATE_NETWORK_DETECTED"}, m.RiskCodes)
	assert.Equal(t, []string{"NFC_CHIP_NOT_VERIFIED"}, m.RiskErrors)

	// A later approved NFC step-up replaces the NFC codes of the declined one.
	again := Merge(m, loadSignals(t, "scoring/payloads/stepup_nfc_approved.json", fakeHash))
	assert.True(t, again.NFCVerified)
	assert.Equal(t, []string{"POSSIBLE_DUPLICATED_USER", "PRIVATE_NETWORK_DETECTED"}, again.RiskCodes)
	assert.Empty(t, again.RiskErrors)
	assert.Equal(t, "Approved", again.DiditStatus)
}

func TestMergeRecomputesDerived(t *testing.T) {
	base := Extract(decode(t, `{"status":"Approved","decision":{
		"id_verifications":[{"issuing_state":"FRA","age":40}],
		"ip_analyses":[{"ip_country_code":"FR"}],"liveness_checks":[{"age_estimation":41}]}}`), nil)
	require.False(t, base.IPCountryMismatch)
	require.InDelta(t, 1, base.AgeGap, 0)

	overlay := Extract(decode(t, `{"status":"Approved","decision":{
		"ip_analyses":[{"ip_country_code":"BR"}],"liveness_checks":[{"age_estimation":19}]}}`), nil)
	m := Merge(base, overlay)
	assert.True(t, m.IPCountryMismatch, "Brazilian IP for a French document")
	assert.InDelta(t, 21, m.AgeGap, 0)
	assert.Equal(t, []string{"id", "ip", "liveness"}, m.FeaturesPresent)
}

func TestMergeEveryFieldHasAnOwner(t *testing.T) {
	// An overlay carrying every feature must win on every field: a field left without a
	// feature tag would silently keep the base's value.
	overlay := filled(t)
	overlay.FeaturesPresent = allFeatures()
	slices.Sort(overlay.FeaturesPresent)
	overlay.derive()
	base := emptySignals()
	base.Warnings = []WarningSignal{{Feature: "id", Risk: "DOCUMENT_EXPIRED", LogType: "error"}}
	base.derive()

	assert.Equal(t, overlay, Merge(base, overlay))

	// And an overlay carrying no feature changes only the session fields.
	none := filled(t)
	none.FeaturesPresent, none.Warnings = nil, nil
	m := Merge(base, none)
	want := base.Clone()
	want.DiditStatus, want.WebhookType, want.KycExpired, want.ReviewRequested = none.DiditStatus, none.WebhookType, none.KycExpired, none.ReviewRequested
	assert.Equal(t, want, m)
}

// filled returns Signals with a distinct non-zero value in every field.
func filled(t *testing.T) Signals {
	t.Helper()
	var s Signals
	v := reflect.ValueOf(&s).Elem()
	for _, f := range signalFields() {
		fv := v.Field(f.index)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString("v_" + f.name)
		case reflect.Bool:
			fv.SetBool(true)
		case reflect.Int64:
			fv.SetInt(int64(f.index + 1))
		case reflect.Float64:
			fv.SetFloat(float64(f.index) + 0.5)
		case reflect.Slice:
			if f.name == "warnings" {
				fv.Set(reflect.ValueOf([]WarningSignal{{Feature: "liveness", Risk: "LIVENESS_FACE_ATTACK", LogType: "error"}}))
			} else {
				fv.Set(reflect.ValueOf([]string{"v_" + f.name}))
			}
		default:
			t.Fatalf("unhandled kind for %s", f.name)
		}
	}
	return s
}

func TestMergeDoesNotAlias(t *testing.T) {
	base := loadSignals(t, "webhooks/full_v3.json", fakeHash)
	overlay := loadSignals(t, "scoring/payloads/stepup_nfc_approved.json", fakeHash)
	baseCopy, overlayCopy := base.Clone(), overlay.Clone()
	m := Merge(base, overlay)
	m.DeviceHashes[0] = "changed"
	m.RiskCodes[0] = "changed"
	m.Warnings[0].Risk = "changed"
	m.FeaturesPresent[0] = "changed"
	assert.Equal(t, baseCopy, base)
	assert.Equal(t, overlayCopy, overlay)
}

func TestSignalTags(t *testing.T) {
	features := append(allFeatures(), "session", "derived", "-")
	typ := reflect.TypeFor[Signals]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		fs := f.Tag.Get("firestore")
		assert.NotEmpty(t, fs, f.Name)
		assert.Equal(t, fs, f.Tag.Get("json"), "%s: firestore and json names agree", f.Name)
		assert.Contains(t, features, f.Tag.Get("feature"), "%s: feature tag", f.Name)
		assert.NotEmpty(t, f.Tag.Get("doc"), "%s: doc tag (\"-\" when rules do not read it)", f.Name)
	}
}

// TestVocabularyResolves: every variable the policy declares is resolved by the activation, with
// a value of the declared type, and nothing is resolved that the policy does not declare.
func TestVocabularyResolves(t *testing.T) {
	sig := loadSignals(t, "webhooks/full_v3.json", fakeHash)
	h := History{Sessions24h: 1, StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}}}
	a := vocabulary().newActivation(&sig, &h)
	defer a.release()
	declared := map[string]bool{}
	for _, v := range policy.Vars() {
		declared[v.Name] = true
		got, ok := a.ResolveName(v.Name)
		require.True(t, ok, "not resolved: %s", v.Name)
		val, isVal := got.(ref.Val)
		require.True(t, isVal, v.Name)
		want := map[policy.Kind]ref.Type{
			policy.KindBool: types.BoolType, policy.KindInt: types.IntType, policy.KindDouble: types.DoubleType,
			policy.KindString: types.StringType, policy.KindStringList: types.ListType, policy.KindStepUps: types.MapType,
		}[v.Kind]
		assert.Equal(t, want, val.Type(), v.Name)
	}
	for _, n := range vocabulary().names {
		assert.True(t, declared[n], "resolved but not declared in policy.Vars: %s", n)
	}
	_, ok := a.ResolveName("signals.nope")
	assert.False(t, ok)
	_, ok = a.ResolveName("")
	assert.False(t, ok)
}

func TestAlpha2(t *testing.T) {
	tests := map[string]string{"ESP": "ES", "esp": "ES", "DEU": "DE", "D": "DE", "GBR": "GB", "GBD": "GB",
		"USA": "US", "JPN": "JP", "RKS": "XK", "FR": "FR", "UTO": "", "": "", "XXXX": ""}
	for in, want := range tests {
		assert.Equal(t, want, alpha2(in), in)
	}
	assert.GreaterOrEqual(t, len(alpha2Codes()), 249)
}

func TestNewHasher(t *testing.T) {
	h1, h2 := NewHasher([]byte("key-1")), NewHasher([]byte("key-2"))
	a := h1("X1234567K")
	assert.Len(t, a, 32)
	assert.Equal(t, a, h1("X1234567K"))
	assert.NotEqual(t, a, h2("X1234567K"), "the key matters")
	assert.NotEqual(t, a, h1("X1234567L"))
	assert.NotContains(t, a, "1234567")

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				assert.Equal(t, a, h1("X1234567K"))
			}
		})
	}
	wg.Wait()
}

func TestNormalizeDocumentNumber(t *testing.T) {
	assert.Equal(t, "X1234567K", normalizeDocumentNumber(" x-123 4567/k "))
	assert.Equal(t, "ÄB12", normalizeDocumentNumber("äb\u00a012"))
	assert.Empty(t, normalizeDocumentNumber(" - "))
}

// TestMatchesFollowDidit: liveness and ID matches[] carry source, is_allowlisted and
// is_blocklisted, and list entries have vendor_data null (shared/didit-api.md §9.8).
func TestMatchesFollowDidit(t *testing.T) {
	tests := []struct {
		name              string
		match             string
		dupFace, blkFace  int64
		dupUser, blkUser  int64
		checkIDMatchesToo bool
	}{
		{"another user's session", `{"source":"session","vendor_data":"user-9","session_id":"s9","is_allowlisted":false,"is_blocklisted":false}`, 1, 0, 1, 0, true},
		{"same user (Didit leaves these out, but a copy must not count)", `{"source":"session","vendor_data":"user-1"}`, 0, 0, 0, 0, true},
		{"allowlisted list entry", `{"source":"list_entry","vendor_data":null,"is_allowlisted":true,"is_blocklisted":false}`, 0, 0, 0, 0, true},
		{"allowlisted imported face", `{"source":"imported","vendor_data":null,"is_allowlisted":true}`, 0, 0, 0, 0, false},
		{"blocklisted list entry", `{"source":"list_entry","vendor_data":null,"is_allowlisted":false,"is_blocklisted":true}`, 0, 1, 0, 1, true},
		{"flagged both ways counts as blocklisted", `{"source":"list_entry","vendor_data":null,"is_allowlisted":true,"is_blocklisted":true}`, 0, 1, 0, 1, false},
		{"unflagged list entry stays a duplicate (safe side)", `{"source":"list_entry","vendor_data":null}`, 1, 0, 1, 0, false},
		{"retained template of another user", `{"source":"retained_template","vendor_data":"user-2"}`, 1, 0, 1, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Extract(decode(t, `{"status":"Approved","vendor_data":"user-1","decision":{
				"liveness_checks":[{"status":"Approved","score":95,"matches":[`+tt.match+`]}],
				"id_verifications":[{"status":"Approved","matches":[`+tt.match+`]}]}}`), nil)
			assert.Equal(t, tt.dupFace, s.DuplicateFaceMatches, "duplicate faces")
			assert.Equal(t, tt.blkFace, s.FaceBlocklisted, "blocklisted faces")
			assert.Equal(t, tt.dupUser, s.DuplicateUserMatches, "duplicate users")
			assert.Equal(t, tt.blkUser, s.DocumentBlocklisted, "blocklisted documents")
		})
	}
}

// TestNewerDecisionArrays: questionnaire_responses and document_ai_documents are read for their
// statuses and warnings (feature QUESTIONNAIRE / DOCUMENT_AI, §9.9), nothing else.
func TestNewerDecisionArrays(t *testing.T) {
	s := Extract(decode(t, `{"status":"In Review","vendor_data":"u","decision":{
		"questionnaire_responses":[
			{"node_id":"q1","status":"Approved","warnings":[]},
			{"node_id":"q2","status":"In Review","sections":[{"items":[{"answer":"Lena Vogel, Berlin"}]}],
			 "warnings":[{"feature":"QUESTIONNAIRE","risk":"QUESTIONNAIRE_FLAGGED_ANSWER","log_type":"warning"}]}],
		"document_ai_documents":[
			{"node_id":"d1","status":"Declined","extracted_data":{"iban":"DE89370400440532013000"},
			 "warnings":[{"feature":"DOCUMENT_AI","risk":"DOCUMENT_AI_VALIDATION_FAILED","log_type":"error"}]}]}}`), nil)
	assert.Equal(t, "In Review", s.QuestionnaireStatus)
	assert.Equal(t, "Declined", s.DocumentAIStatus)
	assert.Equal(t, []string{"document_ai", "questionnaire"}, s.FeaturesPresent)
	assert.Equal(t, []string{"DOCUMENT_AI_VALIDATION_FAILED", "QUESTIONNAIRE_FLAGGED_ANSWER"}, s.RiskCodes)
	assert.Equal(t, []string{"DOCUMENT_AI_VALIDATION_FAILED"}, s.RiskErrors)
	assert.Contains(t, s.Warnings, WarningSignal{Feature: policy.FeatureQuestionnaire, Risk: "QUESTIONNAIRE_FLAGGED_ANSWER", LogType: "warning"})
	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "Lena")
	assert.NotContains(t, string(b), "DE89")

	// A step-up carrying only a questionnaire replaces only the questionnaire's fields.
	m := Merge(s, Extract(decode(t, `{"status":"Approved","decision":{"questionnaire_responses":[{"status":"Approved","warnings":[]}]}}`), nil))
	assert.Equal(t, "Approved", m.QuestionnaireStatus)
	assert.Equal(t, "Declined", m.DocumentAIStatus)
	assert.Equal(t, []string{"DOCUMENT_AI_VALIDATION_FAILED"}, m.RiskCodes)
}

// TestKycExpiredSignals: Kyc Expired is an approval that expired (§9.7): rules see the approval
// and kyc_expired, with or without the decision attached.
func TestKycExpiredSignals(t *testing.T) {
	with := Extract(decode(t, `{"status":"Kyc Expired","decision":{"status":"Kyc Expired","liveness_checks":[{"status":"Approved","score":97}]}}`), nil)
	assert.Equal(t, "Approved", with.DiditStatus)
	assert.True(t, with.KycExpired)
	assert.InDelta(t, 97, with.LivenessScore, 0)
	without := Extract(decode(t, `{"status":"Kyc Expired","session_id":"s"}`), nil)
	assert.Equal(t, "Approved", without.DiditStatus)
	assert.True(t, without.KycExpired)
	approved := Extract(decode(t, `{"status":"Approved","decision":{}}`), nil)
	assert.False(t, approved.KycExpired)
}
