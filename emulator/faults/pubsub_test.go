//go:build integration

package faults

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator"
)

// publishTimeout is the receiver's PUBLISH_TIMEOUT in these tests; a refusal must come within it
// (plus scheduling slack on a loaded 2-core machine), inside Didit's 5 s delivery timeout.
const (
	publishTimeout = 2 * time.Second
	refusalBound   = publishTimeout + 2*time.Second
)

// TestPubSubPathDiesUnderLoad cuts the network path between the receiver and Pub/Sub in the
// middle of a steady stream of webhooks, then restores it. The broker itself stays up and keeps
// what it confirmed — as real Pub/Sub does when a client's connection dies — so the assertion
// can be strict: every webhook answered 2xx ends in Firestore; every other answer is a 503 (so
// Didit retries) given within the publish timeout, none hangs; the receiver recovers on its own
// client; and with Didit's retries every webhook ends in Firestore exactly once.
//
// Two kinds of death: connections reset and new ones refused (a crashed proxy, a dead route),
// and a black hole that answers nothing (a partition), where only the publish timeout ends a
// request — and where the held bytes reach the broker once the path heals, so some webhooks
// answered 503 are published after all and arrive twice: the scorer must absorb them.
func TestPubSubPathDiesUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*emulator.Proxy)
	}{
		{"connections cut", (*emulator.Proxy).Cut},
		{"black hole", (*emulator.Proxy).Stall},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			px := startProxy(t, sharedHost(t, emulator.PubSub))
			p := newPipeline(t, pipelineOptions{
				Hosts: hosts{ReceiverPubSub: px.Addr},
				Env:   map[string]string{"PUBLISH_TIMEOUT": publishTimeout.String()},
			})
			l := newLoad(p, "cut", 60)

			var faultAt, restoredAt time.Time
			done := make(chan struct{})
			go func() {
				defer close(done)
				l.run(ctx, 8, 40*time.Millisecond, 30*time.Second)
			}()
			l.waitAnswered(t, "a third of the webhooks accepted", 20, 30*time.Second, attempt.ok)
			faultAt = time.Now()
			tc.fault(px)
			l.waitAnswered(t, "six refusals during the fault", 6, 30*time.Second, func(a attempt) bool { return a.Start.After(faultAt) })
			require.NoError(t, px.Restore())
			restoredAt = time.Now()
			<-done

			all := l.Attempts(nil)
			accepted := l.Attempts(attempt.ok)
			refused := l.Attempts(func(a attempt) bool { return !a.ok() })
			t.Logf("%d attempts for %d webhooks: %v; refusals took at most %s; fault held %s",
				len(all), len(l.hooks), statusCounts(all), maxLatency(refused).Round(time.Millisecond), restoredAt.Sub(faultAt).Round(time.Millisecond))

			require.NotEmpty(t, refused, "the fault was never felt")
			for _, a := range refused {
				assert.Equal(t, http.StatusServiceUnavailable, a.Status, "webhook %d: a failed publish must be answered 503 (0 means no answer within Didit's 5 s)", a.Hook)
				assert.Less(t, a.End.Sub(a.Start), refusalBound, "webhook %d: refusal took too long", a.Hook)
			}
			for _, a := range accepted {
				assert.False(t, a.Start.After(faultAt) && a.End.Before(restoredAt), "webhook %d answered 2xx while the path was dead", a.Hook)
			}
			assert.NotEmpty(t, l.Attempts(func(a attempt) bool { return a.ok() && a.Start.After(restoredAt) }),
				"the receiver never recovered after the path came back")

			// Every 2xx ends in Firestore, exactly once; and with Didit's retries, so does every webhook.
			acceptedHooks := hookIndexes(accepted)
			require.Len(t, acceptedHooks, len(l.hooks), "every webhook is eventually accepted (Didit retries 5xx)")
			l.waitInFirestore(ctx, t, "every accepted webhook in Firestore", acceptedHooks, 60*time.Second)
			l.acceptedOnce(ctx, t, acceptedHooks)

			copies := l.publishedCopies()
			extra := 0
			for _, i := range acceptedHooks {
				n2xx := len(l.Attempts(func(a attempt) bool { return a.Hook == i && a.ok() }))
				extra += copies[l.hooks[i].EventID] - n2xx
			}
			t.Logf("%d webhooks answered 503 were published anyway (ambiguous publishes), absorbed by the scorer's dedupe", extra)
		})
	}
}

// TestPubSubKilledUnderLoad SIGKILLs a dedicated Pub/Sub emulator in the middle of a steady
// stream of webhooks whose sender re-sends every 5xx, as Didit does, then restarts it and
// re-creates the topology (which Terraform keeps in the cloud). Asserted: no webhook is
// answered 2xx while the emulator is down; every refusal is a prompt 503; the receiver recovers
// by itself, with the client it was built with; every webhook accepted after the kill ends in
// Firestore exactly once.
//
// The receiver reaches the emulator through a proxy that is cut with the kill and restored
// once the topology is back: a restarted emulator has the topic a moment before it has the
// topic's subscriptions, and a publish accepted in between reaches no subscriber. That gap is
// an artifact of re-creating the topology, which in the cloud persists.
//
// Webhooks accepted before the kill are not asserted on, only counted: the emulator keeps
// messages in memory only, so a SIGKILL loses whatever it had confirmed but not yet delivered.
// Real Pub/Sub confirms a publish only once it is stored durably in several zones, and a
// server crash there loses nothing; the count logged below is an artifact of the emulator, and
// TestPubSubPathDiesUnderLoad covers the same outage with a broker that, like the real one,
// keeps what it confirmed.
func TestPubSubKilledUnderLoad(t *testing.T) {
	ctx := context.Background()
	e := startEmulator(t, emulator.PubSub)
	px := startProxy(t, e.Host)
	p := newPipeline(t, pipelineOptions{
		Hosts: hosts{AdminPubSub: e.Host, ReceiverPubSub: px.Addr},
		Env:   map[string]string{"PUBLISH_TIMEOUT": publishTimeout.String()},
	})
	l := newLoad(p, "kill", 60)

	done := make(chan struct{})
	go func() {
		defer close(done)
		l.run(ctx, 8, 50*time.Millisecond, 45*time.Second)
	}()
	l.waitAnswered(t, "a third of the webhooks accepted", 20, 30*time.Second, attempt.ok)
	killAt := time.Now()
	px.Cut()
	e.Kill()
	killed := time.Now()
	l.waitAnswered(t, "refusals while the emulator is dead", 6, 30*time.Second, func(a attempt) bool { return a.Start.After(killed) })
	require.NoError(t, e.Restart(ctx))
	waitFor(t, "the topology re-created on the restarted emulator", 30*time.Second, func() (bool, error) {
		err := p.topo.Create(ctx, p.ps, p.project, p.endpoint)
		return err == nil, err
	})
	require.NoError(t, px.Restore())
	up := time.Now()
	<-done

	all := l.Attempts(nil)
	refused := l.Attempts(func(a attempt) bool { return !a.ok() })
	t.Logf("%d attempts for %d webhooks: %v; refusals took at most %s; down %s (kill → topology back)",
		len(all), len(l.hooks), statusCounts(all), maxLatency(refused).Round(time.Millisecond), up.Sub(killAt).Round(time.Millisecond))

	whileDown := l.Attempts(func(a attempt) bool { return a.Start.After(killed) && a.End.Before(up) })
	require.NotEmpty(t, whileDown, "no attempt fell inside the outage: the test proved nothing")
	for _, a := range whileDown {
		assert.False(t, a.ok(), "webhook %d answered %d while the emulator was down", a.Hook, a.Status)
	}
	for _, a := range refused {
		assert.Equal(t, http.StatusServiceUnavailable, a.Status, "webhook %d: a failed publish must be answered 503 (0 means no answer within Didit's 5 s)", a.Hook)
		assert.Less(t, a.End.Sub(a.Start), refusalBound, "webhook %d: refusal took too long", a.Hook)
	}

	// Every webhook is eventually accepted: the receiver recovered without being rebuilt.
	final := map[int]attempt{}
	for _, a := range l.Attempts(attempt.ok) {
		final[a.Hook] = a
	}
	require.Len(t, final, len(l.hooks), "every webhook is eventually accepted (Didit retries 5xx)")
	var after, before []int
	for i, a := range final {
		if a.Start.After(killed) {
			after = append(after, i)
		} else {
			before = append(before, i)
		}
	}
	require.NotEmpty(t, after, "no webhook was accepted after the restart")
	l.waitInFirestore(ctx, t, "every webhook accepted after the kill in Firestore", after, 60*time.Second)
	l.acceptedOnce(ctx, t, after)

	// Count, don't assert, what the emulator lost of what it had confirmed before the kill; what
	// did arrive must still have arrived once.
	var lost, kept []int
	for _, i := range before {
		ok, err := hasMarker(ctx, p.fs, l.hooks[i])
		require.NoError(t, err)
		if ok {
			kept = append(kept, i)
		} else {
			lost = append(lost, i)
		}
	}
	l.acceptedOnce(ctx, t, kept)
	t.Logf("accepted before the kill: %d; of these the emulator lost %d (in-memory broker; real Pub/Sub would not)", len(before), len(lost))
}
