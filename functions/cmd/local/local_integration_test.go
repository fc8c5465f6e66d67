//go:build integration

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/testdata"
)

func ruleIDs(p profile.Profile) []string {
	var ids []string
	for _, r := range p.Reasons {
		ids = append(ids, r.Rule)
	}
	return ids
}

// TestWholeSystem runs the `make run` binary as a new user would — its own emulators, topology,
// functions behind the Functions Framework with real push subscriptions, and the Didit
// simulator — then drives it as Didit and product code do: the demo's four users, and a user
// whose step-up comes back declined. Finally SIGTERM must stop everything it started.
func TestWholeSystem(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "local")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())

	ports := map[string]string{}
	for _, k := range []string{"PORT", "DIDIT_SIM_PORT", "PUBSUB", "FIRESTORE"} {
		p, err := emulator.FreePort()
		require.NoError(t, err)
		ports[k] = fmt.Sprint(p)
	}
	pubsubHost, firestoreHost := "127.0.0.1:"+ports["PUBSUB"], "127.0.0.1:"+ports["FIRESTORE"]
	project := "e2e-local"
	cmd := exec.Command(bin)
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "PORT="+ports["PORT"], "DIDIT_SIM_PORT="+ports["DIDIT_SIM_PORT"],
		"PUBSUB_EMULATOR_HOST="+pubsubHost, "FIRESTORE_EMULATOR_HOST="+firestoreHost,
		"GOOGLE_CLOUD_PROJECT="+project, "LOG_FORMAT=json", "WARMUP_WEBHOOKS=40") // a short warm-up: this test checks it runs, not how warm it gets
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var logs bytes.Buffer
	cmd.Stderr = &logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	// However the test ends, stop the stack the way a user does (SIGTERM), so that it stops its
	// emulators: they run in process groups of their own, which a SIGKILL of the stack would orphan.
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})

	ready := make(chan string, 1)
	warmedBeforeURL := false // written before ready is sent, read after it is received
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			logs.WriteString(line + "\n")
			if strings.Contains(line, `"warm-up done"`) {
				warmedBeforeURL = true
			}
			if strings.HasPrefix(line, "webhook URL: ") {
				ready <- strings.TrimPrefix(line, "webhook URL: ")
			}
		}
	}()
	select {
	case url := <-ready:
		assert.Equal(t, "http://127.0.0.1:"+ports["PORT"]+"/Receiver", url)
		// The stack is ready only once its warm-up went through the whole path.
		assert.True(t, warmedBeforeURL, "the URL was printed before the warm-up finished")
	case <-time.After(120 * time.Second):
		t.Fatalf("make run did not start:\n%s", logs.String())
	}

	t.Setenv("FIRESTORE_EMULATOR_HOST", firestoreHost)
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, project)
	require.NoError(t, err)
	defer fs.Close()
	b, err := scenario.NewBuilder(testdata.Dir(t, "webhooks"))
	require.NoError(t, err)
	stack := &scenario.Stack{SimURL: "http://127.0.0.1:" + ports["DIDIT_SIM_PORT"], FS: fs, Builder: b, Wait: 90 * time.Second}

	var out bytes.Buffer
	profiles, err := stack.Demo(ctx, "e2e", &out)
	require.NoError(t, err, "%s\n--- logs ---\n%s", out.String(), logs.String())
	t.Log("\n" + out.String())
	actions := []policy.Action{}
	for _, p := range profiles {
		actions = append(actions, p.Action)
	}
	assert.Equal(t, []string{"approve", "review", "block", "approve"}, actions)
	stepper := profiles[3]
	assert.Equal(t, policy.OutcomeApproved, stepper.StepUps["nfc"].Outcome)
	assert.Contains(t, ruleIDs(stepper), "stepup_nfc_approved")

	// The same medium-risk user whose NFC read is declined ends in review or block.
	declined, err := stack.StepUpFlow(ctx, "e2e-declined", "e2e-declined-session", "Declined", io.Discard)
	require.NoError(t, err)
	declined, err = stack.WaitProfile(ctx, "e2e-declined", func(p profile.Profile) bool { return p.Action == "review" || p.Action == "block" })
	require.NoError(t, err, "after a declined NFC step-up: action=%s reasons=%v", declined.Action, declined.Reasons)
	assert.Equal(t, policy.OutcomeDeclined, declined.StepUps["nfc"].Outcome)

	// SIGTERM stops everything make run started: the process and both emulators.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("make run did not stop on SIGTERM")
	}
	for _, host := range []string{pubsubHost, firestoreHost} {
		assert.Eventually(t, func() bool {
			c, err := net.DialTimeout("tcp", host, 200*time.Millisecond)
			if err == nil {
				c.Close()
			}
			return err != nil
		}, 15*time.Second, 200*time.Millisecond, "emulator on %s still listening", host)
	}
}
