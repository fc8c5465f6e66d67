package stepup_test

import (
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
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/stepup"
)

// fakeDidit answers with its function fields; a nil field fails the test if called.
type fakeDidit struct {
	t      *testing.T
	create func(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error)
	find   func(ctx context.Context, q didit.SessionQuery, match func(didit.SessionSummary) bool) (didit.SessionSummary, bool, error)
	block  func(ctx context.Context, sessionID string, face, document bool) error
}

func (f *fakeDidit) CreateSession(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error) {
	if f.create == nil {
		f.t.Fatalf("unexpected CreateSession")
	}
	return f.create(ctx, req)
}

func (f *fakeDidit) FindSession(ctx context.Context, q didit.SessionQuery, match func(didit.SessionSummary) bool) (didit.SessionSummary, bool, error) {
	if f.find == nil {
		f.t.Fatalf("unexpected FindSession")
	}
	return f.find(ctx, q, match)
}

func (f *fakeDidit) AddToBlocklist(ctx context.Context, sessionID string, face, document bool) error {
	if f.block == nil {
		f.t.Fatalf("unexpected AddToBlocklist")
	}
	return f.block(ctx, sessionID, face, document)
}

// memClaims keeps claims in a map with the store's rules, for tests without Firestore.
type memClaims struct {
	mu       sync.Mutex
	m        map[string]stepup.Claim
	released []string
}

func (c *memClaims) Acquire(_ context.Context, id string, want stepup.Claim) (stepup.Claim, stepup.Grant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, ok := c.m[id]
	switch {
	case !ok:
		want.Attempts = 1
		c.m[id] = want
		return want, stepup.GrantNew, nil
	case cur.State != profile.StepPending:
		return cur, stepup.GrantDone, nil
	case cur.Owner != want.Owner && cur.LeaseUntil.After(want.UpdatedAt):
		return cur, stepup.GrantBusy, nil
	}
	cur.Owner, cur.LeaseUntil, cur.UpdatedAt = want.Owner, want.LeaseUntil, want.UpdatedAt
	cur.Attempts++
	c.m[id] = cur
	return cur, stepup.GrantTakeover, nil
}

func (c *memClaims) Settle(_ context.Context, id, _ string, r stepup.Claim) (stepup.Claim, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.m[id]
	if cur.State != profile.StepPending {
		return cur, false, nil
	}
	cur.State, cur.DiditSessionID, cur.URL, cur.Reason, cur.UpdatedAt = r.State, r.DiditSessionID, r.URL, r.Reason, r.UpdatedAt
	c.m[id] = cur
	return cur, true, nil
}

func (c *memClaims) Release(_ context.Context, id, owner string, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.m[id]; cur.State == profile.StepPending && cur.Owner == owner {
		cur.LeaseUntil = now
		c.m[id] = cur
		c.released = append(c.released, id)
	}
	return nil
}

// profilesFunc records step-up states.
type profilesFunc struct {
	mu      sync.Mutex
	got     []profile.StepUp
	fail    error
	profile profile.Profile // what Get returns
}

func (p *profilesFunc) RecordStepUp(_ context.Context, _ string, st profile.StepUp) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, st)
	return p.fail
}

func (p *profilesFunc) Get(context.Context, string) (profile.Profile, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.profile, p.profile.StepUps != nil, nil
}

func (p *profilesFunc) last() profile.StepUp {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got[len(p.got)-1]
}

func newUnit(t *testing.T, d *fakeDidit) (*stepup.Service, *memClaims, *profilesFunc, *bytes.Buffer) {
	d.t = t
	claims := &memClaims{m: map[string]stepup.Claim{}}
	profiles := &profilesFunc{}
	var logs bytes.Buffer
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	return &stepup.Service{
		Didit: d, Claims: claims, Profiles: profiles, Log: logging.New(&logs, "json", "debug"),
		Workflows: map[string]string{"nfc": "wf-nfc"}, CallbackURL: "https://app/cb",
		Now: func() time.Time { return now },
	}, claims, profiles, &logs
}

func event1(t *testing.T, d profile.Decision) event.Event {
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

func stepUpDecision(steps ...string) profile.Decision {
	return profile.Decision{ProfileID: "p1", UserID: "u1", AssessmentID: "a1", SessionID: "s0", Action: string(policy.StepUp), RequiredSteps: steps, DecisionTrusted: true}
}

// HandleEvent is the one place that maps outcomes to ack (nil) or retry (error).
func TestHandleEventAckOrRetry(t *testing.T) {
	forbidden := failure.New(failure.Invalid, &didit.APIError{Method: "POST", Path: "/v3/session/", StatusCode: 403, Detail: "You do not have permission to perform this action."})
	tests := []struct {
		name      string
		decision  *profile.Decision // nil: an undecodable event
		create    func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error)
		wantErr   bool
		wantKind  failure.Kind
		wantState string
		wantLog   string
	}{
		{"created", ptr(stepUpDecision("nfc")), func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
			return didit.SessionCreated{SessionID: "d1", URL: "https://verify/d1"}, nil
		}, false, 0, profile.StepCreated, `"outcome":"created"`},
		{"refused for good: recorded, acked", ptr(stepUpDecision("nfc")), func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
			return didit.SessionCreated{}, forbidden
		}, false, 0, profile.StepFailed, `"severity":"ERROR"`},
		{"Didit down: retried", ptr(stepUpDecision("nfc")), func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
			return didit.SessionCreated{}, failure.Errorf(failure.Transient, "giving up after 4 attempts")
		}, true, failure.Transient, profile.StepPending, `"severity":"WARNING"`},
		{"undecodable: returned to dead-letter", nil, nil, true, failure.Invalid, "", `"severity":"ERROR"`},
		{"other action: ignored", ptr(profile.Decision{ProfileID: "p1", AssessmentID: "a1", Action: "approve"}), nil, false, 0, "", ""},
		{"no steps: nothing to do", ptr(stepUpDecision()), nil, false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _, profiles, logs := newUnit(t, &fakeDidit{create: tt.create})
			ev := event1(t, profile.Decision{})
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
	svc, claims, profiles, _ := newUnit(t, &fakeDidit{create: func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
		return didit.SessionCreated{}, failure.New(failure.Invalid, &didit.APIError{StatusCode: 400, Detail: "Insufficient credits."})
	}})
	require.ErrorIs(t, svc.Handle(context.Background(), stepUpDecision("nfc")), stepup.ErrStepFailed)
	st := profiles.last()
	assert.Equal(t, "didit 400: Insufficient credits.", st.Reason)
	assert.Equal(t, profile.StepFailed, claims.m[stepup.ClaimID("a1", "nfc")].State)
}

func TestCreateRequestCarriesLink(t *testing.T) {
	var got didit.CreateSessionRequest
	var deadline time.Duration
	svc, _, _, _ := newUnit(t, &fakeDidit{create: func(ctx context.Context, req didit.CreateSessionRequest) (didit.SessionCreated, error) {
		got = req
		dl, ok := ctx.Deadline()
		require.True(t, ok, "Didit calls run under the step budget")
		deadline = time.Until(dl)
		return didit.SessionCreated{SessionID: "d1"}, nil
	}})
	svc.StepBudget = 5 * time.Second

	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc", "nfc", " ")))

	assert.Equal(t, "wf-nfc", got.WorkflowID)
	assert.Equal(t, "u1", got.VendorData)
	assert.Equal(t, "https://app/cb", got.Callback)
	assert.Equal(t, profile.StepUpLink{ProfileID: "p1", AssessmentID: "a1", OriginSessionID: "s0", Kind: "nfc"}, got.Metadata[profile.StepUpMetadataKey])
	require.NotNil(t, got.Existing, "ambiguous retries look the session up first")
	assert.True(t, got.Existing(didit.SessionSummary{Metadata: map[string]any{profile.StepUpMetadataKey: map[string]any{"assessment_id": "a1", "kind": "nfc"}}}))
	assert.False(t, got.Existing(didit.SessionSummary{Metadata: map[string]any{profile.StepUpMetadataKey: map[string]any{"assessment_id": "a2", "kind": "nfc"}}}))
	assert.False(t, got.Existing(didit.SessionSummary{}))
	assert.LessOrEqual(t, deadline, 5*time.Second)
}

func TestTakeoverLooksUpBeforeCreating(t *testing.T) {
	tests := []struct {
		name        string
		found       bool
		wantCreates int
		wantOutcome string
	}{
		{"found: recorded, not created", true, 0, "recovered"},
		{"not found: created", false, 1, "created"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creates := 0
			var query didit.SessionQuery
			svc, claims, profiles, logs := newUnit(t, &fakeDidit{
				find: func(_ context.Context, q didit.SessionQuery, match func(didit.SessionSummary) bool) (didit.SessionSummary, bool, error) {
					query = q
					return didit.SessionSummary{SessionID: "d-old", SessionURL: "https://verify/d-old"}, tt.found, nil
				},
				create: func(context.Context, didit.CreateSessionRequest) (didit.SessionCreated, error) {
					creates++
					return didit.SessionCreated{SessionID: "d-new", URL: "https://verify/d-new"}, nil
				},
			})
			// A claim left pending by an instance that died, lease long expired.
			claims.m[stepup.ClaimID("a1", "nfc")] = stepup.Claim{State: profile.StepPending, Owner: "dead", Attempts: 1, Kind: "nfc", ProfileID: "p1", AssessmentID: "a1"}

			require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))

			assert.Equal(t, didit.SessionQuery{VendorData: "u1", WorkflowID: "wf-nfc"}, query)
			assert.Equal(t, tt.wantCreates, creates)
			assert.Equal(t, profile.StepCreated, profiles.last().Status)
			assert.Equal(t, 2, claims.m[stepup.ClaimID("a1", "nfc")].Attempts)
			assert.Contains(t, logs.String(), `"outcome":"`+tt.wantOutcome+`"`)
		})
	}
}

func TestBusyClaimIsRetriedWithoutCallingDidit(t *testing.T) {
	svc, claims, _, _ := newUnit(t, &fakeDidit{})
	claims.m[stepup.ClaimID("a1", "nfc")] = stepup.Claim{State: profile.StepPending, Owner: "other", LeaseUntil: svc.Now().Add(time.Minute), Attempts: 1}

	err := svc.Handle(context.Background(), stepUpDecision("nfc"))
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Contains(t, err.Error(), "another instance")
}

func TestSettledClaimIsShownAgain(t *testing.T) {
	svc, claims, profiles, _ := newUnit(t, &fakeDidit{})
	claims.m[stepup.ClaimID("a1", "nfc")] = stepup.Claim{State: profile.StepCreated, Kind: "nfc", ProfileID: "p1", AssessmentID: "a1", DiditSessionID: "d1", URL: "https://verify/d1", Attempts: 1}

	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc")))
	st := profiles.last()
	assert.Equal(t, profile.StepCreated, st.Status)
	assert.Equal(t, "d1", st.DiditSessionID)
}

func TestProfileWriteFailureReleasesClaim(t *testing.T) {
	svc, claims, profiles, _ := newUnit(t, &fakeDidit{})
	profiles.fail = failure.Errorf(failure.Transient, "firestore unavailable")

	err := svc.Handle(context.Background(), stepUpDecision("nfc"))
	require.Error(t, err)
	assert.Equal(t, failure.Transient, failure.KindOf(err))
	assert.Equal(t, []string{stepup.ClaimID("a1", "nfc")}, claims.released)
}

func TestClaimID(t *testing.T) {
	assert.Equal(t, "asm-1:nfc", stepup.ClaimID("asm-1", "nfc"))
	assert.False(t, strings.Contains(stepup.ClaimID("a/b", "nfc"), "/"), "Firestore ids cannot hold a slash")
}

func TestErrStepFailedIsPermanent(t *testing.T) {
	svc, _, _, _ := newUnit(t, &fakeDidit{})
	err := svc.Handle(context.Background(), stepUpDecision("retina"))
	require.Error(t, err)
	assert.True(t, errors.Is(err, stepup.ErrStepFailed))
	assert.True(t, failure.Permanent(err))
}

func ptr[T any](v T) *T { return &v }

// A later assessment about the same session must not open a second session of a kind the user
// still has to complete.
func TestOpenStepOfSameKindIsNotDuplicated(t *testing.T) {
	var created []string
	svc, _, profiles, logs := newUnit(t, &fakeDidit{create: func(_ context.Context, r didit.CreateSessionRequest) (didit.SessionCreated, error) {
		created = append(created, r.WorkflowID)
		return didit.SessionCreated{SessionID: "d-" + r.WorkflowID, URL: "https://verify/x"}, nil
	}})
	svc.Workflows["phone"] = "wf-phone"
	profiles.profile = profile.Profile{StepUps: map[string]profile.StepUp{
		"nfc": {Kind: "nfc", Status: profile.StepCreated, AssessmentID: "a0", OriginSessionID: "s0", DiditSessionID: "d-old"},
	}}
	require.NoError(t, svc.Handle(context.Background(), stepUpDecision("nfc", "phone")))
	assert.Equal(t, []string{"wf-phone"}, created, "nfc is still open for s0: only phone is created")
	assert.Contains(t, logs.String(), `"outcome":"already_open"`)

	// About another session, the same kind is a new step.
	created = nil
	d := stepUpDecision("nfc")
	d.AssessmentID, d.SessionID = "a2", "s9"
	require.NoError(t, svc.Handle(context.Background(), d))
	assert.Equal(t, []string{"wf-nfc"}, created)
}
