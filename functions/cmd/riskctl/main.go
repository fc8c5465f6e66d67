// Command riskctl is the operators' command: show a profile with its history and audit trail,
// set and clear an operator's override, list the review queue, inspect and replay dead
// letters. It works against the emulators (FIRESTORE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST) or,
// with application default credentials, a real project:
//
//	go run ./functions/cmd/riskctl -h
//	make riskctl ARGS="show user-123 -project my-project"
//
// The logic is internal/operator; this only parses the arguments and connects the clients.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/internal/operator"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if operator.IsHelp(err) {
			return
		}
		fmt.Fprintln(os.Stderr, "riskctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := operator.Parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	var op *operator.Operator
	var dl *operator.DeadLetters
	switch c.Name {
	case "dlq list", "dlq replay":
		ps, err := pubsub.NewClient(ctx, c.Project)
		if err != nil {
			return fmt.Errorf("pubsub client: %w", err)
		}
		defer ps.Close()
		tp := &topics{c: ps, timeout: c.Timeout}
		defer tp.stop()
		dl = &operator.DeadLetters{Subs: queue.NewPuller(ps, c.Project, c.Wait), Topics: tp, Queues: emulator.DefaultTopology().DeadLetters()}
	default:
		fsc, err := firestore.NewClientWithDatabase(ctx, c.Project, c.Database)
		if err != nil {
			return fmt.Errorf("firestore client: %w", err)
		}
		defer fsc.Close()
		st := profile.NewStore(fsc, profile.Options{HumanVerdictTTL: profile.OffIfZero(c.HumanTTL), DowngradeCooldown: profile.OffIfZero(c.Cooldown)})
		op = &operator.Operator{Store: st, Now: func() time.Time { return time.Now().UTC() }}
		if c.Name == "override set" || c.Name == "override clear" {
			if op.Engine, err = engine(c.PolicyFile, c.ModelFile); err != nil {
				return err
			}
			ps, err := pubsub.NewClient(ctx, c.Project)
			if err != nil {
				return fmt.Errorf("pubsub client: %w", err)
			}
			defer ps.Close()
			decisions := queue.NewTopic(ps, c.Topic, c.Timeout)
			defer decisions.Stop()
			op.Decisions = decisions
		}
	}
	return operator.Run(ctx, c, op, dl, stdout)
}

// engine is the live policy with the scorer's model, as the scorer evaluates it.
func engine(policyFile, modelFile string) (profile.Evaluator, error) {
	pol := policy.Default()
	if policyFile != "" {
		var err error
		if pol, err = policy.Load(policyFile); err != nil {
			return nil, err
		}
	}
	mdl, err := modelscore.Load(modelFile)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return profile.NewEvaluator(pol, scoring.WithModel(mdl)), nil
}

// offIfZero maps a flag's 0 (off) to the store's Off (its zero takes the default), as the
// rescore job does.

// topics publishes to each topic through one latency-tuned publisher, made on first use.
type topics struct {
	c       *pubsub.Client
	timeout time.Duration
	mu      sync.Mutex
	open    map[string]*queue.Topic
}

func (t *topics) Topic(id string) queue.Publisher {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		t.open = map[string]*queue.Topic{}
	}
	if p, ok := t.open[id]; ok {
		return p
	}
	p := queue.NewTopic(t.c, id, t.timeout)
	t.open[id] = p
	return p
}

func (t *topics) stop() {
	for _, p := range t.open {
		p.Stop()
	}
}
