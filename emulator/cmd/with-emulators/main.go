// Command with-emulators starts the Pub/Sub and Firestore emulators, runs a command with
// PUBSUB_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST pointing at them, and stops the emulators
// when the command ends, fails or is interrupted.
//
//	go run ./emulator/cmd/with-emulators [-from-env] -- go test ./...
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/riskwire/didit-risk/emulator"
)

func main() {
	code, err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "with-emulators:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("with-emulators", flag.ContinueOnError)
	fromEnv := fs.Bool("from-env", false, "start the emulators on PUBSUB_EMULATOR_HOST / FIRESTORE_EMULATOR_HOST when set (else free ports)")
	logFile := fs.String("log", "", "file for the emulators' own output (default: discarded)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	if fs.NArg() == 0 {
		return 2, errors.New("usage: with-emulators [-from-env] [-log FILE] -- command [args]")
	}

	var log io.Writer = io.Discard
	if *logFile != "" {
		f, err := os.Create(*logFile)
		if err != nil {
			return 1, err
		}
		defer f.Close()
		log = f
	}

	// Stop the emulators on Ctrl-C or SIGTERM too; the child gets the same signal.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var started []*emulator.Emulator
	defer func() {
		for _, e := range started {
			_ = e.Stop()
		}
	}()
	env := os.Environ()
	for _, k := range []emulator.Kind{emulator.PubSub, emulator.Firestore} {
		addr := ""
		if *fromEnv {
			addr = getenv(k.EnvVar())
		}
		e, err := emulator.Start(ctx, k, addr, log)
		if err != nil {
			return 1, err
		}
		started = append(started, e)
		env = append(env, k.EnvVar()+"="+e.Host)
		fmt.Fprintf(stderr, "with-emulators: %s emulator on %s\n", k, e.Host)
	}

	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		return exitCode(err), nil
	case <-ctx.Done():
		_ = cmd.Process.Signal(syscall.SIGTERM)
		return exitCode(<-waited), nil
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() < 0 {
			return 1
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}
