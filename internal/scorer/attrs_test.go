package scorer

import (
	"testing"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/stretchr/testify/require"
)

func testPolicy(t *testing.T) *policy.Policy { return policy.Default() }

func authenticated(key string) map[string]string {
	return map[string]string{"event_id": key, "decision_authenticated": "true", "signature": "v2"}
}
func unauthenticated(key string) map[string]string {
	return map[string]string{"event_id": key, "decision_authenticated": "false", "signature": "simple"}
}
func withoutAuth(key string) map[string]string { return map[string]string{"event_id": key} }
func malformedAuth(key string) map[string]string {
	return map[string]string{"event_id": key, "decision_authenticated": "yes"}
}
func receiverKey(t *testing.T, body []byte) string {
	w, err := didit.DecodeWebhook(body)
	require.NoError(t, err)
	return derivedKey(w)
}
