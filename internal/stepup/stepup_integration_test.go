//go:build integration

package stepup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scorer"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/stepup"
)

const (
	apiKey   = "sk_test_stepup_0123456789abcdef"
	userID   = "user-42"
	callback = "https://app.example/verified"
)

var workflows = map[policy.StepKind]string{"nfc": "wf-nfc", "phone": "wf-phone", "biometric": "wf-bio", "poa": "wf-poa"}

// clock is a settable time source shared by the services of one test, so lease expiry is a
// matter of advancing it rather than waiting.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer is a log sink for concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one test's world: the Firestore emulator (own project), the Didit simulator behind
// httptest, and a factory of step-up services ("instances") sharing them.
type env struct {
	t      *testing.T
	sim    *diditsim.Server
	srv    *httptest.Server
	fs     *firestore.Client
	store  *profile.Store
	claims *stepup.ClaimStore
	clock  *clock
	logs   *syncBuffer

	mu     sync.Mutex
	sleeps []time.Duration
}

func newEnv(t *testing.T, opts diditsim.Options) *env {
	t.Helper()
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	if opts.APIKey == "" {
		opts.APIKey = apiKey
	}
	sim := diditsim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); _ = sim.Close() })
	return &env{
		t: t, sim: sim, srv: srv, fs: fs,
		store:  profile.NewStore(fs),
		claims: stepup.NewClaimStore(fs),
		clock:  &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
		logs:   &syncBuffer{},
	}
}

// client is a Didit client as the function builds it, with waits recorded instead of slept.
func (e *env) client(key string) *didit.Client {
	c := didit.NewClient(e.srv.URL, key, &http.Client{Timeout: 2 * time.Second})
	c.Sleep = func(ctx context.Context, d time.Duration) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.sleeps = append(e.sleeps, d)
		return ctx.Err()
	}
	c.Jitter = func(d time.Duration) time.Duration { return d }
	return c
}

func (e *env) recordedSleeps() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// service is one function instance.
func (e *env) service(mod ...func(*stepup.Service)) *stepup.Service {
	s := &stepup.Service{
		Didit:       e.client(apiKey),
		Claims:      e.claims,
		Profiles:    e.store,
		Log:         logging.New(e.logs, "json", "debug"),
		Workflows:   workflows,
		CallbackURL: callback,
		VerifyHosts: []string{strings.TrimPrefix(e.srv.URL, "http://")}, // the simulator's host, as config derives it
		Now:         e.clock.Now,
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

func decision(assessment string, steps ...policy.StepKind) message.Decision {
	return message.Decision{
		ProfileID: userID, UserID: userID, AssessmentID: assessment, SessionID: "origin-" + assessment,
		Score: 55, Level: "medium", Action: policy.StepUp, RequiredSteps: steps, PolicyVersion: "v1",
		DecidedAt: time.Date(2026, 11, 20, 9, 59, 0, 0, time.UTC), DecisionTrusted: true,
	}
}

// pubsubEvent wraps a decision as the messagePublished CloudEvent a push delivers.
func pubsubEvent(t *testing.T, d message.Decision) event.Event {
	t.Helper()
	data, err := json.Marshal(d)
	require.NoError(t, err)
	e := event.New()
	e.SetID("msg-" + d.AssessmentID)
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/risk-decisions")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	require.NoError(t, e.SetData(event.ApplicationJSON, queue.MessagePublished{
		Message:      queue.Message{Data: data, Attributes: d.Attributes(), ID: "msg-" + d.AssessmentID},
		Subscription: "projects/p/subscriptions/stepup-push",
	}))
	return e
}

func (e *env) profileStep(kind policy.StepKind) profile.StepUp {
	e.t.Helper()
	p, found, err := e.store.Get(context.Background(), userID)
	require.NoError(e.t, err)
	require.True(e.t, found, "profile exists")
	st, ok := p.StepUps[string(kind)]
	require.True(e.t, ok, "step_ups.%s exists", kind)
	return st
}

// claim is the claim of (verified session, kind).
func (e *env) claim(session string, kind stepup.ClaimKind) stepup.Claim {
	e.t.Helper()
	c, found, err := e.claims.Get(context.Background(), stepup.ClaimID(session, kind))
	require.NoError(e.t, err)
	require.True(e.t, found)
	return c
}

func TestHappyPath(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	svc := e.service()

	require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, decision("asm-1", "nfc"))))

	require.Equal(t, 1, e.sim.CreatedSessions())
	sess := e.sim.Sessions()[0]
	assert.Equal(t, "wf-nfc", sess.WorkflowID)
	assert.Equal(t, userID, sess.VendorData)
	assert.Equal(t, callback, sess.Callback)
	link, ok := profile.ParseStepUpLink(sess.Metadata)
	require.True(t, ok)
	assert.Equal(t, profile.StepUpLink{ProfileID: userID, AssessmentID: "asm-1", OriginSessionID: "origin-asm-1", Kind: "nfc"}, link)

	st := e.profileStep("nfc")
	assert.Equal(t, policy.StepCreated, st.Status)
	assert.Equal(t, sess.ID, st.DiditSessionID)
	assert.Equal(t, sess.URL, st.URL)
	assert.True(t, strings.HasPrefix(st.URL, e.srv.URL+"/session/"))
	assert.Equal(t, "asm-1", st.AssessmentID)
	assert.Equal(t, "origin-asm-1", st.OriginSessionID)
	assert.False(t, st.CreatedAt.IsZero())

	c := e.claim("origin-asm-1", "nfc")
	assert.Equal(t, policy.StepCreated, c.State)
	assert.Equal(t, 1, c.Attempts)
	assert.Equal(t, sess.ID, c.DiditSessionID)
	assert.Equal(t, e.clock.Now(), c.CreateStartedAt.UTC())
	assert.True(t, c.ExpireAt.After(e.clock.Now().Add(7*24*time.Hour)), "TTL a few weeks out")

	logs := e.logs.String()
	assert.Contains(t, logs, `"outcome":"created"`)
	assert.Contains(t, logs, `"event_key":"asm-1"`)
	assert.Contains(t, logs, `"didit_session_id":"`+sess.ID+`"`)
	assert.NotContains(t, logs, apiKey)
	assert.NotContains(t, logs, userID, "no personal data in logs")
	assert.NotContains(t, logs, sess.URL)
}

// The same decision, delivered to two instances at once and then three more times, creates
// exactly one Didit session per kind.
func TestDuplicateAndConcurrentDeliveries(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	// Slow creates keep the first instance inside Didit while the second arrives.
	e.sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Delay: 300 * time.Millisecond, Times: 2})
	ev := pubsubEvent(t, decision("asm-2", "nfc", "phone"))

	var wg sync.WaitGroup
	errs := make([]error, 2)
	start := make(chan struct{})
	for i := range errs {
		svc := e.service() // a separate instance
		wg.Go(func() {
			<-start
			errs[i] = svc.HandleEvent(context.Background(), ev)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			assert.Equal(t, failure.Transient, failure.KindOf(err), "a busy claim asks for a redelivery: %v", err)
		}
	}

	for range 3 {
		require.NoError(t, e.service().HandleEvent(context.Background(), ev))
	}

	assert.Equal(t, 2, e.sim.CreatedSessions(), "one session per kind")
	assert.Equal(t, 2, e.sim.Requests(diditsim.RouteCreateSession), "Didit was asked exactly once per kind")
	kinds := map[policy.StepKind]string{}
	for _, s := range e.sim.Sessions() {
		l, ok := profile.ParseStepUpLink(s.Metadata)
		require.True(t, ok)
		kinds[l.Kind] = s.ID
	}
	for _, kind := range []policy.StepKind{policy.StepNFC, policy.StepPhone} {
		st := e.profileStep(kind)
		assert.Equal(t, policy.StepCreated, st.Status, kind)
		assert.Equal(t, kinds[kind], st.DiditSessionID, kind)
		assert.Equal(t, 1, e.claim("origin-asm-2", stepup.StepUpClaim(kind)).Attempts, kind)
	}
}

// Two step_up decisions about the same verified session (status.updated then data.updated:
// different assessment ids) handled at once by two instances ask Didit once: the claim is per
// (session, kind). Repeated, since a race shows only sometimes.
func TestConcurrentDecisionsAboutOneSessionMakeOneDiditSession(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	const trials = 5
	for trial := range trials {
		origin := fmt.Sprintf("origin-race-%d", trial)
		before := e.sim.Requests(diditsim.RouteCreateSession)
		e.sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Delay: 200 * time.Millisecond, Times: 1})
		evs := make([]event.Event, 2)
		for i := range evs {
			d := decision(fmt.Sprintf("asm-race-%d-%d", trial, i), "biometric")
			d.SessionID = origin
			evs[i] = pubsubEvent(t, d)
		}

		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, len(evs))
		for i, ev := range evs {
			svc := e.service()
			wg.Go(func() {
				<-start
				errs[i] = svc.HandleEvent(context.Background(), ev)
			})
		}
		close(start)
		wg.Wait()
		// Pub/Sub redelivers what was handed back.
		for i, err := range errs {
			if err != nil {
				assert.Equal(t, failure.Transient, failure.KindOf(err))
				require.NoError(t, e.service().HandleEvent(context.Background(), evs[i]))
			}
		}

		assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession)-before, "trial %d: one create", trial)
		c := e.claim(origin, "biometric")
		assert.Equal(t, policy.StepCreated, c.State)
		assert.Equal(t, 1, c.Attempts, "trial %d", trial)
		// Each trial's session is then finished, so the next trial's create is not a reuse.
		require.True(t, e.sim.SetStatus(c.DiditSessionID, "Approved"))
	}
	assert.Equal(t, trials, e.sim.CreatedSessions(), "one Didit session per trial")
}

// claimsFunc overrides Settle; TestCrashBetweenCreateAndRecord uses it to make the claim write
// after a successful create fail, as if the instance died between Didit's answer and the write.
type claimsFunc struct {
	stepup.Claims
	settle func(ctx context.Context, id, owner string, result stepup.Claim) (stepup.Claim, bool, error)
}

func (c claimsFunc) Settle(ctx context.Context, id, owner string, result stepup.Claim) (stepup.Claim, bool, error) {
	return c.settle(ctx, id, owner, result)
}

func crashing(e *env) *stepup.Service {
	return e.service(func(s *stepup.Service) {
		s.Claims = claimsFunc{Claims: e.claims, settle: func(context.Context, string, string, stepup.Claim) (stepup.Claim, bool, error) {
			return stepup.Claim{}, false, failure.Errorf(failure.Transient, "instance died")
		}}
	})
}

// After a crash between Didit's answer and the claim's write, the next owner recovers the
// session from one listing page — however many sessions the user has — with no decision GET.
func TestCrashBetweenCreateAndRecord(t *testing.T) {
	for _, older := range []int{0, 60} {
		t.Run(fmt.Sprintf("%d older sessions", older), func(t *testing.T) {
			e := newEnv(t, diditsim.Options{})
			for i := range older { // finished sessions of the user on the same workflow, before the claim
				e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-bio", Status: "Approved",
					CreatedAt: e.clock.Now().Add(-time.Duration(older-i) * time.Hour)})
			}
			ev := pubsubEvent(t, decision("asm-3", "biometric"))

			err := crashing(e).HandleEvent(context.Background(), ev)
			require.Error(t, err)
			assert.False(t, failure.Permanent(err))
			require.Equal(t, older+1, e.sim.CreatedSessions(), "Didit created the session")
			created := e.sim.Sessions()[older]
			assert.Equal(t, policy.StepPending, e.claim("origin-asm-3", "biometric").State)
			assert.Equal(t, policy.StepPending, e.profileStep("biometric").Status)

			// Redelivered while the dead instance's lease is live: nobody calls Didit.
			err = e.service().HandleEvent(context.Background(), ev)
			require.Error(t, err)
			assert.Equal(t, failure.Transient, failure.KindOf(err))
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession))
			assert.Zero(t, e.sim.Requests(diditsim.RouteListSessions))

			// After the lease: the taker finds the session in one listing page.
			e.clock.Advance(stepup.DefaultLease + time.Second)
			require.NoError(t, e.service().HandleEvent(context.Background(), ev))

			assert.Equal(t, older+1, e.sim.CreatedSessions(), "still exactly one step-up session")
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession))
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteListSessions), "recovery is one request")
			assert.Zero(t, e.sim.Requests(diditsim.RouteDecision), "no decision GET per row")
			st := e.profileStep("biometric")
			assert.Equal(t, policy.StepCreated, st.Status)
			assert.Equal(t, created.ID, st.DiditSessionID)
			assert.Equal(t, created.URL, st.URL)
			c := e.claim("origin-asm-3", "biometric")
			assert.Equal(t, policy.StepCreated, c.State)
			assert.Equal(t, 2, c.Attempts)
			assert.Contains(t, e.logs.String(), `"outcome":"recovered"`)
		})
	}
}

func TestRateLimitedThenCreated(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	e.sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Status: http.StatusTooManyRequests, RetryAfter: "3"})

	require.NoError(t, e.service().HandleEvent(context.Background(), pubsubEvent(t, decision("asm-4", "phone"))))

	assert.Equal(t, []time.Duration{3 * time.Second}, e.recordedSleeps(), "Retry-After honoured")
	assert.Equal(t, 1, e.sim.CreatedSessions())
	assert.Equal(t, 2, e.sim.Requests(diditsim.RouteCreateSession))
	assert.Zero(t, e.sim.Requests(diditsim.RouteListSessions), "a 429 is not ambiguous: no lookup")
	assert.Equal(t, policy.StepCreated, e.profileStep("phone").Status)
}

// The sandbox quota's "available in 3600 seconds": the message is handed back at once, the
// profile says the step waits for Didit's rate limit and until when, redeliveries before then
// do not call Didit, and the step goes ahead after it.
func TestLongRateLimitDefersTheStep(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	e.sim.InjectFault(diditsim.SandboxQuotaFault())
	ev := pubsubEvent(t, decision("asm-10", "phone"))
	start := e.clock.Now()

	err := e.service().HandleEvent(context.Background(), ev)
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Empty(t, e.recordedSleeps(), "no sleeping through an hour")
	assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession), "no attempt burnt")
	st := e.profileStep("phone")
	assert.Equal(t, policy.StepPending, st.Status)
	assert.Equal(t, stepup.ReasonRateLimit, st.Reason)
	assert.Equal(t, start.Add(time.Hour), st.RetryAt.UTC())
	c := e.claim("origin-asm-10", "phone")
	assert.Equal(t, start.Add(time.Hour), c.RetryAt.UTC())
	assert.False(t, c.LeaseUntil.After(e.clock.Now()), "claim released")

	for _, later := range []time.Duration{10 * time.Second, 20 * time.Minute} {
		e.clock.Advance(later)
		err := e.service().HandleEvent(context.Background(), ev)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "waits until")
	}
	assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession), "nobody called Didit before the time it gave")

	e.clock.Advance(time.Hour)
	require.NoError(t, e.service().HandleEvent(context.Background(), ev))
	st = e.profileStep("phone")
	assert.Equal(t, policy.StepCreated, st.Status)
	assert.True(t, st.RetryAt.IsZero())
	assert.Empty(t, st.Reason)
	assert.Equal(t, 1, e.sim.CreatedSessions())
}

func TestServerErrorsReturnTransientThenRecover(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	e.sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Status: http.StatusInternalServerError, Times: 1000})
	ev := pubsubEvent(t, decision("asm-5", "poa"))

	err := e.service().HandleEvent(context.Background(), ev)
	require.Error(t, err, "returned so that Pub/Sub retries and, in the end, dead-letters")
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.False(t, failure.Permanent(err))
	assert.Equal(t, didit.DefaultRetryPolicy().MaxAttempts, e.sim.Requests(diditsim.RouteCreateSession), "bounded retries in the invocation")
	assert.Len(t, e.recordedSleeps(), didit.DefaultRetryPolicy().MaxAttempts-1)
	assert.Zero(t, e.sim.CreatedSessions())
	assert.Equal(t, policy.StepPending, e.profileStep("poa").Status)
	c := e.claim("origin-asm-5", "poa")
	assert.Equal(t, policy.StepPending, c.State)
	assert.False(t, c.LeaseUntil.After(e.clock.Now()), "lease released for the redelivery")

	// Didit recovers; Pub/Sub redelivers (no waiting for the lease).
	e.sim.ClearFaults()
	require.NoError(t, e.service().HandleEvent(context.Background(), ev))
	assert.Equal(t, 1, e.sim.CreatedSessions())
	assert.Equal(t, 1, e.sim.Requests(diditsim.RouteListSessions), "one page looked at before creating")
	assert.Equal(t, policy.StepCreated, e.profileStep("poa").Status)
	assert.Equal(t, 2, e.claim("origin-asm-5", "poa").Attempts)
}

// A 500 returned after Didit created the session: the client repeats the create and Didit's
// session reuse answers with the same session.
func TestAmbiguousServerErrorRecoveredInCall(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	e.sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateSession, Status: http.StatusBadGateway, AfterProcessing: true})

	require.NoError(t, e.service().HandleEvent(context.Background(), pubsubEvent(t, decision("asm-6", "nfc"))))

	assert.Equal(t, 1, e.sim.CreatedSessions())
	assert.Equal(t, 2, e.sim.Requests(diditsim.RouteCreateSession))
	assert.Equal(t, 1, e.sim.ReusedSessions())
	assert.Zero(t, e.sim.Requests(diditsim.RouteListSessions))
	st := e.profileStep("nfc")
	assert.Equal(t, policy.StepCreated, st.Status)
	assert.Equal(t, e.sim.Sessions()[0].ID, st.DiditSessionID)
}

func TestForbiddenIsRecordedFailedAndAcked(t *testing.T) {
	e := newEnv(t, diditsim.Options{APIKey: "the-real-key"})
	ev := pubsubEvent(t, decision("asm-7", "nfc"))

	require.NoError(t, e.service().HandleEvent(context.Background(), ev), "acked: retrying cannot help")

	assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession), "not retried")
	assert.Empty(t, e.recordedSleeps())
	st := e.profileStep("nfc")
	assert.Equal(t, policy.StepFailed, st.Status)
	assert.Equal(t, "didit 403: You do not have permission to perform this action.", st.Reason)
	assert.Equal(t, policy.StepFailed, e.claim("origin-asm-7", "nfc").State)
	assert.Contains(t, e.logs.String(), `"severity":"ERROR"`)

	// A redelivery changes nothing and calls nobody.
	require.NoError(t, e.service().HandleEvent(context.Background(), ev))
	assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession))
	assert.Equal(t, 1, strings.Count(e.logs.String(), `"severity":"ERROR"`), "the refusal is reported once")
	assert.NotContains(t, e.logs.String(), apiKey)
}

// A session URL that is not on the configured verification host is never stored: the step fails.
func TestSessionURLOffTheVerifyHostFails(t *testing.T) {
	e := newEnv(t, diditsim.Options{BaseURL: "https://verify.didit.me.attacker.example"})
	require.NoError(t, e.service().HandleEvent(context.Background(), pubsubEvent(t, decision("asm-11", "nfc"))))

	st := e.profileStep("nfc")
	assert.Equal(t, policy.StepFailed, st.Status)
	assert.Contains(t, st.Reason, "not on a verification host")
	assert.Empty(t, st.URL)
	assert.Empty(t, e.claim("origin-asm-11", "nfc").URL)
}

func TestUnknownKindFails(t *testing.T) {
	e := newEnv(t, diditsim.Options{})

	require.NoError(t, e.service().HandleEvent(context.Background(), pubsubEvent(t, decision("asm-8", "retina", "nfc"))))

	st := e.profileStep("retina")
	assert.Equal(t, policy.StepFailed, st.Status)
	assert.Equal(t, `no workflow configured for step-up kind "retina"`, st.Reason)
	assert.Equal(t, policy.StepCreated, e.profileStep("nfc").Status, "the other kind goes ahead")
	assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateSession))
}

func TestBlocklistOnBlock(t *testing.T) {
	tests := []struct {
		name    string
		enabled bool
		trusted bool
		want    int
	}{
		{"enabled", true, true, 1},
		{"disabled", false, true, 0},
		{"decision not signature-covered", true, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, diditsim.Options{})
			origin := e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-kyc", Status: "Declined"})
			d := decision("asm-9")
			d.Action, d.Level, d.SessionID, d.DecisionTrusted = policy.Block, "critical", origin.ID, tt.trusted
			ev := pubsubEvent(t, d)

			for range 3 {
				require.NoError(t, e.service(func(s *stepup.Service) { s.BlocklistOnBlock = tt.enabled }).HandleEvent(context.Background(), ev))
			}

			assert.Equal(t, tt.want, e.sim.Requests(diditsim.RouteBlocklist), "called at most once")
			if tt.want == 0 {
				assert.Empty(t, e.sim.Blocklist())
				return
			}
			assert.Equal(t, []diditsim.BlocklistEntry{{SessionID: origin.ID, Face: true, Document: true}}, e.sim.Blocklist())
			assert.Equal(t, policy.StepCompleted, e.claim(origin.ID, stepup.KindBlocklist).State)
		})
	}
}

func TestUndecodableEventIsReturned(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	ev := event.New()
	ev.SetID("bad")
	ev.SetSource("test")
	ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	require.NoError(t, ev.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{Data: []byte(`{"not":"a decision"}`), ID: "m1"}}))

	err := e.service().HandleEvent(context.Background(), ev)
	require.Error(t, err)
	assert.True(t, failure.Permanent(err))
	assert.False(t, errors.Is(err, stepup.ErrStepFailed))
	assert.Zero(t, e.sim.CreatedSessions())
}

// capturedDecisions is the scorer's decisions topic, in memory.
type capturedDecisions struct {
	mu   sync.Mutex
	data [][]byte
}

func (c *capturedDecisions) Publish(_ context.Context, data []byte, _ map[string]string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data = append(c.data, data)
	return fmt.Sprint(len(c.data)), nil
}

func (c *capturedDecisions) take(t *testing.T) []message.Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []message.Decision
	for _, b := range c.data {
		d, err := message.DecodeDecision(b)
		require.NoError(t, err)
		out = append(out, d)
	}
	c.data = nil
	return out
}

// Didit's session reuse, end to end with the real scorer: two verified sessions of one user
// ask for an NFC step-up; Didit answers both creates with one session (metadata overwritten by
// the second); when the user completes it, its webhook is scored, and the decision about it
// completes both claims — none stays "created" pointing at a finished session.
func TestReusedSessionCompletesEveryClaimItAnswers(t *testing.T) {
	e := newEnv(t, diditsim.Options{})
	var webhooks [][]byte
	var mu sync.Mutex
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		webhooks = append(webhooks, b)
		mu.Unlock()
	}))
	defer receiver.Close()
	e.sim.SetWebhookURL(receiver.URL)
	decisions := &capturedDecisions{}
	sc := &scorer.Handler{
		Profiles: e.store, Engine: scoring.NewEngine(policy.Default()), Hash: scoring.NewHasher([]byte("k")),
		Decisions: decisions, Log: logging.New(e.logs, "json", "info"), Now: time.Now,
	}
	// deliver scores every webhook the simulator sent since the last call, as the scorer's push
	// subscription would, and returns the decisions published.
	deliver := func() []message.Decision {
		mu.Lock()
		bodies := webhooks
		webhooks = nil
		mu.Unlock()
		for i, b := range bodies {
			ev := event.New()
			ev.SetID(fmt.Sprint("wh-", i))
			ev.SetSource("test")
			ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
			require.NoError(t, ev.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{Data: b, ID: fmt.Sprint("wh-", i),
				// What the receiver publishes for a webhook the raw signature verified.
				Attributes: message.WebhookAttrs{Signature: "raw", Class: message.ClassSession, DecisionAuthenticated: true}.Attributes()}}))
			require.NoError(t, sc.Handle(context.Background(), ev))
		}
		return decisions.take(t)
	}

	// Two verified sessions of the user, decided.
	var origins []string
	for range 2 {
		o := e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-kyc", Status: "In Progress"})
		_, err := e.sim.Complete(context.Background(), o.ID, diditsim.Approve)
		require.NoError(t, err)
		origins = append(origins, o.ID)
	}
	require.Len(t, deliver(), 2)

	// Each asks for nfc (as a medium-risk verdict would): one Didit session answers both.
	svc := e.service()
	for i, o := range origins {
		d := decision(fmt.Sprint("asm-reuse-", i), "nfc")
		d.SessionID = o
		require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, d)))
	}
	require.Equal(t, 2, e.sim.Requests(diditsim.RouteCreateSession))
	require.Equal(t, 1, e.sim.ReusedSessions(), "Didit returned the unfinished session")
	first, second := e.claim(origins[0], "nfc"), e.claim(origins[1], "nfc")
	require.Equal(t, first.DiditSessionID, second.DiditSessionID)
	stepSession := first.DiditSessionID

	// The user completes it; the scorer scores its webhook and publishes a step-up decision.
	_, err := e.sim.Complete(context.Background(), stepSession, diditsim.Approve)
	require.NoError(t, err)
	ds := deliver()
	require.Len(t, ds, 1)
	require.Equal(t, policy.StepNFC, ds[0].StepUpKind, "the decision is about a step-up session")
	for range 2 { // and a redelivery
		require.NoError(t, svc.HandleEvent(context.Background(), pubsubEvent(t, ds[0])))
	}

	for _, o := range origins {
		c := e.claim(o, "nfc")
		assert.Equal(t, policy.StepCompleted, c.State, o)
		assert.Equal(t, didit.StatusApproved, c.DiditStatus, o)
		assert.Equal(t, stepSession, c.DiditSessionID, o)
	}
	st := e.profileStep("nfc")
	assert.Equal(t, policy.StepCompleted, st.Status)
	assert.Equal(t, policy.OutcomeApproved, st.Outcome)
	assert.Equal(t, stepSession, st.DiditSessionID)
	assert.Equal(t, 2, strings.Count(e.logs.String(), `"outcome":"completed"`), "each claim completed once")

	// Nothing stays open for the user.
	open, err := e.claims.Created(context.Background(), userID)
	require.NoError(t, err)
	assert.Empty(t, open)
}
