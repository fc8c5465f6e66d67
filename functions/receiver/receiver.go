// Package receiver is the Cloud Run function Receiver: Didit's webhook endpoint.
package receiver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/riskwire/didit-risk/internal/coldstart"
	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/internal/receiver"
	"github.com/riskwire/didit-risk/internal/webhook"
)

func init() {
	functions.HTTP("Receiver", coldstart.HTTP("Receiver", os.Stderr, func() (http.Handler, error) {
		h, _, err := New(context.Background(), os.Getenv, os.Stdout)
		return h, err
	}))
}

// New builds the receiver from configuration read through getenv; close releases its clients.
// Google's Pub/Sub client finds the emulator through PUBSUB_EMULATOR_HOST in the process env.
func New(ctx context.Context, getenv func(string) string, stdout io.Writer) (http.Handler, func(), error) {
	cfg, err := config.LoadReceiver(getenv)
	if err != nil {
		return nil, nil, err
	}
	secrets := make([][]byte, len(cfg.WebhookSecrets))
	for i, s := range cfg.WebhookSecrets {
		secrets[i] = []byte(s)
	}
	v, err := webhook.NewVerifier(webhook.Config{Secrets: secrets, Tolerance: cfg.TimestampTolerance, AllowSimple: cfg.AllowSimple})
	if err != nil {
		return nil, nil, err
	}
	ps, err := pubsub.NewClient(ctx, cfg.Project)
	if err != nil {
		return nil, nil, fmt.Errorf("pubsub client: %w", err)
	}
	topic := queue.NewTopic(ps, cfg.WebhooksTopic, cfg.PublishTimeout)
	h := &receiver.Handler{
		Verify:           v,
		Publisher:        topic, // enforces PUBLISH_TIMEOUT
		Log:              logging.New(stdout, cfg.LogFormat, cfg.LogLevel),
		Now:              time.Now,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		ReplayHorizon:    cfg.ReplayHorizon,
		DropTestWebhooks: cfg.TestWebhooks == config.TestWebhooksDrop,
		Project:          cfg.Project,
	}
	return h, func() { topic.Stop(); _ = ps.Close() }, nil
}
