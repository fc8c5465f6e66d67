package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadScorerDurations(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k"}
	tests := []struct {
		name    string
		env     map[string]string
		publish time.Duration
		horizon time.Duration
		wantErr string
	}{
		{"defaults", nil, 3 * time.Second, 168 * time.Hour, ""},
		{"set", map[string]string{"DECISION_PUBLISH_TIMEOUT": "750ms", "REPLAY_HORIZON": "720h"}, 750 * time.Millisecond, 720 * time.Hour, ""},
		{"malformed timeout", map[string]string{"DECISION_PUBLISH_TIMEOUT": "soon"}, 0, 0, "DECISION_PUBLISH_TIMEOUT"},
		{"timeout not positive", map[string]string{"DECISION_PUBLISH_TIMEOUT": "0s"}, 0, 0, "DECISION_PUBLISH_TIMEOUT"},
		{"malformed horizon", map[string]string{"REPLAY_HORIZON": "a week"}, 0, 0, "REPLAY_HORIZON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			get := func(k string) string {
				if v, ok := tt.env[k]; ok {
					return v
				}
				return base[k]
			}
			c, err := LoadScorer(get)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.publish, c.DecisionPublishTimeout)
			assert.Equal(t, tt.horizon, c.ReplayHorizon)
		})
	}
}

func TestLoadScorerModelFile(t *testing.T) {
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k"}
	c, err := LoadScorer(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Empty(t, c.ModelFile, "unset: the embedded model")
	env["MODEL_FILE"] = "/models/my.model"
	c, err = LoadScorer(func(k string) string { return env[k] })
	require.NoError(t, err)
	assert.Equal(t, "/models/my.model", c.ModelFile)
}

func TestLoadScorerShadowPolicyFile(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"unset: no shadow policy", "", ""},
		{"set", "/workspace/policies/candidate.yaml", "/workspace/policies/candidate.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "SHADOW_POLICY_FILE": tt.value}
			c, err := LoadScorer(func(k string) string { return env[k] })
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.ShadowPolicyFile)
			assert.Empty(t, c.PolicyFile, "the live policy is its own variable")
		})
	}
}

// TestLoadScorerDecisionLayer: HUMAN_OVERRIDE_TTL and DOWNGRADE_COOLDOWN default to 720h and
// 24h, and 0 turns each off.
func TestLoadScorerDecisionLayer(t *testing.T) {
	tests := []struct {
		name          string
		ttl, cooldown string
		wantTTL       time.Duration
		wantCooldown  time.Duration
		wantErr       string
	}{
		{"defaults", "", "", 30 * 24 * time.Hour, 24 * time.Hour, ""},
		{"set", "168h", "2h", 168 * time.Hour, 2 * time.Hour, ""},
		{"zero turns off", "0", "0s", 0, 0, ""},
		{"malformed ttl", "a month", "", 0, 0, "HUMAN_OVERRIDE_TTL"},
		{"negative cooldown", "", "-1h", 0, 0, "DOWNGRADE_COOLDOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k", "HUMAN_OVERRIDE_TTL": tt.ttl, "DOWNGRADE_COOLDOWN": tt.cooldown}
			c, err := LoadScorer(func(k string) string { return env[k] })
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantTTL, c.HumanOverrideTTL)
			assert.Equal(t, tt.wantCooldown, c.DowngradeCooldown)
		})
	}
}
