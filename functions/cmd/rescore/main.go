// Command rescore re-derives every risk profile under the live policy after a promotion, from
// what the profiles store, in Firestore (the emulator when FIRESTORE_EMULATOR_HOST is set, else
// a real project with application default credentials):
//
//	go run ./functions/cmd/rescore -project my-project [-policy new.yaml] [-rate 50] [-page 200]
//
// Each profile is settled under the policy in one transaction, the way the scorer settles it
// after a webhook. A changed verdict is written with the policy's version, recorded as an
// assessment of kind rescore (with the verdict it replaces) and published on the decisions
// topic, with the scorer's attributes, so step-ups and reviews follow; a profile whose verdict
// is the same writes nothing (or, when only the policy version differs, only that). Running it
// again changes nothing.
//
// Profiles are read in pages by document id; after each page the cursor (-resume, a file
// under build/) records the last id done, so a stopped or failed run started again goes on
// after it; a finished run removes it. -rate bounds the profiles per second, to spare
// Firestore and, through the step-ups that follow, Didit.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"golang.org/x/time/rate"
	"google.golang.org/api/iterator"

	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, isTerminal(os.Stderr))
	if err != nil && !errors.Is(err, errStopped) {
		fmt.Fprintln(os.Stderr, "rescore:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	project, database, topic string
	policyFile, modelFile    string
	cursor                   string
	rate                     float64
	page, pages, workers     int
	retention                time.Duration
	humanTTL, cooldown       time.Duration
	publishTimeout           time.Duration
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("rescore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.project, "project", getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project (default $GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&o.database, "database", orEnv(getenv, "FIRESTORE_DATABASE", config.DefaultDatabase), "Firestore database (default $FIRESTORE_DATABASE or (default))")
	fs.StringVar(&o.topic, "topic", orEnv(getenv, "DECISIONS_TOPIC", config.DefaultDecisionsTopic), "decisions topic (default $DECISIONS_TOPIC or risk-decisions)")
	fs.StringVar(&o.policyFile, "policy", getenv("POLICY_FILE"), "the live policy (default $POLICY_FILE, else the embedded default policy)")
	fs.StringVar(&o.modelFile, "model", getenv("MODEL_FILE"), "the scorer's model (default $MODEL_FILE, else the embedded model)")
	fs.StringVar(&o.cursor, "resume", "build/rescore.cursor", "cursor file: resumed from when it exists, written after each page, removed when the run finishes")
	fs.Float64Var(&o.rate, "rate", 50, "profiles per second, at most")
	fs.IntVar(&o.page, "page", 200, "profiles per page read (and per cursor step)")
	fs.IntVar(&o.pages, "pages", 0, "stop after this many pages, keeping the cursor (0: all)")
	fs.IntVar(&o.workers, "workers", 4, "profiles settled at once")
	fs.DurationVar(&o.humanTTL, "human-override-ttl", config.DefaultHumanOverrideTTL, "how long a reviewer's approval holds: the scorer's HUMAN_OVERRIDE_TTL (0: never expires)")
	fs.DurationVar(&o.cooldown, "downgrade-cooldown", config.DefaultDowngradeCooldown, "the scorer's DOWNGRADE_COOLDOWN (0: off)")
	fs.DurationVar(&o.retention, "retention", 0, "rescore assessments' expire_at after creation: the scorer's ASSESSMENT_RETENTION (0: its default, 400 days)")
	fs.DurationVar(&o.publishTimeout, "publish-timeout", 10*time.Second, "bound on one decision publish")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.project == "":
		return o, errors.New("-project (or GOOGLE_CLOUD_PROJECT) is required")
	case o.rate <= 0 || o.page <= 0 || o.workers <= 0 || o.pages < 0:
		return o, errors.New("-rate, -page and -workers must be positive, -pages not negative")
	case o.cursor == "":
		return o, errors.New("-resume needs a file")
	}
	return o, nil
}

func orEnv(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, tty bool) error {
	o, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	pol := policy.Default()
	if o.policyFile != "" {
		if pol, err = policy.Load(o.policyFile); err != nil {
			return err
		}
	}
	mdl, err := modelscore.Load(o.modelFile)
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	fsc, err := firestore.NewClientWithDatabase(ctx, o.project, o.database)
	if err != nil {
		return fmt.Errorf("firestore client: %w", err)
	}
	defer fsc.Close()
	ps, err := pubsub.NewClient(ctx, o.project)
	if err != nil {
		return fmt.Errorf("pubsub client: %w", err)
	}
	defer ps.Close()
	decisions := queue.NewTopic(ps, o.topic, o.publishTimeout)
	defer decisions.Stop()

	now := func() time.Time { return time.Now().UTC() }
	j := &job{
		Store: profile.NewStore(fsc, profile.Options{AssessmentRetention: o.retention,
			HumanVerdictTTL: profile.OffIfZero(o.humanTTL), DowngradeCooldown: profile.OffIfZero(o.cooldown)}),
		Profiles:  firestorePager{fsc},
		Decisions: decisions,
		Engine:    profile.NewEvaluator(pol, scoring.WithModel(mdl)),
		Version:   pol.Version,
		Target:    o.project + "/" + o.database,
		Cursor:    o.cursor,
		PageSize:  o.page,
		MaxPages:  o.pages,
		Workers:   o.workers,
		Limiter:   rate.NewLimiter(rate.Limit(o.rate), 1),
		Progress:  newProgress(stderr, tty, now),
		Now:       now,
	}
	start := time.Now()
	st, err := j.run(ctx)
	if err == nil || errors.Is(err, errStopped) {
		fmt.Fprintln(stderr, summary(st, err == nil, time.Since(start)))
	}
	return err
}

// firestorePager reads profile ids in document-id order. Only the ids: each profile is read
// again inside its own transaction, so a page costs little memory whatever the profiles hold.
type firestorePager struct{ fs *firestore.Client }

func (p firestorePager) query(after string) firestore.Query {
	q := p.fs.Collection(profile.Profiles).OrderBy(firestore.DocumentID, firestore.Asc)
	if after != "" {
		q = q.StartAfter(after)
	}
	return q
}

func (p firestorePager) Page(ctx context.Context, after string, n int) ([]string, error) {
	it := p.query(after).Select().Limit(n).Documents(ctx)
	defer it.Stop()
	ids := make([]string, 0, n)
	for {
		doc, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return ids, nil
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, doc.Ref.ID)
	}
}

func (p firestorePager) Count(ctx context.Context, after string) (int, error) {
	q := p.query(after)
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, err
	}
	return countOf(res["n"])
}

// countOf reads an aggregation's count, which the client returns as a protobuf value.
func countOf(v any) (int, error) {
	switch n := v.(type) {
	case int64:
		return int(n), nil
	case interface{ GetIntegerValue() int64 }:
		return int(n.GetIntegerValue()), nil
	}
	return 0, fmt.Errorf("count: unexpected %T", v)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// offIfZero maps a flag's 0 (off) to the store's Off (its zero takes the default).
