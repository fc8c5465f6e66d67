// Package stepup is the Cloud Run function StepUp: it receives decision events (Pub/Sub pushes
// of step_up decisions, and of block decisions when blocklisting is on) and creates the Didit
// step-up sessions they ask for. The work is in internal/stepup; this package only wires it.
package stepup

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"cloud.google.com/go/firestore"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/coldstart"
	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/logging"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
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
	var kinds []string
	for _, k := range policy.StepKinds() {
		kinds = append(kinds, string(k))
	}
	if err := cfg.CheckStepKinds(kinds); err != nil {
		return nil, nil, err
	}
	log := logging.New(stdout, cfg.LogFormat, cfg.LogLevel)
	fs, err := firestore.NewClientWithDatabase(ctx, cfg.Project, cfg.FirestoreDatabase)
	if err != nil {
		return nil, nil, fmt.Errorf("firestore client: %w", err)
	}
	svc := &core.Service{
		Didit:            didit.NewClient(cfg.DiditAPIURL, cfg.DiditAPIKey, &http.Client{Timeout: cfg.RequestTimeout}),
		Claims:           core.NewClaimStore(fs),
		Profiles:         profile.NewStore(fs),
		Log:              log,
		Workflows:        cfg.Workflows,
		CallbackURL:      cfg.CallbackURL,
		BlocklistOnBlock: cfg.BlocklistOnBlock,
		VerifyHosts:      cfg.VerifyHosts,
	}
	return svc.HandleEvent, func() { _ = fs.Close() }, nil
}
