package refetch

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
)

func webhookAttrs(class message.EventClass, authenticated bool, scheme string) map[string]string {
	return message.WebhookAttrs{EventKey: "receiver-key", Class: class, DecisionAuthenticated: authenticated, Signature: scheme}.Attributes()
}

// simpleAttrs are the attributes the receiver gives a session webhook only X-Signature-Simple verified.
func simpleAttrs(testing.TB, []byte) map[string]string {
	return webhookAttrs(message.ClassSession, false, "simple")
}

func authenticatedAttrs(testing.TB, []byte) map[string]string {
	return webhookAttrs(message.ClassSession, true, "v2")
}

func republishedAttrs(testing.TB, []byte) map[string]string {
	return webhookAttrs(message.ClassSession, true, SignatureDiditAPI)
}

// signedKey is the dedupe key of the four signed fields of simpleBody.
func signedKey(testing.TB, []byte) string {
	return didit.EventKey("", sessionID, "status.updated", "Approved", 1767225607)
}

func assertRepublishedAttrs(t *testing.T, a map[string]string, key string) {
	t.Helper()
	got := message.ParseWebhookAttrs(a)
	assert.True(t, got.DecisionAuthenticated)
	assert.True(t, got.Scorable(), "the scorer scores it")
	assert.Equal(t, SignatureDiditAPI, got.Signature)
	assert.Equal(t, key, got.EventKey)
	assert.Equal(t, message.TypeWebhook, message.TypeOf(a))
	assert.Equal(t, sessionID, got.SessionID)
	assert.Equal(t, "1767225607", got.Timestamp)
}
