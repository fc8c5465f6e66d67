// Package stepup is the Cloud Run function StepUp, the only one holding Didit's API key. It
// receives two kinds of Pub/Sub pushes and routes them by message type: decision events (step_up
// decisions, decisions about step-up sessions, review decisions when review requests are on,
// and block decisions when declining or blocklisting is on), which become Didit step-up
// sessions, review requests, declines and blocklistings (internal/stepup); and webhooks whose decision the
// signature did not cover (X-Signature-Simple only), whose decision it reads from Didit's API
// and republishes for scoring (internal/refetch). This package only wires them.
package stepup

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/coldstart"
	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/refetch"
	core "github.com/riskwire/didit-risk/internal/stepup"
)

func init() {
	functions.CloudEvent("StepUp", coldstart.CloudEvent("StepUp", os.Stderr, func() (func(context.Context, event.Event) error, error) {
		// The instance keeps its clients for its lifetime: the close function is not needed.
		fn, _, err := New(context.Background(), os.Getenv, os.Stdout)
		return fn, err
	}))
}

// New builds the StepUp handler from configuration read through getenv, logging to stdout; close
// releases its Firestore client. The local runner calls it directly. Google's Firestore client
// finds the emulator through FIRESTORE_EMULATOR_HOST in the process environment.
func New(ctx context.Context, getenv func(string) string, stdout io.Writer) (func(context.Context, event.Event) error, func(), error) {
	cfg, err := config.LoadStepUp(getenv)
	if err != nil {
		return nil, nil, err
	}
	// A kind the policy never asks for is a typo: refuse to start rather than fail steps later.
	if err := cfg.CheckStepKinds(); err != nil {
		return nil, nil, err
	}
	log := logging.New(stdout, cfg.LogFormat, cfg.LogLevel)
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.FirestoreDatabase)
	if err != nil {
		return nil, nil, fmt.Errorf("firestore client: %w", err)
	}
	ps, err := pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		_ = fs.Close()
		return nil, nil, fmt.Errorf("pubsub client: %w", err)
	}
	api := didit.NewClient(cfg.DiditAPIURL, cfg.DiditAPIKey, &http.Client{Timeout: cfg.RequestTimeout})
	svc := &core.Service{
		Didit:            api,
		Claims:           core.NewClaimStore(fs),
		Profiles:         profile.NewStore(fs),
		Log:              log,
		Workflows:        cfg.Workflows,
		CallbackURL:      cfg.CallbackURL,
		BlocklistOnBlock: cfg.BlocklistOnBlock,
		ReviewRequests:   cfg.ReviewRequests,
		DeclineOnBlock:   cfg.DeclineOnBlock,
		VerifyHosts:      cfg.VerifyHosts,
	}
	webhooks := queue.NewTopic(ps, cfg.WebhooksTopic, cfg.PublishTimeout)
	if cfg.FaceSearch {
		svc.FaceSearch = &core.FaceSearch{Didit: api, Type: cfg.FaceSearchType, MinLevel: policy.Level(cfg.FaceSearchMinLevel),
			MediaHosts: cfg.MediaHosts, Publisher: webhooks}
	}
	re := &refetch.Handler{Decisions: api, Publisher: webhooks, Log: log}
	return Route(svc, re), func() { webhooks.Stop(); _ = ps.Close(); _ = fs.Close() }, nil
}

// Route is the function's entry point: a webhook message goes to the refetch handler, anything
// else is a decision. (Pub/Sub's filters already send each subscription only its kind; the
// emulator ignores filters, and a message without a type is read as a decision, which fails
// to decode and is dead-lettered rather than dropped if it is not one.)
func Route(decisions *core.Service, webhooks *refetch.Handler) func(context.Context, event.Event) error {
	return func(ctx context.Context, e event.Event) error {
		m, err := queue.Decode(e)
		if err != nil {
			return decisions.HandleEvent(ctx, e) // logs the undecodable push once, and retries it
		}
		switch message.TypeOf(m.Message.Attributes) {
		case message.TypeWebhook:
			return webhooks.Handle(ctx, m.Message)
		case message.TypeFaceSearch:
			// Published by this function for the scorer; the refetch subscription's filter
			// keeps it away in the cloud (it is authenticated), the emulator's does not.
			return nil
		}
		return decisions.HandleMessage(ctx, m)
	}
}
