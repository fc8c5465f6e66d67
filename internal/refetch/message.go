package refetch

import (
	"encoding/json"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/queue"
)

// TEMPORARY until internal/message lands.
const logKey = "event_key"

// signed holds the four fields X-Signature-Simple covers, read by exact key.
type signed struct {
	SessionID, Status, WebhookType string
	Timestamp                      json.RawMessage
}

type inbound struct {
	key           string
	authenticated bool
	sessionEvent  bool
	signed        signed
}

func readInbound(m queue.Message) (inbound, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(m.Data, &top); err != nil {
		return inbound{}, failure.Errorf(failure.Invalid, "decode webhook: %w", err)
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(top[k], &s)
		return s
	}
	s := signed{SessionID: str("session_id"), Status: str("status"), WebhookType: str("webhook_type"), Timestamp: top["timestamp"]}
	return inbound{
		key:           didit.EventKey("", s.SessionID, s.WebhookType, s.Status, string(s.Timestamp)),
		authenticated: m.Attributes["decision_authenticated"] == "true",
		sessionEvent:  m.Attributes["event_class"] == "" || m.Attributes["event_class"] == "kyc_session",
		signed:        s,
	}, nil
}

func republishAttributes(in inbound, b webhookBody) map[string]string {
	return map[string]string{
		"event_id": in.key, "session_id": b.SessionID, "status": b.Status, "webhook_type": b.WebhookType,
		"signature": "didit_api", "decision_authenticated": "true",
	}
}
