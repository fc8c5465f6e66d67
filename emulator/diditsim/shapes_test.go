package diditsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
)

// The answers' keys are exactly those of Didit's documented examples (shared/didit-api.md).
// The other endpoints' shapes are checked where they are tested: list rows in
// TestListSessions, blocklist in TestBlocklistAnswer, 403 in TestForbiddenNeverUnauthorized,
// 429 headers in TestRateLimitHeaders, reviews in TestCreateReview and TestListReviews,
// update-status in TestUpdateStatus, Face Search in TestFaceSearchBlocklistedFace.

// The create-session page's example, plus workflow_version (§5.1, §9.4).
var createKeys = []string{"session_id", "session_number", "session_token", "vendor_data", "metadata", "status", "workflow_id",
	"callback", "url", "workflow_version"}

// The decision's top level (§2.2) with the feature arrays (§2.2, §9.9) and reviews (§9.2).
var decisionKeys = []string{"session_id", "session_kind", "session_number", "session_url", "status", "environment", "workflow_id",
	"features", "vendor_data", "metadata", "expected_details", "contact_details", "callback", "reviews", "created_at", "expires_at",
	"id_verifications", "nfc_verifications", "liveness_checks", "face_matches", "poa_verifications", "phone_verifications",
	"email_verifications", "aml_screenings", "ip_analyses", "database_validations", "questionnaire_responses",
	"document_ai_documents", "signatures", "bank_verifications"}

// The session webhook envelope (§2.1); metadata only when set, decision only with a decision.
var envelopeKeys = []string{"event_id", "webhook_type", "timestamp", "created_at", "application_id", "session_id", "status",
	"workflow_id", "workflow_version", "vendor_data", "metadata", "decision"}

func TestDocumentedShapes(t *testing.T) {
	rc, rsrv := newReceiver(t)
	sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})

	resp, created := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf-kyc","vendor_data":"user-1","callback":"https://app/cb","metadata":{"user_type":"premium"}}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.ElementsMatch(t, createKeys, keys(created), "create")
	assert.Equal(t, "Not Started", created["status"])
	assert.Equal(t, 1.0, created["workflow_version"])
	id := created["session_id"].(string)

	decision := func() map[string]any {
		raw, err := didit.NewClient(srv.URL, key, nil).GetDecision(context.Background(), id)
		require.NoError(t, err)
		var d map[string]any
		require.NoError(t, json.Unmarshal(raw, &d))
		return d
	}
	d := decision()
	assert.ElementsMatch(t, decisionKeys, keys(d), "decision of an unfinished session")
	assert.Nil(t, d["id_verifications"], "feature arrays are null until the feature has run")
	assert.Equal(t, []any{}, d["reviews"])

	_, err := sim.Complete(context.Background(), id, diditsim.Outcome{Status: diditsim.StatusInReview})
	require.NoError(t, err)
	var env map[string]any
	require.NoError(t, json.Unmarshal((<-rc.ch).body, &env))
	assert.ElementsMatch(t, envelopeKeys, keys(env), "webhook")
	assert.ElementsMatch(t, decisionKeys, keys(env["decision"].(map[string]any)), "the webhook's decision")

	_, err = sim.ConsoleReview(context.Background(), id, diditsim.StatusApproved, "ok")
	require.NoError(t, err)
	<-rc.ch
	d = decision()
	assert.ElementsMatch(t, decisionKeys, keys(d), "decision after review")
	require.Len(t, d["reviews"], 1)
	assert.ElementsMatch(t, []string{"user", "new_status", "comment", "created_at"}, keys(d["reviews"].([]any)[0].(map[string]any)), "decision reviews[]")
	assert.Equal(t, "Approved", d["status"])
	require.NotNil(t, d["liveness_checks"])
}
