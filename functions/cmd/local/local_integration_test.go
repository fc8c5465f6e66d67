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
	"github.com/riskwire/didit-risk/internal/didit"
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
// simulator — then drives it as Didit and product code do: the demo's six users (a fraud ring
// and a blocklisted face caught by Face Search, a reviewer's approval among them), and a user
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
	res, err := stack.Demo(ctx, "e2e", &out)
	require.NoError(t, err, "%s\n--- logs ---\n%s", out.String(), logs.String())
	t.Log("\n" + out.String())
	actions := map[string]policy.Action{}
	for _, u := range res.Users {
		actions[u.ID] = u.Profile.Action
	}
	assert.Equal(t, map[string]policy.Action{"demo-clean-e2e": policy.Approve, "demo-review-e2e": policy.Approve, "demo-risky-e2e": policy.Block,
		"demo-stepup-e2e": policy.Approve, "demo-ring-e2e": policy.Block, "demo-blocklisted-e2e": policy.Block}, actions)
	stepper := res.User("demo-stepup-").Profile
	assert.Equal(t, policy.OutcomeApproved, stepper.StepUps[string(policy.StepNFC)].Outcome)
	assert.Contains(t, ruleIDs(stepper), "stepup_nfc_approved")

	// Face Search against the simulator (on by default in make run): the ring user's face was
	// verified for three other users, the blocklisted user's is on the face blocklist; each
	// search re-scored its user from the review the webhook alone gave.
	for _, tc := range []struct {
		user, rule string
		facts      func(t *testing.T, f didit.FaceSearchFacts)
	}{
		{"demo-ring-", "face_search_fraud_ring", func(t *testing.T, f didit.FaceSearchFacts) {
			assert.Equal(t, int64(3), f.OtherUsers, "three distinct other users")
			assert.False(t, f.Blocklisted)
		}},
		{"demo-blocklisted-", "face_search_in_blocklist", func(t *testing.T, f didit.FaceSearchFacts) {
			assert.True(t, f.Blocklisted)
			assert.Contains(t, f.Codes, didit.RiskFaceInBlocklist)
			assert.Zero(t, f.OtherUsers)
		}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			u := res.User(tc.user)
			assert.Contains(t, ruleIDs(u.Profile), tc.rule)
			f, ok := u.Profile.Sessions[u.Session].FaceSearch[didit.SearchBlocklistedOrApproved]
			require.True(t, ok, "the session's face search facts are on the profile")
			tc.facts(t, f)
			as, err := stack.Assessments(ctx, u.ID)
			require.NoError(t, err)
			require.NotEmpty(t, as)
			assert.Equal(t, policy.Review, as[0].Action, "the webhook alone: review")
			assert.Greater(t, u.Profile.Score, as[0].Score, "the face search raised the score")
		})
	}
	// The other high-risk users were searched too, and nothing was found.
	assert.Equal(t, "no match", scenario.FaceSearch(res.User("demo-review-").Profile))
	assert.Equal(t, "-", scenario.FaceSearch(res.User("demo-clean-").Profile), "a low-risk user is not searched")

	// Manual review: the step-up function put the review user's session In Review in Didit's
	// console; the reviewer's Approved came back as Didit's webhook, and it holds: the user is
	// approved by the reviewer, the policy's own review kept beside it.
	reviewed := res.User("demo-review-")
	assert.Equal(t, policy.Review, res.BeforeReview.Action)
	assert.Equal(t, profile.DecidedByPolicy, res.BeforeReview.DecidedBy)
	assert.Equal(t, profile.DecidedByReviewer, reviewed.Profile.DecidedBy)
	if assert.NotNil(t, reviewed.Profile.PolicyVerdict) {
		assert.Equal(t, policy.Review, reviewed.Profile.PolicyVerdict.Action)
	}
	if assert.NotNil(t, reviewed.Profile.HumanVerdict) {
		assert.Equal(t, reviewed.Session, reviewed.Profile.HumanVerdict.SessionID)
		assert.Equal(t, policy.Approve, reviewed.Profile.HumanVerdict.Action)
	}
	for _, u := range res.Users {
		if u.ID != reviewed.ID {
			assert.Equal(t, profile.DecidedByPolicy, u.Profile.DecidedBy, u.ID)
		}
	}
	assert.Equal(t, policy.StepCompleted, res.BeforeReview.DiditRequests[string(profile.RequestReview)].Status)
	assert.Equal(t, didit.StatusApproved, reviewed.Profile.Sessions[reviewed.Session].Status)

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
