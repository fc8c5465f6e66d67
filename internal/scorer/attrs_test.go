package scorer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
)

func testPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	return policy.Default()
}

// attrs are a webhook message's attributes as the receiver publishes them.
func attrs(key string, class message.EventClass, authenticated bool, scheme string) map[string]string {
	return message.WebhookAttrs{EventKey: key, Class: class, DecisionAuthenticated: authenticated, Signature: scheme}.Attributes()
}

func authenticated(key string) map[string]string {
	return attrs(key, message.ClassSession, true, "v2")
}

func unauthenticated(key string) map[string]string {
	return attrs(key, message.ClassSession, false, "simple")
}

func withoutAuth(key string) map[string]string {
	a := authenticated(key)
	delete(a, message.AttrDecisionAuthenticated)
	return a
}

func malformedAuth(key string) map[string]string {
	a := authenticated(key)
	a[message.AttrDecisionAuthenticated] = "TRUE"
	return a
}

// receiverKey is the key the receiver derives for body: the same decoder, the same function.
func receiverKey(t *testing.T, body []byte) string {
	t.Helper()
	s, err := didit.DecodeStrict(body)
	require.NoError(t, err)
	return didit.KeyOf(s.Webhook)
}
