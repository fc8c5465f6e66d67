// Command load drives a running `make run` stack with signed, realistic Didit webhooks at a fixed
// rate, open loop, for a fixed time, then reports the receiver's ack latency and throughput, the
// end-to-end latency until each profile update is readable, errors, and how many acknowledged
// webhooks never reached Firestore (it exits 1 if any did). Progress goes to stderr once a
// second; the summary is one line on stdout.
//
//	go run ./emulator/cmd/load -rate 200 -duration 30s
//
// It only ever talks to loopback addresses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/riskwire/didit-risk/emulator/loadgen"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/config"
)

// Bounds that keep a run finite and its memory small: every body is built before the run.
const (
	maxRequests = 300_000
	maxDuration = 10 * time.Minute
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, os.Args[1:], os.Getenv, os.Setenv, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, setenv func(string, string) error, stdout, stderr io.Writer) (int, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	// Defaults are make run's, read from the same variables so that an overridden stack is found.
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	target := fs.String("url", "http://127.0.0.1:"+env("PORT", "8080")+"/Receiver", "receiver URL (loopback only)")
	secret := fs.String("secret", strings.TrimSpace(strings.Split(env("DIDIT_WEBHOOK_SECRET", "whsec_local_development_only"), ",")[0]), "webhook signing secret")
	psHost := fs.String("pubsub", env("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"), "Pub/Sub emulator host:port (loopback only)")
	fsHost := fs.String("firestore", env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8086"), "Firestore emulator host:port (loopback only)")
	project := fs.String("project", env("GOOGLE_CLOUD_PROJECT", "riskwire-local"), "project id on the emulators")
	topic := fs.String("decisions-topic", env("DECISIONS_TOPIC", config.DefaultDecisionsTopic), "topic the scorer publishes decisions to")
	rate := fs.Float64("rate", 200, "webhooks per second")
	duration := fs.Duration("duration", 30*time.Second, "how long to send")
	users := fs.Int("users", 5000, "distinct users the sessions are spread over")
	seed := fs.Uint64("seed", 1, "seed of the traffic mix (ids stay fresh per run)")
	inflight := fs.Int("max-inflight", 1000, "most requests in flight; more wait and count as late")
	timeout := fs.Duration("timeout", 10*time.Second, "per-request timeout")
	drain := fs.Duration("drain", 90*time.Second, "after sending, how long to wait for every acked webhook to reach Firestore")
	fixtures := fs.String("fixtures", "testdata/webhooks", "webhook fixtures directory")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	n := int(*rate * duration.Seconds())
	switch {
	case *rate <= 0 || *duration <= 0 || n < 1:
		return 2, errors.New("-rate and -duration must give at least one request")
	case n > maxRequests || *duration > maxDuration:
		return 2, fmt.Errorf("at most %d requests and %s per run", maxRequests, maxDuration)
	case *inflight < 1:
		return 2, errors.New("-max-inflight must be at least 1")
	}
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" {
		return 2, fmt.Errorf("-url %q: want an http://127.0.0.1:PORT address", *target)
	}
	for _, hp := range []string{u.Host, *psHost, *fsHost} {
		if err := loopback(hp); err != nil {
			return 2, err
		}
	}

	// Google's clients find the emulators only through these variables; setting them here also
	// guarantees the clients never reach a real project.
	for k, v := range map[string]string{"PUBSUB_EMULATOR_HOST": *psHost, "FIRESTORE_EMULATOR_HOST": *fsHost} {
		if err := setenv(k, v); err != nil {
			return 1, err
		}
	}
	ps, err := pubsub.NewClient(ctx, *project)
	if err != nil {
		return 1, fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	fsc, err := firestore.NewClient(ctx, *project)
	if err != nil {
		return 1, fmt.Errorf("firestore client: %w", err)
	}
	defer fsc.Close()

	b, err := scenario.NewBuilder(*fixtures)
	if err != nil {
		return 1, err
	}
	runID := strconv.FormatInt(time.Now().UnixMilli(), 36)
	sched := loadgen.Schedule{Rate: *rate, N: n, MaxInFlight: *inflight, Slack: 10 * time.Millisecond}
	base := time.Now()
	fmt.Fprintf(stderr, "load: building %d webhooks (run %s, seed %d, %d users)\n", n, runID, *seed, *users)
	reqs, err := loadgen.Build(b, []byte(*secret), loadgen.Plan(*seed, *users, n, runID), func(i int) time.Time { return sched.Due(base, i) })
	if err != nil {
		return 1, err
	}
	fmt.Fprintf(stderr, "load: sending %g/s for %s to %s\n", *rate, *duration, *target)

	s, err := loadgen.Run(ctx, loadgen.Config{
		URL: *target, Project: *project, DecisionsTopic: *topic, PubSub: ps, Firestore: fsc,
		HTTP:     client(*inflight, *timeout),
		Requests: reqs, Schedule: sched, RunID: runID, Drain: *drain, Progress: stderr,
	})
	if s.Rate > 0 {
		fmt.Fprintln(stdout, s.Line())
	}
	switch {
	case err != nil:
		return 1, err
	case s.Lost > 0:
		return 1, fmt.Errorf("%d acknowledged webhooks never reached Firestore", s.Lost)
	}
	return 0, nil
}

// loopback refuses any address but this machine's: load goes to the local stack only.
func loopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("address %q: %w", hostport, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: only loopback IPs (127.0.0.1) are allowed", hostport)
	}
	return nil
}

// client keeps a connection per in-flight request (Go keeps 2 idle per host by default, which
// under load means a new TCP connection per request) and never follows a redirect elsewhere.
func client(inflight int, timeout time.Duration) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = inflight, inflight
	t.Proxy = nil
	return &http.Client{
		Transport:     t,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
