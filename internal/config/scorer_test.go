package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadScorerTimeouts(t *testing.T) {
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "k"}
	tests := []struct {
		name    string
		env     map[string]string
		publish time.Duration
		wantErr string
	}{
		{"default", nil, 3 * time.Second, ""},
		{"set", map[string]string{"DECISION_PUBLISH_TIMEOUT": "750ms"}, 750 * time.Millisecond, ""},
		{"malformed", map[string]string{"DECISION_PUBLISH_TIMEOUT": "soon"}, 0, "DECISION_PUBLISH_TIMEOUT"},
		{"not positive", map[string]string{"DECISION_PUBLISH_TIMEOUT": "0s"}, 0, "DECISION_PUBLISH_TIMEOUT"},
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
		})
	}
}
