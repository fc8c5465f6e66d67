// Command demo sends realistic, signed Didit webhooks to a running `make run` stack — a clean
// user, one for manual review whom a reviewer then approves in Didit's console, a risky one,
// one that goes through a step-up and completes it, one whose face Didit's Face Search finds
// verified for three other users (a fraud ring) and one whose face is on the face blocklist —
// then prints the resulting risk profiles: the product in a minute.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/riskwire/didit-risk/emulator/scenario"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func env(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	// The same defaults as make run; Google's client reads the emulator host from the process env.
	fsHost := env(getenv, "FIRESTORE_EMULATOR_HOST", "127.0.0.1:8086")
	if err := os.Setenv("FIRESTORE_EMULATOR_HOST", fsHost); err != nil {
		return err
	}
	project := env(getenv, "GOOGLE_CLOUD_PROJECT", "riskwire-local")
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		return err
	}
	defer fs.Close()
	b, err := scenario.NewBuilder("testdata/webhooks")
	if err != nil {
		return err
	}
	stack := &scenario.Stack{SimURL: "http://127.0.0.1:" + env(getenv, "DIDIT_SIM_PORT", "8090"), FS: fs, Builder: b}
	_, err = stack.Demo(ctx, time.Now().Format("150405"), out)
	if err != nil && !errors.Is(err, scenario.ErrDemoIncomplete) {
		return err
	}
	fmt.Fprintf(out, "\nProduct code reads these at risk_profiles/{user id} (Firestore emulator %s, project %s).\n", fsHost, project)
	return err
}
