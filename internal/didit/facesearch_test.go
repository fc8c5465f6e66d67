package didit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
)

// answer builds a Face Search answer as Didit sends it (personal fields included, so the
// reduction is seen to drop them).
func answer(t *testing.T, total int, warnings string, matches ...string) didit.FaceSearchAnswer {
	t.Helper()
	body := `{"request_id":"r","face_search":{"status":"Approved","total_matches":` + jsonInt(total) +
		`,"matches":[` + strings.Join(matches, ",") + `],"warnings":[` + warnings + `]}}`
	var a didit.FaceSearchAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &a), body)
	return a
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func match(session, vendor string, sim float64, blocked, allowed bool) string {
	m := map[string]any{"session_id": nil, "vendor_data": nil, "similarity_percentage": sim, "source": "session",
		"is_blocklisted": blocked, "is_allowlisted": allowed, "match_image_url": "https://media.example/x.png?sig=1",
		"user_details": map[string]any{"full_name": "Ana García López", "document_number": "X1234567K"}}
	if session != "" {
		m["session_id"] = session
	}
	if vendor != "" {
		m["vendor_data"] = vendor
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func warning(risk, blockedSession string) string {
	ad := `null`
	if blockedSession != "" {
		ad = `"` + blockedSession + `"`
	}
	return `{"risk":"` + risk + `","feature":"LIVENESS","log_type":"error","additional_data":{"blocklisted_session_id":` + ad + `},"short_description":"x"}`
}

// The reduction keeps counts, flags and codes only, and never counts the user's own sessions.
func TestFaceSearchFacts(t *testing.T) {
	const me, mine = "user-1", "sess-me"
	tests := []struct {
		name string
		a    didit.FaceSearchAnswer
		want didit.FaceSearchFacts
	}{
		{"no match", answer(t, 0, ""), didit.FaceSearchFacts{}},
		{"only the user's own session", answer(t, 1, "", match(mine, me, 98.7, false, false)), didit.FaceSearchFacts{}},
		{"the user's older session", answer(t, 2, "", match(mine, me, 98.7, false, false), match("sess-old", me, 97, false, false)), didit.FaceSearchFacts{}},
		{"fraud ring of three", answer(t, 4, "",
			match(mine, me, 98.7, false, false), match("s-a", "ring-a", 98.7, false, false),
			match("s-b", "ring-b", 96.1, false, false), match("s-c", "ring-c", 91, false, false)),
			didit.FaceSearchFacts{Matches: 3, TopSimilarity: 98.7, OtherUsers: 3}},
		{"one other user twice", answer(t, 2, "", match("s-a", "ring-a", 90, false, false), match("s-a2", "ring-a", 92, false, false)),
			didit.FaceSearchFacts{Matches: 2, TopSimilarity: 92, OtherUsers: 1}},
		{"more matches than listed", answer(t, 9, "", match(mine, me, 98.7, false, false), match("s-a", "ring-a", 90, false, false)),
			didit.FaceSearchFacts{Matches: 8, TopSimilarity: 90, OtherUsers: 1}},
		{"blocklisted list entry", answer(t, 1, warning("FACE_IN_BLOCKLIST", ""), match("", "", 99.1, true, false)),
			didit.FaceSearchFacts{Matches: 1, TopSimilarity: 99.1, Blocklisted: true, Codes: []string{"FACE_IN_BLOCKLIST"}}},
		{"possible blocklisted", answer(t, 1, warning("POSSIBLE_FACE_IN_BLOCKLIST", "s-bad"), match("s-bad", "", 85, true, false)),
			didit.FaceSearchFacts{Matches: 1, TopSimilarity: 85, Blocklisted: true, Codes: []string{"POSSIBLE_FACE_IN_BLOCKLIST"}}},
		{"the user's own session blocklisted", answer(t, 2, warning("FACE_IN_BLOCKLIST", mine),
			match(mine, me, 98.7, true, false), match(mine, "", 99.1, true, false)), didit.FaceSearchFacts{}},
		{"own and foreign blocklisted", answer(t, 3, warning("FACE_IN_BLOCKLIST", mine),
			match(mine, me, 98.7, true, false), match(mine, "", 99.1, true, false), match("", "", 95, true, false)),
			didit.FaceSearchFacts{Matches: 1, TopSimilarity: 95, Blocklisted: true, Codes: []string{"FACE_IN_BLOCKLIST"}}},
		{"allowlisted", answer(t, 1, "", match("", "", 99.1, false, true)),
			didit.FaceSearchFacts{Matches: 1, TopSimilarity: 99.1, Allowlisted: true}},
		{"codes sorted, deduplicated, malformed dropped", answer(t, 0,
			warning("NO_FACE_DETECTED", "")+","+warning("MULTIPLE_FACES_DETECTED", "")+","+warning("NO_FACE_DETECTED", "")+","+warning("Ana García", "")),
			didit.FaceSearchFacts{Codes: []string{"MULTIPLE_FACES_DETECTED", "NO_FACE_DETECTED"}}},
		{"similarity clamped", answer(t, 1, "", match("s-a", "ring-a", 140, false, false)),
			didit.FaceSearchFacts{Matches: 1, TopSimilarity: 100, OtherUsers: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.a.Facts(didit.SearchMostSimilar, me, mine)
			tt.want.SearchType = didit.SearchMostSimilar
			assert.Equal(t, tt.want, got)
			b, err := json.Marshal(got)
			require.NoError(t, err)
			for _, pii := range []string{"Ana", "X1234567K", "media.example", "ring-a", "s-a", "s-bad", mine, me} {
				assert.NotContains(t, string(b), pii, "facts carry no personal data or ids")
			}
		})
	}
}

// An anonymous session (no vendor_data) counts every match but the searched session.
func TestFaceSearchFactsAnonymous(t *testing.T) {
	a := answer(t, 2, "", match("sess-me", "", 98.7, false, false), match("s-a", "ring-a", 97, false, false))
	assert.Equal(t, didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved, Matches: 1, TopSimilarity: 97, OtherUsers: 1},
		a.Facts(didit.SearchBlocklistedOrApproved, "", "sess-me"))
}

// Against the simulator: the session's face is read from its decision and downloaded, then
// searched with save_api_request=false; the facts find the ring and leave the user out.
func TestSessionFaceAndFaceSearchOnTheSimulator(t *testing.T) {
	var sim *diditsim.Server
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { sim.ServeHTTP(w, r) }))
	sim = diditsim.New(diditsim.Options{APIKey: apiKey, BaseURL: srv.URL})
	t.Cleanup(func() { srv.Close(); _ = sim.Close() })
	img := diditsim.FaceImage("ring")
	sim.SeedFraudRing(img, "ring-a", "ring-b", "ring-c")
	// The user's own session, decided, with the same face: Didit lists it among the matches.
	me := sim.AddSession(diditsim.Session{VendorData: "user-1", WorkflowID: "wf-kyc", Status: "In Progress", FaceImage: img})
	_, err := sim.Complete(context.Background(), me.ID, diditsim.Approve)
	require.ErrorIs(t, err, diditsim.ErrNoReceiver, "decided; no webhook receiver in this test")

	c := didit.NewClient(srv.URL, apiKey, &http.Client{Timeout: 2 * time.Second})
	host := strings.TrimPrefix(srv.URL, "http://")
	face, err := c.SessionFace(context.Background(), me.ID, []string{host})
	require.NoError(t, err)
	assert.Equal(t, img, face)

	for _, st := range []string{didit.SearchBlocklistedOrApproved, didit.SearchMostSimilar} {
		a, err := c.FaceSearch(context.Background(), face, st)
		require.NoError(t, err)
		assert.Equal(t, didit.FaceSearchFacts{SearchType: st, Matches: 3, TopSimilarity: 98.7, OtherUsers: 3}, a.Facts(st, "user-1", me.ID), st)
	}
	calls := sim.FaceSearches()
	require.Len(t, calls, 2)
	sum := sha256.Sum256(img)
	for _, call := range calls {
		assert.False(t, call.SaveAPIRequest, "the search enrols nothing")
		assert.Equal(t, hex.EncodeToString(sum[:]), call.ImageSHA256, "the session's own face was sent")
	}
	assert.Equal(t, didit.SearchBlocklistedOrApproved, calls[0].SearchType)
	assert.Equal(t, didit.SearchMostSimilar, calls[1].SearchType)

	// A face on the blocklist.
	sim.SeedFace(img, diditsim.FaceRecord{Blocklisted: true})
	a, err := c.FaceSearch(context.Background(), face, didit.SearchBlocklistedOrApproved)
	require.NoError(t, err)
	f := a.Facts(didit.SearchBlocklistedOrApproved, "user-1", me.ID)
	assert.True(t, f.Blocklisted)
	assert.Equal(t, []string{didit.RiskFaceInBlocklist}, f.Codes)
}

func TestSessionFaceRefusals(t *testing.T) {
	var mu sync.Mutex
	var mediaHeaders []http.Header
	var decision string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/media/") {
			mu.Lock()
			mediaHeaders = append(mediaHeaders, r.Header.Clone())
			mu.Unlock()
			if r.URL.Path == "/media/gone.png" {
				http.Error(w, "expired", http.StatusForbidden)
				return
			}
			_, _ = w.Write([]byte("\x89PNG face"))
			return
		}
		_, _ = w.Write([]byte(decision))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := didit.NewClient(srv.URL, apiKey, &http.Client{Timeout: 2 * time.Second})

	tests := []struct {
		name     string
		decision string
		hosts    []string
		wantErr  string
		download bool
	}{
		{"liveness reference first", `{"session_id":"s","liveness_checks":[{"reference_image":"` + srv.URL + `/media/ref.png"}],"id_verifications":[{"portrait_image":"` + srv.URL + `/media/gone.png"}]}`, []string{host}, "", true},
		{"portrait when no liveness", `{"session_id":"s","liveness_checks":null,"id_verifications":[{"portrait_image":"` + srv.URL + `/media/p.png"}]}`, []string{host}, "", true},
		{"no face", `{"session_id":"s","phone_verifications":[{}]}`, []string{host}, "no face image", false},
		{"host not a media host", `{"session_id":"s","liveness_checks":[{"reference_image":"` + srv.URL + `/media/ref.png"}]}`, []string{"media.didit.example"}, "DIDIT_MEDIA_HOSTS", false},
		{"plain http off loopback", `{"session_id":"s","liveness_checks":[{"reference_image":"http://media.didit.example/ref.png"}]}`, []string{"media.didit.example"}, "not https", false},
		{"expired link", `{"session_id":"s","liveness_checks":[{"reference_image":"` + srv.URL + `/media/gone.png"}]}`, []string{host}, "answered 403", true},
		{"another session", `{"session_id":"other","liveness_checks":[{"reference_image":"` + srv.URL + `/media/ref.png"}]}`, []string{host}, "another", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			decision, mediaHeaders = tt.decision, nil
			mu.Unlock()
			img, err := c.SessionFace(context.Background(), "s", tt.hosts)
			mu.Lock()
			defer mu.Unlock()
			if tt.wantErr == "" {
				require.NoError(t, err)
				assert.Equal(t, []byte("\x89PNG face"), img)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, failure.Permanent(err), "a refusal is permanent: %v", err)
				assert.NotContains(t, err.Error(), "/media/", "the bearer link is never in an error")
			}
			assert.Equal(t, tt.download, len(mediaHeaders) > 0)
			for _, h := range mediaHeaders {
				assert.Empty(t, h.Get("x-api-key"), "the API key never goes to a media link")
			}
		})
	}
}
