//go:build integration

package faults

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/webhook"
)

// TestReplayedWebhook sends one signed delivery (same body, same X-Timestamp, same signatures)
// over and over, as an attacker who captured it — or Didit retrying — would. Inside the
// freshness window every copy is accepted and the event is applied once (duplicates are
// recorded, not re-scored); once the window has passed, the same bytes are refused with 401.
// TIMESTAMP_TOLERANCE is shrunk to 2 s so the window passes in test time.
func TestReplayedWebhook(t *testing.T) {
	const tolerance = 2 * time.Second
	p := newPipeline(t, pipelineOptions{Env: map[string]string{"TIMESTAMP_TOLERANCE": tolerance.String()}})
	ctx := context.Background()

	w := p.hook(scenario.Clean, "replay-user", "replay-session", "replay-event", time.Now())
	hdr := p.sim.Sign(w.Body) // signed once, now
	sec, err := strconv.ParseInt(hdr.Get(webhook.HeaderTimestamp), 10, 64)
	require.NoError(t, err)
	signedAt := time.Unix(sec, 0)
	post := func() int {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.srv.URL+"/Receiver", bytes.NewReader(w.Body))
		require.NoError(t, err)
		req.Header = hdr.Clone()
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	require.Equal(t, http.StatusOK, post(), "first delivery, inside the window")
	require.Equal(t, http.StatusOK, post(), "the identical delivery again, still inside the window")
	accepted := 2

	// Keep replaying until the receiver refuses; every answer until then must be 200, and the
	// refusal must not come before the window has passed.
	var refusedAt time.Time
	for deadline := time.Now().Add(tolerance + 5*time.Second); refusedAt.IsZero(); {
		require.True(t, time.Now().Before(deadline), "a replay was still accepted %s after signing", time.Since(signedAt))
		time.Sleep(250 * time.Millisecond)
		switch code := post(); code {
		case http.StatusOK:
			accepted++
		case http.StatusUnauthorized:
			refusedAt = time.Now()
		default:
			t.Fatalf("replay answered %d", code)
		}
	}
	assert.True(t, refusedAt.After(signedAt.Add(tolerance)), "refused %s after signing, inside the %s window", refusedAt.Sub(signedAt), tolerance)
	assert.Equal(t, http.StatusUnauthorized, post(), "a stale replay stays refused")
	stale := p.logs.Entries(func(m map[string]any) bool {
		return m["message"] == "webhook refused" && m["status"] == float64(http.StatusUnauthorized) && m["reason"] == "timestamp_stale"
	})
	assert.Len(t, stale, 2, "each stale replay is logged as such")

	// Every accepted copy was published and pushed; wait until the scorer has acked them all,
	// then the event must have been applied exactly once.
	waitFor(t, "the scorer to ack every accepted copy", 30*time.Second, func() (bool, error) {
		acked := map[string]bool{}
		for _, d := range p.pushes.Filter(func(d delivery) bool {
			return d.Attrs[message.AttrEventID] == w.EventID && d.Status == http.StatusNoContent
		}) {
			acked[d.MessageID] = true
		}
		return len(acked) >= accepted, nil
	})
	pr, found, err := p.profileOf(ctx, w.User)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, 1, pr.EventsApplied, "applied once")
	assert.Equal(t, 1, pr.AssessmentsTotal)
	ids, err := docIDs(ctx, p.fs, w.User, profile.Assessments)
	require.NoError(t, err)
	assert.Equal(t, []string{w.EventID}, ids, "one assessment")
	outcomes := map[string]int{}
	for _, e := range p.logs.Entries(msg("webhook scored", "event_key", w.EventID)) {
		outcomes[e["outcome"].(string)]++
	}
	assert.Equal(t, 1, outcomes["applied"], "applied once")
	assert.GreaterOrEqual(t, outcomes["duplicate"], accepted-1, "every other copy recognised as a duplicate")
	assert.Len(t, outcomes, 2, "no other outcome: %v", outcomes)
	t.Logf("%d identical deliveries accepted inside the window, applied once; refused %s after signing",
		accepted, refusedAt.Sub(signedAt).Round(100*time.Millisecond))
}
