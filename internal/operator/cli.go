package operator

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/failure"
)

// Usage is riskctl's help text.
const Usage = `riskctl: the operators' command (Firestore and Pub/Sub: the emulators when
FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST are set, else application default credentials)

  riskctl show <user-or-profile-id> [-n 20]
  riskctl override set <id> -action block|approve|review|step_up -reason "..." -expires 72h|7d|RFC3339 -actor handle [-republish]
  riskctl override clear <id> -actor handle -reason "..." [-republish]
  riskctl reviews [-limit 50]
  riskctl dlq list [-sub name] [-limit 20] [-data]
  riskctl dlq replay [-sub name] (-ids a,b | -all) [-limit 100]

Every command takes -project (default $GOOGLE_CLOUD_PROJECT) and -database (default
$FIRESTORE_DATABASE or (default)); override takes -policy / -model (default $POLICY_FILE /
$MODEL_FILE, else the embedded ones: the live policy, which a cleared override falls back to)
-topic (default $DECISIONS_TOPIC or risk-decisions), and -human-override-ttl / -downgrade-cooldown
(the scorer's HUMAN_OVERRIDE_TTL / DOWNGRADE_COOLDOWN, as the rescore job takes them).
`

// Command is one parsed riskctl invocation.
type Command struct {
	Name       string // show, override set, override clear, reviews, dlq list, dlq replay
	Project    string
	Database   string
	Topic      string // decisions topic
	PolicyFile string
	ModelFile  string
	HumanTTL   time.Duration // the scorer's HUMAN_OVERRIDE_TTL: the decision layer re-applied after a change
	Cooldown   time.Duration // the scorer's DOWNGRADE_COOLDOWN
	Wait       time.Duration // bound on one dead-letter pull
	Timeout    time.Duration // bound on one publish

	ID       string
	N        int // show: assessments listed; reviews, dlq: messages or profiles at most
	Set      OverrideRequest
	Clear    ClearRequest
	Sub      string
	IDs      []string
	All      bool
	WithData bool
}

// ErrHelp is returned for -h and for no command at all.
var ErrHelp = flag.ErrHelp

// Parse reads riskctl's arguments; getenv supplies the defaults. Flags may come before or
// after the id.
func Parse(args []string, getenv func(string) string, stderr io.Writer) (Command, error) {
	var c Command
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "help" {
		fmt.Fprint(stderr, Usage)
		return c, ErrHelp
	}
	name, rest := args[0], args[1:]
	if name == "override" || name == "dlq" {
		if len(rest) == 0 {
			return c, failure.Errorf(failure.Invalid, "%s needs a subcommand\n%s", name, Usage)
		}
		name, rest = name+" "+rest[0], rest[1:]
	}
	c.Name = name
	fs := flag.NewFlagSet("riskctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, Usage) }
	fs.StringVar(&c.Project, "project", getenv("GOOGLE_CLOUD_PROJECT"), "Google Cloud project")
	fs.StringVar(&c.Database, "database", orEnv(getenv, "FIRESTORE_DATABASE", config.DefaultDatabase), "Firestore database")
	var positional int // ids the command takes
	var action, expires, actor, reason string
	var republish bool
	switch name {
	case "show":
		positional = 1
		fs.IntVar(&c.N, "n", 20, "latest assessments listed")
	case "override set", "override clear":
		positional = 1
		fs.StringVar(&c.Topic, "topic", orEnv(getenv, "DECISIONS_TOPIC", config.DefaultDecisionsTopic), "decisions topic")
		fs.StringVar(&c.PolicyFile, "policy", getenv("POLICY_FILE"), "the live policy (default: the embedded one)")
		fs.StringVar(&c.ModelFile, "model", getenv("MODEL_FILE"), "the scorer's model (default: the embedded one)")
		fs.DurationVar(&c.Timeout, "publish-timeout", 10*time.Second, "bound on the decision's publish")
		fs.DurationVar(&c.HumanTTL, "human-override-ttl", config.DefaultHumanOverrideTTL, "how long a reviewer's approval holds: the scorer's HUMAN_OVERRIDE_TTL (0: never expires)")
		fs.DurationVar(&c.Cooldown, "downgrade-cooldown", config.DefaultDowngradeCooldown, "the scorer's DOWNGRADE_COOLDOWN (0: off)")
		fs.StringVar(&actor, "actor", "", "the operator's handle (never an email)")
		fs.StringVar(&reason, "reason", "", "why: a ticket or risk code, no personal data")
		fs.BoolVar(&republish, "republish", false, "announce the latest change again when there is nothing to change (after a failed publish)")
		if name == "override set" {
			fs.StringVar(&action, "action", "", "block, approve, review or step_up")
			fs.StringVar(&expires, "expires", "", "a duration (72h, 7d) or an RFC 3339 time")
		}
	case "reviews":
		fs.IntVar(&c.N, "limit", 50, "profiles listed at most")
	case "dlq list", "dlq replay":
		fs.StringVar(&c.Sub, "sub", "", "one dead-letter pull subscription (default: every one)")
		fs.DurationVar(&c.Wait, "wait", 2*time.Second, "bound on one pull: three pulls in a row that find nothing within it end the listing")
		if name == "dlq list" {
			fs.IntVar(&c.N, "limit", 20, "messages shown per subscription at most")
			fs.BoolVar(&c.WithData, "data", false, "print each message's data too (it may hold a webhook's personal data)")
		} else {
			fs.IntVar(&c.N, "limit", 100, "messages read per subscription at most")
			fs.Func("ids", "message ids to replay, comma-separated", func(s string) error {
				for _, id := range strings.Split(s, ",") {
					if id = strings.TrimSpace(id); id != "" {
						c.IDs = append(c.IDs, id)
					}
				}
				return nil
			})
			fs.BoolVar(&c.All, "all", false, "replay every message read")
			fs.DurationVar(&c.Timeout, "publish-timeout", 10*time.Second, "bound on one publish")
		}
	default:
		return c, failure.Errorf(failure.Invalid, "unknown command %q\n%s", name, Usage)
	}
	ids, err := parseInterleaved(fs, rest)
	if err != nil {
		return c, err
	}
	if len(ids) != positional {
		if positional == 0 {
			return c, failure.Errorf(failure.Invalid, "%s takes no argument, got %q", name, ids)
		}
		return c, failure.Errorf(failure.Invalid, "%s takes one user or profile id, got %d", name, len(ids))
	}
	if positional == 1 {
		c.ID = ids[0]
	}
	if c.Project == "" {
		return c, failure.Errorf(failure.Invalid, "-project (or GOOGLE_CLOUD_PROJECT) is required")
	}
	if c.N <= 0 && name != "override set" && name != "override clear" {
		return c, failure.Errorf(failure.Invalid, "-n / -limit must be positive")
	}
	switch name {
	case "override set":
		c.Set = OverrideRequest{ID: c.ID, Reason: reason, Actor: actor, Republish: republish}
		a, err := ParseAction(action)
		if err != nil {
			return c, err
		}
		c.Set.Action = a
		if c.Set.Expires, err = ParseExpiry(expires); err != nil {
			return c, err
		}
		return c, c.Set.Validate()
	case "override clear":
		c.Clear = ClearRequest{ID: c.ID, Actor: actor, Reason: reason, Republish: republish}
		return c, c.Clear.Validate()
	case "dlq list", "dlq replay":
		if c.Wait <= 0 {
			return c, failure.Errorf(failure.Invalid, "-wait must be positive")
		}
		if name == "dlq replay" {
			return c, c.replayChoice()
		}
	}
	return c, nil
}

// replayChoice checks that dlq replay was told which messages to replay.
func (c Command) replayChoice() error {
	if c.All == (len(c.IDs) > 0) {
		return failure.Errorf(failure.Invalid, "dlq replay: give -ids a,b,… or -all (not both)")
	}
	return nil
}

// parseInterleaved parses flags wherever they are among the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func orEnv(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// Run carries out c and writes its result to stdout: JSON for show and override (stable
// order: struct fields as declared, maps by key), aligned text for reviews and dlq.
func Run(ctx context.Context, c Command, op *Operator, dl *DeadLetters, stdout io.Writer) error {
	switch c.Name {
	case "show":
		s, err := op.Show(ctx, c.ID, c.N)
		if err != nil {
			return err
		}
		return writeJSON(stdout, s)
	case "override set":
		ch, err := op.SetOverride(ctx, c.Set)
		if werr := writeIf(stdout, ch, err); werr != nil {
			return werr
		}
		return err
	case "override clear":
		ch, err := op.ClearOverride(ctx, c.Clear)
		if werr := writeIf(stdout, ch, err); werr != nil {
			return werr
		}
		return err
	case "reviews":
		rs, err := op.Reviews(ctx, c.N)
		if err != nil {
			return err
		}
		return writeReviews(stdout, rs)
	case "dlq list":
		ms, err := dl.List(ctx, c.Sub, c.N, c.WithData)
		if err != nil && len(ms) == 0 {
			return err
		}
		if werr := writeDead(stdout, ms, c.WithData); werr != nil {
			return werr
		}
		return err
	case "dlq replay":
		if err := c.replayChoice(); err != nil {
			return err
		}
		rep, err := dl.Replay(ctx, c.Sub, c.IDs, c.All, c.N)
		if werr := writeReplay(stdout, rep); werr != nil {
			return werr
		}
		if err == nil && len(rep.Missing) > 0 {
			err = failure.Errorf(failure.Invalid, "not found on the dead-letter queues (within -limit): %s", strings.Join(rep.Missing, ", "))
		}
		return err
	}
	return failure.Errorf(failure.Invalid, "unknown command %q", c.Name)
}

// writeIf writes a change that happened, even when announcing it failed afterwards.
func writeIf(w io.Writer, ch Change, err error) error {
	if ch.ProfileID == "" || (err != nil && !ch.Changed) {
		return nil
	}
	return writeJSON(w, ch)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeReviews(w io.Writer, rs []Review) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tLEVEL\tSCORE\tACTION\tRULES\tSINCE")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.ProfileID, r.Level, r.Score, r.Action, dash(strings.Join(r.Rules, ",")), r.Since.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "(%d open)\n", len(rs))
	return tw.Flush()
}

// writeDead prints one block per message: every attribute on its own line, sorted.
func writeDead(w io.Writer, ms []DeadMessage, withData bool) error {
	for _, m := range ms {
		fmt.Fprintf(w, "%s  %s  published %s", m.Subscription, m.ID, m.PublishTime.UTC().Format(time.RFC3339Nano))
		if m.DeliveryAttempt > 0 {
			fmt.Fprintf(w, "  delivery attempt %d", m.DeliveryAttempt)
		}
		fmt.Fprintf(w, "\n  data: %d bytes, sha256 %s\n", m.Size, m.Digest)
		for _, k := range sortedKeys(m.Attributes) {
			fmt.Fprintf(w, "  %s=%s\n", k, m.Attributes[k])
		}
		if withData {
			fmt.Fprintf(w, "  data: %s\n", m.Data)
		}
	}
	_, err := fmt.Fprintf(w, "(%d dead-lettered message(s) shown, none consumed)\n", len(ms))
	return err
}

func writeReplay(w io.Writer, rep ReplayReport) error {
	for _, r := range rep.Replayed {
		fmt.Fprintf(w, "replayed %s from %s to %s as %s\n", r.ID, r.Subscription, r.Topic, r.NewID)
	}
	_, err := fmt.Fprintf(w, "(%d replayed and acked on the dead-letter queue; the consumers deduplicate, so a replay of a message already applied changes nothing)\n", len(rep.Replayed))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// IsHelp reports whether err asked for the usage only.
func IsHelp(err error) bool { return errors.Is(err, ErrHelp) }
