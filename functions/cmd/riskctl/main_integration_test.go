//go:build integration

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/operator"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

func riskctl(t *testing.T, project string, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append(args, "-project", project), func(string) string { return "" }, &stdout, &stderr)
	return stdout.String(), err
}

// TestDLQListAndReplay, on the Pub/Sub emulator with the pipeline's topology: a webhook
// dead-lettered with its attributes is listed with every attribute and a digest of its data
// (not the data), stays on the dead-letter queue after listing, and replayed lands on the
// source topic with its data and every attribute unchanged and leaves the dead-letter queue.
func TestDLQListAndReplay(t *testing.T) {
	project := emulatortest.Project(t)
	ps := emulatortest.PubSub(t, project)
	ctx := context.Background()
	topo := emulator.DefaultTopology()
	require.NoError(t, topo.Create(ctx, ps, project, emulator.Endpoints{}))
	// a pull subscription on the source topic sees what the replay publishes
	source := "webhooks-observer"
	_, err := ps.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: "projects/" + project + "/subscriptions/" + source, Topic: "projects/" + project + "/topics/" + topo.Webhooks, AckDeadlineSeconds: 10})
	require.NoError(t, err)

	data := []byte(`{"session_id":"s-1","vendor_data":"user-1","decision":{"id_verification":{"first_name":"Personal"}}}`)
	attrs := map[string]string{"message_type": "webhook", "event_class": "session", "decision_authenticated": "true",
		"event_id": "ev-1", "session_id": "s-1", "webhook_type": "status.updated", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
	pub := ps.Publisher(topo.WebhooksDLQ)
	id, err := pub.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	require.NoError(t, err)
	pub.Stop()

	list := func() string {
		out, err := riskctl(t, project, "dlq", "list", "-wait", "1s")
		require.NoError(t, err)
		return out
	}
	out := list()
	assert.Contains(t, out, topo.WebhooksDLQPull+"  "+id+"  published ")
	for k, v := range attrs {
		assert.Contains(t, out, "  "+k+"="+v+"\n")
	}
	assert.Contains(t, out, fmt.Sprintf("data: %d bytes, sha256 %x\n", len(data), sha256.Sum256(data)))
	assert.NotContains(t, out, "Personal", "the data is not printed")
	assert.Contains(t, out, "(1 dead-lettered message(s) shown, none consumed)")
	assert.Contains(t, list(), id, "listing put it back")

	withData, err := riskctl(t, project, "dlq", "list", "-sub", topo.WebhooksDLQPull, "-data", "-wait", "1s")
	require.NoError(t, err)
	assert.Contains(t, withData, "Personal", "-data prints it")

	_, err = riskctl(t, project, "dlq", "replay", "-ids", "no-such-id", "-wait", "1s")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no-such-id")

	out, err = riskctl(t, project, "dlq", "replay", "-sub", topo.WebhooksDLQPull, "-ids", id, "-wait", "1s")
	require.NoError(t, err)
	assert.Regexp(t, regexp.MustCompile(`replayed `+id+` from `+topo.WebhooksDLQPull+` to `+topo.Webhooks+` as \S+`), out)

	got := emulatortest.Pull(t, ps, source, 1, 10*time.Second)
	require.Len(t, got, 1)
	assert.Equal(t, data, got[0].Data)
	assert.Equal(t, attrs, got[0].Attributes, "every attribute")

	assert.Contains(t, list(), "(0 dead-lettered message(s) shown", "acked on the dead-letter queue")
}

// TestShowSeededProfile, on the Firestore emulator: show finds a profile by its user id, prints
// it as stored and its history.
func TestShowSeededProfile(t *testing.T) {
	project := emulatortest.Project(t)
	st := profile.NewStore(emulatortest.Firestore(t, project))
	w, err := didit.DecodeWebhook(testdata.Read(t, "webhooks/declined_v3.json"))
	require.NoError(t, err)
	sig := scoring.Extract(w, scoring.NewHasher([]byte("test-hash-key")))
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i, user := range []string{"user-1", "team/user-2"} {
		ev := profile.Event{Key: "e-" + user, ProfileID: profile.DocID(user, ""), UserID: user, SessionID: "s-" + user, Status: "Declined",
			EventTime: at, HasDecision: true, Signals: sig, DocumentHash: sig.DocumentHash, Trusted: true}
		_, err = st.Apply(context.Background(), ev, profile.NewEvaluator(policy.Default()), at.Add(time.Duration(i)*time.Minute))
		require.NoError(t, err)
	}

	for _, c := range []struct{ arg, pid string }{{"user-1", "user-1"}, {"team/user-2", "u:team%2Fuser-2"}, {"u:team%2Fuser-2", "u:team%2Fuser-2"}} {
		t.Run(c.arg, func(t *testing.T) {
			out, err := riskctl(t, project, "show", c.arg)
			require.NoError(t, err)
			var got struct {
				ProfileID string         `json:"profile_id"`
				Profile   map[string]any `json:"profile"`
				History   []struct {
					SessionID     string   `json:"session_id"`
					Action        string   `json:"action"`
					PolicyVersion string   `json:"policy_version"`
					DecidedBy     string   `json:"decided_by"`
					Rules         []string `json:"rules"`
				} `json:"history"`
				Audit []any `json:"audit"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &got))
			assert.Equal(t, c.pid, got.ProfileID)
			assert.Equal(t, "block", got.Profile["action"])
			assert.Contains(t, got.Profile, "verdict_state", "Firestore field names, as product code reads them")
			require.Len(t, got.History, 1)
			h := got.History[0]
			assert.Equal(t, "block", h.Action)
			assert.True(t, strings.HasPrefix(h.SessionID, "s-") && strings.HasSuffix(h.SessionID, strings.TrimPrefix(c.arg, "u:team%2F")), h.SessionID)
			assert.Equal(t, policy.Default().Version, h.PolicyVersion)
			assert.Equal(t, "policy", h.DecidedBy)
			assert.NotEmpty(t, h.Rules)
			assert.NotNil(t, got.Audit)

			again, err := riskctl(t, project, "show", c.arg)
			require.NoError(t, err)
			assert.Equal(t, out, again, "stable output")
		})
	}
	_, err = riskctl(t, project, "show", "nobody")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no such profile")
}

// TestOverrideThroughTheStore, on both emulators with the profile store's override API: set
// writes the override and an audit entry and publishes one decision (assessment_id = the audit
// entry, decided_by operator); the same command again changes and publishes nothing; a review
// override puts the profile in the review queue; clear restores the policy's verdict, audited
// and announced.
func TestOverrideThroughTheStore(t *testing.T) {
	project := emulatortest.Project(t)
	st := profile.NewStore(emulatortest.Firestore(t, project))
	ps := emulatortest.PubSub(t, project)
	sub := emulatortest.Topic(t, ps, project, config.DefaultDecisionsTopic)
	w, err := didit.DecodeWebhook(testdata.Read(t, "webhooks/approved_clean_v3.json"))
	require.NoError(t, err)
	sig := scoring.Extract(w, scoring.NewHasher([]byte("test-hash-key")))
	now := time.Now().UTC()
	_, err = st.Apply(context.Background(), profile.Event{Key: "e-1", ProfileID: "user-1", UserID: "user-1", SessionID: "s-1", Status: "Approved",
		EventTime: now.Add(-time.Hour), HasDecision: true, Signals: sig, DocumentHash: sig.DocumentHash, Trusted: true}, profile.NewEvaluator(policy.Default()), now.Add(-time.Hour))
	require.NoError(t, err)
	p, _, err := st.Get(context.Background(), "user-1")
	require.NoError(t, err)
	require.Equal(t, policy.Approve, p.Action)

	type change struct {
		Changed bool   `json:"changed"`
		Action  string `json:"action"`
		Entry   struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"audit_entry"`
	}
	cmd := func(args ...string) change {
		t.Helper()
		out, err := riskctl(t, project, args...)
		require.NoError(t, err)
		var c change
		require.NoError(t, json.Unmarshal([]byte(out), &c), out)
		return c
	}
	decisions := func(want int) []message.Decision {
		t.Helper()
		var out []message.Decision
		for _, m := range emulatortest.Pull(t, ps, sub, want+1, 4*time.Second) {
			d, err := message.DecodeDecision(m.Data)
			require.NoError(t, err)
			assert.Equal(t, d.Attributes(), m.Attributes)
			out = append(out, d)
		}
		require.Len(t, out, want)
		return out
	}

	setArgs := []string{"override", "set", "user-1", "-action", "review", "-reason", "RISK-77 chargeback under review", "-expires", "72h", "-actor", "jdoe"}
	c := cmd(setArgs...)
	assert.True(t, c.Changed)
	assert.Equal(t, "review", c.Action)
	assert.Equal(t, profile.AuditOverrideSet, c.Entry.Kind)
	d := decisions(1)[0]
	assert.Equal(t, c.Entry.ID, d.AssessmentID)
	assert.Equal(t, policy.Review, d.Action)
	assert.Equal(t, string(profile.DecidedByOperator), d.DecidedBy)
	assert.True(t, d.DecisionTrusted, "the latest assessment was signature-covered")

	assert.False(t, cmd(setArgs...).Changed, "the same command again")
	decisions(0)

	out, err := riskctl(t, project, "reviews")
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^user-1\s+low\s+\d+\s+review\s`, out)

	c = cmd("override", "clear", "user-1", "-actor", "jdoe", "-reason", "RISK-77 resolved")
	assert.True(t, c.Changed)
	assert.Equal(t, "approve", c.Action)
	d = decisions(1)[0]
	assert.Equal(t, c.Entry.ID, d.AssessmentID)
	assert.Equal(t, string(profile.DecidedByPolicy), d.DecidedBy)
	assert.False(t, cmd("override", "clear", "user-1", "-actor", "jdoe", "-reason", "RISK-77 resolved").Changed)
	decisions(0)

	trail, err := st.AuditTrail(context.Background(), "user-1")
	require.NoError(t, err)
	require.Len(t, trail, 2)
	assert.Equal(t, []string{profile.AuditOverrideSet, profile.AuditOverrideCleared}, []string{trail[0].Kind, trail[1].Kind})
	assert.Equal(t, "jdoe", trail[0].Actor)
	assert.Equal(t, policy.Approve, trail[0].Before.Action)
	assert.Equal(t, policy.Review, trail[0].After.Action)

	_, err = riskctl(t, project, append(setArgs[:len(setArgs)-1], "jdoe@example.com")...)
	require.ErrorIs(t, err, operator.ErrPersonalData)
}
