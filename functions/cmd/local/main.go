// Command local runs the whole pipeline on one machine: the Pub/Sub and Firestore emulators, the
// same topology Terraform creates, the three functions behind the Functions Framework, and a
// Didit simulator that plays Didit's API. Ctrl-C or SIGTERM stops everything it started.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/emulator/loadgen"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/functions/scorer"
	"github.com/riskwire/didit-risk/functions/stepup"
	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/queue"

	_ "github.com/riskwire/didit-risk/functions/receiver" // registers Receiver at /Receiver
)

// Local defaults; every one can be overridden by the environment. The secrets here only ever
// protect emulators on loopback and are printed at start-up.
var defaults = map[string]string{ // #nosec G101 -- local-only development values
	"PORT":                    "8080",
	"GOOGLE_CLOUD_PROJECT":    "riskwire-local",
	"DIDIT_WEBHOOK_SECRET":    "whsec_local_development_only",
	"PUBSUB_EMULATOR_HOST":    "127.0.0.1:8085",
	"FIRESTORE_EMULATOR_HOST": "127.0.0.1:8086",
	"DIDIT_SIM_PORT":          "8090",
	"DIDIT_API_KEY":           "local-didit-api-key",
	"HASH_KEY":                "local-hash-key",
	"STEP_UP_WORKFLOWS":       "nfc=wf-nfc-local,phone=wf-phone-local,biometric=wf-biometric-local,poa=wf-poa-local,email=wf-email-local",
	"LOG_FORMAT":              "text",
	"PUBLISH_TIMEOUT":         "3s",
	"WARMUP_WEBHOOKS":         "250",
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Setenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

// setDefaults fills in the local defaults of every variable the environment leaves empty: the
// process environment is the configuration of every function (as in the cloud), and Google's
// clients read the emulator hosts from it.
func setDefaults(getenv func(string) string, setenv func(string, string) error) error {
	for k, v := range defaults {
		if getenv(k) == "" {
			if err := setenv(k, v); err != nil {
				return err
			}
		}
	}
	// Face Search is off in production unless configured. Against the simulator it is on, so
	// that `make demo` shows a fraud ring and a blocklisted face caught; pointed at a real
	// Didit (DIDIT_API_URL set), where every search is billed, it stays off unless FACE_SEARCH
	// says otherwise.
	if getenv("FACE_SEARCH") == "" && getenv("DIDIT_API_URL") == "" {
		if err := setenv("FACE_SEARCH", "true"); err != nil {
			return err
		}
	}
	for k, v := range map[string]string{
		"DIDIT_API_URL":      "http://127.0.0.1:" + getenv("DIDIT_SIM_PORT"),
		"DIDIT_CALLBACK_URL": "http://127.0.0.1:" + getenv("PORT") + "/done",
	} {
		if getenv(k) == "" {
			if err := setenv(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func run(ctx context.Context, getenv func(string) string, setenv func(string, string) error, stdout io.Writer) error {
	if err := setDefaults(getenv, setenv); err != nil {
		return err
	}
	port, project := getenv("PORT"), getenv("GOOGLE_CLOUD_PROJECT")
	simAddr := "127.0.0.1:" + getenv("DIDIT_SIM_PORT")
	log := logging.New(stdout, getenv("LOG_FORMAT"), getenv("LOG_LEVEL"))

	if err := os.MkdirAll("build", 0o750); err != nil {
		return err
	}
	emuLog, err := os.Create(filepath.Join("build", "emulators.log"))
	if err != nil {
		return err
	}
	defer emuLog.Close()
	for _, k := range []emulator.Kind{emulator.PubSub, emulator.Firestore} {
		e, err := emulator.Start(ctx, k, getenv(k.EnvVar()), emuLog)
		if err != nil {
			return err
		}
		defer e.Stop()
		log.Info("emulator ready", "emulator", string(k), "host", e.Host)
	}

	ps, err := pubsub.NewClient(ctx, project)
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	base := "http://127.0.0.1:" + port
	// A push retried after a contended Firestore transaction: the emulator sends the first retry
	// after ≈ 1 s whatever the policy, later ones after the minimum backoff, which production's
	// 10 s would put into local e2e figures (measured: second retry 17.6 s later, 2.4 s with 1 s).
	topology := emulator.DefaultTopology()
	topology.MinBackoff = time.Second
	if err := topology.Create(ctx, ps, project, emulator.Endpoints{Scorer: base, StepUp: base, Block: getenv("DIDIT_BLOCKLIST_ON_BLOCK") == "true"}); err != nil {
		return err
	}

	// Scorer and step-up are built now, so a configuration error stops the start-up; they
	// serve the push paths, where the Functions Framework turns pushes into CloudEvents.
	scoreFn, closeScorer, err := scorer.New(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer closeScorer()
	stepFn, closeStepUp, err := stepup.New(ctx, getenv, stdout)
	if err != nil {
		return err
	}
	defer closeStepUp()
	// In the cloud two subscriptions share the webhooks topic: the scorer's, and the step-up
	// function's for webhooks whose decision no signature covered (Terraform's filter
	// NOT attributes.decision_authenticated = "true"). The emulator ignores filters and both
	// would push to the same local path, so one handler applies that filter here.
	webhooksFn := func(ctx context.Context, e event.Event) error {
		if m, err := queue.Decode(e); err == nil && !message.ParseWebhookAttrs(m.Message.Attributes).DecisionAuthenticated {
			return stepFn(ctx, e)
		}
		return scoreFn(ctx, e)
	}
	for path, fn := range map[string]func(context.Context, event.Event) error{
		emulator.PushPath(project, config.DefaultWebhooksTopic):  webhooksFn,
		emulator.PushPath(project, config.DefaultDecisionsTopic): stepFn,
	} {
		if err := funcframework.RegisterCloudEventFunctionContext(ctx, path, fn); err != nil {
			return err
		}
	}

	sim := diditsim.New(diditsim.Options{
		APIKey:     getenv("DIDIT_API_KEY"),
		Secret:     strings.TrimSpace(strings.Split(getenv("DIDIT_WEBHOOK_SECRET"), ",")[0]),
		WebhookURL: base + "/Receiver",
		BaseURL:    "http://" + simAddr,
	})
	simSrv := &http.Server{Addr: simAddr, Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	simLn, err := net.Listen("tcp", simAddr)
	if err != nil {
		return fmt.Errorf("didit simulator: %w", err)
	}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()

	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort("127.0.0.1", port) }()
	if err := warmUp(ctx, getenv, ps, sim, base, errc, log); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nwebhook URL: %s/Receiver\nwebhook secret: %s\nDidit simulator: http://%s  Didit API: %s\nface search: %s\nFirestore emulator: %s  Pub/Sub emulator: %s  project: %s\nCtrl-C stops everything.\n\n",
		base, getenv("DIDIT_WEBHOOK_SECRET"), simAddr, getenv("DIDIT_API_URL"), faceSearchLine(getenv),
		getenv("FIRESTORE_EMULATOR_HOST"), getenv("PUBSUB_EMULATOR_HOST"), project)

	select {
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("functions server: %w", err)
	}
}

// faceSearchLine says whether the step-up function runs Face Search, and how, as its
// configuration reads (stepup.New has loaded it already: an error here cannot happen).
func faceSearchLine(getenv func(string) string) string {
	c, err := config.LoadStepUp(getenv)
	switch {
	case err != nil:
		return "unknown: " + err.Error()
	case !c.FaceSearch:
		return "off (FACE_SEARCH=true turns it on)"
	}
	return fmt.Sprintf("on (%s, from level %s, face images from %s)", c.FaceSearchType, c.FaceSearchMinLevel, strings.Join(c.MediaHosts, ","))
}

// warmUp sends WARMUP_WEBHOOKS signed webhooks for throwaway users through the whole path
// (receiver, Pub/Sub push, scorer, Firestore, decisions, step-up with its review requests and
// Face Searches against the simulator) and waits for every one to be
// in Firestore, so the stack is ready only once the emulators' JVMs have compiled their hot
// paths: without it the first `make load` measures JIT compilation (e2e p50 ≈ 6 s instead of
// ≈ 0.1 s at 50/s). 0 skips it.
func warmUp(ctx context.Context, getenv func(string) string, ps *pubsub.Client, sim *diditsim.Server, base string, errc <-chan error, log *slog.Logger) error {
	n, err := strconv.Atoi(getenv("WARMUP_WEBHOOKS"))
	if err != nil || n < 0 {
		return fmt.Errorf("WARMUP_WEBHOOKS=%q: want a count (0 skips the warm-up)", getenv("WARMUP_WEBHOOKS"))
	}
	if n == 0 {
		return nil
	}
	// The functions server starts in the background: wait until it listens.
	addr := strings.TrimPrefix(base, "http://")
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-errc:
			return fmt.Errorf("functions server: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	fsc, err := firestore.NewClient(ctx, getenv("GOOGLE_CLOUD_PROJECT"))
	if err != nil {
		return fmt.Errorf("warm-up: firestore client: %w", err)
	}
	defer fsc.Close()
	b, err := scenario.NewBuilder(filepath.Join("testdata", "webhooks"))
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	log.Info("warming up", "webhooks", n)
	runID := "warmup" + strconv.FormatInt(time.Now().UnixMilli(), 36)
	// 50/s: fast enough to be quick, slow enough that a cold emulator keeps up within the drain.
	sched := loadgen.Schedule{Rate: 50, N: n, MaxInFlight: 100, Slack: time.Second}
	start := time.Now()
	reqs, err := loadgen.Build(b, []byte(strings.TrimSpace(strings.Split(getenv("DIDIT_WEBHOOK_SECRET"), ",")[0])),
		loadgen.Plan(1, max(n/4, 1), n, runID), func(i int) time.Time { return sched.Due(start, i) })
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	// Didit knows every session it sends a decision about; so must the simulator, or the review
	// requests and Face Searches the warm-up's decisions set off end in Didit 404s instead of
	// warming those paths too.
	for _, r := range reqs {
		if r.HasDecision() {
			sim.RegisterWebhookSession(r.Body)
		}
	}
	s, err := loadgen.Run(ctx, loadgen.Config{
		URL: base + "/Receiver", Project: getenv("GOOGLE_CLOUD_PROJECT"), DecisionsTopic: config.DefaultDecisionsTopic,
		PubSub: ps, Firestore: fsc, HTTP: &http.Client{Timeout: 10 * time.Second},
		Requests: reqs, Schedule: sched, RunID: runID, Drain: 90 * time.Second, DrainPeriod: time.Second,
	})
	switch {
	case err != nil:
		return fmt.Errorf("warm-up: %w", err)
	case s.Acked != n || s.Lost > 0:
		return fmt.Errorf("warm-up: %d of %d webhooks acked, %d acked ones not in Firestore: %s", s.Acked, n, s.Lost, s.Line())
	}
	log.Info("warm-up done", "webhooks", n, "seconds", time.Since(start).Round(100*time.Millisecond).Seconds(),
		"e2e_p50_ms", s.E2E.Percentile(50).Milliseconds(), "e2e_p99_ms", s.E2E.Percentile(99).Milliseconds())
	return nil
}
