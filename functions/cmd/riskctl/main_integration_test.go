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
	"github.com/riskwire/didit-risk/internal/didit"
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
