// Command load drives a running `make run` stack with signed, realistic Didit webhooks at a fixed
// rate, open loop, for a fixed time, then reports the receiver's ack latency and throughput, the
// end-to-end latency until each profile update is readable, errors, and how many acknowledged
// webhooks never reached Firestore (it exits 1 if any did). Progress goes to stderr once a
// second; the summary is one line on stdout.
//
//	go run ./emulator/cmd/load -rate 200 -duration 30s
//	go run ./emulator/cmd/load -warmup 5s -repeat 3 -duration 20s -table 50,100,200   # README's table
//	go run ./emulator/cmd/load -repeat 3 -duration 20s -knee 50,75,100,125,150,200    # the knee
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
	repeat := fs.Int("repeat", 1, "runs per rate; more than 1 prints each run and then their column-wise median")
	warmup := fs.Duration("warmup", 0, "a first run of this length at the first rate, reported apart and kept out of the figures (e.g. 5s on a stack just started)")
	table := fs.String("table", "", "comma-separated rates (e.g. 50,100,200): -repeat runs of -duration each, then a markdown table of the medians on stdout")
	knee := fs.String("knee", "", "comma-separated increasing rates (e.g. 50,75,100,150,200): step up until the median e2e p99 exceeds -knee-p99 or anything is lost; report the last good rate")
	kneeP99 := fs.Duration("knee-p99", time.Second, "the knee's end-to-end p99 bound")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	rates := []float64{*rate}
	var err error
	switch {
	case *table != "" && *knee != "":
		return 2, errors.New("-table and -knee are separate modes")
	case *table != "":
		rates, err = loadgen.ParseRates(*table)
	case *knee != "":
		rates, err = loadgen.ParseRates(*knee)
	}
	if err != nil {
		return 2, err
	}
	for _, r := range rates {
		if err := check(r, *duration); err != nil {
			return 2, err
		}
	}
	switch {
	case *inflight < 1:
		return 2, errors.New("-max-inflight must be at least 1")
	case *repeat < 1 || *repeat > 10:
		return 2, errors.New("-repeat must be 1 to 10")
	case *warmup < 0:
		return 2, errors.New("-warmup must not be negative")
	case *warmup > 0:
		if err := check(rates[0], *warmup); err != nil {
			return 2, fmt.Errorf("-warmup: %w", err)
		}
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
	httpc := client(*inflight, *timeout)
	// once is one run: fresh ids and fresh users (the run id is in both), so runs do not grow
	// each other's profiles.
	once := func(ctx context.Context, rate float64, d time.Duration) (loadgen.Summary, error) {
		n := int(rate * d.Seconds())
		runID := strconv.FormatInt(time.Now().UnixMilli(), 36)
		sched := loadgen.Schedule{Rate: rate, N: n, MaxInFlight: *inflight, Slack: 10 * time.Millisecond}
		base := time.Now()
		fmt.Fprintf(stderr, "load: building %d webhooks (run %s, seed %d, %d users)\n", n, runID, *seed, *users)
		reqs, err := loadgen.Build(b, []byte(*secret), loadgen.Plan(*seed, *users, n, runID), func(i int) time.Time { return sched.Due(base, i) })
		if err != nil {
			return loadgen.Summary{}, err
		}
		fmt.Fprintf(stderr, "load: sending %g/s for %s to %s\n", rate, d, *target)
		return loadgen.Run(ctx, loadgen.Config{
			URL: *target, Project: *project, DecisionsTopic: *topic, PubSub: ps, Firestore: fsc,
			HTTP: httpc, Requests: reqs, Schedule: sched, RunID: runID, Drain: *drain, Progress: stderr,
		})
	}
	if *warmup > 0 {
		s, err := once(ctx, rates[0], *warmup)
		if s.Rate > 0 {
			fmt.Fprintln(stdout, "warm-up (not counted): "+s.Line())
		}
		if err != nil {
			return 1, fmt.Errorf("warm-up: %w", err)
		}
	}
	lost := 0
	// measure runs one rate -repeat times; with more than one run it prints their median.
	measure := func(ctx context.Context, rate float64) (loadgen.Row, error) {
		var runs []loadgen.Row
		for range *repeat {
			s, err := once(ctx, rate, *duration)
			if s.Rate > 0 {
				fmt.Fprintln(stdout, s.Line())
			}
			if err != nil {
				return loadgen.Row{}, err
			}
			lost += s.Lost
			runs = append(runs, loadgen.RowOf(s))
		}
		m := loadgen.Median(runs)
		if *repeat > 1 {
			fmt.Fprintln(stdout, m.Line())
		}
		return m, nil
	}

	if *knee != "" {
		rows, k, bounded, err := loadgen.Knee(ctx, rates, *kneeP99, measure)
		fmt.Fprint(stdout, "\n"+loadgen.Table(rows))
		if err != nil {
			return 1, err
		}
		switch {
		case k.Rate == 0:
			fmt.Fprintf(stdout, "knee: below %g/s (e2e p99 > %s or webhooks lost already there)\n", rates[0], *kneeP99)
		case bounded:
			fmt.Fprintf(stdout, "knee: %g/s (the last rate with e2e p99 ≤ %s and nothing lost; %g/s failed)\n", k.Rate, *kneeP99, rows[len(rows)-1].Rate)
		default:
			fmt.Fprintf(stdout, "knee: at least %g/s (every rate tried held e2e p99 ≤ %s with nothing lost)\n", k.Rate, *kneeP99)
		}
		return 0, nil
	}
	var rows []loadgen.Row
	for _, r := range rates {
		row, err := measure(ctx, r)
		if err != nil {
			return 1, err
		}
		rows = append(rows, row)
	}
	if *table != "" {
		fmt.Fprint(stdout, "\n"+loadgen.Table(rows))
	}
	if lost > 0 {
		return 1, fmt.Errorf("%d acknowledged webhooks never reached Firestore", lost)
	}
	return 0, nil
}

// check bounds one run: finite, and small in memory (every body is built before the run).
func check(rate float64, d time.Duration) error {
	n := int(rate * d.Seconds())
	switch {
	case rate <= 0 || d <= 0 || n < 1:
		return errors.New("-rate and -duration must give at least one request")
	case n > maxRequests || d > maxDuration:
		return fmt.Errorf("at most %d requests and %s per run", maxRequests, maxDuration)
	}
	return nil
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
