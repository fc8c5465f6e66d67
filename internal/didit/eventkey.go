package didit

import (
	"crypto/sha256"
	"encoding/hex"
)

// EventKey identifies one webhook for deduplication: Didit's event_id when present, else a key
// derived from what a retried delivery repeats (session, type, status, timestamp), as Didit's
// own guidance suggests.
func EventKey(eventID, sessionID, webhookType, status, timestamp string) string {
	if eventID != "" {
		return eventID
	}
	sum := sha256.Sum256([]byte(sessionID + "\x00" + webhookType + "\x00" + status + "\x00" + timestamp))
	return "derived-" + hex.EncodeToString(sum[:16])
}
