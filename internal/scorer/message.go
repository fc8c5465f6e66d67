package scorer

import (
	"strconv"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/queue"
)

// TEMPORARY until internal/message lands: the only place attribute names are read.
const attrEventKeyLog = "event_key"

type inbound struct {
	key, class, webhookType string
	authenticated           bool
	kycSession              bool
}

func readMessage(m queue.Message) inbound {
	a := m.Attributes
	return inbound{
		key: a["event_id"], class: a["event_class"], webhookType: a["webhook_type"],
		authenticated: a["decision_authenticated"] == "true",
		kycSession:    a["event_class"] == "" || a["event_class"] == "kyc_session",
	}
}

func derivedKey(w *didit.Webhook) string {
	return didit.EventKey(w.EventID, w.SessionID, w.WebhookType, string(w.Status), strconv.FormatInt(w.Timestamp, 10))
}
