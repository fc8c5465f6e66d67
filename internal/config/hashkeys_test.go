package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/scoring"
)

func TestScorerHashKeys(t *testing.T) {
	c, err := LoadScorer(env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEY": "legacy"}))
	require.NoError(t, err)
	assert.Equal(t, []scoring.HashKey{{ID: "", Secret: []byte("legacy")}}, c.HashKeys, "HASH_KEY alone: the unprefixed key")

	c, err = LoadScorer(env(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "HASH_KEYS": " k2:new-secret , :legacy "}))
	require.NoError(t, err)
	assert.Equal(t, []scoring.HashKey{{ID: "k2", Secret: []byte("new-secret")}, {ID: "", Secret: []byte("legacy")}}, c.HashKeys)

	for name, e := range map[string]map[string]string{
		"both":         {"HASH_KEYS": "k2:a", "HASH_KEY": "b"},
		"no secret":    {"HASH_KEYS": "k2:"},
		"no id sep":    {"HASH_KEYS": "secretonly"},
		"duplicate id": {"HASH_KEYS": "k1:a,k1:b"},
		"bad id":       {"HASH_KEYS": "k 1:a"},
	} {
		t.Run(name, func(t *testing.T) {
			e["GOOGLE_CLOUD_PROJECT"] = "p"
			_, err := LoadScorer(env(e))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "HASH_KEYS")
			for _, v := range e {
				if v != "p" && len(v) > 2 {
					assert.NotContains(t, err.Error(), v, "secrets are never echoed")
				}
			}
		})
	}
}
