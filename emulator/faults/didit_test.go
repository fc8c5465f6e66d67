//go:build integration

package faults

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/stepup"
)

// TestDiditAPIMisbehaves runs medium-risk users through the whole pipeline while Didit's session
// API answers, in turns, 429 with Retry-After, 500s, 503, timeouts, a permanent 400, and —
// the dangerous case — answers lost after Didit had already created the session (a 500 or a
// timeout after processing). Asserted: no (assessment, kind) ever gets two Didit sessions; every
// step-up ends created (with the one session Didit has) or recorded failed on the profile;
// every lost answer is recovered from Didit's listing instead of creating again; Retry-After
// is honoured; and every injected fault was actually hit.
func TestDiditAPIMisbehaves(t *testing.T) {
	const requestTimeout = time.Second
	topo := testTopology()
	topo.MaxDeliveryAttempts = 15 // a step may need several invocations; none may be dead-lettered
	p := newPipeline(t, pipelineOptions{
		StepUp:   true,
		Topology: topo,
		Env:      map[string]string{"DIDIT_REQUEST_TIMEOUT": requestTimeout.String()},
	})
	ctx := context.Background()

	create := diditsim.RouteCreateSession
	slow := requestTimeout + 500*time.Millisecond
	faults := []diditsim.Fault{
		{Route: create, Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 2},
		{Route: create, Status: http.StatusInternalServerError, Times: 2},
		{Route: create, Delay: slow}, // a timeout; Didit did nothing
		{Route: create, Status: http.StatusInternalServerError, AfterProcessing: true, Times: 2},
		{Route: create, Status: http.StatusServiceUnavailable, RetryAfter: "1"},
		{Route: create, Delay: slow, AfterProcessing: true, Times: 2}, // created, then the answer timed out
		{Route: create, Status: http.StatusBadRequest, Detail: "workflow is archived"},
		{Route: diditsim.RouteListSessions, Status: http.StatusInternalServerError}, // the recovery lookup fails once too
	}
	const answersLost, permanent = 4, 1
	for _, f := range faults {
		p.sim.InjectFault(f)
	}

	const users = 5
	kinds := []policy.StepKind{policy.StepNFC, policy.StepPhone} // what the default policy asks of this kind of user
	var hooks []hook
	for u := range users {
		id := fmt.Sprintf("didit-%d", u)
		h := p.hook(scenario.StepUp, "user-"+id, "session-"+id, "event-"+id, time.Now())
		require.Equal(t, http.StatusOK, p.send(ctx, h))
		hooks = append(hooks, h)
	}

	// Every step-up ends created or failed.
	profiles := map[string]profile.Profile{}
	waitFor(t, "every step-up created or recorded failed", 90*time.Second, func() (bool, error) {
		for _, h := range hooks {
			pr, found, err := p.profileOf(ctx, h.User)
			if err != nil || !found {
				return false, err
			}
			for _, k := range kinds {
				if st := pr.StepUps[string(k)].Status; st != policy.StepCreated && st != policy.StepFailed {
					return false, fmt.Errorf("%s %s is %q", h.User, k, st)
				}
			}
			profiles[h.User] = pr
		}
		return true, nil
	})

	// Didit's side: at most one session per (assessment, kind).
	sessions := map[string][]diditsim.Session{}
	for _, s := range p.sim.Sessions() {
		l, ok := profile.ParseStepUpLink(s.Metadata)
		require.True(t, ok, "session %s has no step-up link", s.ID)
		sessions[l.AssessmentID+"/"+string(l.Kind)] = append(sessions[l.AssessmentID+"/"+string(l.Kind)], s)
	}
	failed := 0
	claims := stepup.NewClaimStore(p.fs)
	for _, h := range hooks {
		pr := profiles[h.User]
		for _, k := range kinds {
			su := pr.StepUps[string(k)]
			require.Equal(t, h.EventID, su.AssessmentID, "%s %s: step of another assessment", h.User, k)
			got := sessions[su.AssessmentID+"/"+string(k)]
			c, found, err := claims.Get(ctx, stepup.ClaimID(su.OriginSessionID, stepup.StepUpClaim(k)))
			require.NoError(t, err)
			require.True(t, found)
			assert.Equal(t, su.Status, c.State, "%s %s: claim and profile disagree", h.User, k)
			switch su.Status {
			case policy.StepCreated:
				if assert.Len(t, got, 1, "%s %s: Didit sessions for one step", h.User, k) {
					assert.Equal(t, got[0].ID, su.DiditSessionID, "%s %s: the profile points at another session", h.User, k)
					assert.Equal(t, got[0].ID, c.DiditSessionID)
					assert.Equal(t, got[0].URL, su.URL)
				}
			case policy.StepFailed:
				failed++
				assert.Empty(t, got, "%s %s: failed, yet Didit has a session", h.User, k)
				assert.Contains(t, su.Reason, "didit 400")
			}
		}
	}
	assert.Equal(t, permanent, failed, "only the permanently refused step fails")
	assert.Equal(t, users*len(kinds)-permanent, p.sim.CreatedSessions(), "one Didit session per created step, none extra")
	assert.Zero(t, p.sim.PendingFaults(), "every injected fault was hit")

	recovered := p.logs.Entries(msg("step-up", "outcome", "recovered"))
	// A lost answer is found again by the takeover's listing, or by Didit's reuse rule on the
	// repeated create: never created twice.
	assert.Equal(t, answersLost, len(recovered)+p.sim.ReusedSessions(), "each session whose answer was lost is found again, not created again")

	// Retry-After: after a 429 or 503 the same step's next create waits at least the second asked.
	creates := p.api.Calls(func(c apiCall) bool { return c.Method == http.MethodPost && strings.HasPrefix(c.Path, "/v3/session/") })
	throttled, checked := 0, 0
	for i, c := range creates {
		if c.Status != http.StatusTooManyRequests && c.Status != http.StatusServiceUnavailable {
			continue
		}
		throttled++
		for _, next := range creates[i+1:] {
			if next.Link == c.Link && next.Start.After(c.Start) {
				assert.GreaterOrEqual(t, next.Start.Sub(c.End), 950*time.Millisecond, "%s/%s retried %s after Retry-After: 1",
					c.Link.AssessmentID, c.Link.Kind, next.Start.Sub(c.End))
				checked++
				break
			}
		}
	}
	assert.Equal(t, 3, throttled)
	assert.Equal(t, throttled, checked, "a throttled step was never retried")

	// No decision was dead-lettered: every one the step-up function received was acked.
	for _, d := range p.pushes.Filter(func(d delivery) bool { return d.Topic == p.topo.Decisions }) {
		ds := p.pushes.Filter(func(x delivery) bool { return x.MessageID == d.MessageID })
		assert.Less(t, len(ds), int(topo.MaxDeliveryAttempts), "decision %s close to dead-lettering", d.MessageID)
	}
	t.Logf("%d create calls for %d steps (%d created, %d failed); %d answers recovered from the listing; %d decisions redelivered by Pub/Sub",
		len(creates), users*len(kinds), p.sim.CreatedSessions(), failed, len(recovered), len(p.logs.Entries(msg("step-up decision to be retried"))))
}
