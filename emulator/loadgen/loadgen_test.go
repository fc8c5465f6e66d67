package loadgen

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/testdata"
)

func ms1(n ...int) Latencies {
	l := make(Latencies, len(n))
	for i, v := range n {
		l[i] = time.Duration(v) * time.Millisecond
	}
	return l
}

func TestPercentile(t *testing.T) {
	hundred := make(Latencies, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	thousand := make(Latencies, 1000)
	for i := range thousand {
		thousand[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name string
		l    Latencies
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"one sample is every percentile", ms1(7), 50, 7 * time.Millisecond},
		{"one sample p99", ms1(7), 99, 7 * time.Millisecond},
		{"median of four is the second (nearest rank)", ms1(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p100 is the max", ms1(1, 2, 3, 4), 100, 4 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100 is 99, not rounded up to 100", hundred, 99, 99 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99.9 of 1..1000", thousand, 99.9, 999 * time.Millisecond},
		{"tiny p is the min", hundred, 0.001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.l.Percentile(tc.p))
		})
	}
	assert.Equal(t, 100*time.Millisecond, hundred.Max())
	assert.Zero(t, Latencies(nil).Max())
}

func TestRecorderSortsACopy(t *testing.T) {
	var r Recorder
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { r.Add(time.Duration(100-i) * time.Millisecond) })
	}
	wg.Wait()
	s := r.Sorted()
	require.Len(t, s, 100)
	assert.IsNonDecreasing(t, []time.Duration(s))
	s[0] = time.Hour
	assert.Equal(t, time.Millisecond, r.Sorted()[0], "callers cannot disturb the recorder")
}

func TestScheduleDue(t *testing.T) {
	s := Schedule{Rate: 200}
	start := time.Unix(1000, 0)
	assert.Equal(t, start, s.Due(start, 0))
	assert.Equal(t, start.Add(5*time.Millisecond), s.Due(start, 1))
	assert.Equal(t, start.Add(time.Second), s.Due(start, 200))
	assert.Equal(t, start.Add(1500*time.Millisecond), Schedule{Rate: 2}.Due(start, 3))
}

// TestScheduleIsOpenLoop: slow calls do not slow the schedule down; each call starts at its
// due time, not when an earlier one returned.
func TestScheduleIsOpenLoop(t *testing.T) {
	// The slack is generous: these run on busy CI machines too.
	s := Schedule{Rate: 100, N: 20, MaxInFlight: 100, Slack: 50 * time.Millisecond}
	start := time.Now().Add(10 * time.Millisecond)
	var mu sync.Mutex
	started := make([]time.Time, s.N)
	dues := make([]time.Time, s.N)
	t0 := time.Now()
	late, unsent := s.Run(context.Background(), start, func(i int, due time.Time) {
		mu.Lock()
		started[i], dues[i] = time.Now(), due
		mu.Unlock()
		time.Sleep(150 * time.Millisecond) // far slower than the 10 ms between calls
	})
	elapsed := time.Since(t0)
	assert.Zero(t, late)
	assert.Zero(t, unsent)
	for i := range s.N {
		assert.Equal(t, s.Due(start, i), dues[i])
		assert.False(t, started[i].Before(dues[i]), "call %d started early", i)
		assert.Less(t, started[i].Sub(dues[i]), s.Slack, "call %d started late", i)
	}
	// Closed loop would take 20 × 150 ms = 3 s; open loop is the schedule plus one call.
	assert.Less(t, elapsed, time.Second)
	assert.GreaterOrEqual(t, elapsed, 190*time.Millisecond+150*time.Millisecond, "Run waits for calls in flight")
}

// TestScheduleCountsLateWhenSaturated: with one slot and slow calls, later calls wait for the
// slot, are counted late, and are handed their original due time so their wait is measured.
func TestScheduleCountsLateWhenSaturated(t *testing.T) {
	s := Schedule{Rate: 100, N: 5, MaxInFlight: 1, Slack: 5 * time.Millisecond}
	start := time.Now()
	var mu sync.Mutex
	var waits []time.Duration
	late, unsent := s.Run(context.Background(), start, func(i int, due time.Time) {
		mu.Lock()
		waits = append(waits, time.Since(due))
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	})
	assert.Equal(t, 4, late, "every call after the first waited for the slot")
	assert.Zero(t, unsent)
	require.Len(t, waits, 5)
	assert.Greater(t, waits[4], 150*time.Millisecond, "the last call's latency includes its wait for a slot")
}

func TestScheduleStopsOnCancel(t *testing.T) {
	s := Schedule{Rate: 100, N: 1000, MaxInFlight: 10, Slack: 10 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 105*time.Millisecond)
	defer cancel()
	var mu sync.Mutex
	fired := 0
	_, unsent := s.Run(ctx, time.Now(), func(int, time.Time) { mu.Lock(); fired++; mu.Unlock() })
	assert.Equal(t, s.N, fired+unsent)
	assert.Positive(t, fired)
	assert.Less(t, fired, 50, "nothing starts after the cancel")
}

func TestSummaryLine(t *testing.T) {
	s := Summary{
		Rate: 200, Duration: 30 * time.Second, Sent: 6000, Acked: 5997, Throughput: 199.9,
		Ack: ms1(1, 2, 3, 40), E2E: ms1(100, 250), Decisions: 4497, Expected: 4497,
		Errors: map[string]int{"transport": 1, "503": 2},
	}
	assert.Equal(t, "load: rate=200/s duration=30s sent=6000 acked=5997 throughput=199.9/s "+
		"ack_p50=2.0ms ack_p95=40.0ms ack_p99=40.0ms ack_max=40.0ms e2e_p50=100.0ms e2e_p99=250.0ms "+
		"decisions=4497/4497 lost=0 late=0 unsent=0 errors={503:2 transport:1}", s.Line())

	empty := Summary{Rate: 0.5, Duration: 2 * time.Second, Errors: map[string]int{}}
	assert.Equal(t, "load: rate=0.5/s duration=2s sent=0 acked=0 throughput=0.0/s ack_p50=n/a ack_p95=n/a ack_p99=n/a "+
		"ack_max=n/a e2e_p50=n/a e2e_p99=n/a decisions=0/0 lost=0 late=0 unsent=0 errors={}", empty.Line())
}

func TestPlan(t *testing.T) {
	const n = 5000
	p := Plan(7, 1000, n, "r1")
	require.Len(t, p, n)
	assert.Equal(t, p, Plan(7, 1000, n, "r1"), "the same seed gives the same traffic")
	assert.NotEqual(t, p, Plan(8, 1000, n, "r1"))

	kinds := map[scenario.Kind]int{}
	ids := map[string]bool{}
	decisions := map[string]int{} // per session
	startAt := map[string]int{}   // session → position of its "In Progress"
	sessionsOf := map[string]map[string]bool{}
	for i, w := range p {
		kinds[w.Kind]++
		assert.False(t, ids[w.EventID], "event id %s repeats", w.EventID)
		ids[w.EventID] = true
		if sessionsOf[w.User] == nil {
			sessionsOf[w.User] = map[string]bool{}
		}
		sessionsOf[w.User][w.Session] = true
		if w.HasDecision() {
			decisions[w.Session]++
			if at, ok := startAt[w.Session]; ok {
				assert.Less(t, at, i)
				assert.LessOrEqual(t, i-at, 2*maxStartLead)
			}
		} else {
			startAt[w.Session] = i
		}
	}
	for _, k := range scenario.Kinds {
		assert.Greater(t, kinds[k], n/20, "kind %s is in the mix", k)
	}
	for s, c := range decisions {
		assert.Equal(t, 1, c, "session %s has one decision, so none can be stale", s)
	}
	several := 0
	for _, ss := range sessionsOf {
		if len(ss) > 1 {
			several++
		}
	}
	assert.Greater(t, several, 100, "some users have several sessions")
	assert.Greater(t, len(sessionsOf), 900, "sessions spread over the users")
}

func TestDocPath(t *testing.T) {
	w := Webhook{Kind: scenario.Clean, User: "load-r-u000001", Session: "load-r-s0000001", EventID: "load-r-e0000002"}
	assert.Equal(t, "risk_profiles/load-r-u000001/assessments/load-r-e0000002", w.DocPath())
	w.Kind = scenario.Start
	assert.Equal(t, "risk_profiles/load-r-u000001/processed_events/load-r-e0000002", w.DocPath())
}

func TestBuildSignsEveryBody(t *testing.T) {
	b, err := scenario.NewBuilder(testdata.Dir(t, "webhooks"))
	require.NoError(t, err)
	plan := Plan(1, 10, 50, "r")
	base := time.Unix(1767225600, 0)
	reqs, err := Build(b, []byte("s3cret"), plan, func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) })
	require.NoError(t, err)
	require.Len(t, reqs, 50)
	for i, q := range reqs {
		assert.Contains(t, string(q.Body), `"event_id":"`+q.EventID+`"`)
		assert.Contains(t, string(q.Body), `"vendor_data":"`+q.User+`"`)
		assert.Len(t, q.Signature, 64)
		if i > 0 {
			assert.NotEqual(t, reqs[i-1].Signature, q.Signature)
		}
	}
}
