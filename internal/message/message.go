// Package message is the one home of the two Pub/Sub messages the functions exchange: the
// webhook message (the receiver publishes the verified body with routing attributes; the scorer
// and, for re-fetches, the step-up function consume it) and the decision message (the scorer
// publishes it; the step-up function and product code consume it). Producers and consumers
// encode and decode through the types here, so an attribute name is spelled once, in this
// file, and Terraform's subscription filters are tested against the same constants.
package message

import (
	"strconv"
)

// Attribute names. Nothing outside this package spells them.
const (
	// AttrMessageType tells a webhook message from a decision message (see Type), for a
	// function that receives both.
	AttrMessageType = "message_type"

	// Webhook message attributes.
	AttrEventID     = "event_id" // the dedupe key: Didit's event_id, else didit.EventKey's derived key
	AttrSessionID   = "session_id"
	AttrVendorData  = "vendor_data"
	AttrWebhookType = "webhook_type"
	AttrStatus      = "status"
	AttrTimestamp   = "timestamp"
	AttrSignature   = "signature" // which scheme verified the delivery: raw, v2 or simple
	AttrEventClass  = "event_class"
	// AttrDecisionAuthenticated is "true" only when a signature covered the whole body. It is
	// also the decision message's attribute and JSON field of the same meaning.
	AttrDecisionAuthenticated = "decision_authenticated"

	// Decision message attributes: the step-up subscriptions filter on action.
	AttrAction       = "action"
	AttrLevel        = "level"
	AttrUser         = "user"
	AttrProfile      = "profile_id"
	AttrAssessmentID = "assessment_id"
	// AttrStepUpKind is set on decisions about a step-up session: the step-up function settles
	// the claims that session answers.
	AttrStepUpKind = "step_up_kind"
	// AttrDecidedBy says who set the decision's action: policy, reviewer (a person in Didit's
	// console) or operator (an override). Absent on decisions published before it existed.
	AttrDecidedBy = "decided_by"
)

// True is the only attribute value that means true: anything else, absence included, is false.
const True = "true"

// maxAttr is Pub/Sub's limit on an attribute value; longer values are left out (consumers read
// the body, which always has them).
const maxAttr = 1024

// Type is the value of AttrMessageType.
type Type string

const (
	TypeWebhook  Type = "webhook"
	TypeDecision Type = "decision"
	// TypeFaceSearch is the derived facts of a Didit Face Search, which the step-up function
	// publishes to the webhooks topic for the scorer (see FaceSearch).
	TypeFaceSearch Type = "face_search"
	// TypeUnknown is a message without a recognised AttrMessageType (one published before the
	// attribute existed, or by hand): the consumer decides from its subscription.
	TypeUnknown Type = ""
)

// TypeOf reads AttrMessageType.
func TypeOf(attrs map[string]string) Type {
	switch t := Type(attrs[AttrMessageType]); t {
	case TypeWebhook, TypeDecision, TypeFaceSearch:
		return t
	}
	return TypeUnknown
}

// EventClass says what a webhook is about, so that only KYC session updates reach a profile.
type EventClass string

const (
	// ClassSession is a KYC session update (status.updated, data.updated, or the older shape
	// without webhook_type): the only class the scorer folds into a risk profile.
	ClassSession EventClass = "session"
	// ClassBusiness is a KYB session or a business.* event: not a user, never scored as one.
	ClassBusiness EventClass = "business"
	// ClassOther is any other authentic event (user.*, transaction.*, activity.created, one
	// without session_id): kept on the topic for other consumers, never scored.
	ClassOther EventClass = "other"
	// ClassTest is a console "Try webhook" delivery: acknowledged, never scored.
	ClassTest EventClass = "test"
)

// ParseEventClass returns the class, or "" for a value that is not one (fail closed: a consumer
// scores only ClassSession).
func ParseEventClass(s string) EventClass {
	switch c := EventClass(s); c {
	case ClassSession, ClassBusiness, ClassOther, ClassTest:
		return c
	}
	return ""
}

// WebhookAttrs are the attributes of a webhook message.
type WebhookAttrs struct {
	// EventKey is the dedupe key (didit.EventKey), under AttrEventID.
	EventKey    string
	SessionID   string
	VendorData  string
	WebhookType string
	Status      string
	// Timestamp is the body's timestamp as Unix seconds in decimal, "" when it had none.
	Timestamp string
	Signature string // raw, v2 or simple
	Class     EventClass
	// DecisionAuthenticated is true only when X-Signature or X-Signature-V2 verified the body:
	// with X-Signature-Simple alone, nothing but four envelope fields is authentic.
	DecisionAuthenticated bool
}

// Attributes encodes a for publishing. Empty values and values over Pub/Sub's limit are left out.
func (a WebhookAttrs) Attributes() map[string]string {
	m := map[string]string{
		AttrMessageType:           string(TypeWebhook),
		AttrDecisionAuthenticated: strconv.FormatBool(a.DecisionAuthenticated),
	}
	for k, v := range map[string]string{
		AttrEventID: a.EventKey, AttrSessionID: a.SessionID, AttrVendorData: a.VendorData,
		AttrWebhookType: a.WebhookType, AttrStatus: a.Status, AttrTimestamp: a.Timestamp,
		AttrSignature: a.Signature, AttrEventClass: string(a.Class),
	} {
		if v != "" && len(v) <= maxAttr {
			m[k] = v
		}
	}
	return m
}

// ParseWebhookAttrs decodes a webhook message's attributes. It fails closed: the decision is
// authenticated only when AttrDecisionAuthenticated is exactly "true", and Class is "" unless
// AttrEventClass names a class.
func ParseWebhookAttrs(m map[string]string) WebhookAttrs {
	return WebhookAttrs{
		EventKey: m[AttrEventID], SessionID: m[AttrSessionID], VendorData: m[AttrVendorData],
		WebhookType: m[AttrWebhookType], Status: m[AttrStatus], Timestamp: m[AttrTimestamp],
		Signature: m[AttrSignature], Class: ParseEventClass(m[AttrEventClass]),
		DecisionAuthenticated: m[AttrDecisionAuthenticated] == True,
	}
}

// Scorable reports whether the scorer may fold the message into a risk profile and score its
// decision: a KYC session update whose whole body a signature covered.
func (a WebhookAttrs) Scorable() bool {
	return a.Class == ClassSession && a.DecisionAuthenticated
}
