//go:build integration

package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/receiver"
	"github.com/riskwire/didit-risk/internal/scorer"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/webhook"
	"github.com/riskwire/didit-risk/testdata"
)

// These benchmarks split the pipeline at the emulators, so that a run of `make load` can be read
// as "the functions need X, the emulators need Y". Besides ns/op they report webhooks/s and the
// CPU each side spent per webhook: go-cpu-µs/op is this process (the function's code and its
// clients), emu-cpu-µs/op the emulator JVM(s) involved. Run them with
//
//	go run ./emulator/cmd/with-emulators -- go test -tags integration -run '^$' -bench . -benchtime 3000x ./emulator/loadgen/

var discard = logging.New(io.Discard, "json", "info")

type noPublish struct{}

func (noPublish) Publish(context.Context, []byte, map[string]string) (string, error) { return "d", nil }

// BenchmarkScorer runs the scorer's handler on the load mix (Plan, with a fifth as many users
// as webhooks: several sessions per user, step-ups, reviews) against the Firestore emulator,
// retrying a failed call at once as Pub/Sub would after its backoff. "firestore" publishes
// decisions nowhere; "firestore+pubsub" publishes them to the Pub/Sub emulator, as the deployed
// scorer does. The emulator's push subscription delivers at most 2 messages at a time, which is
// what the scorer sees under `make run`; Cloud Run would give it far more.
func BenchmarkScorer(b *testing.B) {
	for _, withPubSub := range []bool{false, true} {
		for _, inflight := range []int{2, 8, 32} {
			name := "firestore"
			if withPubSub {
				name = "firestore+pubsub"
			}
			b.Run(fmt.Sprintf("%s/inflight=%d", name, inflight), func(b *testing.B) {
				benchScorer(b, withPubSub, inflight)
			})
		}
	}
}

func benchScorer(b *testing.B, withPubSub bool, inflight int) {
	project := emulatortest.Project(b)
	fs := emulatortest.Firestore(b, project)
	var pub queue.Publisher = noPublish{}
	emus := []string{"FIRESTORE_EMULATOR_HOST"}
	if withPubSub {
		pub = emulatorTopic(b, project, "decisions")
		emus = append(emus, "PUBSUB_EMULATOR_HOST")
	}
	h := &scorer.Handler{
		Profiles: profile.NewStore(fs), Engine: scoring.NewEngine(policy.Default()),
		Hash: scoring.NewHasher([]byte("bench-hash-key")), Decisions: pub, Log: discard, Now: time.Now,
	}
	events := pushEvents(b, Plan(1, max(b.N/5, 1), b.N, "bench"+strconv.Itoa(b.N)))

	var next, retries atomic.Int64
	cpu := startCPU(b, emus...)
	parallel(b, inflight, func() {
		e := events[next.Add(1)-1]
		for attempt := 0; ; attempt++ {
			err := h.Handle(context.Background(), e)
			if err == nil {
				return
			}
			if attempt == 30 {
				b.Errorf("event %s: %v", e.ID(), err)
				return
			}
			retries.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	})
	cpu.report(b)
	b.ReportMetric(float64(retries.Load())/float64(b.N), "retries/op")
}

// parallel runs op b.N times from exactly inflight goroutines.
func parallel(b *testing.B, inflight int, op func()) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				op()
			}
		})
	}
	wg.Wait()
}

// BenchmarkReceiverPubSubEmulator is BenchmarkHandler (internal/receiver) with the Pub/Sub
// emulator in place of the in-process fake, 32 requests in flight: what the receiver reaches when
// every ack waits for the emulator's publish confirmation.
func BenchmarkReceiverPubSubEmulator(b *testing.B) {
	project := emulatortest.Project(b)
	topic := emulatorTopic(b, project, "webhooks")
	secret := []byte("bench-secret")
	v, err := webhook.NewVerifier(webhook.Config{Secrets: [][]byte{secret}})
	require.NoError(b, err)
	h := &receiver.Handler{Verify: v, Publisher: topic, Log: discard,
		Now: time.Now, MaxBodyBytes: 2 << 20}

	bld, err := scenario.NewBuilder(testdata.Dir(b, "webhooks"))
	require.NoError(b, err)
	reqs, err := Build(bld, secret, Plan(1, 1000, 2000, "bench"), func(int) time.Time { return time.Now() })
	require.NoError(b, err)

	var next atomic.Int64
	cpu := startCPU(b, "PUBSUB_EMULATOR_HOST")
	parallel(b, 32, func() {
		q := reqs[int(next.Add(1)-1)%len(reqs)]
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(q.Body))
		r.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(time.Now().Unix(), 10))
		r.Header.Set("X-Signature", q.Signature)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Errorf("status %d: %s", w.Code, w.Body)
		}
	})
	cpu.report(b)
}

// emulatorTopic creates a topic on the Pub/Sub emulator and a publisher with the pipeline's
// settings. Nothing subscribes: the emulator keeps no messages for a topic without subscriptions.
func emulatorTopic(b *testing.B, project, id string) *queue.Topic {
	c := emulatortest.PubSub(b, project)
	_, err := c.TopicAdminClient.CreateTopic(context.Background(), &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + id})
	if status.Code(err) != codes.AlreadyExists { // a benchmark runs once per b.N tried
		require.NoError(b, err)
	}
	t := queue.NewTopic(c, id, 10*time.Second)
	b.Cleanup(t.Stop)
	return t
}

// pushEvents renders the plan's webhooks as the Pub/Sub CloudEvents the scorer receives, with
// the attributes the receiver sets.
func pushEvents(b *testing.B, plan []Webhook) []event.Event {
	bld, err := scenario.NewBuilder(testdata.Dir(b, "webhooks"))
	require.NoError(b, err)
	base := time.Now()
	reqs, err := Build(bld, []byte("unused"), plan, func(i int) time.Time { return base.Add(time.Duration(i) * time.Millisecond) })
	require.NoError(b, err)
	events := make([]event.Event, len(reqs))
	for i, q := range reqs {
		data, err := json.Marshal(queue.MessagePublished{
			Message: queue.Message{Data: q.Body, ID: strconv.Itoa(i), PublishTime: base, Attributes: message.WebhookAttrs{
				EventKey: q.EventID, SessionID: q.Session, VendorData: q.User, Signature: "raw",
				Class: message.ClassSession, DecisionAuthenticated: true,
			}.Attributes()},
			Subscription: "projects/p/subscriptions/scorer-push",
		})
		require.NoError(b, err)
		e := event.New()
		e.SetID(strconv.Itoa(i))
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetSource("//pubsub.googleapis.com/projects/p/topics/didit-webhooks")
		require.NoError(b, e.SetData("application/json", data))
		events[i] = e
	}
	return events
}

// cpuMeter measures CPU time spent by this process and by the emulator JVMs during a benchmark.
type cpuMeter struct {
	goStart, emuStart time.Duration
	pids              []int
	wall              time.Time
}

func startCPU(b *testing.B, emulatorEnv ...string) *cpuMeter {
	m := &cpuMeter{goStart: selfCPU()}
	for _, env := range emulatorEnv {
		if _, port, err := net.SplitHostPort(os.Getenv(env)); err == nil {
			m.pids = append(m.pids, javaOnPort(port)...)
		}
	}
	m.emuStart = procCPU(m.pids)
	b.ResetTimer()
	m.wall = time.Now()
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	b.StopTimer()
	wall := time.Since(m.wall)
	n := float64(b.N)
	b.ReportMetric(n/wall.Seconds(), "webhooks/s")
	b.ReportMetric(float64((selfCPU()-m.goStart).Microseconds())/n, "go-cpu-µs/op")
	if len(m.pids) > 0 {
		b.ReportMetric(float64((procCPU(m.pids)-m.emuStart).Microseconds())/n, "emu-cpu-µs/op")
	}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// javaOnPort finds the emulator JVM listening on port by its command line (Linux /proc).
func javaOnPort(port string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []int
	for _, d := range dirs {
		raw, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if len(args) == 0 || filepath.Base(args[0]) != "java" {
			continue
		}
		for _, a := range args {
			if a == "--port="+port {
				if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(d))); err == nil {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// procCPU sums utime+stime of pids from /proc/PID/stat (clock ticks of 10 ms).
func procCPU(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		s := string(raw)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // fields[0] is field 3 (state)
		if len(fields) < 13 {
			continue
		}
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return total
}
