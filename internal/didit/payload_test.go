package didit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

func TestStatusHasDecision(t *testing.T) {
	tests := []struct {
		status Status
		want   bool
	}{
		{StatusApproved, true},
		{StatusDeclined, true},
		{StatusInReview, true},
		{StatusAbandoned, true},
		{StatusNotStarted, false},
		{StatusInProgress, false},
		{StatusAwaitingUser, false},
		{StatusResubmitted, false},
		{StatusExpired, false},
		{StatusKycExpired, false},
		{"approved", false}, // statuses are case-sensitive
		{"", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			assert.Equal(t, tt.want, tt.status.HasDecision())
		})
	}
}

func TestDecodeWebhookV3Full(t *testing.T) {
	w, err := DecodeWebhook(testdata.Read(t, "webhooks/full_v3.json"))
	require.NoError(t, err)

	assert.Equal(t, StatusApproved, w.Status)
	assert.Equal(t, "status.updated", w.WebhookType)
	assert.NotEmpty(t, w.EventID)
	assert.NotEmpty(t, w.SessionID)
	assert.NotEmpty(t, w.VendorData)
	assert.NotEmpty(t, w.WorkflowID)
	assert.Positive(t, w.Timestamp)
	assert.Positive(t, w.CreatedAt)
	assert.Contains(t, w.Metadata, "account_id")

	d := w.Decision
	require.NotNil(t, d)
	assert.Len(t, d.IDVerifications, 1)
	assert.Len(t, d.NFCVerifications, 1)
	assert.Len(t, d.LivenessChecks, 1)
	assert.Len(t, d.FaceMatches, 1)
	assert.Len(t, d.POAVerifications, 1)
	assert.Len(t, d.PhoneVerifications, 1)
	assert.Len(t, d.EmailVerifications, 1)
	assert.Len(t, d.AMLScreenings, 1)
	assert.Len(t, d.IPAnalyses, 2)
	assert.Len(t, d.DatabaseValidations, 1)

	id := d.IDVerifications[0]
	assert.Equal(t, "ESP", id.IssuingState)
	assert.NotEmpty(t, id.DocumentNumber)
	require.NotNil(t, id.Age)
	assert.InDelta(t, 35, float64(*id.Age), 0)
	require.NotEmpty(t, id.Warnings)
	assert.Equal(t, Warning{Risk: "POSSIBLE_DUPLICATED_USER", LogType: LogWarning, Feature: "ID_VERIFICATION", NodeID: "feature_ocr"}, id.Warnings[0])
	require.Len(t, id.Matches, 1)
	assert.NotEmpty(t, id.Matches[0].VendorData)

	live := d.LivenessChecks[0]
	assert.InDelta(t, 95, live.Score.Float(-1), 0.001) // 95.0 in the body
	assert.Equal(t, "PASSIVE", live.Method)

	aml := d.AMLScreenings[0]
	require.Len(t, aml.Hits, 1)
	assert.True(t, Present(aml.Hits[0].PEPMatches))
	assert.False(t, Present(aml.Hits[0].SanctionMatches))

	ip := d.IPAnalyses[0]
	assert.True(t, ip.IsVPNOrTor)
	assert.NotEmpty(t, ip.DeviceFingerprint)
	assert.Equal(t, "ES", ip.IPCountryCode)

	require.NotNil(t, d.PhoneVerifications[0].Carrier)
	assert.Equal(t, "mobile", d.PhoneVerifications[0].Carrier.Type)
	assert.True(t, d.EmailVerifications[0].IsBreached)
	assert.Len(t, d.EmailVerifications[0].Breaches, 1)
	assert.Equal(t, "full_match", d.DatabaseValidations[0].MatchType)
	require.NotNil(t, d.NFCVerifications[0].Authenticity)
	assert.True(t, *d.NFCVerifications[0].Authenticity.SODIntegrity)
}

func TestDecodeWebhookV2Singular(t *testing.T) {
	w, err := DecodeWebhook(testdata.Read(t, "webhooks/v2_singular.json"))
	require.NoError(t, err)
	d := w.Decision
	require.NotNil(t, d)
	assert.Len(t, d.IDVerifications, 1)
	assert.Len(t, d.LivenessChecks, 1)
	assert.Len(t, d.FaceMatches, 1)
	assert.Len(t, d.AMLScreenings, 1)
	assert.Len(t, d.IPAnalyses, 1)
	assert.Empty(t, d.NFCVerifications)
	assert.Equal(t, "FRA", d.IDVerifications[0].IssuingState)
	assert.InDelta(t, 93.5, d.FaceMatches[0].Score.Float(-1), 0.001)
}

func TestDecodeWebhookV2EveryKey(t *testing.T) {
	body := `{"status":"Approved","decision":{
		"id_verification":{"status":"Approved"},"nfc":{"status":"Approved"},"liveness":{"score":80},
		"face_match":{"score":90},"phone":{"is_virtual":true},"email":{"is_disposable":true},
		"poa":{"document_type":"UTILITY_BILL"},"aml":{"total_hits":1},"ip_analysis":{"is_data_center":true},
		"database_validation":{"match_type":"no_match"}}}`
	w, err := DecodeWebhook([]byte(body))
	require.NoError(t, err)
	d := w.Decision
	assert.Len(t, d.IDVerifications, 1)
	assert.Len(t, d.NFCVerifications, 1)
	assert.Len(t, d.LivenessChecks, 1)
	assert.Len(t, d.FaceMatches, 1)
	assert.Len(t, d.PhoneVerifications, 1)
	assert.Len(t, d.EmailVerifications, 1)
	assert.Len(t, d.POAVerifications, 1)
	assert.Len(t, d.AMLScreenings, 1)
	assert.Len(t, d.IPAnalyses, 1)
	assert.Len(t, d.DatabaseValidations, 1)
}

func TestDecodeWebhookPrefersV3Arrays(t *testing.T) {
	body := `{"decision":{"liveness_checks":[{"score":10},{"score":20}],"liveness":{"score":99}}}`
	w, err := DecodeWebhook([]byte(body))
	require.NoError(t, err)
	require.Len(t, w.Decision.LivenessChecks, 2, "a v2 copy next to the v3 array is not counted twice")
	assert.InDelta(t, 10, w.Decision.LivenessChecks[0].Score.Float(-1), 0)
}

func TestDecodeWebhookWithoutDecision(t *testing.T) {
	w, err := DecodeWebhook(testdata.Read(t, "webhooks/in_progress.json"))
	require.NoError(t, err)
	assert.Equal(t, StatusInProgress, w.Status)
	assert.False(t, w.Status.HasDecision())
	assert.Nil(t, w.Decision)
	assert.Nil(t, w.Metadata)
}

func TestDecodeWebhookTolerates(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, w *Webhook)
	}{
		{"null feature arrays", `{"status":"Approved","decision":{"id_verifications":null,"liveness_checks":null,"warnings":null}}`,
			func(t *testing.T, w *Webhook) { assert.Empty(t, w.Decision.IDVerifications) }},
		{"unknown fields", `{"status":"Approved","brand_new":{"x":[1,2]},"decision":{"signatures":[{"a":1}],"id_verifications":[{"future":true}]}}`,
			func(t *testing.T, w *Webhook) { assert.Len(t, w.Decision.IDVerifications, 1) }},
		{"integer and float scores", `{"decision":{"liveness_checks":[{"score":89},{"score":89.92}]}}`,
			func(t *testing.T, w *Webhook) {
				assert.InDelta(t, 89, w.Decision.LivenessChecks[0].Score.Float(-1), 0)
				assert.InDelta(t, 89.92, w.Decision.LivenessChecks[1].Score.Float(-1), 1e-9)
			}},
		{"numeric strings", `{"timestamp":"1767225607","decision":{"id_verifications":[{"age":"35"}]}}`,
			func(t *testing.T, w *Webhook) {
				assert.Equal(t, int64(1767225607), w.Timestamp)
				assert.InDelta(t, 35, w.Decision.IDVerifications[0].Age.Float(-1), 0)
			}},
		{"float timestamp", `{"timestamp":1767225607.0,"created_at":1.7672256e9}`,
			func(t *testing.T, w *Webhook) {
				assert.Equal(t, int64(1767225607), w.Timestamp)
				assert.Equal(t, int64(1767225600), w.CreatedAt)
			}},
		{"null score", `{"decision":{"liveness_checks":[{"score":null,"age_estimation":null}]}}`,
			func(t *testing.T, w *Webhook) {
				assert.Nil(t, w.Decision.LivenessChecks[0].Score)
				assert.InDelta(t, -1, w.Decision.LivenessChecks[0].AgeEstimation.Float(-1), 0)
			}},
		{"metadata not an object", `{"metadata":"plain string","status":"Approved"}`,
			func(t *testing.T, w *Webhook) { assert.Nil(t, w.Metadata) }},
		{"metadata null", `{"metadata":null}`,
			func(t *testing.T, w *Webhook) { assert.Nil(t, w.Metadata) }},
		{"fields from the decision", `{"decision":{"status":"Declined","session_id":"s1","vendor_data":"u1","workflow_id":"w1"}}`,
			func(t *testing.T, w *Webhook) {
				assert.Equal(t, StatusDeclined, w.Status)
				assert.Equal(t, "s1", w.SessionID)
				assert.Equal(t, "u1", w.VendorData)
				assert.Equal(t, "w1", w.WorkflowID)
			}},
		{"leading whitespace", "\n  {\"status\":\"Approved\"}\n",
			func(t *testing.T, w *Webhook) { assert.Equal(t, StatusApproved, w.Status) }},
		{"skip reason null", `{"decision":{"nfc_verifications":[{"is_nfc_skipped":true,"skip_reason":null}]}}`,
			func(t *testing.T, w *Webhook) { assert.True(t, w.Decision.NFCVerifications[0].IsNFCSkipped) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := DecodeWebhook([]byte(tt.body))
			require.NoError(t, err)
			tt.check(t, w)
		})
	}
}

func TestDecodeWebhookErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"empty", ``, "not valid JSON"},
		{"truncated", `{"status":"Appr`, "unexpected end"},
		{"array", `[1,2]`, "not a JSON object"},
		{"string", `"hello"`, "not a JSON object"},
		{"wrong type for status", `{"status":42}`, "cannot unmarshal"},
		{"decision not an object", `{"decision":[1]}`, "cannot unmarshal"},
		{"score not a number", `{"decision":{"liveness_checks":[{"score":"high"}]}}`, "number"},
		{"score is NaN text", `{"decision":{"face_matches":[{"score":"NaN"}]}}`, "number"},
		{"feature array of numbers", `{"decision":{"ip_analyses":[1]}}`, "cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeWebhook([]byte(tt.body))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDecodeWebhookSkipsPersonalData(t *testing.T) {
	// The typed structs carry no names, birth dates, addresses or media URLs: re-encoding the
	// decoded webhook must not bring them back.
	w, err := DecodeWebhook(testdata.Read(t, "webhooks/full_v3.json"))
	require.NoError(t, err)
	w.Metadata = nil // free-form by design
	// A reviewer's email is decoded only to be hashed (like document_number); the comment is
	// never decoded at all.
	require.Len(t, w.Decision.Reviews, 1)
	assert.Equal(t, "compliance@example.com", w.Decision.Reviews[0].User)
	w.Decision.Reviews[0].User = ""
	out, err := json.Marshal(w)
	require.NoError(t, err)
	for _, pii := range []string{"Garc", "1990-04-12", "Calle", "https://", "@example", "+34", "612345678", "Sevilla", "re-onboarding", "acc_3107"} {
		assert.NotContains(t, string(out), pii)
	}
}

func TestReviews(t *testing.T) {
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339Nano, s); return v }
	tests := []struct {
		name    string
		reviews string
		want    *Review
	}{
		{"none", `[]`, nil},
		{"null", `null`, nil},
		{"only In Review", `[{"user":"API Client","new_status":"In Review","comment":"rules: x","created_at":"2026-01-01T00:00:00Z"}]`, nil},
		{"console approval after the API's request", `[{"user":"API Client","new_status":"In Review","created_at":"2026-01-01T00:00:00.000000Z"},
			{"user":"r@example.com","new_status":"Approved","comment":"ok","created_at":"2026-01-01T01:00:00.123456Z"}]`,
			&Review{User: "r@example.com", NewStatus: StatusApproved, CreatedAt: Time{at("2026-01-01T01:00:00.123456Z")}}},
		{"the latest verdict wins, listed in any order", `[{"user":"b@example.com","new_status":"Declined","created_at":"2026-01-02T00:00:00+00:00"},
			{"user":"a@example.com","new_status":"Approved","created_at":"2026-01-01T00:00:00Z"}]`,
			&Review{User: "b@example.com", NewStatus: StatusDeclined, CreatedAt: Time{at("2026-01-02T00:00:00Z")}}},
		{"unix seconds, no zone", `[{"user":"a@example.com","new_status":"Approved","created_at":1767232800},
			{"user":"API Client","new_status":"Declined","created_at":"2026-01-01T03:00:00"}]`,
			&Review{User: ReviewerAPIClient, NewStatus: StatusDeclined, CreatedAt: Time{at("2026-01-01T03:00:00Z")}}},
		{"unreadable time is zero", `[{"user":"a@example.com","new_status":"Approved","created_at":"yesterday"}]`,
			&Review{User: "a@example.com", NewStatus: StatusApproved}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"session_id":"s","status":"Approved","decision":{"status":"Approved","reviews":` + tt.reviews + `}}`
			w, err := DecodeWebhookStrict([]byte(body))
			require.NoError(t, err)
			got, ok := w.Decision.LatestVerdictReview()
			if tt.want == nil {
				assert.False(t, ok)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want.User, got.User)
			assert.Equal(t, tt.want.NewStatus, got.NewStatus)
			assert.True(t, tt.want.CreatedAt.Equal(got.CreatedAt.Time), "%v != %v", tt.want.CreatedAt, got.CreatedAt)
			assert.Equal(t, tt.want.User != ReviewerAPIClient, got.ByPerson())
		})
	}
	// The strict reading holds for the reviews too: a repeated key or a case variant is refused.
	for _, bad := range []string{
		`{"session_id":"s","decision":{"reviews":[{"user":"a","user":"b","new_status":"Approved"}]}}`,
		`{"session_id":"s","decision":{"reviews":[{"User":"a","new_status":"Approved"}]}}`,
		`{"session_id":"s","decision":{"reviews":[{"user":"a","new_status":"Approved","created_at":{}}]}}`,
	} {
		_, err := DecodeStrict([]byte(bad))
		assert.Error(t, err, bad)
	}
}

func TestPresent(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{``, false}, {`null`, false}, {`false`, false}, {`true`, true},
		{`0`, false}, {`0.0`, false}, {`2`, true}, {`-1`, true},
		{`""`, false}, {`"x"`, true},
		{`[]`, false}, {`[ ]`, false}, {`[{"id":1}]`, true},
		{`{}`, false}, {`{"a":1}`, true},
		{`[`, false}, {`{`, false}, // not produced by encoding/json, must not panic
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			assert.Equal(t, tt.want, Present(json.RawMessage(tt.raw)))
		})
	}
}

// FuzzDecodeWebhook checks that no body makes the decoder panic; the seeds are every webhook
// fixture of the repository plus a few edge shapes.
func FuzzDecodeWebhook(f *testing.F) {
	for _, pattern := range []string{"webhooks/*.json", "scoring/payloads/*.json"} {
		for _, file := range testdata.Glob(f, pattern) {
			f.Add(testdata.Read(f, file))
		}
	}
	for _, s := range []string{``, `{}`, `null`, `[]`, `{"decision":null}`, `{"decision":{"aml":{"hits":[{"pep_matches":[`,
		`{"timestamp":"1e400"}`, `{"decision":{"liveness_checks":[{"score":"1e999"}]}}`, `{"metadata":{"a":{"b":[1,{"c":null}]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		w, err := DecodeWebhook(body)
		if err != nil {
			return
		}
		_ = w.Status.HasDecision()
		if d := w.Decision; d != nil {
			for _, a := range d.AMLScreenings {
				for _, h := range a.Hits {
					Present(h.PEPMatches)
					Present(h.SanctionMatches)
				}
			}
		}
	})
}

// BenchmarkDecodeWebhook decodes the full v3 fixture (about 16 KB, every feature array).
func BenchmarkDecodeWebhook(b *testing.B) {
	body := testdata.Read(b, "webhooks/full_v3.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeWebhook(body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeMatchesAndNewerArrays: matches carry source and the list flags, list entries have
// vendor_data null (§9.8); questionnaire_responses and document_ai_documents decode their
// statuses and warnings (§9.9).
func TestDecodeMatchesAndNewerArrays(t *testing.T) {
	w, err := DecodeWebhook([]byte(`{"status":"Approved","session_id":"s","decision":{
		"liveness_checks":[{"status":"Approved","matches":[
			{"source":"list_entry","vendor_data":null,"is_allowlisted":true,"is_blocklisted":false,"similarity_percentage":96.1},
			{"source":"session","vendor_data":"user-9","session_id":"s9","is_blocklisted":true}]}],
		"questionnaire_responses":[{"node_id":"q","status":"In Review","warnings":[{"feature":"QUESTIONNAIRE","risk":"R1","log_type":"warning"}]}],
		"document_ai_documents":[{"node_id":"d","status":"Declined","warnings":[{"feature":"DOCUMENT_AI","risk":"R2","log_type":"error"}]}]}}`))
	require.NoError(t, err)
	ms := w.Decision.LivenessChecks[0].Matches
	require.Len(t, ms, 2)
	assert.Equal(t, Match{Source: MatchSourceListEntry, IsAllowlisted: true, SimilarityPercentage: ms[0].SimilarityPercentage}, ms[0])
	assert.Equal(t, Match{Source: MatchSourceSession, VendorData: "user-9", SessionID: "s9", IsBlocklisted: true}, ms[1])
	assert.Equal(t, []QuestionnaireResponse{{NodeID: "q", Status: "In Review", Warnings: []Warning{{Feature: "QUESTIONNAIRE", Risk: "R1", LogType: "warning"}}}}, w.Decision.QuestionnaireResponses)
	assert.Equal(t, []DocumentAIDocument{{NodeID: "d", Status: "Declined", Warnings: []Warning{{Feature: "DOCUMENT_AI", Risk: "R2", LogType: "error"}}}}, w.Decision.DocumentAIDocuments)
}
