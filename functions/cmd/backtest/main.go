// Command backtest measures a policy change before it acts. It re-evaluates the assessments
// stored in Firestore (the emulator when FIRESTORE_EMULATOR_HOST is set, else a real project
// with application default credentials) with a candidate policy, from the signals, history and
// model result each one recorded, and reports what would change:
//
//	go run ./functions/cmd/backtest -project P -policy candidate.yaml [-since 2026-11-01] [-until …]
//	    [-latest-per-user] [-max-stricter 0.05] [-max-looser 0.05] [-out build/backtest]
//	go run ./functions/cmd/backtest -project P -shadow      # stored live vs stored shadow verdicts
//	go run ./functions/cmd/backtest -synthetic 300 -policy testdata/backtest/candidate.yaml   # no Firestore
//
// It prints a short summary and writes under -out: summary.txt, report.json (the whole report),
// scores.svg (the score histograms, live and candidate) and changes.csv (every assessment
// whose action changes: ids and the rules that make the difference; nothing personal).
//
// Exit status: 0 done, 1 the guard held the change (more than -max-stricter or -max-looser of
// the compared assessments — users, with -latest-per-user — move that way), 2 usage or failure.
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/riskwire/didit-risk/internal/backtest"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

func main() {
	ctx := context.Background()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, isTerminal(os.Stderr)))
}

// isTerminal reports whether f is a character device (a terminal): the progress bar is drawn
// only there, unless -progress asks for it.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// config is the parsed command line.
type config struct {
	project, database string
	candidate         string // policy file
	verify            string // live policy file to check replays against ("-": the embedded default)
	shadow            bool
	window            backtest.Window
	latest            bool
	out               string
	guard             backtest.Guard
	page              int
	progress          bool
	changes           int
	synthetic         int // users generated instead of reading Firestore
}

func parse(args []string, getenv func(string) string, stderr io.Writer, tty bool) (config, error) {
	var c config
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.project, "project", getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project (default $GOOGLE_CLOUD_PROJECT)")
	fs.StringVar(&c.database, "database", firestore.DefaultDatabaseID, "Firestore database")
	fs.StringVar(&c.candidate, "policy", "", "candidate policy file (YAML); - for the embedded default")
	fs.StringVar(&c.verify, "verify", "", "also replay with this live policy file (- for the embedded default) and count verdicts it does not reproduce")
	fs.BoolVar(&c.shadow, "shadow", false, "compare the stored live verdicts with the stored shadow policy verdicts (no -policy)")
	since := fs.String("since", "", "window start, inclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	until := fs.String("until", "", "window end, exclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	fs.StringVar(&c.window.Field, "time-field", backtest.FieldEventTime, "what the window applies to: event_time or created_at")
	fs.BoolVar(&c.latest, "latest-per-user", false, "compare only each user's newest assessment in the window")
	fs.StringVar(&c.out, "out", filepath.Join("build", "backtest"), "directory for summary.txt, report.json, scores.svg, changes.csv")
	fs.Float64Var(&c.guard.MaxStricter, "max-stricter", -1, "fail (exit 1) when more than this share moves to a stricter action (e.g. 0.05); negative: no limit")
	fs.Float64Var(&c.guard.MaxLooser, "max-looser", -1, "fail (exit 1) when more than this share moves to a looser action; negative: no limit")
	fs.IntVar(&c.page, "page", backtest.DefaultPageSize, "Firestore page size")
	fs.BoolVar(&c.progress, "progress", tty, "draw a progress bar on stderr (default: when stderr is a terminal)")
	fs.IntVar(&c.changes, "changes", 20, "changes listed in the summary (changes.csv has them all)")
	fs.IntVar(&c.synthetic, "synthetic", 0, "read no Firestore: backtest this many generated users (seed 1) scored by the default policy and model, as the tests do")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.shadow == (c.candidate != "") {
		return c, errors.New("give -policy FILE (a backtest) or -shadow, one of them")
	}
	if c.project == "" && c.synthetic == 0 {
		return c, errors.New("-project (or GOOGLE_CLOUD_PROJECT) is required")
	}
	var err error
	if c.window.Since, err = parseTime(*since); err != nil {
		return c, fmt.Errorf("-since: %w", err)
	}
	if c.window.Until, err = parseTime(*until); err != nil {
		return c, fmt.Errorf("-until: %w", err)
	}
	if err := c.window.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func loadPolicy(path string) (*policy.Policy, error) {
	if path == "-" {
		return policy.Default(), nil
	}
	return policy.Load(path)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, tty bool) int {
	c, err := parse(args, getenv, stderr, tty)
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "backtest:", err)
		return 2
	}
	if c.synthetic > 0 {
		m, err := modelscore.Load("")
		if err != nil {
			fmt.Fprintln(stderr, "backtest: default model:", err)
			return 2
		}
		src := backtest.Synthetic{Seed: 1, Users: c.synthetic, Eval: profile.NewEvaluator(policy.Default(), scoring.WithModel(m))}
		return execute(ctx, c, src, 0, stdout, stderr)
	}
	client, err := firestore.NewClientWithDatabase(ctx, c.project, c.database)
	if err != nil {
		fmt.Fprintln(stderr, "backtest: firestore client:", err)
		return 2
	}
	defer client.Close()
	src := backtest.FirestoreSource{Client: client, PageSize: c.page}
	total := 0
	if c.progress {
		if n, err := src.Count(ctx); err == nil {
			total = n
		}
	}
	return execute(ctx, c, src, total, stdout, stderr)
}

// execute runs the comparison over src and writes the outputs; total (0: unknown) sizes the
// progress bar.
func execute(ctx context.Context, c config, src backtest.Source, total int, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintln(stderr, "backtest:", err)
		return 2
	}
	opts := backtest.Options{Window: c.window, LatestPerUser: c.latest}
	var cmp backtest.Comparer
	if c.shadow {
		opts.Tally = backtest.TallyOptions{Mode: "shadow", Candidate: "stored shadow_policy"}
		cmp = backtest.Shadow()
	} else {
		cand, err := loadPolicy(c.candidate)
		if err != nil {
			return fail(fmt.Errorf("candidate policy %s: %w", c.candidate, err))
		}
		live := policy.Default()
		if c.verify != "" {
			if live, err = loadPolicy(c.verify); err != nil {
				return fail(fmt.Errorf("live policy %s: %w", c.verify, err))
			}
			opts.Verify = live
		}
		opts.Tally = backtest.TallyOptions{Mode: "backtest", Candidate: fmt.Sprintf("%s (%s)", cand.Version, filepath.Base(c.candidate)),
			Redefined: policy.Compare(live, cand).ChangedRules()}
		cmp = backtest.Candidate(backtest.NewReplayer(cand))
	}
	if err := os.MkdirAll(c.out, 0o750); err != nil {
		return fail(err)
	}
	changes, err := os.Create(filepath.Join(c.out, "changes.csv"))
	if err != nil {
		return fail(err)
	}
	defer changes.Close()
	cw := csv.NewWriter(changes)
	if err := cw.Write([]string{"profile_id", "assessment_id", "live_action", "candidate_action", "rules_added", "rules_removed", "rules_redefined"}); err != nil {
		return fail(err)
	}
	opts.Tally.ChangesKept = max(c.changes, 1)
	opts.Tally.OnChange = func(ch backtest.Change) error {
		return cw.Write([]string{ch.ProfileID, ch.AssessmentID, string(ch.Live), string(ch.Candidate),
			strings.Join(ch.Added, " "), strings.Join(ch.Removed, " "), strings.Join(ch.Redefined, " ")})
	}
	var bar *backtest.Progress
	if c.progress {
		bar = &backtest.Progress{W: stderr, Total: total}
		opts.Progress = bar.Update
	}
	start := time.Now()
	rep, err := backtest.Run(ctx, src, cmp, opts)
	if bar != nil {
		bar.Done(rep.Read)
	}
	if err != nil {
		return fail(err)
	}
	elapsed := time.Since(start)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fail(err)
	}
	if err := changes.Close(); err != nil {
		return fail(err)
	}
	if err := writeOutputs(c.out, rep, c.changes); err != nil {
		return fail(err)
	}
	summary, err := os.ReadFile(filepath.Join(c.out, "summary.txt"))
	if err != nil {
		return fail(err)
	}
	_, _ = stdout.Write(summary)
	fmt.Fprintf(stderr, "%d assessments read in %s (%.0f/s)\n", rep.Read, elapsed.Round(time.Millisecond), float64(rep.Read)/max(elapsed.Seconds(), 1e-9))
	if err := c.guard.Check(rep); err != nil {
		fmt.Fprintln(stdout, "HELD:", err)
		return 1
	}
	if c.guard.MaxStricter >= 0 || c.guard.MaxLooser >= 0 {
		fmt.Fprintln(stdout, "guard: within limits")
	}
	return 0
}

// writeOutputs writes summary.txt, report.json and scores.svg into dir.
func writeOutputs(dir string, rep backtest.Report, changes int) error {
	svgPath := filepath.Join(dir, "scores.svg")
	var sum strings.Builder
	if err := backtest.WriteSummary(&sum, rep, backtest.SummaryOptions{Changes: changes, Picture: svgPath}); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(sum.String()), 0o600); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(js, '\n'), 0o600); err != nil {
		return err
	}
	var svg strings.Builder
	title := fmt.Sprintf("Scores: live vs %s", rep.Candidate)
	if err := backtest.WriteSVG(&svg, rep, title); err != nil {
		return err
	}
	return os.WriteFile(svgPath, []byte(svg.String()), 0o600)
}
