package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadReceiver(t *testing.T) {
	c, err := LoadReceiver(env(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p",
		"DIDIT_WEBHOOK_SECRET": " new , old ,",
		"TIMESTAMP_TOLERANCE":  "60s",
	}))
	require.NoError(t, err)
	assert.Equal(t, []string{"new", "old"}, c.WebhookSecrets)
	assert.Equal(t, 60*time.Second, c.TimestampTolerance)
	assert.Equal(t, DefaultWebhooksTopic, c.WebhooksTopic)
	assert.Equal(t, int64(DefaultMaxBodyBytes), c.MaxBodyBytes)
	assert.False(t, c.AllowSimple)
	assert.Equal(t, "json", c.LogFormat)
	assert.Equal(t, int64(256<<10), c.MaxBodyBytes, "fit to Didit's bodies (36 KB at most seen)")
	assert.Equal(t, 168*time.Hour, c.ReplayHorizon)
	assert.Equal(t, TestWebhooksPublish, c.TestWebhooks)
}

func TestLoadReceiverReplayAndTestDeliveries(t *testing.T) {
	c, err := LoadReceiver(env(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_WEBHOOK_SECRET": "s", "REPLAY_HORIZON": "48h", "TEST_WEBHOOKS": "drop",
	}))
	require.NoError(t, err)
	assert.Equal(t, 48*time.Hour, c.ReplayHorizon)
	assert.Equal(t, TestWebhooksDrop, c.TestWebhooks)
}

func TestErrorsNameEveryVariable(t *testing.T) {
	tests := []struct {
		name string
		load func(func(string) string) error
		env  map[string]string
		want []string
	}{
		{"receiver empty", func(g func(string) string) error { _, err := LoadReceiver(g); return err },
			nil, []string{"missing DIDIT_WEBHOOK_SECRET, GOOGLE_CLOUD_PROJECT"}},
		{"receiver malformed", func(g func(string) string) error { _, err := LoadReceiver(g); return err },
			map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_WEBHOOK_SECRET": "s", "MAX_BODY_BYTES": "-1", "ALLOW_SIMPLE_SIGNATURE": "maybe", "PUBLISH_TIMEOUT": "3",
				"REPLAY_HORIZON": "7d", "TEST_WEBHOOKS": "keep"},
			[]string{"MAX_BODY_BYTES", "ALLOW_SIMPLE_SIGNATURE", "PUBLISH_TIMEOUT", "REPLAY_HORIZON", `TEST_WEBHOOKS ("keep" is not one of publish, drop)`}},
		{"scorer", func(g func(string) string) error { _, err := LoadScorer(g); return err },
			nil, []string{"missing GOOGLE_CLOUD_PROJECT, HASH_KEY"}},
		{"step-up", func(g func(string) string) error { _, err := LoadStepUp(g); return err },
			map[string]string{"STEP_UP_WORKFLOWS": "nfc=wf1,phone"},
			[]string{"missing DIDIT_API_KEY, GOOGLE_CLOUD_PROJECT", `"phone" is not kind=workflow_id`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.load(env(tt.env))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLoadStepUp(t *testing.T) {
	c, err := LoadStepUp(env(map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k",
		"DIDIT_API_URL": "http://127.0.0.1:9/", "STEP_UP_WORKFLOWS": "nfc=wf-nfc, phone=wf-phone",
	}))
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9", c.DiditAPIURL)
	assert.Equal(t, map[policy.StepKind]string{"nfc": "wf-nfc", "phone": "wf-phone"}, c.Workflows)
	assert.Equal(t, DefaultDatabase, c.FirestoreDatabase)
}
