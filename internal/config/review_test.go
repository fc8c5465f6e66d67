package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Review requests are on unless turned off; declining blocked sessions is off unless turned on.
func TestStepUpReviewAndDeclineSwitches(t *testing.T) {
	tests := []struct {
		name            string
		review, decline string
		wantReview      bool
		wantDecline     bool
		wantErr         string
	}{
		{"defaults", "", "", true, false, ""},
		{"review off", "false", "", false, false, ""},
		{"decline on", "", "true", true, true, ""},
		{"malformed", "yes please", "maybe", false, false, "DIDIT_REVIEW_REQUESTS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadStepUp(env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "DIDIT_API_KEY": "k",
				"DIDIT_REVIEW_REQUESTS": tt.review, "DIDIT_DECLINE_ON_BLOCK": tt.decline}))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), "DIDIT_DECLINE_ON_BLOCK", "every bad variable named")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantReview, c.ReviewRequests)
			assert.Equal(t, tt.wantDecline, c.DeclineOnBlock)
		})
	}
}
