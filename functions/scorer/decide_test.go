package scorer

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/riskwire/didit-risk/internal/config"
	"github.com/riskwire/didit-risk/internal/profile"
)

// TestDecisionDefaultsAgree: the configuration's defaults are the profile store's, and the
// configuration's 0 (off) reaches the store as Off.
func TestDecisionDefaultsAgree(t *testing.T) {
	assert.Equal(t, profile.DefaultHumanVerdictTTL, config.DefaultHumanOverrideTTL)
	assert.Equal(t, profile.DefaultDowngradeCooldown, config.DefaultDowngradeCooldown)
	assert.Equal(t, profile.Off, profile.OffIfZero(0))
	assert.Equal(t, config.DefaultDowngradeCooldown, profile.OffIfZero(config.DefaultDowngradeCooldown))
}
