//go:build integration

// Package faults proves the pipeline's delivery guarantees under injected faults: a dying
// Pub/Sub, a dying Firestore, a misbehaving Didit API, chaotic delivery, poison messages and
// replayed webhooks. Every test wires the three real functions (receiver, scorer, step-up, built
// by their New constructors exactly as the Cloud Run entry points build them) to real emulators
// and real push subscriptions, and asserts on what ends up in Firestore and in Didit.
//
// Push deliveries reach the CloudEvent functions through a small adapter (pushHandler) rather
// than the Functions Framework, whose server is process-global and cannot be stopped or started
// twice in one test binary; the framework's own conversion of the emulator's push into a
// CloudEvent is covered end to end by functions/cmd/local's TestWholeSystem.
package faults

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/functions/receiver"
	"github.com/riskwire/didit-risk/functions/scorer"
	"github.com/riskwire/didit-risk/functions/stepup"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/testdata"
)

const (
	webhookSecret = "whsec_faults_only"
	diditAPIKey   = "sk_faults_only"
	hashKey       = "faults-hash-key"
)

// testTopology is the production topology with retries shrunk to test time.
//
// The retry policy is zero on purpose. The Pub/Sub emulator (0.8.20) raises it to a 1 s
// minimum itself and then redelivers a failing push after about 1 s, then every 3 s. With any
// non-zero minimum backoff it stops redelivering altogether when several messages fail at once
// (seen: three attempts each, then nothing for minutes), which would turn every outage test into
// a test of that bug. Five attempts therefore span about 10 s here.
func testTopology() emulator.Topology {
	t := emulator.DefaultTopology()
	t.MinBackoff, t.MaxBackoff, t.MaxDeliveryAttempts = 0, 0, 5
	// A push the emulator gave up waiting for is redelivered only when its ack deadline
	// expires: keep that at the minimum Pub/Sub allows.
	t.AckDeadline = 10 * time.Second
	return t
}

// hosts says which address each function's client dials: the emulator itself or a fault proxy
// in front of it. Empty means the shared emulator from the environment.
type hosts struct {
	ReceiverPubSub, ScorerPubSub, ScorerFirestore, StepUpFirestore string
	// Admin is the Pub/Sub the test lays the topology on and inspects; Verify is the Firestore
	// the test reads results from. Both bypass any proxy.
	AdminPubSub, VerifyFirestore string
}

// pipelineOptions configures one pipeline.
type pipelineOptions struct {
	Hosts    hosts
	Topology emulator.Topology
	StepUp   bool              // wire the decisions push subscription to the step-up function
	Env      map[string]string // function configuration overrides (PUBLISH_TIMEOUT, ...)
	// FunctionTimeout bounds one invocation of an event function, as the deployment's request
	// timeout does; 0 means 30 s.
	FunctionTimeout time.Duration
}

// pipeline is the whole system of one test: the three functions behind one HTTP server (the
// receiver at /Receiver, the CloudEvent functions at their push paths), the Didit simulator,
// the topology on Pub/Sub, and clients to inspect the results.
type pipeline struct {
	t        *testing.T
	project  string
	topo     emulator.Topology
	srv      *httptest.Server
	sim      *diditsim.Server
	simSrv   *httptest.Server
	fs       *firestore.Client // verification client, direct to the emulator
	ps       *pubsub.Client    // admin client, direct to the emulator
	builder  *scenario.Builder
	logs     *logBuffer // every function's JSON log lines
	pushes   *pushLog
	endpoint emulator.Endpoints
	timeout  time.Duration // of one event function invocation
	api      *apiLog       // every call the step-up function made to the Didit simulator
}

func newPipeline(t *testing.T, o pipelineOptions) *pipeline {
	t.Helper()
	ctx := context.Background()
	h := o.Hosts
	h.AdminPubSub = cmp.Or(h.AdminPubSub, sharedHost(t, emulator.PubSub))
	h.VerifyFirestore = cmp.Or(h.VerifyFirestore, sharedHost(t, emulator.Firestore))
	h.ReceiverPubSub, h.ScorerPubSub = cmp.Or(h.ReceiverPubSub, h.AdminPubSub), cmp.Or(h.ScorerPubSub, h.AdminPubSub)
	h.ScorerFirestore, h.StepUpFirestore = cmp.Or(h.ScorerFirestore, h.VerifyFirestore), cmp.Or(h.StepUpFirestore, h.VerifyFirestore)
	if o.Topology.Webhooks == "" {
		o.Topology = testTopology()
	}

	p := &pipeline{t: t, project: project(t), topo: o.Topology, logs: &logBuffer{}, pushes: &pushLog{},
		timeout: cmp.Or(o.FunctionTimeout, 30*time.Second)}
	b, err := scenario.NewBuilder(testdata.Dir(t, "webhooks"))
	require.NoError(t, err)
	p.builder = b

	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)

	p.sim = diditsim.New(diditsim.Options{APIKey: diditAPIKey, Secret: webhookSecret, WebhookURL: p.srv.URL + "/Receiver"})
	p.api = &apiLog{}
	p.simSrv = httptest.NewServer(p.api.wrap(p.sim))
	t.Cleanup(func() { p.simSrv.Close(); _ = p.sim.Close() })

	cfg := map[string]string{
		"GOOGLE_CLOUD_PROJECT": p.project, "DIDIT_WEBHOOK_SECRET": webhookSecret, "LOG_FORMAT": "json",
		"HASH_KEY": hashKey, "PUBLISH_TIMEOUT": "2s",
		"DIDIT_API_URL": p.simSrv.URL, "DIDIT_API_KEY": diditAPIKey, "DIDIT_CALLBACK_URL": "https://app.example/done",
		"STEP_UP_WORKFLOWS":     "nfc=wf-nfc,phone=wf-phone,biometric=wf-bio,poa=wf-poa,email=wf-email",
		"DIDIT_REQUEST_TIMEOUT": "2s",
	}
	for k, v := range o.Env {
		cfg[k] = v
	}
	getenv := func(k string) string { return cfg[k] }

	// Google's clients read the emulator address from the process environment when they are
	// created: set it for each client in turn. Tests in this package never run in parallel.
	setHosts := func(ps, fs string) {
		t.Setenv("PUBSUB_EMULATOR_HOST", ps)
		t.Setenv("FIRESTORE_EMULATOR_HOST", fs)
	}

	setHosts(h.ReceiverPubSub, h.VerifyFirestore)
	recv, closeRecv, err := receiver.New(ctx, getenv, p.logs)
	require.NoError(t, err)
	t.Cleanup(closeRecv)
	mux.Handle("/Receiver", recv)

	setHosts(h.ScorerPubSub, h.ScorerFirestore)
	score, closeScore, err := scorer.New(ctx, getenv, p.logs)
	require.NoError(t, err)
	t.Cleanup(closeScore)
	mux.Handle(emulator.PushPath(p.project, p.topo.Webhooks), p.pushHandler(p.topo.Webhooks, score))
	p.endpoint.Scorer = p.srv.URL

	if o.StepUp {
		setHosts(h.AdminPubSub, h.StepUpFirestore)
		step, closeStep, err := stepup.New(ctx, getenv, p.logs)
		require.NoError(t, err)
		t.Cleanup(closeStep)
		mux.Handle(emulator.PushPath(p.project, p.topo.Decisions), p.pushHandler(p.topo.Decisions, step))
		p.endpoint.StepUp = p.srv.URL
	}

	setHosts(h.AdminPubSub, h.VerifyFirestore)
	p.ps, err = pubsub.NewClient(ctx, p.project)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.ps.Close() })
	p.fs, err = firestore.NewClient(ctx, p.project)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.fs.Close() })
	p.createTopology(ctx)

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs (last 60 lines):\n%s", p.logs.Tail(60))
		}
	})
	return p
}

var projects atomic.Int32

// project is a project id unique to this test run: `go test -count=N` reuses test names and the
// process id, and a second run must not meet the first run's subscriptions and documents.
func project(t *testing.T) string {
	return fmt.Sprintf("%s-%d", emulatortest.Project(t), projects.Add(1))
}

// createTopology lays out (or, after an emulator restart, re-creates) topics and subscriptions,
// as Terraform keeps them in the cloud.
func (p *pipeline) createTopology(ctx context.Context) {
	p.t.Helper()
	require.NoError(p.t, p.topo.Create(ctx, p.ps, p.project, p.endpoint))
}

// pushHandler turns the emulator's wrapped push ({"message":{...},"subscription":...}) into
// the messagePublished CloudEvent the Functions Framework would hand the function, and answers
// 204 (ack) or 500 (retry) as the framework does for a nil or non-nil error.
func (p *pipeline) pushHandler(topic string, fn func(context.Context, event.Event) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var push struct {
			Message struct {
				Data        []byte            `json:"data"`
				Attributes  map[string]string `json:"attributes"`
				MessageID   string            `json:"messageId"`
				PublishTime time.Time         `json:"publishTime"`
			} `json:"message"`
			Subscription    string `json:"subscription"`
			DeliveryAttempt int    `json:"deliveryAttempt"`
		}
		raw, err := io.ReadAll(r.Body)
		if err == nil {
			err = json.Unmarshal(raw, &push)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		m := push.Message
		data, err := json.Marshal(queue.MessagePublished{
			Message:      queue.Message{Data: m.Data, Attributes: m.Attributes, ID: m.MessageID, PublishTime: m.PublishTime},
			Subscription: push.Subscription, DeliveryAttempt: push.DeliveryAttempt,
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		e := event.New()
		e.SetID(m.MessageID)
		e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
		e.SetSource("//pubsub.googleapis.com/projects/" + p.project + "/topics/" + topic)
		e.SetTime(m.PublishTime)
		_ = e.SetData(event.ApplicationJSON, data)

		start := time.Now()
		ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
		defer cancel()
		code := http.StatusNoContent
		if err := fn(ctx, e); err != nil {
			code = http.StatusInternalServerError
		}
		p.pushes.add(delivery{Topic: topic, MessageID: m.MessageID, Attempt: push.DeliveryAttempt, Status: code,
			Start: start, End: time.Now(), Attrs: m.Attributes})
		w.WriteHeader(code)
	})
}

// apiCall is one request to the Didit simulator's API and its answer.
type apiCall struct {
	Method, Path string
	Status       int
	Start, End   time.Time
	Link         profile.StepUpLink // a create's metadata link: which (assessment, kind) it is for
}

// apiLog records the calls made to the Didit simulator, to check how the client retried.
type apiLog struct {
	mu    sync.Mutex
	calls []apiCall
}

func (l *apiLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := apiCall{Method: r.Method, Path: r.URL.Path, Start: time.Now()}
		if r.Method == http.MethodPost && r.Body != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Metadata map[string]any `json:"metadata"`
			}
			if json.Unmarshal(body, &req) == nil {
				c.Link, _ = profile.ParseStepUpLink(req.Metadata)
			}
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		c.Status, c.End = sw.status, time.Now()
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
	})
}

// Calls returns the recorded calls keep holds for, in the order they were answered.
func (l *apiLog) Calls(keep func(apiCall) bool) []apiCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []apiCall
	for _, c := range l.calls {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// statusWriter remembers the status answered; 0 when nothing was (the client had hung up).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// delivery is one push the emulator made to a function.
type delivery struct {
	Topic     string
	MessageID string
	Attempt   int // deliveryAttempt as the push carried it: the emulator (0.8.20) never sends it, so 0
	Status    int
	Start     time.Time // when the push reached the function
	End       time.Time // when the function answered
	Attrs     map[string]string
}

type pushLog struct {
	mu  sync.Mutex
	all []delivery
}

func (l *pushLog) add(d delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, d)
}

// Filter returns the deliveries matching keep, in arrival order.
func (l *pushLog) Filter(keep func(delivery) bool) []delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []delivery
	for _, d := range l.all {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// logBuffer collects JSON log lines from concurrent handlers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Entries returns the decoded log lines for which keep holds.
func (l *logBuffer) Entries(keep func(map[string]any) bool) []map[string]any {
	l.mu.Lock()
	data := append([]byte(nil), l.b.Bytes()...)
	l.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && keep(m) {
			out = append(out, m)
		}
	}
	return out
}

// Tail returns the last n lines, for failure reports.
func (l *logBuffer) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimRight(l.b.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// msg matches log entries by message and, optionally, attribute values.
func msg(message string, attrs ...string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		if m["message"] != message {
			return false
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if fmt.Sprint(m[attrs[i]]) != attrs[i+1] {
				return false
			}
		}
		return true
	}
}

// hook is one webhook a test sends, and what it expects in Firestore.
type hook struct {
	User, Session, EventID string
	Kind                   scenario.Kind
	At                     time.Time
	Body                   []byte
}

// decided reports whether the webhook carries a decision, and so must leave an assessment.
func (w hook) decided() bool { return w.Kind != scenario.Start }

func (p *pipeline) hook(kind scenario.Kind, user, session, eventID string, at time.Time) hook {
	p.t.Helper()
	body, err := p.builder.Webhook(kind, user, session, eventID, at)
	require.NoError(p.t, err)
	return hook{User: user, Session: session, EventID: eventID, Kind: kind, At: at, Body: body}
}

// send delivers a webhook as Didit does (signed now, 5 s timeout) and returns the receiver's
// status, 0 when it did not answer.
func (p *pipeline) send(ctx context.Context, w hook) int {
	d, _ := p.sim.SendWebhook(ctx, w.Body)
	return d.StatusCode
}

// profileOf reads a profile; found is false when it does not exist (yet).
func (p *pipeline) profileOf(ctx context.Context, user string) (profile.Profile, bool, error) {
	return readProfile(ctx, p.fs, user)
}

func readProfile(ctx context.Context, fs *firestore.Client, user string) (profile.Profile, bool, error) {
	var pr profile.Profile
	snap, err := fs.Collection(profile.Profiles).Doc(profile.DocID(user, "")).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return pr, false, nil
	}
	if err != nil {
		return pr, false, err
	}
	return pr, true, snap.DataTo(&pr)
}

// docIDs lists the ids of a user's sub-collection (assessments, processed_events).
func docIDs(ctx context.Context, fs *firestore.Client, user, sub string) ([]string, error) {
	it := fs.Collection(profile.Profiles).Doc(profile.DocID(user, "")).Collection(sub).Documents(ctx)
	defer it.Stop()
	var ids []string
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			return ids, nil
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, snap.Ref.ID)
	}
}

// hasAssessment reports whether the webhook's assessment exists.
func hasAssessment(ctx context.Context, fs *firestore.Client, w hook) (bool, error) {
	_, err := fs.Collection(profile.Profiles).Doc(profile.DocID(w.User, "")).
		Collection(profile.Assessments).Doc(profile.DocID(w.EventID, "")).Get(ctx)
	switch {
	case err == nil:
		return true, nil
	case status.Code(err) == codes.NotFound:
		return false, nil
	}
	return false, err
}

// hasMarker reports whether the webhook was processed (applied, stale or duplicate-checked).
func hasMarker(ctx context.Context, fs *firestore.Client, w hook) (bool, error) {
	_, err := fs.Collection(profile.Profiles).Doc(profile.DocID(w.User, "")).
		Collection(profile.Processed).Doc(profile.DocID(w.EventID, "")).Get(ctx)
	switch {
	case err == nil:
		return true, nil
	case status.Code(err) == codes.NotFound:
		return false, nil
	}
	return false, err
}

// startEmulator starts a dedicated emulator for a test that kills or restarts it; its output
// is shown when the test fails.
func startEmulator(t *testing.T, k emulator.Kind) *emulator.Emulator {
	t.Helper()
	var out logBuffer
	e, err := emulator.Start(context.Background(), k, "", &out)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = e.Stop()
		if t.Failed() {
			t.Logf("%s emulator output (tail):\n%s", k, out.Tail(30))
		}
	})
	return e
}

// startProxy puts a fault proxy in front of addr.
func startProxy(t *testing.T, addr string) *emulator.Proxy {
	t.Helper()
	px, err := emulator.NewProxy(addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = px.Close() })
	return px
}

// waitFor polls cond every interval until it holds or the deadline passes; cond's error is
// reported with the failure. Unlike require.Eventually it names what was awaited.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", limit, what, last)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// sharedHost is the shared emulator of kind k, as `with-emulators` started it.
func sharedHost(t *testing.T, k emulator.Kind) string {
	t.Helper()
	return emulatortest.Host(t, k.EnvVar())
}
