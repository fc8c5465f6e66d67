// Package scorer is the Cloud Run function Scorer, fed by a push subscription on the webhooks
// topic: it scores each webhook into the user's risk profile.
package scorer

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/coldstart"
	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/scorer"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

func init() {
	functions.CloudEvent("Scorer", coldstart.CloudEvent("Scorer", os.Stderr, func() (func(context.Context, event.Event) error, error) {
		fn, _, err := New(context.Background(), os.Getenv, os.Stdout)
		return fn, err
	}))
}

// New builds the scorer: the policy is compiled and the model loaded here, once, so an invalid
// policy (an error naming the rule) or a corrupt model, or one trained for another feature
// version, stops the start-up. close releases the clients.
func New(ctx context.Context, getenv func(string) string, stdout io.Writer) (func(context.Context, event.Event) error, func(), error) {
	cfg, err := config.LoadScorer(getenv)
	if err != nil {
		return nil, nil, err
	}
	pol := policy.Default()
	if cfg.PolicyFile != "" {
		if pol, err = policy.Load(cfg.PolicyFile); err != nil {
			return nil, nil, err
		}
	}
	mdl, err := modelscore.Load(cfg.ModelFile)
	if err != nil {
		return nil, nil, fmt.Errorf("MODEL_FILE: %w", err)
	}
	// The shadow policy is checked as strictly as the live one: an invalid one stops the start,
	// naming the rule. It reads the same model.
	var (
		shadow     profile.Evaluator
		shadowAttr []any
	)
	if cfg.ShadowPolicyFile != "" {
		sp, err := policy.Load(cfg.ShadowPolicyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("SHADOW_POLICY_FILE: %w", err)
		}
		shadow = profile.NewEvaluator(sp, scoring.WithModel(mdl))
		shadowAttr = []any{"shadow_policy_version", sp.Version}
	}
	hasher, err := scoring.NewKeyedHasher(cfg.HashKeys)
	if err != nil {
		return nil, nil, err
	}
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.FirestoreDatabase)
	if err != nil {
		return nil, nil, fmt.Errorf("firestore client: %w", err)
	}
	ps, err := pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		_ = fs.Close()
		return nil, nil, fmt.Errorf("pubsub client: %w", err)
	}
	decisions := queue.NewTopic(ps, cfg.DecisionsTopic, cfg.DecisionPublishTimeout)
	log := logging.New(stdout, cfg.LogFormat, cfg.LogLevel).With("policy_version", pol.Version, "model_version", mdl.Version()).With(shadowAttr...)
	// Dedupe markers outlive the receiver's replay horizon by a day, so a replay the receiver
	// still accepts is always a duplicate here.
	store := profile.NewStore(fs, profile.Options{
		DedupeTTL: cfg.ReplayHorizon + 24*time.Hour, AssessmentRetention: cfg.AssessmentRetention,
		HumanVerdictTTL: profile.OffIfZero(cfg.HumanOverrideTTL), DowngradeCooldown: profile.OffIfZero(cfg.DowngradeCooldown),
	})
	h := &scorer.Handler{
		Profiles:     store,
		FaceSearches: store,
		Engine:       profile.WithShadow(profile.NewEvaluator(pol, scoring.WithModel(mdl)), shadow),
		Hash:         hasher.Hash,
		Aliases:      hasher.Aliases,
		Decisions:    decisions,
		Log:          log,
		Now:          time.Now,
	}
	return h.Handle, func() { decisions.Stop(); _ = ps.Close(); _ = fs.Close() }, nil
}

// offIfZero maps a configuration's 0 (off) to the store's Off (its zero takes the default).
