//go:build integration

package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

const users = 30 // every third declined

// seed builds the profiles the scorer would have built under minimal-1, the policy before the
// promotion, and returns the ids of the declined users (the ones minimal-2 blocks).
func seed(t *testing.T, st *profile.Store) []string {
	t.Helper()
	p, err := policy.Parse(testdata.Read(t, "policy/minimal.yaml"))
	require.NoError(t, err)
	eng := profile.NewEvaluator(p)
	hash := scoring.NewHasher([]byte("test-hash-key"))
	var declined []string
	for i := range users {
		fixture, status := "approved_clean_v3.json", "Approved"
		if i%3 == 0 {
			fixture, status = "declined_v3.json", "Declined"
		}
		w, err := didit.DecodeWebhook(testdata.Read(t, "webhooks/"+fixture))
		require.NoError(t, err)
		id := fmt.Sprintf("user-%03d", i)
		sig := scoring.Extract(w, hash)
		ev := profile.Event{Key: "e-" + id, ProfileID: id, UserID: id, SessionID: "s-" + id, Status: didit.Status(status),
			EventTime: time.Unix(1767225600, 0).UTC(), HasDecision: true, Signals: sig, DocumentHash: sig.DocumentHash, Trusted: true}
		_, err = st.Apply(context.Background(), ev, eng, time.Now().UTC())
		require.NoError(t, err)
		if status == "Declined" {
			declined = append(declined, id)
		}
	}
	return declined
}

type env struct {
	project, sub, cursor string
	st                   *profile.Store
	declined             []string
}

func setup(t *testing.T) env {
	project := emulatortest.Project(t)
	fs := emulatortest.Firestore(t, project)
	sub := emulatortest.Topic(t, emulatortest.PubSub(t, project), project, "decisions")
	st := profile.NewStore(fs)
	return env{project: project, sub: sub, cursor: filepath.Join(t.TempDir(), "build", "rescore.cursor"), st: st, declined: seed(t, st)}
}

// rescore runs the command as `make rescore` does, with more flags.
func (e env) rescore(t *testing.T, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"-project", e.project, "-topic", "decisions", "-policy", testdata.Dir(t, "policy", "minimal_strict.yaml"),
		"-page", "4", "-rate", "500", "-resume", e.cursor}, extra...)
	var stderr bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, &stderr, false)
	return stderr.String(), err
}

// decisions pulls what the topic got; it waits for one more than expected, so a surplus shows.
func (e env) decisions(t *testing.T, want int) map[string]map[string]string {
	t.Helper()
	wait := 5 * time.Second
	if want == 0 {
		wait = 3 * time.Second
	}
	out := map[string]map[string]string{}
	for _, m := range emulatortest.Pull(t, emulatortest.PubSub(t, e.project), e.sub, want+1, wait) {
		d, err := message.DecodeDecision(m.Data)
		require.NoError(t, err)
		require.NotContains(t, out, d.ProfileID, "one decision per changed profile")
		assert.Equal(t, policy.Block, d.Action)
		assert.Equal(t, "minimal-2", d.PolicyVersion)
		assert.True(t, d.DecisionTrusted)
		assert.Equal(t, d.Attributes(), m.Attributes, "the scorer's attributes")
		out[d.ProfileID] = m.Attributes
	}
	return out
}

// verdicts reads every profile's action, version and latest assessment.
func (e env) verdicts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := range users {
		id := fmt.Sprintf("user-%03d", i)
		p, found, err := e.st.Get(context.Background(), id)
		require.NoError(t, err)
		require.True(t, found)
		out[id] = string(p.Action) + " " + p.PolicyVersion + " " + p.LastAssessmentID
	}
	return out
}

// TestRescoreAfterPromotion, on the emulators: promoting minimal-2 (declined users blocked)
// over minimal-1 changes exactly the declined users' profiles, writes the new policy_version
// on every profile and publishes one decision per changed profile; a second run changes and
// publishes nothing; a run stopped after 3 pages resumes from its cursor and ends exactly
// where an uninterrupted run ends.
func TestRescoreAfterPromotion(t *testing.T) {
	var whole map[string]string
	t.Run("uninterrupted", func(t *testing.T) {
		e := setup(t)
		out, err := e.rescore(t)
		require.NoError(t, err, out)
		assert.Contains(t, out, fmt.Sprintf("%d profiles, %d changed (step_up->block %d), %d restamped", users, len(e.declined), len(e.declined), users-len(e.declined)))
		assert.NoFileExists(t, e.cursor)
		got := e.decisions(t, len(e.declined))
		assert.ElementsMatch(t, e.declined, keys(got))
		whole = e.verdicts(t)
		for id, v := range whole {
			if contains(e.declined, id) {
				assert.Regexp(t, `^block minimal-2 rescore:minimal-2:`, v, id)
			} else {
				assert.Regexp(t, `^approve minimal-2 e-`, v, id)
			}
		}

		out, err = e.rescore(t)
		require.NoError(t, err, out)
		assert.Contains(t, out, fmt.Sprintf("%d profiles, 0 changed, 0 restamped, %d unchanged", users, users))
		assert.Empty(t, e.decisions(t, 0), "a second run publishes nothing")
		assert.Equal(t, whole, e.verdicts(t), "and changes nothing")
	})
	t.Run("interrupted", func(t *testing.T) {
		e := setup(t)
		out, err := e.rescore(t, "-pages", "3")
		require.ErrorIs(t, err, errStopped)
		assert.Contains(t, out, `stopped after page 3 (resume from "user-011")`)
		assert.FileExists(t, e.cursor)
		first := e.decisions(t, 4) // users 0, 3, 6, 9 of the first 12
		assert.ElementsMatch(t, []string{"user-000", "user-003", "user-006", "user-009"}, keys(first))

		out, err = e.rescore(t)
		require.NoError(t, err, out)
		assert.NoFileExists(t, e.cursor)
		assert.Contains(t, out, fmt.Sprintf("%d profiles, %d changed", users, len(e.declined)), "the counts carry over")
		rest := e.decisions(t, len(e.declined)-4)
		assert.ElementsMatch(t, e.declined, append(keys(first), keys(rest)...), "every changed profile announced once")
		assert.Equal(t, whole, e.verdicts(t), "the same result as the uninterrupted run")
	})
}

func keys(m map[string]map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
