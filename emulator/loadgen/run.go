package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/webhook"
)

// Config is one run against a running stack.
type Config struct {
	URL            string // the receiver
	Project        string
	DecisionsTopic string
	PubSub         *pubsub.Client    // on the emulator
	Firestore      *firestore.Client // on the emulator
	HTTP           *http.Client

	Requests    []Request // from Build, in send order
	Schedule    Schedule
	RunID       string        // names the decisions subscription
	Drain       time.Duration // how long to wait, after the last ack, for every acked webhook to reach Firestore
	Progress    io.Writer     // one line a second
	DrainPeriod time.Duration // Firestore re-check interval while draining; 0 means 5 s
}

// run is the shared state of one run.
type run struct {
	cfg     Config
	start   time.Time
	ack     Recorder
	acked   []atomic.Bool
	decided []atomic.Int64 // unix nanos of the first decision event seen, per request
	index   map[string]int // event id → request
	nSent   atomic.Int64
	nAcked  atomic.Int64
	nDec    atomic.Int64
	pending atomic.Int64 // acked webhooks not yet confirmed in Firestore; -1 until the first check
	lastAck atomic.Int64
	mu      sync.Mutex
	errors  map[string]int
}

// Run sends cfg.Requests on schedule and measures. End-to-end latency comes from a pull
// subscription on the decisions topic, created before the first send: the scorer publishes a
// webhook's decision (attribute assessment_id = the event id) only after the transaction that
// wrote the profile and the assessment committed, so its arrival is a point at which the update
// is readable. Losses are counted from Firestore itself: every acked webhook's document is read
// at the end.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.DrainPeriod == 0 {
		cfg.DrainPeriod = 5 * time.Second
	}
	n := len(cfg.Requests)
	cfg.Schedule.N = n
	r := &run{cfg: cfg, acked: make([]atomic.Bool, n), decided: make([]atomic.Int64, n),
		index: make(map[string]int, n), errors: map[string]int{}}
	r.pending.Store(-1)
	for i, q := range cfg.Requests {
		r.index[q.EventID] = i
	}

	stopWatch, err := r.watchDecisions(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer stopWatch()

	progressDone := make(chan struct{})
	defer close(progressDone)
	r.start = time.Now().Add(50 * time.Millisecond)
	go r.progress(progressDone)

	late, unsent := cfg.Schedule.Run(ctx, r.start, func(i int, due time.Time) { r.send(ctx, i, due) })
	sendEnd := time.Now()

	lost, err := r.drain(ctx, sendEnd.Add(cfg.Drain))
	s := r.summary(late, unsent, lost)
	return s, err
}

// send delivers request i as Didit does: raw-body signature, current X-Timestamp.
func (r *run) send(ctx context.Context, i int, due time.Time) {
	q := r.cfg.Requests[i]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.URL, bytes.NewReader(q.Body))
	if err != nil {
		r.fail("request")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
	req.Header.Set("X-Signature", q.Signature)
	resp, err := r.cfg.HTTP.Do(req)
	r.nSent.Add(1)
	if err != nil {
		r.fail("transport")
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body) // so the connection is reused
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		r.fail(strconv.Itoa(resp.StatusCode))
		return
	}
	now := time.Now()
	r.ack.Add(now.Sub(due))
	r.acked[i].Store(true)
	r.nAcked.Add(1)
	for {
		last := r.lastAck.Load()
		if now.UnixNano() <= last || r.lastAck.CompareAndSwap(last, now.UnixNano()) {
			break
		}
	}
}

func (r *run) fail(kind string) {
	r.mu.Lock()
	r.errors[kind]++
	r.mu.Unlock()
}

// watchDecisions subscribes to the decisions topic for this run; the subscription is deleted
// when the returned func is called.
func (r *run) watchDecisions(ctx context.Context) (func(), error) {
	name := fmt.Sprintf("projects/%s/subscriptions/load-%s", r.cfg.Project, r.cfg.RunID)
	_, err := r.cfg.PubSub.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: name, Topic: fmt.Sprintf("projects/%s/topics/%s", r.cfg.Project, r.cfg.DecisionsTopic), AckDeadlineSeconds: 60,
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s (is `make run` running?): %w", r.cfg.DecisionsTopic, err)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.cfg.PubSub.Subscriber(name).Receive(rctx, func(_ context.Context, m *pubsub.Message) {
			now := time.Now().UnixNano()
			m.Ack()
			i, ok := r.index[m.Attributes[message.AttrAssessmentID]]
			if ok && r.decided[i].CompareAndSwap(0, now) { // redeliveries republish: count the first
				r.nDec.Add(1)
			}
		})
	}()
	return func() {
		cancel()
		<-done
		dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer dcancel()
		_ = r.cfg.PubSub.SubscriptionAdminClient.DeleteSubscription(dctx, &pubsubpb.DeleteSubscriptionRequest{Subscription: name})
	}, nil
}

// verifyGrace is how long the last Firestore check may run past the drain deadline.
const verifyGrace = time.Minute

// drain waits until every acked webhook's document exists in Firestore or the deadline passes,
// and returns how many are still missing. It polls only the missing ones, and only once the
// decision events suggest the pipeline has caught up, to keep its own reads off the emulator.
func (r *run) drain(ctx context.Context, deadline time.Time) (int, error) {
	var missing []int
	for i := range r.cfg.Requests {
		if r.acked[i].Load() {
			missing = append(missing, i)
		}
	}
	expected := int64(0)
	for _, i := range missing {
		if r.cfg.Requests[i].HasDecision() {
			expected++
		}
	}
	// The reads are bounded too: a stuck emulator must not hold the run past its drain.
	ctx, cancel := context.WithDeadline(ctx, deadline.Add(verifyGrace))
	defer cancel()
	// Wait for the decisions to catch up first (or to stall for a few seconds: a webhook in
	// Pub/Sub's retry backoff, or one that was lost), then confirm each one in Firestore.
	seen, moved := r.nDec.Load(), time.Now()
	for seen < expected && time.Now().Before(deadline) && time.Since(moved) < 5*time.Second && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if d := r.nDec.Load(); d != seen {
			seen, moved = d, time.Now()
		}
	}
	for {
		var err error
		if missing, err = r.missing(ctx, missing); err != nil {
			return len(missing), fmt.Errorf("%d acked webhooks not confirmed in Firestore: %w", len(missing), err)
		}
		r.pending.Store(int64(len(missing)))
		if len(missing) == 0 || !time.Now().Add(r.cfg.DrainPeriod).Before(deadline) {
			return len(missing), nil
		}
		select {
		case <-ctx.Done():
			return len(missing), ctx.Err()
		case <-time.After(r.cfg.DrainPeriod):
		}
	}
}

// missing returns those of idx whose document does not exist yet.
func (r *run) missing(ctx context.Context, idx []int) ([]int, error) {
	const batch = 300
	var out []int
	for len(idx) > 0 {
		chunk := idx[:min(batch, len(idx))]
		idx = idx[len(chunk):]
		refs := make([]*firestore.DocumentRef, len(chunk))
		for k, i := range chunk {
			refs[k] = r.cfg.Firestore.Doc(r.cfg.Requests[i].DocPath())
		}
		snaps, err := r.cfg.Firestore.GetAll(ctx, refs)
		if err != nil {
			return append(out, append(chunk, idx...)...), fmt.Errorf("read Firestore: %w", err)
		}
		for k, s := range snaps {
			if !s.Exists() {
				out = append(out, chunk[k])
			}
		}
	}
	return out, nil
}

func (r *run) progress(done <-chan struct{}) {
	if r.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			drain := ""
			if p := r.pending.Load(); p >= 0 {
				drain = fmt.Sprintf(" unconfirmed=%d", p)
			}
			fmt.Fprintf(r.cfg.Progress, "load: t=%2.0fs sent=%d acked=%d ack_p99=%s decisions=%d errors=%d%s\n",
				now.Sub(r.start).Seconds(), r.nSent.Load(), r.nAcked.Load(), ms(r.ack.Sorted(), 99), r.nDec.Load(), r.errorCount(), drain)
		}
	}
}

func (r *run) errorCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.errors {
		n += c
	}
	return n
}

func (r *run) summary(late, unsent, lost int) Summary {
	s := Summary{
		Rate: r.cfg.Schedule.Rate, Duration: r.cfg.Schedule.Due(r.start, len(r.cfg.Requests)).Sub(r.start),
		Sent: int(r.nSent.Load()), Acked: int(r.nAcked.Load()), Ack: r.ack.Sorted(),
		Decisions: int(r.nDec.Load()), Lost: lost, Late: late, Unsent: unsent, Errors: map[string]int{},
	}
	if last := r.lastAck.Load(); last > 0 {
		s.Throughput = float64(s.Acked) / time.Unix(0, last).Sub(r.start).Seconds()
	}
	var e2e Recorder
	for i, q := range r.cfg.Requests {
		if !r.acked[i].Load() || !q.HasDecision() {
			continue
		}
		s.Expected++
		if at := r.decided[i].Load(); at != 0 {
			e2e.Add(time.Unix(0, at).Sub(r.cfg.Schedule.Due(r.start, i)))
		}
	}
	s.E2E = e2e.Sorted()
	r.mu.Lock()
	for k, v := range r.errors {
		s.Errors[k] = v
	}
	r.mu.Unlock()
	return s
}
