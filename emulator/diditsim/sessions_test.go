package diditsim_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
)

func get(t *testing.T, u, apiKey string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if apiKey != "" {
		req.Header.Set("x-api-key", apiKey)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The reuse rule (shared/didit-api.md §9.4): an unfinished session of the vendor_data on the
// workflow's latest version comes back, still 201, with callback and metadata overwritten.
func TestSessionReuse(t *testing.T) {
	first := `{"workflow_id":"wf-1","vendor_data":"user-1","callback":"https://app/one","metadata":{"a":1}}`
	second := `{"workflow_id":"wf-1","vendor_data":"user-1","callback":"https://app/two","metadata":{"b":2}}`
	tests := []struct {
		name      string
		opts      diditsim.Options
		status    string // the first session's status before the second create
		second    string
		bump      bool // publish workflow version 2 in between
		wantReuse bool
	}{
		{"not started", diditsim.Options{}, "Not Started", second, false, true},
		{"in progress", diditsim.Options{}, "In Progress", second, false, true},
		{"resubmitted", diditsim.Options{}, "Resubmitted", second, false, true},
		{"awaiting user", diditsim.Options{}, "Awaiting User", second, false, true},
		{"approved", diditsim.Options{}, "Approved", second, false, false},
		{"declined", diditsim.Options{}, "Declined", second, false, false},
		{"in review", diditsim.Options{}, "In Review", second, false, false},
		{"expired", diditsim.Options{}, "Expired", second, false, false},
		{"abandoned", diditsim.Options{}, "Abandoned", second, false, false},
		{"kyc expired", diditsim.Options{}, "Kyc Expired", second, false, false},
		{"other workflow", diditsim.Options{}, "Not Started", `{"workflow_id":"wf-2","vendor_data":"user-1"}`, false, false},
		{"other user", diditsim.Options{}, "Not Started", `{"workflow_id":"wf-1","vendor_data":"user-2"}`, false, false},
		{"older workflow version", diditsim.Options{}, "Not Started", second, true, false},
		{"reuse off", diditsim.Options{NoSessionReuse: true}, "Not Started", second, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newSim(t, tt.opts)
			resp, one := post(t, srv.URL+"/v3/session/", key, first)
			require.Equal(t, http.StatusCreated, resp.StatusCode)
			id := one["session_id"].(string)
			require.True(t, sim.SetStatus(id, tt.status))
			if tt.bump {
				sim.SetWorkflowVersion("wf-1", 2)
			}
			resp, two := post(t, srv.URL+"/v3/session/", key, tt.second)
			require.Equal(t, http.StatusCreated, resp.StatusCode, "a reused session is still 201")
			if !tt.wantReuse {
				assert.NotEqual(t, id, two["session_id"])
				assert.Equal(t, 2, sim.CreatedSessions())
				assert.Zero(t, sim.ReusedSessions())
				got, _ := sim.Session(id)
				assert.Equal(t, "https://app/one", got.Callback, "the first session is untouched")
				return
			}
			assert.Equal(t, id, two["session_id"])
			assert.Equal(t, one["session_token"], two["session_token"])
			assert.Equal(t, one["url"], two["url"])
			assert.Equal(t, tt.status, two["status"])
			assert.Equal(t, "https://app/two", two["callback"], "callback overwritten")
			assert.Equal(t, map[string]any{"b": 2.0}, two["metadata"], "metadata overwritten")
			assert.Equal(t, 1, sim.CreatedSessions())
			assert.Equal(t, 1, sim.ReusedSessions())
			got, _ := sim.Session(id)
			assert.Equal(t, "https://app/two", got.Callback)
			assert.Equal(t, map[string]any{"b": json.Number("2")}, got.Metadata)
		})
	}
}

// The project's client sees the rule too: a second step-up create for one user and workflow
// answers with the first session, relinked to the newer metadata.
func TestSessionReuseThroughClient(t *testing.T) {
	sim, srv := newSim(t, diditsim.Options{})
	c := didit.NewClient(srv.URL, key, nil)
	ctx := context.Background()
	a, err := c.CreateSession(ctx, didit.CreateSessionRequest{WorkflowID: "wf-nfc", VendorData: "user-7", Metadata: map[string]any{"assessment": "a1"}})
	require.NoError(t, err)
	b, err := c.CreateSession(ctx, didit.CreateSessionRequest{WorkflowID: "wf-nfc", VendorData: "user-7", Metadata: map[string]any{"assessment": "a2"}})
	require.NoError(t, err)
	assert.Equal(t, a.SessionID, b.SessionID)
	assert.Equal(t, map[string]any{"assessment": "a2"}, b.Metadata)
	assert.Equal(t, 1, sim.CreatedSessions())

	// Once finished, the next create is a new session.
	_, err = sim.Complete(ctx, a.SessionID, diditsim.Approve)
	require.ErrorIs(t, err, diditsim.ErrNoReceiver, "no receiver configured; the decision is still recorded")
	d, err := c.CreateSession(ctx, didit.CreateSessionRequest{WorkflowID: "wf-nfc", VendorData: "user-7"})
	require.NoError(t, err)
	assert.NotEqual(t, a.SessionID, d.SessionID)
	assert.Equal(t, 2, sim.CreatedSessions())
}

// A metadata or callback the second request leaves out stays (Didit is silent on it).
func TestSessionReuseKeepsOmittedFields(t *testing.T) {
	sim, srv := newSim(t, diditsim.Options{})
	_, one := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"u","callback":"https://app/x","metadata":{"k":"v"}}`)
	_, two := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"wf","vendor_data":"u"}`)
	assert.Equal(t, one["session_id"], two["session_id"])
	assert.Equal(t, "https://app/x", two["callback"])
	assert.Equal(t, map[string]any{"k": "v"}, two["metadata"])
	assert.Equal(t, 1, sim.ReusedSessions())
}

// List rows have the documented shape (§9.5) and the filters, order and pages work.
func TestListSessions(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	sim, srv := newSim(t, diditsim.Options{NoSessionReuse: true, Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	var ids []string
	for i, wf := range []string{"wf-a", "wf-b", "wf-a", "wf-c", "wf-a"} {
		_, out := post(t, srv.URL+"/v3/session/", key, `{"workflow_id":"`+wf+`","vendor_data":"user-`+strconv.Itoa(i%2)+`","metadata":{"x":1}}`)
		ids = append(ids, out["session_id"].(string))
	}
	_, _ = sim.Complete(context.Background(), ids[2], diditsim.Decline)

	list := func(q url.Values) map[string]any {
		resp, out := get(t, srv.URL+"/v3/sessions/?"+q.Encode(), key)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.ElementsMatch(t, []string{"count", "next", "previous", "results"}, keys(out))
		return out
	}
	idsOf := func(page map[string]any) []string {
		var out []string
		for _, r := range page["results"].([]any) {
			out = append(out, r.(map[string]any)["session_id"].(string))
		}
		return out
	}

	all := list(url.Values{})
	assert.Equal(t, 5.0, all["count"])
	assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[1], ids[0]}, idsOf(all), "newest first")

	row := all["results"].([]any)[2].(map[string]any)
	assert.ElementsMatch(t, []string{"session_id", "session_kind", "session_number", "session_url", "status", "vendor_data",
		"created_at", "features", "portrait_image", "document_type", "full_name", "country", "phone_number", "email_address"}, keys(row))
	for _, k := range []string{"metadata", "workflow_id", "url"} {
		assert.NotContains(t, row, k, "documented rows carry no %s", k)
	}
	assert.Equal(t, "user", row["session_kind"])
	assert.Equal(t, "Declined", row["status"])
	assert.Equal(t, "user-0", row["vendor_data"])
	assert.Equal(t, []any{
		map[string]any{"feature": "ID_VERIFICATION", "status": "Declined"},
		map[string]any{"feature": "LIVENESS", "status": "Declined"},
		map[string]any{"feature": "FACE_MATCH", "status": "Declined"},
	}, row["features"])
	assert.NotNil(t, row["full_name"], "the ID feature ran")
	open := all["results"].([]any)[0].(map[string]any)
	assert.Nil(t, open["full_name"], "nothing extracted before the flow runs")
	assert.Equal(t, "Not Started", open["features"].([]any)[0].(map[string]any)["status"])
	_, err := time.Parse(time.RFC3339Nano, row["created_at"].(string))
	assert.NoError(t, err)

	assert.Equal(t, []string{ids[4], ids[2], ids[0]}, idsOf(list(url.Values{"workflow_id": {"wf-a"}})))
	assert.Equal(t, []string{ids[4], ids[3], ids[2], ids[0]}, idsOf(list(url.Values{"workflow_id": {"wf-a,wf-c"}})), "comma-separated")
	assert.Equal(t, []string{ids[3], ids[1]}, idsOf(list(url.Values{"vendor_data": {"user-1"}})))
	assert.Equal(t, []string{ids[2]}, idsOf(list(url.Values{"status": {"Declined"}})))
	assert.Equal(t, []string{ids[4], ids[3], ids[1], ids[0]}, idsOf(list(url.Values{"status": {"Not Started,In Progress"}})))

	p1 := list(url.Values{"limit": {"2"}})
	assert.Equal(t, []string{ids[4], ids[3]}, idsOf(p1))
	assert.Nil(t, p1["previous"])
	next, err := url.Parse(p1["next"].(string))
	require.NoError(t, err)
	p2 := list(next.Query())
	assert.Equal(t, []string{ids[2], ids[1]}, idsOf(p2))
	assert.NotNil(t, p2["previous"])
	p3 := list(url.Values{"limit": {"2"}, "offset": {"4"}})
	assert.Equal(t, []string{ids[0]}, idsOf(p3))
	assert.Nil(t, p3["next"])
}
