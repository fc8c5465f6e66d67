//go:build integration

package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/profile"
)

// TestFirestoreDiesWhileScoring takes Firestore away from the scorer in the middle of a stream of
// webhooks (several users, several sessions each) and brings it back: the path to Firestore is
// cut, the emulator SIGKILLed and restarted from an export. While it is gone the scorer must
// return errors so Pub/Sub redelivers; afterwards no assessment may be lost and none doubled:
// for every webhook exactly one processed marker, for every decided one exactly one assessment,
// and each user's events_applied and assessments_total exact.
//
// The emulator keeps documents in memory only, so the export stands in for the real service's
// durability. It is taken after the cut, so it holds every write whose commit the scorer saw
// acknowledged — exactly what the real service guarantees — and nothing the scorer did not
// see succeed. A commit in flight at the cut may or may not be in it; either way the scorer
// returned an error and the redelivery must either find it applied (a duplicate, not applied
// twice) or apply it.
func TestFirestoreDiesWhileScoring(t *testing.T) {
	ctx := context.Background()
	fe := startEmulator(t, emulator.Firestore)
	px := startProxy(t, fe.Host)
	topo := testTopology()
	// The outage must not use up a message's attempts: this test is about durability, the
	// dead-letter budget is TestPoisonMessageIsDeadLettered's. ~30 attempts ≈ 90 s here.
	topo.MaxDeliveryAttempts = 30
	p := newPipeline(t, pipelineOptions{
		Hosts:    hosts{VerifyFirestore: fe.Host, ScorerFirestore: px.Addr},
		Topology: topo,
		// The scorer's Firestore client retries an unreachable Firestore until the call's
		// deadline: each push fails only when the invocation times out.
		FunctionTimeout: 5 * time.Second,
	})

	const users, sessions = 4, 4
	kinds := []scenario.Kind{scenario.Clean, scenario.Review, scenario.Risky, scenario.Start}
	l := &load{p: p}
	base := time.Now().Add(-time.Hour)
	for s := range sessions { // users interleaved: one user's transactions rarely contend
		for u := range users {
			id := fmt.Sprintf("fs-u%d-s%d", u, s)
			at := base.Add(time.Duration(s*users+u) * time.Minute)
			l.hooks = append(l.hooks, p.hook(kinds[(u+s)%len(kinds)], fmt.Sprintf("fs-user-%d", u), id, "event-"+id, at))
		}
	}
	scored := func() int {
		return len(p.pushes.Filter(func(d delivery) bool { return d.Topic == p.topo.Webhooks && d.Status == http.StatusNoContent }))
	}
	failedSince := func(after time.Time) []delivery {
		return p.pushes.Filter(func(d delivery) bool {
			return d.Topic == p.topo.Webhooks && d.Status != http.StatusNoContent && d.Start.After(after)
		})
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, 4, 150*time.Millisecond, 30*time.Second)
	}()
	waitFor(t, "a quarter of the webhooks scored", 60*time.Second, func() (bool, error) { return scored() >= len(l.hooks)/4, nil })

	cutAt := time.Now()
	px.Cut()
	meta := exportFirestore(t, fe.Host, p.project)
	fe.Kill()
	fe.Args = []string{"--import-data=" + meta}
	require.NoError(t, fe.Restart(ctx))
	// Keep Firestore away until the scorer has felt it: a push refused, to be redelivered.
	waitFor(t, "the scorer failing while Firestore is gone", 60*time.Second, func() (bool, error) { return len(failedSince(cutAt)) >= 1, nil })
	require.NoError(t, px.Restore())
	restoredAt := time.Now()
	failures := len(failedSince(cutAt))
	<-done
	require.Len(t, hookIndexes(l.Attempts(attempt.ok)), len(l.hooks), "the receiver accepted every webhook (Pub/Sub was fine)")

	all := make([]int, len(l.hooks))
	for i := range all {
		all[i] = i
	}
	l.waitInFirestore(ctx, t, "every webhook processed after Firestore came back", all, 90*time.Second)
	t.Logf("all %d webhooks processed %s after Firestore came back", len(l.hooks), time.Since(restoredAt).Round(time.Millisecond))

	for u := range users {
		user := fmt.Sprintf("fs-user-%d", u)
		var events, decided []string
		for _, h := range l.hooks {
			if h.User != user {
				continue
			}
			events = append(events, h.EventID)
			if h.decided() {
				decided = append(decided, h.EventID)
			}
		}
		slices.Sort(events)
		slices.Sort(decided)
		markers, err := docIDs(ctx, p.fs, user, profile.Processed)
		require.NoError(t, err)
		assessments, err := docIDs(ctx, p.fs, user, profile.Assessments)
		require.NoError(t, err)
		slices.Sort(markers)
		slices.Sort(assessments)
		assert.Equal(t, events, markers, "%s: one processed marker per webhook", user)
		// One assessment per decided webhook, none lost, none doubled (ids are event keys). An
		// undecided webhook that arrives late (redelivered after the outage) may add one of its
		// own: its session now counts in a later decision's history windows, which changes the
		// verdict, and a changed verdict is always recorded.
		for _, id := range decided {
			assert.Contains(t, assessments, id, "%s: the decided webhook's assessment", user)
		}
		assert.Subset(t, events, assessments, "%s: every assessment is one webhook's", user)
		pr, found, err := p.profileOf(ctx, user)
		require.NoError(t, err)
		require.True(t, found, user)
		assert.Equal(t, len(events), pr.EventsApplied, "%s: events_applied", user)
		assert.Equal(t, len(assessments), pr.AssessmentsTotal, "%s: assessments_total counts each once", user)
	}

	// Nothing is dead-lettered: every message is eventually acked, well within its attempts. (A
	// message whose commit landed unseen may be redelivered only after the others are done.)
	waitFor(t, "every message acked", 60*time.Second, func() (bool, error) {
		byMessage := map[string][]delivery{}
		for _, d := range p.pushes.Filter(func(d delivery) bool { return d.Topic == p.topo.Webhooks }) {
			byMessage[d.MessageID] = append(byMessage[d.MessageID], d)
		}
		for id, ds := range byMessage {
			if !slices.ContainsFunc(ds, func(d delivery) bool { return d.Status == http.StatusNoContent }) {
				return false, fmt.Errorf("message %s not acked after %d attempts", id, len(ds))
			}
			require.Less(t, len(ds), int(topo.MaxDeliveryAttempts), "message %s close to dead-lettering", id)
		}
		return len(byMessage) == len(l.hooks), nil
	})
	dups := len(p.logs.Entries(msg("webhook scored", "outcome", "duplicate")))
	t.Logf("outage %s; %d pushes failed and were redelivered; %d redeliveries found already applied (commits that landed unseen)",
		restoredAt.Sub(cutAt).Round(time.Millisecond), failures, dups)
}

// exportFirestore has the emulator export every document to a fresh directory and returns the
// metadata file a restart imports with --import-data.
func exportFirestore(t *testing.T, host, project string) string {
	t.Helper()
	dir := t.TempDir()
	body, err := json.Marshal(map[string]string{"database": "projects/" + project + "/databases/(default)", "export_directory": dir})
	require.NoError(t, err)
	resp, err := http.Post("http://"+host+"/emulator/v1/projects/"+project+":export", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "firestore export")
	meta, err := filepath.Glob(filepath.Join(dir, "*", "*.overall_export_metadata"))
	require.NoError(t, err)
	require.Len(t, meta, 1, "export metadata in %s", dir)
	return meta[0]
}
