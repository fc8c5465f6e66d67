// Command diditsim runs the Didit simulator on its own, for demos and load tools that need a
// Didit to talk to outside `make run`:
//
//	go run ./emulator/cmd/diditsim -addr 127.0.0.1:8090 -webhook http://127.0.0.1:8080/Receiver
//
// Settings default to the environment the functions read (DIDIT_API_KEY, DIDIT_WEBHOOK_SECRET,
// first of a comma-separated list). Faults, stats, completions and reviews are driven over
// HTTP: POST /_sim/faults, GET /_sim/stats, POST /_sim/sessions/{id}/complete, POST
// /_sim/sessions/{id}/review ({"new_status":"Approved","comment":"..."}: a console reviewer's
// verdict and its webhook), POST /_sim/faces and POST /_sim/sessions/{id}/face (stage Face
// Search: a fraud ring, a blocklisted face), POST /_sim/webhook.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "diditsim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	secret, _, _ := strings.Cut(getenv("DIDIT_WEBHOOK_SECRET"), ",")
	fs := flag.NewFlagSet("diditsim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	key := fs.String("api-key", getenv("DIDIT_API_KEY"), "x-api-key to require (empty: any)")
	sec := fs.String("secret", strings.TrimSpace(secret), "webhook signing secret")
	hook := fs.String("webhook", "", "receiver URL for webhooks")
	base := fs.String("base-url", "", "public base URL in session URLs (default: the listening address)")
	auto := fs.Duration("auto-complete", 0, "complete every new session after this delay (0: off)")
	status := fs.String("auto-status", diditsim.StatusApproved, "status of auto-completed sessions: Approved, Declined or In Review")
	noReuse := fs.Bool("no-session-reuse", false, "create a new session on every POST /v3/session/ (Didit reuses an unfinished one)")
	noteOnly := fs.Bool("in-review-note-only", false, "an API review to In Review only records a note (no status change, no webhook)")
	limits := fs.Bool("rate-limits", false, "enforce Didit's per-minute limits (GET 600, create 600, writes 300) with 429")
	quota := fs.Int("sandbox-quota", 0, "refuse creates past this many sessions in 24 h with 429, as the sandbox quota does (0: off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := logging.New(stdout, "text", "info")
	opts := diditsim.Options{APIKey: *key, Secret: *sec, WebhookURL: *hook, BaseURL: *base, Log: log,
		NoSessionReuse: *noReuse, InReviewNoteOnly: *noteOnly, SandboxQuota: *quota, RateLimits: *limits}
	if *auto > 0 {
		opts.AutoComplete = &diditsim.AutoComplete{Delay: *auto, Outcome: diditsim.Outcome{Status: *status}}
	}
	sim := diditsim.New(opts)
	url, err := sim.Start(*addr)
	if err != nil {
		return err
	}
	log.Info("Didit simulator listening", "url", url, "webhook", *hook, slog.Duration("auto_complete", *auto))
	<-ctx.Done()
	done := make(chan error, 1)
	go func() { done <- sim.Close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("stop timed out")
	}
}
