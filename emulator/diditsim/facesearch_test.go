package diditsim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/testdata"
)

// faceSearch posts a multipart Face Search; img nil leaves user_image out.
func faceSearch(t *testing.T, base string, img []byte, fields map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if img != nil {
		fw, err := mw.CreateFormFile("user_image", "face.png")
		require.NoError(t, err)
		_, _ = fw.Write(img)
	}
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	require.NoError(t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, base+"/v3/face-search/", &buf)
	require.NoError(t, err)
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// sessionFace downloads a session's face the way the step-up function does: from the
// decision's liveness reference image URL, read with the API key.
func sessionFace(t *testing.T, base, sessionID string) []byte {
	t.Helper()
	raw, err := didit.NewClient(base, key, nil).GetDecision(context.Background(), sessionID)
	require.NoError(t, err)
	var d struct {
		LivenessChecks []struct {
			ReferenceImage string `json:"reference_image"`
		} `json:"liveness_checks"`
		IDVerifications []struct {
			PortraitImage string `json:"portrait_image"`
		} `json:"id_verifications"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	require.Len(t, d.LivenessChecks, 1)
	require.Len(t, d.IDVerifications, 1)
	resp, err := http.Get(d.LivenessChecks[0].ReferenceImage)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))
	img, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_, err = png.Decode(bytes.NewReader(img))
	require.NoError(t, err, "a real (tiny) image")
	resp2, err := http.Get(d.IDVerifications[0].PortraitImage)
	require.NoError(t, err)
	defer resp2.Body.Close()
	portrait, _ := io.ReadAll(resp2.Body)
	assert.Equal(t, img, portrait, "portrait and reference show the same face")
	return img
}

func faceSearchOf(out map[string]any) (map[string]any, []map[string]any) {
	fs := out["face_search"].(map[string]any)
	var ms []map[string]any
	for _, m := range fs["matches"].([]any) {
		ms = append(ms, m.(map[string]any))
	}
	return fs, ms
}

var matchKeys = []string{"session_id", "session_number", "similarity_percentage", "source", "vendor_data", "verification_date",
	"user_details", "match_image_url", "status", "is_blocklisted", "is_allowlisted", "vendor_user_id"}

// A face blocklisted through POST /v3/blocklist/add/ is found again: Declined, FACE_IN_BLOCKLIST.
func TestFaceSearchBlocklistedFace(t *testing.T) {
	rc, rsrv := newReceiver(t)
	sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
	bad := createStepUp(t, srv, "kyc")
	_, err := sim.Complete(context.Background(), bad.SessionID, diditsim.Decline)
	require.NoError(t, err)
	<-rc.ch
	face := sessionFace(t, srv.URL, bad.SessionID)

	// Before blocklisting: nothing to screen against (a declined session is not searched).
	resp, out := faceSearch(t, srv.URL, face, map[string]string{"search_type": "blocklisted_or_approved", "save_api_request": "false"})
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
	fs, ms := faceSearchOf(out)
	assert.Equal(t, "Approved", fs["status"])
	assert.Empty(t, ms, "a declined session is not searched by blocklisted_or_approved")

	resp, _ = post(t, srv.URL+"/v3/blocklist/add/", key, `{"session_id":"`+bad.SessionID+`","blocklist_face":true}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)

	resp, out = faceSearch(t, srv.URL, face, map[string]string{"search_type": "blocklisted_or_approved", "save_api_request": "false"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.ElementsMatch(t, []string{"request_id", "face_search"}, keys(out))
	fs, ms = faceSearchOf(out)
	assert.ElementsMatch(t, []string{"status", "total_matches", "matches", "user_image", "warnings"}, keys(fs))
	assert.Equal(t, "Declined", fs["status"])
	require.NotEmpty(t, ms)
	assert.Equal(t, true, ms[0]["is_blocklisted"], "blocklisted first")
	for _, m := range ms {
		assert.ElementsMatch(t, matchKeys, keys(m))
		assert.ElementsMatch(t, []string{"full_name", "document_type", "document_number"}, keys(m["user_details"].(map[string]any)))
	}
	warnings := fs["warnings"].([]any)
	require.Len(t, warnings, 1)
	w := warnings[0].(map[string]any)
	assert.ElementsMatch(t, []string{"risk", "feature", "log_type", "additional_data", "short_description", "long_description"}, keys(w))
	assert.Equal(t, "FACE_IN_BLOCKLIST", w["risk"])
	assert.Equal(t, "LIVENESS", w["feature"])
	assert.Equal(t, bad.SessionID, w["additional_data"].(map[string]any)["blocklisted_session_id"])
	ui := fs["user_image"].(map[string]any)
	assert.ElementsMatch(t, []string{"entities", "best_angle"}, keys(ui))

	// The match image is served too.
	imgResp, err := http.Get(ms[0]["match_image_url"].(string))
	require.NoError(t, err)
	got, _ := io.ReadAll(imgResp.Body)
	imgResp.Body.Close()
	assert.Equal(t, face, got)

	assert.Equal(t, []diditsim.FaceSearchCall{
		{SearchType: "blocklisted_or_approved", ImageSHA256: sha(face), ImageSize: len(face)},
		{SearchType: "blocklisted_or_approved", ImageSHA256: sha(face), ImageSize: len(face)},
	}, sim.FaceSearches(), "save_api_request=false as sent")
}

// Several other users with the same face: a fraud ring. Duplicates alone stay Approved; at
// most 5 matches come back, total_matches counts them all.
func TestFaceSearchFraudRing(t *testing.T) {
	sim, srv := newSim(t, diditsim.Options{})
	face := diditsim.FaceImage("ring")
	ring := sim.SeedFraudRing(face, "ring-1", "ring-2", "ring-3")
	require.Len(t, ring, 3)
	sim.SeedFraudRing(diditsim.FaceImage("someone else"), "honest-1")

	resp, out := faceSearch(t, srv.URL, face, map[string]string{"search_type": "most_similar", "vendor_data": "user-42"})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	fs, ms := faceSearchOf(out)
	assert.Equal(t, "Approved", fs["status"], "duplicates alone give Approved")
	assert.Equal(t, 3.0, fs["total_matches"])
	var users []any
	for _, m := range ms {
		users = append(users, m["vendor_data"])
		assert.Equal(t, "session", m["source"])
		assert.Equal(t, false, m["is_blocklisted"])
		assert.Greater(t, m["similarity_percentage"], 90.0)
	}
	assert.ElementsMatch(t, []any{"ring-1", "ring-2", "ring-3"}, users)
	assert.Empty(t, fs["warnings"])
	imgResp, err := http.Get(ms[0]["match_image_url"].(string))
	require.NoError(t, err)
	got, _ := io.ReadAll(imgResp.Body)
	imgResp.Body.Close()
	assert.Equal(t, face, got, "a seeded session's face is served at the simulator's address")

	sim.SeedFraudRing(face, "ring-4", "ring-5", "ring-6", "ring-7")
	_, out = faceSearch(t, srv.URL, face, nil)
	fs, ms = faceSearchOf(out)
	assert.Equal(t, 7.0, fs["total_matches"])
	assert.Len(t, ms, 5, "at most 5 matches")
	assert.True(t, sim.FaceSearches()[1].SaveAPIRequest, "save_api_request defaults to true")
}

func TestFaceSearchSeededFaces(t *testing.T) {
	tests := []struct {
		name        string
		rec         diditsim.FaceRecord
		wantStatus  string
		wantRisk    string
		wantAllowed bool
	}{
		{"blocklisted", diditsim.FaceRecord{Blocklisted: true}, "Declined", "FACE_IN_BLOCKLIST", false},
		{"possibly blocklisted", diditsim.FaceRecord{Blocklisted: true, Similarity: 82.5}, "Declined", "POSSIBLE_FACE_IN_BLOCKLIST", false},
		{"allowlisted", diditsim.FaceRecord{Allowlisted: true}, "Approved", "", true},
		{"imported", diditsim.FaceRecord{VendorData: "imported-user"}, "Approved", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newSim(t, diditsim.Options{})
			face := diditsim.FaceImage(tt.name)
			sim.SeedFace(face, tt.rec)
			_, out := faceSearch(t, srv.URL, face, map[string]string{"search_type": "blocklisted_or_approved"})
			fs, ms := faceSearchOf(out)
			assert.Equal(t, tt.wantStatus, fs["status"])
			require.Len(t, ms, 1)
			assert.ElementsMatch(t, matchKeys, keys(ms[0]))
			assert.Equal(t, tt.wantAllowed, ms[0]["is_allowlisted"])
			if tt.rec.VendorData == "" {
				assert.Equal(t, "list_entry", ms[0]["source"])
				assert.Nil(t, ms[0]["vendor_data"], "list entries have no vendor_data")
			} else {
				assert.Equal(t, "imported", ms[0]["source"])
			}
			if tt.wantRisk == "" {
				assert.Empty(t, fs["warnings"])
				return
			}
			require.Len(t, fs["warnings"], 1)
			assert.Equal(t, tt.wantRisk, fs["warnings"].([]any)[0].(map[string]any)["risk"])

			// A face the index does not know matches nothing.
			_, out = faceSearch(t, srv.URL, diditsim.FaceImage("unknown"), nil)
			fs, ms = faceSearchOf(out)
			assert.Equal(t, "Approved", fs["status"])
			assert.Empty(t, ms)
			assert.Equal(t, 0.0, fs["total_matches"])
		})
	}
}

func TestFaceSearchBadRequests(t *testing.T) {
	_, srv := newSim(t, diditsim.Options{})
	face := diditsim.FaceImage("x")
	tests := []struct {
		name   string
		img    []byte
		fields map[string]string
		want   []string
	}{
		{"no image", nil, nil, []string{"user_image"}},
		{"empty image", []byte{}, nil, []string{"user_image"}},
		{"bad search type", face, map[string]string{"search_type": "everything"}, []string{"search_type"}},
		{"bad boolean", face, map[string]string{"save_api_request": "maybe", "rotate_image": "sure"}, []string{"save_api_request", "rotate_image"}},
		{"metadata not JSON", face, map[string]string{"metadata": "{"}, []string{"metadata"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := faceSearch(t, srv.URL, tt.img, tt.fields)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.ElementsMatch(t, tt.want, keys(out))
		})
	}
	resp, _ := post(t, srv.URL+"/v3/face-search/", key, `{"user_image":"x"}`)
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode, "multipart only")
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// `make demo` stages a fraud ring over HTTP: seed a face for other users, give the demo
// user's session that face, and the session's own image then finds the ring.
func TestFaceSeedingOverHTTP(t *testing.T) {
	rc, rsrv := newReceiver(t)
	sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
	created := createStepUp(t, srv, "kyc")
	_, err := sim.Complete(context.Background(), created.SessionID, diditsim.Approve)
	require.NoError(t, err)
	<-rc.ch

	resp, out := post(t, srv.URL+"/_sim/faces", "", `{"seed":"ring","fraud_ring":["ring-a","ring-b"]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, out["ring_session_ids"], 2)
	resp, _ = post(t, srv.URL+"/_sim/sessions/"+created.SessionID+"/face", "", `{"seed":"ring"}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)

	face := sessionFace(t, srv.URL, created.SessionID)
	assert.Equal(t, diditsim.FaceImage("ring"), face)
	_, out = faceSearch(t, srv.URL, face, map[string]string{"save_api_request": "false"})
	fs, ms := faceSearchOf(out)
	assert.Equal(t, 3.0, fs["total_matches"], "the two ring members and the user's own session")
	var others []any
	for _, m := range ms {
		if m["vendor_data"] != "user-42" {
			others = append(others, m["vendor_data"])
		}
	}
	assert.ElementsMatch(t, []any{"ring-a", "ring-b"}, others)

	resp, _ = post(t, srv.URL+"/_sim/faces", "", `{"seed":"ring","blocklisted":true}`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, out = faceSearch(t, srv.URL, face, nil)
	fs, _ = faceSearchOf(out)
	assert.Equal(t, "Declined", fs["status"])

	resp, _ = post(t, srv.URL+"/_sim/faces", "", `{}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = post(t, srv.URL+"/_sim/sessions/unknown/face", "", `{"seed":"x"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// `make demo` stages its fraud ring and blocklisted face on sessions it only ever sent a fixture
// webhook for: /_sim/webhook registers the session with its decision's image links pointing at
// the simulator (the fixture's own point at Didit's storage), and ?face= gives it a seeded face
// before the webhook leaves, so the Face Search the webhook sets off finds what was seeded.
func TestFaceSearchOnFixtureSession(t *testing.T) {
	fixture := testdata.Read(t, "webhooks/full_v3.json")
	var fx struct {
		SessionID  string `json:"session_id"`
		VendorData string `json:"vendor_data"`
	}
	require.NoError(t, json.Unmarshal(fixture, &fx))
	other := bytes.ReplaceAll(fixture, []byte(fx.SessionID), []byte("5e55e55e-0000-4000-8000-000000000001"))

	for _, tc := range []struct {
		name, query string
		body        []byte
		session     string
		face        []byte
		ringMembers []any // vendor_data of the other users the search finds
	}{
		{name: "own face", body: fixture, session: fx.SessionID, face: diditsim.FaceImage(fx.SessionID)},
		{name: "seeded ring face", query: "?face=ring", body: other, session: "5e55e55e-0000-4000-8000-000000000001",
			face: diditsim.FaceImage("ring"), ringMembers: []any{"ring-a", "ring-b", "ring-c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, rsrv := newReceiver(t)
			_, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
			resp, _ := post(t, srv.URL+"/_sim/faces", "", `{"seed":"ring","fraud_ring":["ring-a","ring-b","ring-c"]}`)
			require.Equal(t, http.StatusOK, resp.StatusCode)

			resp, out := post(t, srv.URL+"/_sim/webhook"+tc.query, "", string(tc.body))
			require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
			got := <-rc.ch
			assert.Equal(t, tc.body, got.body, "the webhook is sent as given: only the stored decision links the simulator")

			face := sessionFace(t, srv.URL, tc.session)
			assert.Equal(t, tc.face, face)
			_, out = faceSearch(t, srv.URL, face, map[string]string{"save_api_request": "false"})
			_, ms := faceSearchOf(out)
			var others []any
			for _, m := range ms {
				if m["session_id"] != tc.session {
					others = append(others, m["vendor_data"])
				}
			}
			assert.ElementsMatch(t, tc.ringMembers, others)
		})
	}

	t.Run("face for a body that is no session event", func(t *testing.T) {
		_, rsrv := newReceiver(t)
		_, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
		resp, _ := post(t, srv.URL+"/_sim/webhook?face=ring", "", `{"webhook_type":"status.updated"}`)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})
}
