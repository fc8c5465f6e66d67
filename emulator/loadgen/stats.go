package loadgen

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Latencies is a sorted sample.
type Latencies []time.Duration

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100): the smallest sample with at least
// p% of the sample at or below it. An empty sample has none: 0.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	// p*n first and a hair off, so that p99 of 100 samples is rank 99, not 100 by rounding.
	rank := int(math.Ceil(p*float64(len(l))/100 - 1e-9))
	return l[min(max(rank, 1), len(l))-1]
}

// Max is the largest sample, 0 for none.
func (l Latencies) Max() time.Duration {
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1]
}

// Recorder collects latencies from concurrent calls.
type Recorder struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one latency.
func (r *Recorder) Add(d time.Duration) {
	r.mu.Lock()
	r.d = append(r.d, d)
	r.mu.Unlock()
}

// Sorted returns a sorted copy of what was recorded so far.
func (r *Recorder) Sorted() Latencies {
	r.mu.Lock()
	s := slices.Clone(r.d)
	r.mu.Unlock()
	slices.Sort(s)
	return s
}

// Summary is the outcome of one run.
type Summary struct {
	Rate       float64
	Duration   time.Duration
	Sent       int     // requests that got an answer or a transport error
	Acked      int     // answered 2xx
	Throughput float64 // acks per second, from the first due time to the last ack
	Ack        Latencies
	E2E        Latencies // due time → decision event received, for acked webhooks that carry a decision
	Decisions  int       // decision events seen for this run's webhooks
	Expected   int       // acked webhooks that carry a decision
	Lost       int       // acked, yet missing from Firestore after the drain
	Late       int       // started more than the schedule's slack after their due time
	Unsent     int       // never started (interrupted)
	Errors     map[string]int
}

// Line is the one-line summary.
func (s Summary) Line() string {
	return fmt.Sprintf("load: rate=%g/s duration=%s sent=%d acked=%d throughput=%.1f/s "+
		"ack_p50=%s ack_p95=%s ack_p99=%s ack_max=%s e2e_p50=%s e2e_p99=%s decisions=%d/%d lost=%d late=%d unsent=%d errors=%s",
		s.Rate, s.Duration, s.Sent, s.Acked, s.Throughput,
		ms(s.Ack, 50), ms(s.Ack, 95), ms(s.Ack, 99), ms(s.Ack, 100), ms(s.E2E, 50), ms(s.E2E, 99),
		s.Decisions, s.Expected, s.Lost, s.Late, s.Unsent, counts(s.Errors))
}

// ms renders a percentile in milliseconds; "n/a" for an empty sample.
func ms(l Latencies, p float64) string {
	if len(l) == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fms", float64(l.Percentile(p))/float64(time.Millisecond))
}

// counts renders a map with sorted keys: {503:2 transport:1}.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}
