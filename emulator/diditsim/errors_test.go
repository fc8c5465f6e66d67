package diditsim_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
)

func TestSessionTokenAndLanguageURL(t *testing.T) {
	_, srv := newSim(t, diditsim.Options{})
	_, plain := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"u1"}`)
	tok := plain["session_token"].(string)
	assert.Regexp(t, `^[A-Za-z0-9]{12}$`, tok, "12 characters")
	assert.Equal(t, srv.URL+"/session/"+tok, plain["url"])

	_, es := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"u2","language":"pt-BR"}`)
	assert.Equal(t, srv.URL+"/pt-BR/session/"+es["session_token"].(string), es["url"])
	resp, err := http.Get(es["url"].(string))
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the hosted-flow stand-in answers at the language URL")
	assert.Contains(t, string(page), es["session_id"].(string))
}

// 403, never 401, for a missing or wrong key, on every route (shared/didit-api.md §9.6).
func TestForbiddenNeverUnauthorized(t *testing.T) {
	_, srv := newSim(t, diditsim.Options{})
	routes := []struct{ method, path, body string }{
		{"POST", "/v3/session/", `{"workflow_id":"wf"}`},
		{"GET", "/v3/session/x/decision/", ""},
		{"GET", "/v3/sessions/", ""},
		{"POST", "/v3/blocklist/add/", `{"session_id":"x"}`},
		{"POST", "/v3/sessions/x/reviews/", `{"new_status":"Approved"}`},
		{"GET", "/v3/sessions/x/reviews/", ""},
		{"PATCH", "/v3/session/x/update-status/", `{"new_status":"Approved"}`},
		{"POST", "/v3/face-search/", ""},
		{"GET", "/v3/no-such-endpoint/", ""},
	}
	for _, rt := range routes {
		for _, k := range []string{"", "wrong-key"} {
			t.Run(rt.method+" "+rt.path+" key="+k, func(t *testing.T) {
				req, err := http.NewRequest(rt.method, srv.URL+rt.path, strings.NewReader(rt.body))
				require.NoError(t, err)
				if k != "" {
					req.Header.Set("x-api-key", k)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				assert.JSONEq(t, `{"detail":"You do not have permission to perform this action."}`, string(b), "exactly the documented body")
			})
		}
	}
}

// 400 bodies are keyed by field, each with a list of messages.
func TestBadRequestKeyedByField(t *testing.T) {
	_, srv := newSim(t, diditsim.Options{})
	tests := []struct {
		name, path, body string
		wantFields       []string
	}{
		{"no workflow", "/v3/session/", `{"vendor_data":"u"}`, []string{"workflow_id"}},
		{"vendor_data not a string", "/v3/session/", `{"workflow_id":"wf","vendor_data":7}`, []string{"vendor_data"}},
		{"bad callback and language", "/v3/session/", `{"workflow_id":"wf","callback":"not a url","language":"xx"}`, []string{"callback", "language"}},
		{"bad callback_method", "/v3/session/", `{"workflow_id":"wf","callback_method":"sometimes"}`, []string{"callback_method"}},
		{"metadata not JSON", "/v3/session/", `{"workflow_id":"wf","metadata":"{oops"}`, []string{"metadata"}},
		{"contact_details not an object", "/v3/session/", `{"workflow_id":"wf","contact_details":"x"}`, []string{"contact_details"}},
		{"portrait not base64", "/v3/session/", `{"workflow_id":"wf","portrait_image":"***"}`, []string{"portrait_image"}},
		{"blocklist without session", "/v3/blocklist/add/", `{"blocklist_face":true}`, []string{"session_id"}},
		{"blocklist flag not a boolean", "/v3/blocklist/add/", `{"session_id":"s","blocklist_phone":"yes"}`, []string{"blocklist_phone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := post(t, srv.URL+tt.path, key, tt.body)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.ElementsMatch(t, tt.wantFields, keys(out))
			for _, f := range tt.wantFields {
				msgs, ok := out[f].([]any)
				require.True(t, ok, "%s is a list of strings", f)
				require.Len(t, msgs, 1)
				assert.IsType(t, "", msgs[0])
			}
		})
	}
	resp, out := post(t, srv.URL+"/v3/session/", key, `{`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, []string{"detail"}, keys(out), "a body that is not JSON gets detail")
}

func TestBlocklistAnswer(t *testing.T) {
	sim, srv := newSim(t, diditsim.Options{})
	ss := sim.AddSession(diditsim.Session{VendorData: "u", WorkflowID: "wf", Status: "Declined"})
	resp, out := post(t, srv.URL+"/v3/blocklist/add/", key,
		`{"session_id":"`+ss.ID+`","blocklist_face":true,"blocklist_document":false,"blocklist_phone":true,"blocklist_email":true}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, map[string]any{"message": "Successfully updated blocklist."}, out, "exactly the documented answer")
	assert.Equal(t, []diditsim.BlocklistEntry{{SessionID: ss.ID, Face: true, Phone: true, Email: true}}, sim.Blocklist())

	resp, out = post(t, srv.URL+"/v3/blocklist/add/", key, `{"session_id":"0b9e8d7c-0000-4000-8000-000000000000","blocklist_face":true}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, map[string]any{"detail": "Not found."}, out)
}

// A 429 carries Retry-After and X-RateLimit-*; the sandbox quota says "available in 3600 seconds".
func TestRateLimitHeaders(t *testing.T) {
	tests := []struct {
		name                        string
		fault                       diditsim.Fault
		route                       func(srv string) (*http.Response, map[string]any)
		wantLimit, wantRetry, wantD string
	}{
		{"create", diditsim.Fault{Route: diditsim.RouteCreateSession, Status: 429, RetryAfter: "7"},
			func(u string) (*http.Response, map[string]any) {
				return post(t, u+"/v3/session/", key, `{"workflow_id":"wf"}`)
			},
			"600", "7", "Request was throttled."},
		{"list", diditsim.Fault{Route: diditsim.RouteListSessions, Status: 429},
			func(u string) (*http.Response, map[string]any) { return get(t, u+"/v3/sessions/", key) },
			"600", "1", "Request was throttled."},
		{"blocklist is a write", diditsim.Fault{Route: diditsim.RouteBlocklist, Status: 429, RetryAfter: "30"},
			func(u string) (*http.Response, map[string]any) {
				return post(t, u+"/v3/blocklist/add/", key, `{"session_id":"x"}`)
			},
			"300", "30", "Request was throttled."},
		{"sandbox quota", diditsim.SandboxQuotaFault(),
			func(u string) (*http.Response, map[string]any) {
				return post(t, u+"/v3/session/", key, `{"workflow_id":"wf"}`)
			},
			"500", "3600", "Request was throttled. Expected available in 3600 seconds."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newSim(t, diditsim.Options{})
			sim.InjectFault(tt.fault)
			resp, out := tt.route(srv.URL)
			assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
			assert.Equal(t, tt.wantRetry, resp.Header.Get("Retry-After"))
			assert.Equal(t, tt.wantLimit, resp.Header.Get("X-RateLimit-Limit"))
			assert.Equal(t, "0", resp.Header.Get("X-RateLimit-Remaining"))
			assert.Equal(t, tt.wantRetry, resp.Header.Get("X-RateLimit-Reset"))
			assert.Equal(t, map[string]any{"detail": tt.wantD}, out)
		})
	}
}

// Options.SandboxQuota enforces the quota itself: creates past it within 24 h are refused,
// and a session handed back by the reuse rule is not a new one.
func TestSandboxQuota(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	sim, srv := newSim(t, diditsim.Options{SandboxQuota: 2, Now: func() time.Time { return clock }})
	for _, u := range []string{"a", "b"} {
		resp, _ := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"`+u+`"}`)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
	}
	resp, _ := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"a"}`)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "reused, not counted")

	resp, out := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"c"}`)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "3600", resp.Header.Get("Retry-After"))
	assert.Equal(t, "500", resp.Header.Get("X-RateLimit-Limit"))
	assert.Contains(t, out["detail"], "available in 3600 seconds")
	assert.Equal(t, 2, sim.CreatedSessions())

	clock = now.Add(25 * time.Hour)
	resp, _ = post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"c"}`)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "the window has passed")
}
