//go:build integration

package faults

import (
	"context"
	"fmt"

	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
)

// attempt is one delivery of a webhook to the receiver, as Didit saw it.
type attempt struct {
	Hook       int // index into load.hooks
	Start, End time.Time
	Status     int // 0: no answer within Didit's 5 s timeout
}

func (a attempt) ok() bool { return a.Status >= 200 && a.Status <= 299 }

// load plays Didit under load: distinct webhooks fed at a steady pace to a few concurrent
// senders, each re-sending its webhook after a short pause while the receiver answers 5xx (Didit
// retries 5xx; its real backoff is longer). Every attempt is recorded.
type load struct {
	p     *pipeline
	hooks []hook

	mu       sync.Mutex
	attempts []attempt
}

// newLoad builds n webhooks of decided kinds, one user each, so every accepted webhook must
// leave exactly one marker and one assessment.
func newLoad(p *pipeline, prefix string, n int) *load {
	kinds := []scenario.Kind{scenario.Clean, scenario.Review, scenario.Risky}
	l := &load{p: p}
	base := time.Now()
	for i := range n {
		id := fmt.Sprintf("%s-%03d", prefix, i)
		l.hooks = append(l.hooks, p.hook(kinds[i%len(kinds)], "user-"+id, "session-"+id, "event-"+id, base.Add(time.Duration(i)*time.Second)))
	}
	return l
}

// run sends every webhook, one every interval, with `senders` concurrent senders, and returns
// when each has been answered 2xx or retryFor has passed since its first attempt.
func (l *load) run(ctx context.Context, senders int, interval, retryFor time.Duration) {
	feed := make(chan int)
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range feed {
				first := time.Now()
				for {
					a := attempt{Hook: i, Start: time.Now()}
					a.Status = l.p.send(ctx, l.hooks[i])
					a.End = time.Now()
					l.mu.Lock()
					l.attempts = append(l.attempts, a)
					l.mu.Unlock()
					if a.ok() || time.Since(first) > retryFor || ctx.Err() != nil {
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
			}
		}()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := range l.hooks {
		feed <- i
		<-tick.C
	}
	close(feed)
	wg.Wait()
}

// Attempts returns the recorded attempts that keep holds for.
func (l *load) Attempts(keep func(attempt) bool) []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attempt
	for _, a := range l.attempts {
		if keep == nil || keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// waitAnswered blocks until n attempts matching keep have been answered.
func (l *load) waitAnswered(t *testing.T, what string, n int, limit time.Duration, keep func(attempt) bool) {
	t.Helper()
	waitFor(t, what, limit, func() (bool, error) { return len(l.Attempts(keep)) >= n, nil })
}

// acceptedOnce checks that each of the webhooks was applied exactly once: its processed marker
// and its assessment exist, and its user's profile counted one event and one assessment.
func (l *load) acceptedOnce(ctx context.Context, t *testing.T, idx []int) {
	t.Helper()
	for _, i := range idx {
		h := l.hooks[i]
		ids, err := docIDs(ctx, l.p.fs, h.User, profile.Assessments)
		require.NoError(t, err)
		assert.Equal(t, []string{h.EventID}, ids, "%s: exactly one assessment", h.EventID)
		pr, found, err := l.p.profileOf(ctx, h.User)
		require.NoError(t, err)
		if assert.True(t, found, "%s: no profile", h.User) {
			assert.Equal(t, 1, pr.EventsApplied, "%s: events_applied", h.User)
			assert.Equal(t, 1, pr.AssessmentsTotal, "%s: assessments_total", h.User)
		}
	}
}

// waitInFirestore waits until every webhook in idx has its processed marker.
func (l *load) waitInFirestore(ctx context.Context, t *testing.T, what string, idx []int, limit time.Duration) {
	t.Helper()
	pending := map[int]bool{}
	for _, i := range idx {
		pending[i] = true
	}
	waitFor(t, what, limit, func() (bool, error) {
		for i := range pending {
			ok, err := hasMarker(ctx, l.p.fs, l.hooks[i])
			if err != nil {
				return false, err
			}
			if ok {
				delete(pending, i)
			}
		}
		if len(pending) > 0 {
			return false, fmt.Errorf("%d webhooks not in Firestore yet", len(pending))
		}
		return true, nil
	})
}

// publishedCopies counts, per webhook, the distinct Pub/Sub messages that reached the scorer:
// more than its 2xx answers means a publish the receiver reported as failed went through after
// all (an ambiguous publish; the scorer's dedupe absorbs it).
func (l *load) publishedCopies() map[string]int {
	ids := map[string]map[string]bool{}
	for _, d := range l.p.pushes.Filter(func(d delivery) bool { return d.Topic == l.p.topo.Webhooks }) {
		k := d.Attrs[message.AttrEventID]
		if ids[k] == nil {
			ids[k] = map[string]bool{}
		}
		ids[k][d.MessageID] = true
	}
	out := map[string]int{}
	for k, v := range ids {
		out[k] = len(v)
	}
	return out
}

func hookIndexes(as []attempt) []int {
	seen := map[int]bool{}
	var out []int
	for _, a := range as {
		if !seen[a.Hook] {
			seen[a.Hook] = true
			out = append(out, a.Hook)
		}
	}
	return out
}

func statusCounts(as []attempt) map[int]int {
	m := map[int]int{}
	for _, a := range as {
		m[a.Status]++
	}
	return m
}

func maxLatency(as []attempt) time.Duration {
	var m time.Duration
	for _, a := range as {
		m = max(m, a.End.Sub(a.Start))
	}
	return m
}
