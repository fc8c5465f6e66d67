package refetch

import (
	"testing"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/stretchr/testify/assert"
)

func simpleAttrs(t testing.TB, body []byte) map[string]string {
	return map[string]string{"decision_authenticated": "false", "signature": "simple"}
}
func authenticatedAttrs(t testing.TB, body []byte) map[string]string {
	return map[string]string{"decision_authenticated": "true", "signature": "v2"}
}
func republishedAttrs(t testing.TB, body []byte) map[string]string {
	return map[string]string{"decision_authenticated": "true", "signature": "didit_api"}
}
func signedKey(t testing.TB, body []byte) string {
	return didit.EventKey("", sessionID, "status.updated", "Approved", "1767225607")
}
func assertRepublishedAttrs(t *testing.T, a map[string]string, key string) {
	assert.Equal(t, "true", a["decision_authenticated"])
	assert.Equal(t, "didit_api", a["signature"])
	assert.Equal(t, key, a["event_id"])
}
