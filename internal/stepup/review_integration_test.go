//go:build integration

package stepup_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/scenario"
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
	"github.com/riskwire/didit-risk/testdata"
)

// pipeline is the scorer in front of the step-up function: webhooks the simulator sends are
// caught by a stand-in receiver and scored, as the receiver's publish and the scorer's push
// subscription would, and the decisions published come back to the test.
type pipeline struct {
	t         *testing.T
	e         *env
	sc        *scorer.Handler
	decisions *capturedDecisions

	mu       sync.Mutex
	webhooks [][]byte
	n        int
}

func newPipeline(e *env) *pipeline {
	p := &pipeline{t: e.t, e: e, decisions: &capturedDecisions{}}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.webhooks = append(p.webhooks, b)
		p.mu.Unlock()
	}))
	e.t.Cleanup(receiver.Close)
	e.sim.SetWebhookURL(receiver.URL)
	p.sc = &scorer.Handler{
		Profiles: e.store, Engine: scoring.NewEngine(policy.Default()), Hash: scoring.NewHasher([]byte("k")),
		Decisions: p.decisions, Log: logging.New(e.logs, "json", "info"), Now: time.Now,
	}
	return p
}

// score scores one webhook body and returns the decisions it published.
func (p *pipeline) score(body []byte) []message.Decision {
	p.t.Helper()
	p.mu.Lock()
	p.n++
	id := fmt.Sprint("wh-", p.n)
	p.mu.Unlock()
	ev := event.New()
	ev.SetID(id)
	ev.SetSource("test")
	ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	require.NoError(p.t, ev.SetData(event.ApplicationJSON, queue.MessagePublished{Message: queue.Message{Data: body, ID: id,
		Attributes: message.WebhookAttrs{Signature: "raw", Class: message.ClassSession, DecisionAuthenticated: true}.Attributes()}}))
	require.NoError(p.t, p.sc.Handle(context.Background(), ev))
	return p.decisions.take(p.t)
}

// sent scores every webhook the simulator sent since the last call.
func (p *pipeline) sent() []message.Decision {
	p.e.sim.WaitWebhooks()
	p.mu.Lock()
	bodies := p.webhooks
	p.webhooks = nil
	p.mu.Unlock()
	var out []message.Decision
	for _, b := range bodies {
		out = append(out, p.score(b)...)
	}
	return out
}

// reviewWebhook is Didit's webhook of a session the default policy sends to review (a PEP
// hit and more, Approved by Didit), for user and session; the simulator knows the session.
func (p *pipeline) reviewWebhook(session, eventID string, at time.Time) []byte {
	p.t.Helper()
	b, err := scenario.NewBuilder(testdata.Dir(p.t, "webhooks"))
	require.NoError(p.t, err)
	body, err := b.Webhook(scenario.Review, userID, session, eventID, at)
	require.NoError(p.t, err)
	p.e.sim.RegisterWebhookSession(body)
	return body
}

func (e *env) diditRequest(kind profile.RequestKind) profile.DiditRequest {
	e.t.Helper()
	p, found, err := e.store.Get(context.Background(), userID)
	require.NoError(e.t, err)
	require.True(e.t, found, "profile exists")
	r, ok := p.DiditRequests[string(kind)]
	require.True(e.t, ok, "didit_requests.%s exists", kind)
	return r
}

// reviewComment is the shape of a review request's comment: the verdict, then rule ids and
// points, nothing else.
var reviewComment = regexp.MustCompile(`^didit-risk: review requested \(policy [^ ,]+, action review, score \d+, level [a-z]+, assessment [^ )]+\)\. Rules:( [a-z0-9_]+\([+-]\d+\))+$`)

// A session the policy sends to review is put in Didit's review queue exactly once, whatever
// the number of deliveries (two instances at once, then redeliveries) and of assessments
// (status.updated, then a second webhook of the same session); Didit's own In Review webhook
// that follows, scored as usual, asks nothing more. With Didit's other reading of the docs
// (an In Review review only records a note, no webhook), the same holds.
func TestReviewRequestedOnce(t *testing.T) {
	for _, noteOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("note only %v", noteOnly), func(t *testing.T) {
			e := newEnv(t, diditsim.Options{InReviewNoteOnly: noteOnly})
			p := newPipeline(e)
			const session = "sess-review-1"
			at := time.Now().Add(-time.Minute)
			first := p.score(p.reviewWebhook(session, "evt-1", at))
			second := p.score(p.reviewWebhook(session, "evt-2", at.Add(10*time.Second)))
			require.Len(t, first, 1)
			require.Len(t, second, 1)
			for _, d := range append(first, second...) {
				require.Equal(t, policy.Review, d.Action, "the default policy sends this user to review")
				require.Equal(t, session, d.SessionID)
				require.Equal(t, didit.StatusApproved, d.SessionStatus, "the decision carries Didit's status")
			}
			require.NotEqual(t, first[0].AssessmentID, second[0].AssessmentID, "two assessments")
			// Slow reviews keep the first instance inside Didit while the others arrive.
			e.sim.InjectFault(diditsim.Fault{Route: diditsim.RouteCreateReview, Delay: 300 * time.Millisecond})

			var wg sync.WaitGroup
			start := make(chan struct{})
			evs := []event.Event{pubsubEvent(t, first[0]), pubsubEvent(t, second[0]), pubsubEvent(t, first[0])}
			errs := make([]error, len(evs))
			for i, ev := range evs {
				svc := e.service(func(s *stepup.Service) { s.ReviewRequests = true })
				wg.Go(func() {
					<-start
					errs[i] = svc.HandleEvent(context.Background(), ev)
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					assert.Equal(t, failure.Transient, failure.KindOf(err), "a busy claim asks for a redelivery: %v", err)
					require.NoError(t, e.service(func(s *stepup.Service) { s.ReviewRequests = true }).HandleEvent(context.Background(), evs[i]))
				}
			}
			for _, ev := range evs { // and late redeliveries
				require.NoError(t, e.service(func(s *stepup.Service) { s.ReviewRequests = true }).HandleEvent(context.Background(), ev))
			}

			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateReview), "Didit was asked once")
			trail := e.sim.Reviews(session)
			require.Len(t, trail, 1)
			assert.Equal(t, diditsim.APIClientUser, trail[0].User)
			assert.Equal(t, diditsim.StatusInReview, trail[0].NewStatus)
			assert.Regexp(t, reviewComment, trail[0].Comment)
			for _, r := range first[0].Reasons {
				assert.Contains(t, trail[0].Comment, fmt.Sprintf(" %s(%+d)", r.Rule, r.Points))
				if r.Description != "" {
					assert.NotContains(t, trail[0].Comment, r.Description)
				}
			}
			for _, pd := range []string{userID, "Ana", "García"} {
				assert.NotContains(t, trail[0].Comment, pd, "no personal data in the comment")
			}

			c := e.claim(session, stepup.KindReview)
			assert.Equal(t, policy.StepCompleted, c.State)
			assert.Equal(t, 1, c.Attempts)
			r := e.diditRequest(profile.RequestReview)
			assert.Equal(t, policy.StepCompleted, r.Status)
			assert.Equal(t, session, r.SessionID)
			assert.Contains(t, []string{first[0].AssessmentID, second[0].AssessmentID}, r.AssessmentID)

			// Didit's In Review webhook (unless it only noted the review) is scored: its
			// decision knows the session is In Review and asks nothing.
			wantStatus := diditsim.StatusInReview
			if noteOnly {
				wantStatus = diditsim.StatusApproved
			}
			got, _ := e.sim.Session(session)
			assert.Equal(t, wantStatus, got.Status)
			after := p.sent()
			if noteOnly {
				assert.Empty(t, after, "no webhook for a note")
			} else {
				require.NotEmpty(t, after, "Didit's In Review webhook was scored")
			}
			for _, d := range after {
				assert.Equal(t, didit.StatusInReview, d.SessionStatus)
				// Asking for a person's review is no new fact: the verdict stays review (Didit's
				// own In Review would add didit_in_review and make it block).
				assert.Equal(t, policy.Review, d.Action)
				assert.Equal(t, first[0].Score, d.Score)
				for _, r := range d.Reasons {
					assert.NotEqual(t, "didit_in_review", r.Rule)
				}
				for range 2 {
					require.NoError(t, e.service(func(s *stepup.Service) { s.ReviewRequests = true }).HandleEvent(context.Background(), pubsubEvent(t, d)))
				}
			}
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateReview), "the In Review webhook did not ask again")
			assert.Len(t, e.sim.Reviews(session), 1)
			assert.NotContains(t, e.logs.String(), "Ana")
		})
	}
}

// A decision about a session Didit already has In Review (Didit's own review queue) asks
// nothing; review requests turned off ask nothing either.
func TestReviewNotRequested(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		enabled bool
		reason  string
	}{
		{"already in review", diditsim.StatusInReview, true, stepup.ReasonInReview},
		{"review requests off", diditsim.StatusApproved, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, diditsim.Options{})
			s := e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-kyc", Status: tt.status})
			d := decision("asm-r1")
			d.Action, d.Level, d.SessionID, d.SessionStatus = policy.Review, "high", s.ID, didit.Status(tt.status)

			for range 3 {
				require.NoError(t, e.service(func(sv *stepup.Service) { sv.ReviewRequests = tt.enabled }).HandleEvent(context.Background(), pubsubEvent(t, d)))
			}
			assert.Zero(t, e.sim.Requests(diditsim.RouteCreateReview))
			assert.Empty(t, e.sim.Reviews(s.ID))
			_, found, err := e.claims.Get(context.Background(), stepup.ClaimID(s.ID, stepup.KindReview))
			require.NoError(t, err)
			assert.False(t, found, "no claim: nothing to do")
			if tt.reason != "" {
				assert.Contains(t, e.logs.String(), `"reason":"`+tt.reason+`"`)
			}
		})
	}
}

// Didit's answers to a review request: a 429 is waited out and a 5xx retried (within the call,
// then by Pub/Sub's redelivery, still once in Didit); a refusal is recorded failed on the claim
// and the profile, acked, and never retried.
func TestReviewRequestFailures(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		fault      *diditsim.Fault
		unknown    bool // a session Didit does not know
		firstErr   bool // the first delivery is handed back
		wantState  policy.StepStatus
		wantReason string
		requests   int // after the first delivery
	}{
		{"429 waited out", "", &diditsim.Fault{Route: diditsim.RouteCreateReview, Status: http.StatusTooManyRequests, RetryAfter: "2"}, false, false,
			policy.StepCompleted, "", 2},
		{"503 retried in the call", "", &diditsim.Fault{Route: diditsim.RouteCreateReview, Status: http.StatusServiceUnavailable, Times: 2}, false, false,
			policy.StepCompleted, "", 3},
		{"500 persisting: handed back", "", &diditsim.Fault{Route: diditsim.RouteCreateReview, Status: http.StatusInternalServerError, Times: 1000}, false, true,
			policy.StepPending, "", didit.DefaultRetryPolicy().MaxAttempts},
		{"long rate limit: deferred", "", &diditsim.Fault{Route: diditsim.RouteCreateReview, Status: http.StatusTooManyRequests, RetryAfter: "3600"}, false, true,
			policy.StepPending, stepup.ReasonRateLimit, 1},
		{"404 recorded failed", "", nil, true, false, policy.StepFailed, "didit 404: Not found.", 1},
		{"403 recorded failed", "the-real-key", nil, false, false, policy.StepFailed, "didit 403: You do not have permission to perform this action.", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, diditsim.Options{APIKey: tt.key})
			s := e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-kyc", Status: diditsim.StatusApproved})
			sessionID := s.ID
			if tt.unknown {
				sessionID = "sess-unknown-to-didit"
			}
			if tt.fault != nil {
				e.sim.InjectFault(*tt.fault)
			}
			d := decision("asm-rf")
			d.Action, d.Level, d.SessionID, d.SessionStatus = policy.Review, "high", sessionID, didit.StatusApproved
			d.Reasons = []message.Reason{{Rule: "aml_pep_hit", Points: 20, Description: "a description"}}
			svc := func() *stepup.Service { return e.service(func(sv *stepup.Service) { sv.ReviewRequests = true }) }

			err := svc().HandleEvent(context.Background(), pubsubEvent(t, d))
			if tt.firstErr {
				require.Error(t, err)
				assert.Equal(t, failure.Transient, failure.KindOf(err))
			} else {
				require.NoError(t, err, "done, or refused and recorded: acked")
			}
			assert.Equal(t, tt.requests, e.sim.Requests(diditsim.RouteCreateReview))
			assert.Equal(t, tt.wantState, e.claim(sessionID, stepup.KindReview).State)
			r := e.diditRequest(profile.RequestReview)
			assert.Equal(t, tt.wantState, r.Status)
			assert.Equal(t, tt.wantReason, r.Reason)
			assert.Equal(t, sessionID, r.SessionID)
			assert.NotContains(t, e.logs.String(), apiKey)

			switch tt.wantState {
			case policy.StepFailed:
				require.NoError(t, svc().HandleEvent(context.Background(), pubsubEvent(t, d)))
				assert.Equal(t, tt.requests, e.sim.Requests(diditsim.RouteCreateReview), "a refusal is not retried")
			case policy.StepPending:
				// Didit recovers; Pub/Sub redelivers (after the wait Didit gave, if any).
				e.sim.ClearFaults()
				e.clock.Advance(time.Hour + time.Second)
				require.NoError(t, svc().HandleEvent(context.Background(), pubsubEvent(t, d)))
				assert.Equal(t, policy.StepCompleted, e.diditRequest(profile.RequestReview).Status)
				assert.True(t, e.diditRequest(profile.RequestReview).RetryAt.IsZero())
				assert.Len(t, e.sim.Reviews(sessionID), 1, "one review in Didit")
			default:
				assert.Len(t, e.sim.Reviews(sessionID), 1)
				got, _ := e.sim.Session(sessionID)
				assert.Equal(t, diditsim.StatusInReview, got.Status)
			}
		})
	}
}

// DIDIT_DECLINE_ON_BLOCK declines the blocked session in Didit once, with a comment; off (the
// default), Didit is not asked.
func TestDeclineOnBlock(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(fmt.Sprintf("enabled %v", enabled), func(t *testing.T) {
			e := newEnv(t, diditsim.Options{})
			s := e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-kyc", Status: diditsim.StatusApproved})
			d := decision("asm-d1")
			d.Action, d.Level, d.Score, d.SessionID, d.SessionStatus = policy.Block, "critical", 100, s.ID, didit.StatusApproved
			d.Reasons = []message.Reason{{Rule: "id_document_expired", Points: 40, Description: "expired"}}

			for range 3 {
				require.NoError(t, e.service(func(sv *stepup.Service) { sv.DeclineOnBlock = enabled }).HandleEvent(context.Background(), pubsubEvent(t, d)))
			}
			got, _ := e.sim.Session(s.ID)
			assert.Empty(t, e.sim.Blocklist(), "blocklisting is its own switch")
			if !enabled {
				assert.Zero(t, e.sim.Requests(diditsim.RouteUpdateStatus))
				assert.Equal(t, diditsim.StatusApproved, got.Status)
				return
			}
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteUpdateStatus), "declined once")
			assert.Equal(t, diditsim.StatusDeclined, got.Status)
			trail := e.sim.Reviews(s.ID)
			require.Len(t, trail, 1)
			assert.Equal(t, "didit-risk: declined (policy v1, action block, score 100, level critical, assessment asm-d1). Rules: id_document_expired(+40)", trail[0].Comment)
			assert.Equal(t, policy.StepCompleted, e.claim(s.ID, stepup.KindDecline).State)
			assert.Equal(t, policy.StepCompleted, e.diditRequest(profile.RequestDecline).Status)
		})
	}
}

// Blocklisting (and declining) never fire on a session that awaits a person's review: one
// Didit has In Review, or one whose review this function asked for while no reviewer has
// decided. A block decision about another session is acted on.
func TestBlockNeverOnASessionAwaitingReview(t *testing.T) {
	tests := []struct {
		name        string
		status      string // the session's status at Didit and in the decision
		askReview   bool   // a review decision about the session came first
		wantBlocked bool
	}{
		{"in review at Didit", diditsim.StatusInReview, false, false},
		{"review asked, no verdict yet", diditsim.StatusApproved, true, false},
		{"never sent to review", diditsim.StatusDeclined, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, diditsim.Options{InReviewNoteOnly: true}) // the status stays as set
			s := e.sim.AddSession(diditsim.Session{VendorData: userID, WorkflowID: "wf-kyc", Status: tt.status})
			svc := func() *stepup.Service {
				return e.service(func(sv *stepup.Service) { sv.BlocklistOnBlock, sv.DeclineOnBlock, sv.ReviewRequests = true, true, true })
			}
			if tt.askReview {
				d := decision("asm-b0")
				d.Action, d.Level, d.SessionID, d.SessionStatus = policy.Review, "high", s.ID, didit.Status(tt.status)
				require.NoError(t, svc().HandleEvent(context.Background(), pubsubEvent(t, d)))
				require.Equal(t, 1, e.sim.Requests(diditsim.RouteCreateReview))
			}
			d := decision("asm-b1")
			d.Action, d.Level, d.Score, d.SessionID, d.SessionStatus = policy.Block, "critical", 100, s.ID, didit.Status(tt.status)

			for range 2 {
				require.NoError(t, svc().HandleEvent(context.Background(), pubsubEvent(t, d)))
			}
			if !tt.wantBlocked {
				assert.Zero(t, e.sim.Requests(diditsim.RouteBlocklist), "never blocklisted while awaiting review")
				assert.Zero(t, e.sim.Requests(diditsim.RouteUpdateStatus), "never declined while awaiting review")
				assert.Empty(t, e.sim.Blocklist())
				assert.Contains(t, e.logs.String(), `"reason":"`+stepup.ReasonAwaitingReview+`"`)
				for _, kind := range []stepup.ClaimKind{stepup.KindBlocklist, stepup.KindDecline} {
					_, found, err := e.claims.Get(context.Background(), stepup.ClaimID(s.ID, kind))
					require.NoError(t, err)
					assert.False(t, found, string(kind))
				}
				return
			}
			assert.Equal(t, []diditsim.BlocklistEntry{{SessionID: s.ID, Face: true, Document: true}}, e.sim.Blocklist())
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteBlocklist))
			assert.Equal(t, 1, e.sim.Requests(diditsim.RouteUpdateStatus), "a declined session declined again is Didit's no-op")
			assert.Equal(t, policy.StepCompleted, e.diditRequest(profile.RequestBlocklist).Status)
		})
	}
}
