package diditsim_test

import (
	"context"
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
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

func patch(t *testing.T, u, apiKey, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPatch, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("x-api-key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

// webhooksOf drains what rc got after the simulator's queued webhooks went out.
func webhooksOf(t *testing.T, sim *diditsim.Server, rc *receiver) []*didit.Webhook {
	t.Helper()
	sim.WaitWebhooks()
	var out []*didit.Webhook
	for {
		select {
		case d := <-rc.ch:
			v, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{[]byte(secret)}})
			require.NoError(t, err)
			_, err = v.Verify(d.header, d.body)
			require.NoError(t, err, "signed like Didit")
			w, err := didit.DecodeWebhook(d.body)
			require.NoError(t, err)
			out = append(out, w)
		default:
			return out
		}
	}
}

// inReview is a finished session awaiting review, as Didit leaves one with warnings.
func inReview(t *testing.T, sim *diditsim.Server, rc *receiver, srv *httptest.Server) string {
	t.Helper()
	created := createStepUp(t, srv, "kyc")
	_, err := sim.Complete(context.Background(), created.SessionID, diditsim.Outcome{Status: diditsim.StatusInReview})
	require.NoError(t, err)
	<-rc.ch
	return created.SessionID
}

func TestCreateReview(t *testing.T) {
	tests := []struct {
		name        string
		opts        diditsim.Options
		body        string
		wantCode    int
		wantStatus  string // the session's status afterwards
		wantWebhook bool
		wantFields  []string // 400: the fields named
	}{
		{"approve", diditsim.Options{}, `{"new_status":"Approved","comment":"Looks fine"}`, 201, "Approved", true, nil},
		{"decline", diditsim.Options{}, `{"new_status":"Declined"}`, 201, "Declined", true, nil},
		{"in review again: recorded, nothing to change", diditsim.Options{}, `{"new_status":"In Review","comment":"again"}`, 201, "In Review", false, nil},
		{"comment of 10,000", diditsim.Options{}, `{"new_status":"Approved","comment":"` + strings.Repeat("é", 10000) + `"}`, 201, "Approved", true, nil},
		{"comment of 10,001", diditsim.Options{}, `{"new_status":"Approved","comment":"` + strings.Repeat("x", 10001) + `"}`, 400, "In Review", false, []string{"comment"}},
		{"resubmitted is not a review status", diditsim.Options{}, `{"new_status":"Resubmitted"}`, 400, "In Review", false, []string{"new_status"}},
		{"unknown status", diditsim.Options{}, `{"new_status":"Kyc Expired"}`, 400, "In Review", false, []string{"new_status"}},
		{"no status", diditsim.Options{}, `{"comment":"hm"}`, 400, "In Review", false, []string{"new_status"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, rsrv := newReceiver(t)
			tt.opts.WebhookURL = rsrv.URL
			sim, srv := newSim(t, tt.opts)
			id := inReview(t, sim, rc, srv)

			resp, out := post(t, srv.URL+"/v3/sessions/"+id+"/reviews/", key, tt.body)
			require.Equal(t, tt.wantCode, resp.StatusCode, "%v", out)
			got, _ := sim.Session(id)
			assert.Equal(t, tt.wantStatus, got.Status)
			hooks := webhooksOf(t, sim, rc)
			if tt.wantFields != nil {
				assert.ElementsMatch(t, tt.wantFields, keys(out))
				assert.Empty(t, sim.Reviews(id), "no row for a refused review")
				assert.Empty(t, hooks)
				return
			}
			assert.ElementsMatch(t, []string{"user", "new_status", "comment", "created_at"}, keys(out), "the docs page's shape")
			assert.Equal(t, diditsim.APIClientUser, out["user"])
			var sent map[string]any
			require.NoError(t, json.Unmarshal([]byte(tt.body), &sent))
			assert.Equal(t, sent["new_status"], out["new_status"])
			assert.Equal(t, sent["comment"], out["comment"])
			require.Len(t, sim.Reviews(id), 1, "one audit row")
			if !tt.wantWebhook {
				assert.Empty(t, hooks)
				return
			}
			require.Len(t, hooks, 1)
			w := hooks[0]
			assert.Equal(t, "status.updated", w.WebhookType)
			assert.Equal(t, didit.Status(tt.wantStatus), w.Status)
			require.NotNil(t, w.Decision)
			var dec struct {
				Status  string           `json:"status"`
				Reviews []map[string]any `json:"reviews"`
			}
			raw, err := didit.NewClient(srv.URL, key, nil).GetDecision(context.Background(), id)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &dec))
			assert.Equal(t, tt.wantStatus, dec.Status)
			require.Len(t, dec.Reviews, 1)
			assert.Equal(t, out, dec.Reviews[0], "the decision lists the review as answered")
		})
	}
}

// "In Review" through the API: by default the status changes and a webhook goes out (the
// English page); InReviewNoteOnly records a note only (the translations).
func TestCreateReviewInReview(t *testing.T) {
	for _, noteOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "status changes", true: "note only"}[noteOnly], func(t *testing.T) {
			rc, rsrv := newReceiver(t)
			sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL, InReviewNoteOnly: noteOnly})
			created := createStepUp(t, srv, "kyc")
			_, err := sim.Complete(context.Background(), created.SessionID, diditsim.Decline)
			require.NoError(t, err)
			<-rc.ch

			resp, _ := post(t, srv.URL+"/v3/sessions/"+created.SessionID+"/reviews/", key, `{"new_status":"In Review","comment":"rules r1 (40), r7 (25)"}`)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			hooks := webhooksOf(t, sim, rc)
			got, _ := sim.Session(created.SessionID)
			require.Len(t, sim.Reviews(created.SessionID), 1)
			if noteOnly {
				assert.Equal(t, "Declined", got.Status)
				assert.Empty(t, hooks)
				return
			}
			assert.Equal(t, "In Review", got.Status)
			require.Len(t, hooks, 1)
			assert.Equal(t, didit.StatusInReview, hooks[0].Status)
		})
	}
}

func TestListReviews(t *testing.T) {
	for _, activity := range []bool{false, true} {
		t.Run(map[bool]string{false: "page shape", true: "API reference shape"}[activity], func(t *testing.T) {
			rc, rsrv := newReceiver(t)
			sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL, ReviewActivityShape: activity})
			id := inReview(t, sim, rc, srv)
			_, first := post(t, srv.URL+"/v3/sessions/"+id+"/reviews/", key, `{"new_status":"Declined","comment":"one"}`)
			_, err := sim.ConsoleReview(context.Background(), id, diditsim.StatusApproved, "two")
			require.NoError(t, err)

			resp, page := get(t, srv.URL+"/v3/sessions/"+id+"/reviews/", key)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.ElementsMatch(t, []string{"count", "next", "previous", "results"}, keys(page))
			assert.Equal(t, 2.0, page["count"])
			rows := page["results"].([]any)
			require.Len(t, rows, 2)
			newest, oldest := rows[0].(map[string]any), rows[1].(map[string]any)
			assert.Equal(t, "two", newest["comment"], "newest first")
			assert.Equal(t, first, oldest, "listed as answered")
			if activity {
				assert.ElementsMatch(t, []string{"uuid", "activity_type", "actor_display", "actor_email", "actor_type", "new_status",
					"previous_status", "comment", "metadata", "created_at"}, keys(newest))
				assert.Equal(t, "user", newest["actor_type"])
				assert.Equal(t, diditsim.DefaultReviewerEmail, newest["actor_email"])
				assert.Equal(t, "Declined", newest["previous_status"])
				assert.Equal(t, "api", oldest["actor_type"])
				assert.Nil(t, oldest["actor_email"])
			} else {
				assert.ElementsMatch(t, []string{"user", "new_status", "comment", "created_at"}, keys(newest))
				assert.Equal(t, diditsim.DefaultReviewerEmail, newest["user"])
			}

			resp, _ = get(t, srv.URL+"/v3/sessions/0b9e8d7c-0000-4000-8000-000000000000/reviews/", key)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}
}

func TestUpdateStatus(t *testing.T) {
	nodes := `"nodes_to_resubmit":[{"node_id":"feature_ocr","feature":"OCR"}]`
	tests := []struct {
		name        string
		from        string
		body        string
		wantCode    int
		wantStatus  string
		wantWebhook bool
	}{
		{"decline an approved session", "Approved", `{"new_status":"Declined","comment":"fraud"}`, 200, "Declined", true},
		{"approve a declined session", "Declined", `{"new_status":"Approved"}`, 200, "Approved", true},
		{"approve from in review", "In Review", `{"new_status":"Approved"}`, 200, "Approved", true},
		{"decline from kyc expired", "Kyc Expired", `{"new_status":"Declined"}`, 200, "Declined", true},
		{"approve from abandoned", "Abandoned", `{"new_status":"Approved"}`, 200, "Approved", true},
		{"decline from resubmitted", "Resubmitted", `{"new_status":"Declined"}`, 200, "Declined", true},
		{"resubmit with nodes", "Declined", `{"new_status":"Resubmitted",` + nodes + `}`, 200, "Resubmitted", true},
		{"same status is a no-op", "Declined", `{"new_status":"Declined"}`, 200, "Declined", false},
		{"same approved is a no-op", "Approved", `{"new_status":"Approved"}`, 200, "Approved", false},
		{"in review is refused", "Declined", `{"new_status":"In Review"}`, 400, "Declined", false},
		{"other statuses are refused", "Declined", `{"new_status":"Expired"}`, 400, "Declined", false},
		{"resubmit needs nodes", "Declined", `{"new_status":"Resubmitted"}`, 400, "Declined", false},
		{"send_email needs an address", "Declined", `{"new_status":"Approved","send_email":true}`, 400, "Declined", false},
		{"not started cannot be updated", "Not Started", `{"new_status":"Approved"}`, 400, "Not Started", false},
		{"in progress cannot be updated", "In Progress", `{"new_status":"Declined"}`, 400, "In Progress", false},
		{"expired cannot be updated", "Expired", `{"new_status":"Approved"}`, 400, "Expired", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, rsrv := newReceiver(t)
			sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
			created := createStepUp(t, srv, "nfc")
			require.True(t, sim.SetStatus(created.SessionID, tt.from))

			resp, out := patch(t, srv.URL+"/v3/session/"+created.SessionID+"/update-status/", key, tt.body)
			require.Equal(t, tt.wantCode, resp.StatusCode, "%v", out)
			if tt.wantCode == 200 {
				assert.Equal(t, map[string]any{"session_id": created.SessionID}, out, "exactly the documented answer")
			} else {
				assert.NotEmpty(t, out)
			}
			got, _ := sim.Session(created.SessionID)
			assert.Equal(t, tt.wantStatus, got.Status)
			hooks := webhooksOf(t, sim, rc)
			if !tt.wantWebhook {
				assert.Empty(t, hooks, "no webhook")
				return
			}
			require.Len(t, hooks, 1)
			assert.Equal(t, didit.Status(tt.wantStatus), hooks[0].Status)
			if tt.wantStatus == "Resubmitted" {
				assert.Nil(t, hooks[0].Decision, "Resubmitted carries resubmit_info instead")
				assert.Contains(t, string(sim.Deliveries()[0].Body), `"resubmit_info":{"nodes_to_resubmit":[{"feature":"OCR","node_id":"feature_ocr"}]`)
			} else {
				require.NotNil(t, hooks[0].Decision)
			}
		})
	}
}

// testClock is a clock a test moves while the simulator's goroutines read it.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Resubmitting backend features again within 30 s answers 429 with Retry-After.
func TestUpdateStatusBackendResubmitThrottled(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	sim, srv := newSim(t, diditsim.Options{Now: clock.now}) // read by the queued webhook's goroutine too
	created := createStepUp(t, srv, "kyc")
	aml := `{"new_status":"Resubmitted","nodes_to_resubmit":[{"node_id":"feature_aml","feature":"AML"}]}`
	u := srv.URL + "/v3/session/" + created.SessionID + "/update-status/"

	require.True(t, sim.SetStatus(created.SessionID, "Declined"))
	resp, _ := patch(t, u, key, aml)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.True(t, sim.SetStatus(created.SessionID, "Declined"))
	clock.add(10 * time.Second)
	resp, _ = patch(t, u, key, aml)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "20", resp.Header.Get("Retry-After"))
	clock.add(21 * time.Second)
	resp, _ = patch(t, u, key, aml)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// A test plays the console reviewer: the session moves from In Review to the reviewer's
// verdict and the webhook Didit sends lists the review, reviewer's (placeholder) email included.
func TestConsoleReview(t *testing.T) {
	rc, rsrv := newReceiver(t)
	sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
	id := inReview(t, sim, rc, srv)

	d, err := sim.ConsoleReview(context.Background(), id, diditsim.StatusApproved, "checked the document by hand")
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, d.StatusCode)
	got := <-rc.ch
	assert.Equal(t, d.Body, got.body)
	w, err := didit.DecodeWebhook(got.body)
	require.NoError(t, err)
	assert.Equal(t, didit.StatusApproved, w.Status)
	var env struct {
		Decision struct {
			Status  string           `json:"status"`
			Reviews []map[string]any `json:"reviews"`
		} `json:"decision"`
	}
	require.NoError(t, json.Unmarshal(got.body, &env))
	assert.Equal(t, "Approved", env.Decision.Status)
	require.Len(t, env.Decision.Reviews, 1)
	rv := env.Decision.Reviews[0]
	assert.ElementsMatch(t, []string{"user", "new_status", "comment", "created_at"}, keys(rv))
	assert.Equal(t, diditsim.DefaultReviewerEmail, rv["user"])
	assert.Equal(t, "Approved", rv["new_status"])
	assert.Equal(t, "checked the document by hand", rv["comment"])
	_, err = time.Parse(time.RFC3339Nano, rv["created_at"].(string))
	assert.NoError(t, err)

	_, err = sim.ConsoleReview(context.Background(), id, diditsim.StatusApproved, "")
	assert.ErrorIs(t, err, diditsim.ErrStatusUnchanged)
	_, err = sim.ConsoleReview(context.Background(), id, "Resubmitted", "")
	assert.Error(t, err)
	_, err = sim.ConsoleReview(context.Background(), "nope", diditsim.StatusApproved, "")
	assert.ErrorIs(t, err, diditsim.ErrUnknownSession)
	assert.Empty(t, webhooksOf(t, sim, rc), "no further webhook")
}

// `make demo` plays the reviewer over HTTP, on a session it only ever sent a fixture webhook
// for: /_sim/webhook makes the simulator know that session.
func TestConsoleReviewOverHTTPOnFixtureSession(t *testing.T) {
	rc, rsrv := newReceiver(t)
	sim, srv := newSim(t, diditsim.Options{WebhookURL: rsrv.URL})
	fixture := testdata.Read(t, "webhooks/full_v3.json")
	var fx struct {
		SessionID  string `json:"session_id"`
		VendorData string `json:"vendor_data"`
	}
	require.NoError(t, json.Unmarshal(fixture, &fx))

	resp, _ := post(t, srv.URL+"/_sim/webhook", "", string(fixture))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	<-rc.ch
	ss, ok := sim.Session(fx.SessionID)
	require.True(t, ok, "the fixture's session is known")
	assert.Equal(t, fx.VendorData, ss.VendorData)
	require.Equal(t, "Approved", ss.Status, "the fixture's status")

	resp, out := post(t, srv.URL+"/_sim/sessions/"+fx.SessionID+"/review", "", `{"new_status":"Declined","comment":"ring"}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", out)
	assert.Equal(t, true, out["webhook_sent"])
	got := <-rc.ch
	w, err := didit.DecodeWebhook(got.body)
	require.NoError(t, err)
	assert.Equal(t, didit.StatusDeclined, w.Status)
	assert.Equal(t, fx.SessionID, w.SessionID)
	assert.Contains(t, string(got.body), `"user":"`+diditsim.DefaultReviewerEmail+`"`)

	resp, _ = post(t, srv.URL+"/_sim/sessions/unknown/review", "", `{"new_status":"Approved"}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	// The hosted page's reviewer button: a form post with the status in the query.
	resp, err = http.Post(srv.URL+"/_sim/sessions/"+fx.SessionID+"/review?new_status=Approved", "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	w, err = didit.DecodeWebhook((<-rc.ch).body)
	require.NoError(t, err)
	assert.Equal(t, didit.StatusApproved, w.Status)
	assert.Len(t, sim.Reviews(fx.SessionID), 2)

	resp, out = post(t, srv.URL+"/_sim/sessions/"+fx.SessionID+"/review", "", `{"new_status":"Approved"}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, false, out["webhook_sent"], "already Approved: no webhook")
}
