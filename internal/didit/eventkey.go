package didit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// EventKey identifies one webhook for deduplication: Didit's event_id when present, else a key
// derived from what a retried delivery repeats (session, type, status, timestamp), as Didit's
// own guidance suggests. It takes parsed values, so every spelling of one timestamp
// (1767225607, 1767225607.0, 1.767225607e9: one V2 canonical form, one signature) gives one
// key, and a null, zero or missing timestamp gives another. The receiver and the scorer both
// call it, through KeyOf, on what DecodeWebhookStrict read.
func EventKey(eventID, sessionID, webhookType, status string, timestamp int64) string {
	if eventID != "" {
		return eventID
	}
	ts := ""
	if timestamp != 0 {
		ts = strconv.FormatInt(timestamp, 10)
	}
	sum := sha256.Sum256([]byte(sessionID + "\x00" + webhookType + "\x00" + status + "\x00" + ts))
	return "derived-" + hex.EncodeToString(sum[:16])
}

// KeyOf is EventKey of a decoded webhook.
func KeyOf(w *Webhook) string {
	return EventKey(w.EventID, w.SessionID, w.WebhookType, string(w.Status), w.Timestamp)
}
