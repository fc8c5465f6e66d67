package didit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/riskwire/didit-risk/internal/webhook"
)

// Webhook types the receiver and the scorer tell apart.
const (
	TypeStatusUpdated = "status.updated"
	TypeDataUpdated   = "data.updated"
)

// SessionKindBusiness marks a KYB session (shared/didit-api.md §2.1, §9.10).
const SessionKindBusiness = "business"

// Strict is a webhook body read exactly as the V2 signature covers it.
type Strict struct {
	*Webhook
	// Business is true for a KYB session: session_kind "business" (top level or in the
	// decision) or a business_session_id.
	Business bool
	// Untyped is true when the body had no webhook_type (older webhook versions); Webhook's
	// WebhookType is then status.updated for a session event.
	Untyped bool
}

// strictBody is the schema bodies are checked against: what DecodeWebhook reads plus the KYB
// markers. Fields added to the payload types are checked without a change here.
type strictBody struct {
	wireWebhook
	SessionKind       string `json:"session_kind"`
	BusinessSessionID string `json:"business_session_id"`
	Decision          *struct {
		wireDecision
		SessionKind string `json:"session_kind"`
	} `json:"decision"`
}

var strictSchema = sync.OnceValue(func() *webhook.Schema { return webhook.NewSchema(reflect.TypeFor[strictBody]()) })

// DecodeStrict decodes a webhook body so that every value read is the value Python's json.loads
// reads, which is what X-Signature-V2 covers: it refuses (with a *webhook.Error, reason code and
// offset only) the shapes on which Go's encoding/json would read something else — a repeated key
// at any depth, a case variant of a field name, an unpaired surrogate, an integer field holding
// a fraction or a magnitude Go drops — and then decodes with DecodeWebhook. Didit never sends
// those shapes. A leading UTF-8 byte order mark is skipped, as Python does. The receiver runs it
// before publishing and the scorer before scoring: one function, one reading.
func DecodeStrict(body []byte) (Strict, error) {
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	if err := strictSchema().Check(body); err != nil {
		return Strict{}, fmt.Errorf("didit webhook: %w", err)
	}
	w, err := DecodeWebhook(body)
	if err != nil {
		return Strict{}, err
	}
	var kyb struct {
		SessionKind       string `json:"session_kind"`
		BusinessSessionID string `json:"business_session_id"`
		Decision          *struct {
			SessionKind string `json:"session_kind"`
		} `json:"decision"`
	}
	if err := json.Unmarshal(body, &kyb); err != nil {
		return Strict{}, fmt.Errorf("didit webhook: %w", err)
	}
	s := Strict{Webhook: w, Untyped: w.WebhookType == ""}
	s.Business = kyb.SessionKind == SessionKindBusiness || kyb.BusinessSessionID != "" ||
		kyb.Decision != nil && kyb.Decision.SessionKind == SessionKindBusiness
	if s.Untyped && w.SessionID != "" {
		// Older webhook versions send session updates without a type (§9.10).
		w.WebhookType = TypeStatusUpdated
	}
	return s, nil
}

// DecodeWebhookStrict is DecodeStrict for callers that need only the webhook.
func DecodeWebhookStrict(body []byte) (*Webhook, error) {
	s, err := DecodeStrict(body)
	return s.Webhook, err
}
