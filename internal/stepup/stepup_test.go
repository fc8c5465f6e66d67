package stepup_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/stepup"
)

// fakeDidit answers with its function fields; a nil field fails the test if called.
type fakeDidit struct {
	t      *testing.T
	create func(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error)
	list   func(ctx context.Context, q didit.SessionQuery) ([]didit.SessionSummary, error)
	block  func(ctx context.Context, sessionID string, face, document bool) error
	review func(ctx context.Context, sessionID string, newStatus didit.Status, comment string) error
	update func(ctx context.Context, sessionID string, newStatus didit.Status, comment string) error

	mu    sync.Mutex
	calls int
}

func (f *fakeDidit) count() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
}

func (f *fakeDidit) CreateSession(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error) {
	if f.create == nil {
		f.t.Fatalf("unexpected CreateSession")
	}
	f.count()
	return f.create(ctx, req)
}

func (f *fakeDidit) ListSessions(ctx context.Context, q didit.SessionQuery) ([]didit.SessionSummary, error) {
	if f.list == nil {
		f.t.Fatalf("unexpected ListSessions")
	}
	f.count()
	return f.list(ctx, q)
}

func (f *fakeDidit) AddToBlocklist(ctx context.Context, sessionID string, face, document bool) error {
	if f.block == nil {
		f.t.Fatalf("unexpected AddToBlocklist")
	}
	f.count()
	return f.block(ctx, sessionID, face, document)
}

func (f *fakeDidit) CreateReview(ctx context.Context, sessionID string, newStatus didit.Status, comment string) error {
	if f.review == nil {
		f.t.Fatalf("unexpected CreateReview")
	}
	f.count()
	return f.review(ctx, sessionID, newStatus, comment)
}

func (f *fakeDidit) UpdateStatus(ctx context.Context, sessionID string, newStatus didit.Status, comment string) error {
	if f.update == nil {
		f.t.Fatalf("unexpected UpdateStatus")
	}
	f.count()
	return f.update(ctx, sessionID, newStatus, comment)
}

// profilesFunc records step-up states.
type profilesFunc struct {
	mu      sync.Mutex
	got     []profile.StepUp
	reqs    []profile.DiditRequest
	fail    error
	profile *profile.Profile // what Get returns; nil: not found
}

func (p *profilesFunc) RecordStepUp(_ context.Context, _ string, st profile.StepUp) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, st)
	return p.fail
}

func (p *profilesFunc) RecordDiditRequest(_ context.Context, _ string, r profile.DiditRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reqs = append(p.reqs, r)
	return p.fail
}

func (p *profilesFunc) Get(context.Context, string) (profile.Profile, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.profile == nil {
		return profile.Profile{}, false, nil
	}
	return *p.profile, true, nil
}

func (p *profilesFunc) last() profile.StepUp {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[len(p.got)-1]
}

type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

func newUnit(t *testing.T, d *fakeDidit) (*stepup.Service, *stepup.MemClaims, *profilesFunc, *bytes.Buffer, *fixedClock) {
	d.t = t
	claims := stepup.NewMemClaims()
	profiles := &profilesFunc{}
	var logs bytes.Buffer
	clk := &fixedClock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	return &stepup.Service{
		Didit: d, Claims: claims, Profiles: profiles, Log: logging.New(&logs, "json", "debug"),
		Workflows: map[policy.StepKind]string{"nfc": "wf-nfc"}, CallbackURL: "https://app/cb",
		Now: clk.Now,
	}, claims, profiles, &logs, clk
}

func event1(t *testing.T, d message.Decision) event.Event {
	t.Helper()
	data, err := json.Marshal(d)
	require.NoError(t, err)
	e := event.New()
	e.SetID("1")
	e.SetSource("test")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	require.NoError(t, e.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{Data: data, ID: "m1"}}))
	return e
}

func stepUpDecision(steps ...policy.StepKind) message.Decision {
	return message.Decision{ProfileID: "p1", UserID: "u1", AssessmentID: "a1", SessionID: "s0", Action: policy.StepUp, RequiredSteps: steps, DecisionTrusted: true}
}

func created(id string) func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
	return func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
		return didit.SessionCreated{SessionID: id, URL: "https://verify.didit.me/session/" + id}, nil
	}
}

// HandleEvent is the one place that maps outcomes to ack (nil) or retry (error).
func TestHandleEventAckOrRetry(t *testing.T) {
	forbidden := failure.New(failure.Invalid, &didit.APIError{Method: "POST", Path: "/v3/session/", StatusCode: 403, Detail: "You do not have permission to perform this action."})
	tests := []struct {
		name      string
		decision  *message.Decision // nil: an undecodable event
		create    func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error)
		wantErr   bool
		wantKind  failure.Kind
		wantState policy.StepStatus
		wantLog   string
	}{
		{"created", ptr(stepUpDecision("nfc")), created("d1"), false, 0, policy.StepCreated, `"outcome":"created"`},
		{"refused for good: recorded, acked", ptr(stepUpDecision("nfc")), func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
			return didit.SessionCreated{}, forbidden
		}, false, 0, policy.StepFailed, `"severity":"ERROR"`},
		{"Didit down: retried", ptr(stepUpDecision("nfc")), func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
			return didit.SessionCreated{}, failure.Errorf(failure.Transient, "giving up after 4 attempts")
		}, true, failure.Transient, policy.StepPending, `"severity":"WARNING"`},
		{"undecodable: returned to dead-letter", nil, nil, true, failure.Invalid, "", `"severity":"ERROR"`},
		{"other action: ignored", ptr(message.Decision{ProfileID: "p1", AssessmentID: "a1", Action: "approve"}), nil, false, 0, "", ""},
		{"no steps: nothing to do", ptr(stepUpDecision()), nil, false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _, profiles, logs, _ := newUnit(t, &fakeDidit{create: tt.create})
			ev := event1(t, message.Decision{})
			if tt.decision != nil {
				ev = event1(t, *tt.decision)
			} else {
				require.NoError(t, ev.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{Data: []byte(`[]`)}}))
			}

			err := svc.HandleEvent(context.Background(), ev)
			if tt.wantErr {
				require.Error(t, err)
				assert.Equal(t, tt.wantKind, failure.KindOf(err))
			} else {
				require.NoError(t, err)
			}
			if tt.wantState != "" {
				assert.Equal(t, tt.wantState, profiles.last().Status)
			}
			assert.Contains(t, logs.String(), tt.wantLog)
		})
	}
}

func TestRefusalReasonOnProfile(t *testing.T) {
	svc, claims, profiles, _, _ := newUnit(t, &fakeDidit{create: func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
		return didit.SessionCreated{}, failure.New(failure.Invalid, &didit.APIError{StatusCode: 400, Detail: "Insufficient credits."})
	}})
	require.ErrorIs(t, svc.Handle(context.Background(), stepUpDecision("nfc")), stepup.ErrStepFailed)
	st := profiles.last()
	assert.Equal(t, "didit 400: Insufficient credits.", st.Reason)
	c, _, _ := claims.Get(context.Background(), stepup.ClaimID("s0", "nfc"))
	assert.Equal(t, policy.StepFailed, c.State)
}

func TestCreateRequestCarriesLink(t *testing.T) {
	var got didit.CreateSessionRequest
	var deadline time.Duration
	svc, _, _, _, _ := newUnit(t, &fakeDidit{create: func(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error) {
		got = req
		dl, ok := ctx.Deadline()
		require.True(t, ok, "Didit calls run under the step budget")
		deadline = time.Until(dl)
		return didit.SessionCreated{SessionID: "d1", URL: "https://verify.didit.me/session/t"}, nil
	}})
	svc.StepBudget = 5 * time.Second

	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc", "nfc", " ")))

	assert.Equal(t, "wf-nfc", got.WorkflowID)
	assert.Equal(t, "u1", got.VendorData)
	assert.Equal(t, "https://app/cb", got.Callback)
	assert.Equal(t, profile.StepUpLink{ProfileID: "p1", AssessmentID: "a1", OriginSessionID: "s0", Kind: "nfc"}, got.Metadata[profile.StepUpMetadataKey])
	assert.LessOrEqual(t, deadline, 5*time.Second)
}

// Several assessments about one session (status.updated, then data.updated, a re-score) share
// one claim per kind: one Didit session.
func TestOneClaimPerSessionAndKind(t *testing.T) {
	f := &fakeDidit{create: created("d1")}
	svc, _, _, logs, _ := newUnit(t, f)
	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))
	d2 := stepUpDecision("nfc")
	d2.AssessmentID = "a2"
	require.NoError(t, svc.Handle(context.Background(), d2))
	assert.Equal(t, 1, f.calls, "the second assessment found the claim settled")
	assert.Contains(t, logs.String(), `"outcome":"already_created"`)

	// About another session, the same kind is a new step.
	d3 := stepUpDecision("nfc")
	d3.AssessmentID, d3.SessionID = "a3", "s9"
	require.NoError(t, svc.Handle(context.Background(), d3))
	assert.Equal(t, 2, f.calls)
}

// A takeover after an owner may have created the session reads one short listing page and
// takes the oldest session created since the claim's create_started_at, without a decision GET
// per row; only when none is there does it create.
func TestTakeoverRecoversFromOneListingPage(t *testing.T) {
	started := time.Date(2026, 11, 20, 9, 50, 0, 0, time.UTC)
	rows := []didit.SessionSummary{ // newest first
		{SessionID: "d-newer", VendorData: "u1", SessionURL: "https://verify.didit.me/session/newer", CreatedAt: started.Add(3 * time.Minute)},
		{SessionID: "d-ours", VendorData: "u1", SessionURL: "https://verify.didit.me/session/ours", CreatedAt: started.Add(time.Second)},
		{SessionID: "d-before", VendorData: "u1", SessionURL: "https://verify.didit.me/session/before", CreatedAt: started.Add(-time.Hour)},
	}
	tests := []struct {
		name        string
		rows        []didit.SessionSummary
		wantSession string
		wantOutcome string
		wantCalls   int
	}{
		{"found: recorded, not created", rows, "d-ours", "recovered", 1},
		{"only older sessions: created", rows[2:], "d-new", "created", 2},
		{"none: created", nil, "d-new", "created", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var queries []didit.SessionQuery
			f := &fakeDidit{
				list: func(_ context.Context, q didit.SessionQuery) ([]didit.SessionSummary, error) {
					queries = append(queries, q)
					return tt.rows, nil
				},
				create: created("d-new"),
			}
			svc, claims, profiles, logs, _ := newUnit(t, f)
			// A claim left pending by an instance that died, lease long expired.
			_, _, err := claims.Acquire(context.Background(), stepup.ClaimID("s0", "nfc"), stepup.Claim{
				State: policy.StepPending, Owner: "dead", LeaseUntil: started.Add(2 * time.Minute), Kind: "nfc", ProfileID: "p1",
				AssessmentID: "a1", OriginSessionID: "s0", WorkflowID: "wf-nfc", CreatedAt: started, UpdatedAt: started,
			})
			require.NoError(t, err)

			require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))

			assert.Equal(t, []didit.SessionQuery{{VendorData: "u1", WorkflowID: "wf-nfc", Limit: 10}}, queries, "one page, bounded")
			assert.Equal(t, tt.wantCalls, f.calls, "Didit calls in all")
			assert.Equal(t, policy.StepCreated, profiles.last().Status)
			assert.Equal(t, tt.wantSession, profiles.last().DiditSessionID)
			c, _, _ := claims.Get(context.Background(), stepup.ClaimID("s0", "nfc"))
			assert.Equal(t, 2, c.Attempts)
			assert.Equal(t, started, c.CreateStartedAt, "kept from the first owner")
			assert.Contains(t, logs.String(), `"outcome":"`+tt.wantOutcome+`"`)
		})
	}
}

func TestBusyClaimIsRetriedWithoutCallingDidit(t *testing.T) {
	svc, claims, _, _, clk := newUnit(t, &fakeDidit{})
	_, _, err := claims.Acquire(context.Background(), stepup.ClaimID("s0", "nfc"), stepup.Claim{State: policy.StepPending, Owner: "other", LeaseUntil: clk.t.Add(time.Minute), UpdatedAt: clk.t})
	require.NoError(t, err)

	err = svc.Handle(context.Background(), stepUpDecision("nfc"))
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Contains(t, err.Error(), "another instance")
}

func TestSettledClaimIsShownAgain(t *testing.T) {
	f := &fakeDidit{create: created("d1")}
	svc, _, profiles, _, _ := newUnit(t, f)
	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))
	profiles.got = nil

	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))
	st := profiles.last()
	assert.Equal(t, policy.StepCreated, st.Status)
	assert.Equal(t, "d1", st.DiditSessionID)
	assert.Equal(t, 1, f.calls)
}

func TestProfileWriteFailureReleasesClaim(t *testing.T) {
	svc, claims, profiles, _, _ := newUnit(t, &fakeDidit{})
	profiles.fail = failure.Errorf(failure.Transient, "firestore unavailable")

	err := svc.Handle(context.Background(), stepUpDecision("nfc"))
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Equal(t, []string{stepup.ClaimID("s0", "nfc")}, claims.Released)
}

func TestClaimID(t *testing.T) {
	assert.Equal(t, "sess-1:nfc", stepup.ClaimID("sess-1", "nfc"))
	assert.False(t, strings.Contains(stepup.ClaimID("a/b", "nfc"), "/"), "Firestore ids cannot hold a slash")
}

func TestErrStepFailedIsPermanent(t *testing.T) {
	svc, _, _, _, _ := newUnit(t, &fakeDidit{})
	err := svc.Handle(context.Background(), stepUpDecision("retina"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, stepup.ErrStepFailed))
	assert.True(t, failure.Permanent(err))
}

// The session URL is where product code sends the user: only https on Didit's verification
// host (or http on a loopback simulator named in VerifyHosts) is stored.
func TestSessionURLMustBeOnVerifyHost(t *testing.T) {
	tests := []struct {
		name       string
		hosts      []string
		url        string
		wantStatus policy.StepStatus
		wantReason string
	}{
		{"Didit's host", nil, "https://verify.didit.me/session/abcdefghijkl", policy.StepCreated, ""},
		{"Didit's host with a language", nil, "https://verify.didit.me/en/session/abcdefghijkl", policy.StepCreated, ""},
		{"host case", nil, "https://Verify.Didit.Me/session/x", policy.StepCreated, ""},
		{"plain http", nil, "http://verify.didit.me/session/x", policy.StepFailed, "not https"},
		{"another host", nil, "https://verify.didit.me.evil.example/session/x", policy.StepFailed, "not on a verification host"},
		{"userinfo", nil, "https://verify.didit.me@evil.example/session/x", policy.StepFailed, "not on a verification host"},
		{"javascript", nil, "javascript:alert(1)", policy.StepFailed, "no usable session url"},
		{"empty", nil, "", policy.StepFailed, "no usable session url"},
		{"loopback simulator named", []string{"127.0.0.1:8090"}, "http://127.0.0.1:8090/session/x", policy.StepCreated, ""},
		{"loopback not named", nil, "http://127.0.0.1:8090/session/x", policy.StepFailed, "not on a verification host"},
		{"http on a named host that is not loopback", []string{"verify.example"}, "http://verify.example/session/x", policy.StepFailed, "not https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, claims, profiles, _, _ := newUnit(t, &fakeDidit{create: func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
				return didit.SessionCreated{SessionID: "d1", URL: tt.url}, nil
			}})
			svc.VerifyHosts = tt.hosts

			err := svc.Handle(context.Background(), stepUpDecision("nfc"))
			st := profiles.last()
			assert.Equal(t, tt.wantStatus, st.Status)
			c, _, _ := claims.Get(context.Background(), stepup.ClaimID("s0", "nfc"))
			assert.Equal(t, tt.wantStatus, c.State)
			if tt.wantStatus == policy.StepFailed {
				require.ErrorIs(t, err, stepup.ErrStepFailed)
				assert.Contains(t, st.Reason, tt.wantReason)
				assert.Empty(t, st.URL, "a refused URL is never shown")
				if tt.url != "" {
					assert.NotContains(t, st.Reason, tt.url)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.url, st.URL)
		})
	}
}

// A wait Didit asks for that does not fit the invocation hands the message back, records the
// step as waiting on the profile, and keeps every redelivery away from Didit until then.
func TestLongRetryAfterDefers(t *testing.T) {
	limited := true
	f := &fakeDidit{create: func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
		if limited {
			return didit.SessionCreated{}, failure.Errorf(failure.Transient, "didit: asked to wait: %w",
				&didit.APIError{Method: "POST", Path: "/v3/session/", StatusCode: 429, RetryAfter: time.Hour, Detail: "available in 3600 seconds"})
		}
		return created("d1")(context.Background(), didit.CreateSessionRequest{})
	}}
	svc, claims, profiles, logs, clk := newUnit(t, f)
	start := clk.t

	err := svc.HandleEvent(context.Background(), event1(t, stepUpDecision("nfc")))
	require.Error(t, err, "handed back")
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	st := profiles.last()
	assert.Equal(t, policy.StepPending, st.Status)
	assert.Equal(t, stepup.ReasonRateLimit, st.Reason)
	assert.Equal(t, start.Add(time.Hour), st.RetryAt)
	c, _, _ := claims.Get(context.Background(), stepup.ClaimID("s0", "nfc"))
	assert.Equal(t, start.Add(time.Hour), c.RetryAt)
	assert.Equal(t, []string{stepup.ClaimID("s0", "nfc")}, claims.Released, "claim released")
	assert.Contains(t, logs.String(), `"outcome":"deferred"`)
	assert.Contains(t, logs.String(), `"retry_at":"2026-11-20T11:00:00Z"`)

	// Redeliveries before the time Didit gave do not call it.
	clk.t = start.Add(30 * time.Minute)
	err = svc.Handle(context.Background(), stepUpDecision("nfc"))
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Contains(t, err.Error(), "waits until 2026-11-20T11:00:00Z")
	assert.Equal(t, 1, f.calls)

	// After it, the step goes ahead and the wait is cleared.
	limited = false
	clk.t = start.Add(time.Hour + time.Second)
	f.list = func(context.Context, didit.SessionQuery) ([]didit.SessionSummary, error) { return nil, nil }
	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))
	st = profiles.last()
	assert.Equal(t, policy.StepCreated, st.Status)
	assert.True(t, st.RetryAt.IsZero())
	assert.Empty(t, st.Reason)
}

// With Didit's session reuse one Didit session can answer several claims of one kind; its
// decision (a decision whose step_up_kind is set) completes every claim that recorded it.
func TestStepUpDecisionCompletesEveryClaimItAnswers(t *testing.T) {
	f := &fakeDidit{create: created("d1")} // reuse: both creates answer d1
	svc, claims, profiles, logs, _ := newUnit(t, f)
	for _, origin := range []string{"s0", "s1"} {
		d := stepUpDecision("nfc")
		d.AssessmentID, d.SessionID = "a-"+origin, origin
		require.NoError(t, svc.Handle(context.Background(), d))
	}
	other := stepUpDecision("nfc")
	other.AssessmentID, other.SessionID = "a-s2", "s2"
	svc.Didit = &fakeDidit{t: t, create: created("d2")}
	require.NoError(t, svc.Handle(context.Background(), other))

	profiles.profile = &profile.Profile{Sessions: map[string]profile.SessionState{
		"d1": {Status: "Approved", Decided: true, StepUpKind: "nfc", OriginSessionID: "s1"},
		"d2": {Status: "Not Started", StepUpKind: "nfc", OriginSessionID: "s2"},
	}}
	answered := message.Decision{ProfileID: "p1", UserID: "u1", AssessmentID: "a-d1", SessionID: "s1", Action: "approve", StepUpKind: "nfc", DecisionTrusted: true}
	for range 2 { // a redelivery changes nothing
		require.NoError(t, svc.HandleEvent(context.Background(), event1(t, answered)))
	}

	for _, origin := range []string{"s0", "s1"} {
		c, _, _ := claims.Get(context.Background(), stepup.ClaimID(origin, "nfc"))
		assert.Equal(t, policy.StepCompleted, c.State, origin)
		assert.Equal(t, didit.StatusApproved, c.DiditStatus, origin)
	}
	c, _, _ := claims.Get(context.Background(), stepup.ClaimID("s2", "nfc"))
	assert.Equal(t, policy.StepCreated, c.State, "a session not yet decided leaves its claim open")
	assert.Equal(t, 2, strings.Count(logs.String(), `"outcome":"completed"`), "each claim completed once")
}

// Every line the step-up function logs about a decision carries its event key.
func TestEveryLogLineCarriesTheEventKey(t *testing.T) {
	f := &fakeDidit{create: created("d1")}
	svc, claims, profiles, logs, clk := newUnit(t, f)
	svc.BlocklistOnBlock = true
	f.block = func(context.Context, string, bool, bool) error { return nil }
	ctx := context.Background()
	_ = svc.HandleEvent(ctx, event1(t, stepUpDecision("nfc", "retina"))) // created + failed
	_ = svc.HandleEvent(ctx, event1(t, stepUpDecision("nfc")))           // already_created
	_, _, _ = claims.Acquire(ctx, stepup.ClaimID("s5", "nfc"), stepup.Claim{Owner: "x", State: policy.StepPending, LeaseUntil: clk.t.Add(time.Hour), UpdatedAt: clk.t})
	busy := stepUpDecision("nfc")
	busy.SessionID = "s5"
	_ = svc.HandleEvent(ctx, event1(t, busy))                                                                                                           // busy
	_ = svc.HandleEvent(ctx, event1(t, message.Decision{ProfileID: "p1", AssessmentID: "a1", SessionID: "s0", Action: "block", DecisionTrusted: true})) // blocklisted
	profiles.profile = &profile.Profile{Sessions: map[string]profile.SessionState{"d1": {Status: "Approved", Decided: true, StepUpKind: "nfc"}}}
	_ = svc.HandleEvent(ctx, event1(t, message.Decision{ProfileID: "p1", AssessmentID: "a1", SessionID: "s0", Action: "approve", StepUpKind: "nfc"})) // completed, ignored

	sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
	lines := 0
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m))
		assert.Equal(t, "a1", m["event_key"], "line %s", sc.Text())
		lines++
	}
	assert.GreaterOrEqual(t, lines, 7)
	for _, o := range []string{"created", "failed", "already_created", "busy", "blocklisted", "completed"} {
		assert.Contains(t, logs.String(), `"outcome":"`+o+`"`)
	}
}

func ptr[T any](v T) *T { return &v }

func TestUnavailableWithRetryAfterSaysSo(t *testing.T) {
	svc, _, profiles, _, clk := newUnit(t, &fakeDidit{create: func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
		return didit.SessionCreated{}, failure.Errorf(failure.Transient, "didit: %w", &didit.APIError{StatusCode: 503, RetryAfter: 2 * time.Minute})
	}})
	err := svc.Handle(context.Background(), stepUpDecision("nfc"))
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	st := profiles.last()
	assert.Equal(t, policy.StepPending, st.Status)
	assert.Equal(t, stepup.ReasonUnavailable, st.Reason)
	assert.Equal(t, clk.t.Add(2*time.Minute), st.RetryAt)
}
