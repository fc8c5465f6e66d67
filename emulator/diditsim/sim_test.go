package diditsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

const (
	key    = "sim-api-key"
	secret = "whsec_sim_test_secret"
)

// delivery is one request the fake receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a stand-in webhook endpoint that keeps what it is sent.
type receiver struct {
	mu  sync.Mutex
	got []delivery
	ch  chan delivery
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	rc := &receiver{ch: make(chan delivery, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		d := delivery{header: r.Header.Clone(), body: b}
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		rc.ch <- d
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return rc, srv
}

func newSim(t *testing.T, opts diditsim.Options) (*diditsim.Server, *httptest.Server) {
	opts.APIKey, opts.Secret = key, secret
	sim := diditsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); _ = sim.Close() })
	return sim, srv
}

func post(t *testing.T, url, apiKey, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	if apiKey != "" {
		req.Header.Set("x-api-key", apiKey)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func TestMarshalMatchesPython(t *testing.T) {
	raw := testdata.Read(t, "diditsim/pyjson_vectors.json")
	var vectors []struct{ Input, Python string }
	require.NoError(t, json.Unmarshal(raw, &vectors))
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		t.Run(v.Input, func(t *testing.T) {
			d := json.NewDecoder(strings.NewReader(v.Input))
			d.UseNumber()
			var in any
			require.NoError(t, d.Decode(&in))
			got, err := diditsim.Marshal(in)
			require.NoError(t, err)
			assert.Equal(t, v.Python, string(got))
		})
	}
}

func TestMarshalGoFloats(t *testing.T) {
	got, err := diditsim.Marshal(map[string]any{"a": 95.0, "b": 34.2, "c": 1e-5, "d": 3, "e": int64(-1)})
	require.NoError(t, err)
	assert.Equal(t, `{"a":95.0,"b":34.2,"c":1e-05,"d":3,"e":-1}`, string(got))
}

func TestCreateSessionAPI(t *testing.T) {
	_, srv := newSim(t, diditsim.Options{})
	tests := []struct {
		name       string
		key, body  string
		wantStatus int
		check      func(t *testing.T, out map[string]any)
	}{
		{"created", key, `{"workflow_id":"wf-1","vendor_data":"user-1","callback":"https://app/done","metadata":{"n":1,"x":"y"}}`, 201,
			func(t *testing.T, out map[string]any) {
				assert.Regexp(t, `^[0-9a-f-]{36}$`, out["session_id"])
				assert.NotZero(t, out["session_number"])
				assert.Equal(t, srv.URL+"/session/"+out["session_token"].(string), out["url"])
				assert.Equal(t, "Not Started", out["status"])
				assert.Equal(t, "wf-1", out["workflow_id"])
				assert.Equal(t, "user-1", out["vendor_data"])
				assert.Equal(t, "https://app/done", out["callback"])
				assert.Equal(t, map[string]any{"n": 1.0, "x": "y"}, out["metadata"])
			}},
		{"wrong key", "nope", `{"workflow_id":"wf-1"}`, 403, func(t *testing.T, out map[string]any) {
			assert.Equal(t, "You do not have permission to perform this action.", out["detail"])
		}},
		{"no key", "", `{"workflow_id":"wf-1"}`, 403, nil},
		{"no workflow", key, `{"vendor_data":"user-1"}`, 400, func(t *testing.T, out map[string]any) {
			assert.Equal(t, []any{"This field is required."}, out["workflow_id"])
		}},
		{"not JSON", key, `{`, 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := post(t, srv.URL+"/v3/session/", tt.key, tt.body)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	sim, srv := newSim(t, diditsim.Options{})
	resp, _ := post(t, srv.URL+"/_sim/faults", "", `[{"route":"POST /v3/session/","status":429,"retry_after":"2","times":2},{"route":"POST /v3/session/","status":500}]`)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, 3, sim.PendingFaults())

	var statuses []int
	for range 4 {
		resp, _ := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf"}`)
		statuses = append(statuses, resp.StatusCode)
		if resp.StatusCode == 429 {
			assert.Equal(t, "2", resp.Header.Get("Retry-After"))
		}
	}
	assert.Equal(t, []int{429, 429, 500, 201}, statuses)
	assert.Equal(t, 4, sim.Requests(diditsim.RouteCreateSession))
	assert.Equal(t, 1, sim.CreatedSessions())

	resp, _ = post(t, srv.URL+"/_sim/faults", "", `{"status":0}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "a fault needs a status or a delay")

	statsResp, err := http.Get(srv.URL + "/_sim/stats")
	require.NoError(t, err)
	defer statsResp.Body.Close()
	var stats struct {
		CreatedSessions int            `json:"created_sessions"`
		Requests        map[string]int `json:"requests"`
	}
	require.NoError(t, json.NewDecoder(statsResp.Body).Decode(&stats))
	assert.Equal(t, 1, stats.CreatedSessions)
	assert.Equal(t, 4, stats.Requests[diditsim.RouteCreateSession])
}

// createStepUp creates a session through the real client, as the step-up function does.
func createStepUp(t *testing.T, srv *httptest.Server, kind policy.StepKind) didit.SessionCreated {
	t.Helper()
	c := didit.NewClient(srv.URL, key, nil)
	s, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{
		WorkflowID: "wf-" + string(kind), VendorData: "user-42", Callback: "https://app.example/done",
		Metadata: map[string]any{profile.StepUpMetadataKey: profile.StepUpLink{
			ProfileID: "user-42", AssessmentID: "asm-1", OriginSessionID: "origin-9", Kind: kind,
		}},
	})
	require.NoError(t, err)
	return s
}

// Complete must send what Didit sends: every signature verifies with the receiver's verifier,
// and the body carries the session's vendor_data, the metadata link and the kind's features.
func TestCompleteSendsDiditWebhook(t *testing.T) {
	tests := []struct {
		kind       policy.StepKind
		outcome    diditsim.Outcome
		wantStatus didit.Status
		check      func(t *testing.T, d *didit.Decision)
	}{
		{"nfc", diditsim.Approve, didit.StatusApproved, func(t *testing.T, d *didit.Decision) {
			require.Len(t, d.NFCVerifications, 1)
			assert.Equal(t, "Approved", d.NFCVerifications[0].Status)
		}},
		{"nfc", diditsim.Decline, didit.StatusDeclined, func(t *testing.T, d *didit.Decision) {
			require.Len(t, d.NFCVerifications, 1)
			require.Len(t, d.NFCVerifications[0].Warnings, 1)
			assert.Equal(t, "NFC_CHIP_NOT_VERIFIED", d.NFCVerifications[0].Warnings[0].Risk)
			assert.Equal(t, "error", d.NFCVerifications[0].Warnings[0].LogType)
		}},
		{"phone", diditsim.Approve, didit.StatusApproved, func(t *testing.T, d *didit.Decision) {
			require.Len(t, d.PhoneVerifications, 1)
		}},
		{"biometric", diditsim.Outcome{Features: []diditsim.FeatureResult{
			{Feature: diditsim.FeatureLiveness, Status: diditsim.StatusApproved},
			{Feature: diditsim.FeatureFaceMatch, Status: diditsim.StatusDeclined},
		}}, didit.StatusDeclined, func(t *testing.T, d *didit.Decision) {
			require.Len(t, d.LivenessChecks, 1)
			require.Len(t, d.FaceMatches, 1)
			assert.Equal(t, "Approved", d.LivenessChecks[0].Status)
			assert.Equal(t, "LOW_FACE_MATCH_SIMILARITY", d.FaceMatches[0].Warnings[0].Risk)
		}},
		{"poa", diditsim.Outcome{Features: []diditsim.FeatureResult{{Feature: diditsim.FeaturePoA, Status: diditsim.StatusDeclined, Risks: []string{"NAME_MISMATCH_WITH_PROVIDED"}}}},
			didit.StatusDeclined, func(t *testing.T, d *didit.Decision) {
				require.Len(t, d.POAVerifications, 1)
				assert.Equal(t, "NAME_MISMATCH_WITH_PROVIDED", d.POAVerifications[0].Warnings[0].Risk)
			}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+string(tt.wantStatus), func(t *testing.T) {
			rc, rsrv := newReceiver(t)
			sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
			created := createStepUp(t, srv, tt.kind)

			sent, err := sim.Complete(context.Background(), created.SessionID, tt.outcome)
			require.NoError(t, err)
			assert.Equal(t, http.StatusAccepted, sent.StatusCode)
			got := <-rc.ch
			assert.Equal(t, sent.Body, got.body, "the receiver gets the exact bytes")

			// Headers as Didit sends them.
			assert.Equal(t, "DiditWebhook/2.0 +https://didit.me", got.header.Get("User-Agent"))
			assert.Equal(t, "application/json", got.header.Get("Content-Type"))
			for _, h := range []string{webhook.HeaderTimestamp, webhook.HeaderSignature, webhook.HeaderSignatureV2, webhook.HeaderSignatureSimple} {
				assert.NotEmpty(t, got.header.Get(h), h)
			}

			// Each signature verifies on its own with the receiver's verifier.
			v, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{[]byte(secret)}, AllowSimple: true})
			require.NoError(t, err)
			for scheme, h := range map[webhook.Scheme]string{
				webhook.SchemeRaw: webhook.HeaderSignature, webhook.SchemeV2: webhook.HeaderSignatureV2, webhook.SchemeSimple: webhook.HeaderSignatureSimple,
			} {
				only := http.Header{}
				only.Set(webhook.HeaderTimestamp, got.header.Get(webhook.HeaderTimestamp))
				only.Set(h, got.header.Get(h))
				res, err := v.Verify(only, got.body)
				require.NoError(t, err, "%s alone", h)
				assert.Equal(t, scheme, res.Scheme)
			}
			// A different secret verifies none of them.
			other, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{[]byte("whsec_other")}, AllowSimple: true})
			require.NoError(t, err)
			_, err = other.Verify(got.header, got.body)
			require.Error(t, err)

			// Serialised like Didit's raw body: ASCII only, compact, keys sorted; so the raw
			// signature differs from V2's (which signs unescaped Unicode and shortened floats).
			for _, b := range got.body {
				require.Less(t, b, byte(0x80), "ensure_ascii")
			}
			assert.True(t, bytes.HasPrefix(got.body, []byte(`{"application_id":`)), "sorted keys")
			assert.NotContains(t, string(got.body), ": ")
			assert.NotEqual(t, got.header.Get(webhook.HeaderSignature), got.header.Get(webhook.HeaderSignatureV2))

			// The body decodes as a Didit webhook carrying the session's data and the link.
			w, err := didit.DecodeWebhook(got.body)
			require.NoError(t, err)
			assert.Equal(t, created.SessionID, w.SessionID)
			assert.Equal(t, tt.wantStatus, w.Status)
			assert.Equal(t, "status.updated", w.WebhookType)
			assert.Equal(t, "user-42", w.VendorData)
			assert.Equal(t, "wf-"+string(tt.kind), w.WorkflowID)
			assert.Equal(t, got.header.Get(webhook.HeaderTimestamp), strconv.FormatInt(w.Timestamp, 10))
			link, ok := profile.ParseStepUpLink(w.Metadata)
			require.True(t, ok)
			assert.Equal(t, profile.StepUpLink{ProfileID: "user-42", AssessmentID: "asm-1", OriginSessionID: "origin-9", Kind: tt.kind}, link)
			require.NotNil(t, w.Decision)
			assert.Equal(t, created.SessionID, w.Decision.SessionID)
			tt.check(t, w.Decision)

			// The session now answers with that decision.
			raw, err := didit.NewClient(srv.URL, key, nil).GetDecision(context.Background(), created.SessionID)
			require.NoError(t, err)
			assert.Contains(t, string(raw), `"status":"`+string(tt.wantStatus)+`"`)
		})
	}
}

// SendWebhook signs any fixture like Didit, so the receiver accepts it.
func TestSendWebhookSignsFixtures(t *testing.T) {
	body := testdata.Read(t, "webhooks/full_v3.json")
	body = bytes.TrimRight(body, "\n")
	rc, rsrv := newReceiver(t)
	sim, _ := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})

	_, err := sim.SendWebhook(context.Background(), body)
	require.NoError(t, err)
	got := <-rc.ch
	v, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{[]byte(secret)}})
	require.NoError(t, err)
	for _, h := range []string{webhook.HeaderSignature, webhook.HeaderSignatureV2} {
		only := got.header.Clone()
		for _, other := range []string{webhook.HeaderSignature, webhook.HeaderSignatureV2, webhook.HeaderSignatureSimple} {
			if other != h {
				only.Del(other)
			}
		}
		_, err := v.Verify(only, got.body)
		assert.NoError(t, err, h)
	}
	assert.Equal(t, body, got.body)
}

func TestAutoComplete(t *testing.T) {
	rc, rsrv := newReceiver(t)
	_, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL, AutoComplete: &diditsim.AutoComplete{Delay: 10 * time.Millisecond, Outcome: diditsim.Decline}})
	created := createStepUp(t, srv, "phone")

	select {
	case got := <-rc.ch:
		w, err := didit.DecodeWebhook(got.body)
		require.NoError(t, err)
		assert.Equal(t, created.SessionID, w.SessionID)
		assert.Equal(t, didit.StatusDeclined, w.Status)
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook")
	}
}

func TestListingAndDecisionNotFound(t *testing.T) {
	sim, srv := newSim(t, diditsim.Options{})
	resp, err := http.Get(srv.URL + "/v3/session/unknown/decision/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "no key")

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v3/session/unknown/decision/", nil)
	req.Header.Set("x-api-key", key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	created := createStepUp(t, srv, "nfc")
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/v3/sessions/?vendor_data=user-42", nil)
	req.Header.Set("x-api-key", key)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var page struct {
		Count   int              `json:"count"`
		Next    *string          `json:"next"`
		Results []map[string]any `json:"results"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	assert.Equal(t, 1, page.Count)
	assert.Nil(t, page.Next)
	require.Len(t, page.Results, 1)
	assert.Equal(t, created.SessionID, page.Results[0]["session_id"])
	assert.Equal(t, 1, sim.Requests(diditsim.RouteListSessions))
}

func TestStart(t *testing.T) {
	sim := diditsim.New(diditsim.Options{APIKey: key})
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer sim.Close()
	c := didit.NewClient(base, key, nil)
	s, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(s.URL, base+"/session/"))

	resp, err := http.Get(s.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(page), s.SessionID)
}
