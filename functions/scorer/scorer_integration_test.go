//go:build integration

package scorer

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
	"github.com/riskwire/didit-risk/testdata"
)

// scored is what a scorer left behind for one set of webhooks: the stored documents (as maps,
// without the fields that hold the clock) and the decisions pulled from the topic.
type scored struct {
	profiles    map[string]map[string]any
	assessments map[string]map[string]any
	shadows     map[string]map[string]any // assessment id -> shadow_policy
	decisions   map[string]map[string]any // assessment id -> decision data
	attrs       map[string]map[string]string
}

var shadowFixtures = []string{"approved_clean_v3.json", "declined_v3.json", "full_v3.json"}

// scoreFixtures runs the Scorer that New builds from env, on the emulators, over the fixtures.
func scoreFixtures(t *testing.T, env map[string]string) scored {
	t.Helper()
	ctx := context.Background()
	project := emulatortest.Project(t)
	fs := emulatortest.Firestore(t, project)
	sub := emulatortest.Topic(t, emulatortest.PubSub(t, project), project, "decisions")
	env["GOOGLE_CLOUD_PROJECT"], env["HASH_KEY"], env["DECISIONS_TOPIC"] = project, "test-hash-key", "decisions"
	fn, closeFn, err := New(ctx, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err)
	t.Cleanup(closeFn)
	for _, f := range shadowFixtures {
		require.NoError(t, fn(ctx, pushed(t, testdata.Read(t, "webhooks/"+f))), f)
	}

	out := scored{profiles: map[string]map[string]any{}, assessments: map[string]map[string]any{},
		shadows: map[string]map[string]any{}, decisions: map[string]map[string]any{}, attrs: map[string]map[string]string{}}
	docs, err := fs.Collection(profile.Profiles).Documents(ctx).GetAll()
	require.NoError(t, err)
	for _, d := range docs {
		m := jsonMap(t, d.Data())
		delete(m, "created_at")
		delete(m, "updated_at")
		for _, s := range m["sessions"].(map[string]any) {
			delete(s.(map[string]any), "updated_at")
		}
		out.profiles[d.Ref.ID] = m
	}
	as, err := fs.CollectionGroup(profile.Assessments).Documents(ctx).GetAll()
	require.NoError(t, err)
	for _, d := range as {
		m := jsonMap(t, d.Data())
		id := m["id"].(string)
		if sv, ok := m["shadow_policy"]; ok {
			out.shadows[id] = sv.(map[string]any)
		}
		for _, f := range []string{"shadow_policy", "created_at", "expire_at"} {
			delete(m, f)
		}
		out.assessments[id] = m
	}
	for _, msg := range emulatortest.Pull(t, emulatortest.PubSub(t, project), sub, len(shadowFixtures)+1, 5*time.Second) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(msg.Data, &m))
		delete(m, "decided_at")
		id := m["assessment_id"].(string)
		out.decisions[id], out.attrs[id] = m, msg.Attributes
	}
	return out
}

// TestShadowPolicyIsStoredAndNeverActedOn: the Scorer with SHADOW_POLICY_FILE naming a policy
// that blocks everyone stores its verdict on every assessment, and leaves every profile,
// every assessment's own verdict and every decision event (data and attributes) exactly as the
// Scorer without it leaves them: approvals stay approvals, and no block is announced.
func TestShadowPolicyIsStoredAndNeverActedOn(t *testing.T) {
	var live, shadowed scored
	t.Run("live only", func(t *testing.T) { live = scoreFixtures(t, map[string]string{}) })
	t.Run("with shadow", func(t *testing.T) {
		shadowed = scoreFixtures(t, map[string]string{"SHADOW_POLICY_FILE": testdata.Dir(t, "policy", "shadow_block_all.yaml")})
	})

	require.Len(t, live.profiles, len(shadowFixtures))
	require.Len(t, live.decisions, len(shadowFixtures), "one decision per webhook")
	assert.Equal(t, live.profiles, shadowed.profiles, "profiles are the live policy's alone")
	assert.Equal(t, live.assessments, shadowed.assessments, "assessments are the live policy's, the shadow verdict apart")
	assert.Equal(t, live.decisions, shadowed.decisions, "decision events are the live policy's")
	assert.Equal(t, live.attrs, shadowed.attrs, "and so are their attributes (what step-ups filter on)")
	assert.Empty(t, live.shadows, "no shadow policy, no shadow verdict")

	actions := map[string]bool{}
	for id, d := range shadowed.decisions {
		actions[d["action"].(string)] = true
		assert.Equal(t, policy.Default().Version, d["policy_version"], id)
		sv := shadowed.shadows[id]
		require.NotNil(t, sv, "assessment %s carries the shadow verdict", id)
		assert.Equal(t, map[string]any{"policy_version": "shadow-block-all-1", "score": 100.0, "level": "critical", "action": "block",
			"reasons": []any{map[string]any{"rule": "block_everyone", "points": 100.0, "description": "Every decided session"}}}, sv)
	}
	assert.True(t, actions["approve"], "the live policy approves the clean user, whom the shadow would block: %v", actions)
}

// pushed wraps a signature-covered webhook body as the Functions Framework hands over a push.
func pushed(t *testing.T, body []byte) event.Event {
	t.Helper()
	attrs := message.WebhookAttrs{Class: message.ClassSession, DecisionAuthenticated: true, Signature: "v2"}.Attributes()
	data, err := json.Marshal(queue.MessagePublished{Message: queue.Message{Data: body, Attributes: attrs, ID: "m1"}, Subscription: "projects/p/subscriptions/s"})
	require.NoError(t, err)
	e := event.New()
	e.SetID("m1")
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/didit-webhooks")
	require.NoError(t, e.SetData("application/json", data))
	return e
}

func jsonMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}
