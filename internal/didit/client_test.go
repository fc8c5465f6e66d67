package didit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

const apiKey = "sk_test_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

// sleeps records the waits a client asks for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// setup starts the real simulator behind httptest and a client on it with recorded sleeps and
// no jitter, so waits can be asserted exactly.
func setup(t *testing.T, opts diditsim.Options, timeout time.Duration) (*diditsim.Server, *httptest.Server, *didit.Client, *sleeps) {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = apiKey
	}
	sim := diditsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); _ = sim.Close() })
	c := didit.NewClient(srv.URL, apiKey, &http.Client{Timeout: timeout})
	s := &sleeps{}
	c.Sleep = s.sleep
	c.Jitter = func(d time.Duration) time.Duration { return d }
	return sim, srv, c, s
}

func linkMeta(assessment, kind string) map[string]any {
	return map[string]any{"risk_step_up": map[string]any{"profile_id": "user-7", "assessment_id": assessment, "origin_session_id": "origin-1", "kind": kind}}
}

func TestCreateSession(t *testing.T) {
	sim, srv, c, sl := setup(t, diditsim.Options{}, time.Second)
	got, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{
		WorkflowID: "wf-nfc", VendorData: "user-7", Callback: "https://app.example/done", Metadata: linkMeta("a1", "nfc"),
	})
	require.NoError(t, err)

	assert.NotEmpty(t, got.SessionID)
	assert.NotZero(t, got.SessionNumber)
	assert.NotEmpty(t, got.SessionToken)
	assert.Equal(t, srv.URL+"/session/"+got.SessionToken, got.URL)
	assert.Equal(t, "Not Started", got.Status)
	assert.Equal(t, "wf-nfc", got.WorkflowID)
	assert.Equal(t, "user-7", got.VendorData)
	assert.Equal(t, "https://app.example/done", got.Callback)

	ss, ok := sim.Session(got.SessionID)
	require.True(t, ok)
	assert.Equal(t, "user-7", ss.VendorData)
	assert.Equal(t, "a1", ss.Metadata["risk_step_up"].(map[string]any)["assessment_id"])
	assert.Equal(t, 1, sim.CreatedSessions())
	assert.Empty(t, sl.all())
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
	}{
		{"seconds", "7", 7 * time.Second},
		{"http date", now.Add(20 * time.Second).Format(http.TimeFormat), 20 * time.Second},
		{"at the cap", "30", didit.DefaultRetryPolicy().MaxRetryAfter},
		{"date in the past", now.Add(-time.Minute).Format(http.TimeFormat), didit.DefaultRetryPolicy().BaseDelay}, // falls back to backoff
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _, c, sl := setup(t, diditsim.Options{}, time.Second)
			c.Now = func() time.Time { return now }
			sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Status: http.StatusTooManyRequests, RetryAfter: tt.retryAfter})

			got, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf", VendorData: "u"})
			require.NoError(t, err)
			assert.NotEmpty(t, got.SessionID)
			assert.Equal(t, []time.Duration{tt.want}, sl.all())
			assert.Equal(t, 2, sim.Requests(diditsim.RouteCreateSession))
			assert.Equal(t, 1, sim.CreatedSessions())
		})
	}
}

func TestRetryAfterBeyondDeadlineGivesUpAtOnce(t *testing.T) {
	sim, _, c, sl := setup(t, diditsim.Options{}, time.Second)
	sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Status: http.StatusTooManyRequests, RetryAfter: "20"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, err := c.CreateSession(ctx, didit.CreateSessionRequest{WorkflowID: "wf"})
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Empty(t, sl.all(), "no point sleeping past the deadline")
	assert.Equal(t, 1, sim.Requests(diditsim.RouteCreateSession))
}

func TestServerErrorsRetriedThenTransient(t *testing.T) {
	sim, _, c, sl := setup(t, diditsim.Options{}, time.Second)
	sim.InjectFault(diditsim.Fault{Route: diditsim.RouteDecision, Status: http.StatusInternalServerError, Times: 100})
	created, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf"})
	require.NoError(t, err)

	_, err = c.GetDecision(context.Background(), created.SessionID)
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.False(t, failure.Permanent(err))
	var ae *didit.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusInternalServerError, ae.StatusCode)
	assert.Equal(t, didit.DefaultRetryPolicy().MaxAttempts, sim.Requests(diditsim.RouteDecision))
	assert.Equal(t, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}, sl.all(), "exponential backoff")
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	sim, srv, _, sl := setup(t, diditsim.Options{}, time.Second)
	c := didit.NewClient(srv.URL, apiKey, nil) // default jitter
	c.Sleep = sl.sleep
	c.Retry = didit.RetryPolicy{MaxAttempts: 8, BaseDelay: 100 * time.Millisecond, MaxDelay: 400 * time.Millisecond}
	sim.InjectFault(diditsim.Fault{Status: http.StatusBadGateway, Times: 100})

	err := c.AddToBlocklist(context.Background(), "s1", true, true)
	require.Error(t, err)
	got := sl.all()
	require.Len(t, got, 7)
	for i, d := range got {
		ceiling := min(100*time.Millisecond<<i, 400*time.Millisecond)
		assert.GreaterOrEqual(t, d, ceiling/2, "wait %d", i)
		assert.LessOrEqual(t, d, ceiling, "wait %d", i)
	}
}

func TestTimeoutRetried(t *testing.T) {
	sim, _, c, _ := setup(t, diditsim.Options{}, 100*time.Millisecond)
	sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Delay: 2 * time.Second})

	got, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf"})
	require.NoError(t, err)
	assert.NotEmpty(t, got.SessionID)
	assert.Equal(t, 2, sim.Requests(diditsim.RouteCreateSession))
	assert.Equal(t, 1, sim.CreatedSessions(), "the timed-out attempt was never processed")
}

// An ambiguous failure after Didit created the session (5xx or timeout once the request was
// processed) must not produce a second session: the retry repeats the create, and Didit's
// session reuse returns the unfinished session the first attempt made. No listing is read.
func TestCreateAfterAmbiguousFailureGetsTheSameSession(t *testing.T) {
	tests := []struct {
		name    string
		fault   diditsim.Fault
		timeout time.Duration
	}{
		{"500 after processing", diditsim.Fault{Route: diditsim.RouteCreateSession, Status: 500, AfterProcessing: true}, time.Second},
		{"502 after processing", diditsim.Fault{Route: diditsim.RouteCreateSession, Status: 502, AfterProcessing: true}, time.Second},
		{"timeout after processing", diditsim.Fault{Route: diditsim.RouteCreateSession, Delay: 2 * time.Second, AfterProcessing: true}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _, c, _ := setup(t, diditsim.Options{}, tt.timeout)
			sim.InjectFault(tt.fault)

			got, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{
				WorkflowID: "wf-nfc", VendorData: "user-7", Metadata: linkMeta("a1", "nfc"),
			})
			require.NoError(t, err)
			assert.NotEmpty(t, got.URL)
			assert.Equal(t, 1, sim.CreatedSessions(), "the repeat got the session the first attempt created")
			assert.Equal(t, 2, sim.Requests(diditsim.RouteCreateSession))
			assert.Zero(t, sim.Requests(diditsim.RouteListSessions))
			assert.Zero(t, sim.Requests(diditsim.RouteDecision))
			ss, ok := sim.Session(got.SessionID)
			require.True(t, ok)
			assert.Equal(t, "a1", ss.Metadata["risk_step_up"].(map[string]any)["assessment_id"])
		})
	}
}

// A wait longer than the client waits in one call (the sandbox quota asks for an hour) ends the
// call at once, with the wait and the rate-limit headers in the error, instead of burning the
// attempts.
func TestLongWaitIsHandedBack(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   time.Duration
	}{
		{"Retry-After", 429, map[string]string{"Retry-After": "3600", "X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3600"},
			`{"detail":"Request was throttled."}`, time.Hour},
		{"X-RateLimit-Reset as a Unix time", 429, map[string]string{"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": fmt.Sprint(now.Add(90 * time.Second).Unix())},
			`{"detail":"Request was throttled."}`, 90 * time.Second},
		{"sandbox quota text", 429, nil, `{"detail":"Sandbox session limit reached, available in 3600 seconds."}`, time.Hour},
		{"503 with a long Retry-After", 503, map[string]string{"Retry-After": "120"}, `{"detail":"Maintenance."}`, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			c := didit.NewClient(srv.URL, apiKey, nil)
			sl := &sleeps{}
			c.Sleep, c.Now = sl.sleep, func() time.Time { return now }

			_, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf", VendorData: "u"})
			require.Error(t, err)
			assert.Equal(t, failure.Transient, failure.KindOf(err))
			wait, ok := didit.RetryAfter(err)
			require.True(t, ok)
			assert.Equal(t, tt.want, wait)
			assert.Equal(t, 1, calls, "no attempt burnt on a wait that does not fit")
			assert.Empty(t, sl.all())
			var ae *didit.APIError
			require.ErrorAs(t, err, &ae)
			if tt.header["X-RateLimit-Limit"] != "" {
				assert.Equal(t, 600, ae.RateLimit.Limit)
				assert.Equal(t, 0, ae.RateLimit.Remaining)
			}
		})
	}
}

func TestRetryAfterAbsentOnOtherErrors(t *testing.T) {
	_, ok := didit.RetryAfter(failure.New(failure.Invalid, &didit.APIError{StatusCode: 403}))
	assert.False(t, ok)
	_, ok = didit.RetryAfter(errors.New("boom"))
	assert.False(t, ok)
}

// Go's http.Client would follow a redirect and, to another origin, forward x-api-key with it.
func TestRedirectRefused(t *testing.T) {
	var gotKey []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = append(gotKey, r.Header.Get("x-api-key"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"session_id":"stolen"}`))
	}))
	defer elsewhere.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, elsewhere.URL+r.URL.Path, code)
			}))
			defer redirector.Close()
			hc := &http.Client{Timeout: time.Second}
			c := didit.NewClient(redirector.URL, apiKey, hc)

			_, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf", VendorData: "u"})
			require.Error(t, err)
			assert.True(t, failure.Permanent(err), "a redirect is a configuration error: %v", err)
			assert.Contains(t, err.Error(), "redirect")
			assert.Empty(t, gotKey, "the other origin never saw the request, nor the key")
			assert.Nil(t, hc.CheckRedirect, "the caller's client is not modified")
		})
	}
}

func TestPermanentErrorsNotRetried(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		call       func(c *didit.Client) error
		route      string
		wantStatus int
		wantDetail string
	}{
		{"403 wrong key", "wrong-key", func(c *didit.Client) error {
			_, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf"})
			return err
		}, diditsim.RouteCreateSession, 403, "You do not have permission to perform this action."},
		{"404 unknown session", apiKey, func(c *didit.Client) error {
			_, err := c.GetDecision(context.Background(), "0b9e8d7c-0000-4000-8000-000000000000")
			return err
		}, diditsim.RouteDecision, 404, "Not found."},
		{"404 blocklist of unknown session", apiKey, func(c *didit.Client) error {
			return c.AddToBlocklist(context.Background(), "nope", true, true)
		}, diditsim.RouteBlocklist, 404, "Not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv, _, sl := setup(t, diditsim.Options{}, time.Second)
			c := didit.NewClient(srv.URL, tt.key, &http.Client{Timeout: time.Second})
			c.Sleep = sl.sleep

			err := tt.call(c)
			require.Error(t, err)
			assert.Equal(t, failure.Invalid, failure.KindOf(err))
			assert.True(t, failure.Permanent(err))
			var ae *didit.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, tt.wantStatus, ae.StatusCode)
			assert.Equal(t, tt.wantDetail, ae.Detail)
			assert.Equal(t, 1, sim.Requests(tt.route), "exactly one request")
			assert.Empty(t, sl.all())
		})
	}
}

func TestFieldErrorDetail(t *testing.T) {
	sim, srv, _, _ := setup(t, diditsim.Options{}, time.Second)
	c := didit.NewClient(srv.URL, apiKey, nil)
	// The simulator answers a missing workflow_id like Django REST framework does; the client
	// refuses it locally, so send a blank one past the local check.
	_, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: " "})
	var ae *didit.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 400, ae.StatusCode)
	assert.Equal(t, `{"workflow_id":["This field is required."]}`, ae.Detail)
	assert.Equal(t, 1, sim.Requests(diditsim.RouteCreateSession))
}

func TestGetDecisionAndBlocklist(t *testing.T) {
	sim, _, c, _ := setup(t, diditsim.Options{}, time.Second)
	created, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf", VendorData: "user-7"})
	require.NoError(t, err)

	raw, err := c.GetDecision(context.Background(), created.SessionID)
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"status":"Not Started"`)
	assert.Contains(t, string(raw), `"session_id":"`+created.SessionID+`"`)

	require.NoError(t, c.AddToBlocklist(context.Background(), created.SessionID, true, false))
	assert.Equal(t, []diditsim.BlocklistEntry{{SessionID: created.SessionID, Face: true}}, sim.Blocklist())
}

// The listing is read one page at a time, in the documented row shape, and never completed
// with a decision per row.
func TestListSessionsOnePage(t *testing.T) {
	sim, _, c, _ := setup(t, diditsim.Options{}, time.Second)
	for i := range 60 {
		_, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: fmt.Sprint("wf-", i), VendorData: "user-7", Metadata: linkMeta(fmt.Sprint("b", i), "nfc")})
		require.NoError(t, err)
	}
	last, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf-x", VendorData: "user-7"})
	require.NoError(t, err)
	_, err = c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf-y", VendorData: "user-8"})
	require.NoError(t, err)

	rows, err := c.ListSessions(context.Background(), didit.SessionQuery{VendorData: "user-7", Limit: 500})
	require.NoError(t, err)
	assert.Len(t, rows, didit.MaxListLimit, "one page, at most MaxListLimit rows")
	assert.Equal(t, last.SessionID, rows[0].SessionID, "newest first")
	assert.Equal(t, last.URL, rows[0].SessionURL)
	assert.False(t, rows[0].CreatedAt.IsZero())
	for _, r := range rows {
		assert.Equal(t, "user-7", r.VendorData)
	}
	assert.Equal(t, 1, sim.Requests(diditsim.RouteListSessions))
	assert.Zero(t, sim.Requests(diditsim.RouteDecision))

	rows, err = c.ListSessions(context.Background(), didit.SessionQuery{VendorData: "user-9"})
	require.NoError(t, err)
	assert.Empty(t, rows)
}

// The API key must not leak through errors, the client's printed form or logs, whatever fails.
func TestAPIKeyNeverInErrorsOrLogs(t *testing.T) {
	sim, srv, c, _ := setup(t, diditsim.Options{}, 100*time.Millisecond)
	var errs []error
	collect := func(err error) {
		require.Error(t, err)
		errs = append(errs, err)
	}

	wrong := didit.NewClient(srv.URL, apiKey+"-rotated", nil)
	_, err := wrong.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf"})
	collect(err)

	sim.InjectFault(diditsim.Fault{Status: 500, Times: 4})
	_, err = c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf"})
	collect(err)

	sim.InjectFault(diditsim.Fault{Delay: time.Second, Times: 4})
	_, err = c.GetDecision(context.Background(), "s1")
	collect(err)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())
	refused := didit.NewClient(dead, apiKey, nil)
	refused.Sleep = func(ctx context.Context, d time.Duration) error { return nil }
	collect(refused.AddToBlocklist(context.Background(), "s1", true, true))

	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("client", "didit", c)
	printed := []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logs.String()}
	for _, err := range errs {
		printed = append(printed, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", errors.Unwrap(err)))
	}
	for _, s := range printed {
		assert.NotContains(t, s, apiKey[8:], "key leaked in %q", s)
	}
}

// The simulator's sandbox quota answer, as Didit documents it (§9.6).
func TestSandboxQuotaIsHandedBack(t *testing.T) {
	sim, _, c, sl := setup(t, diditsim.Options{}, time.Second)
	sim.InjectFault(diditsim.SandboxQuotaFault())

	_, err := c.CreateSession(context.Background(), didit.CreateSessionRequest{WorkflowID: "wf", VendorData: "u"})
	require.Error(t, err)
	wait, ok := didit.RetryAfter(err)
	require.True(t, ok)
	assert.Equal(t, time.Hour, wait)
	var ae *didit.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 500, ae.RateLimit.Limit)
	assert.Equal(t, 0, ae.RateLimit.Remaining)
	assert.Contains(t, ae.Detail, "available in 3600 seconds")
	assert.Equal(t, 1, sim.Requests(diditsim.RouteCreateSession))
	assert.Empty(t, sl.all())
}
