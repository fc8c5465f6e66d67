package message

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
)

// SignatureDiditAPI is the signature attribute of what the step-up function publishes to the
// webhooks topic from Didit's API, read with the API key (next to the receiver's raw, v2 and
// simple): a decision re-fetched for a Simple-only webhook, or a Face Search's facts.
const SignatureDiditAPI = "didit_api"

// FaceSearch is the message the step-up function publishes to the webhooks topic after a Didit
// Face Search: the derived facts only, which the scorer folds into the session's profile and
// re-scores, like a webhook.
//
// Why the scorer trusts it: only two identities may publish to the webhooks topic (Terraform's
// iam.tf: the receiver's and the step-up function's service accounts), and the receiver never
// publishes this type (WebhookAttrs.Attributes always sets TypeWebhook; a webhook body cannot
// choose attributes). So a message of this type was published by the step-up function, from
// an answer it read from Didit's API with the API key, as the refetched decisions are. It
// carries AttrDecisionAuthenticated=true and AttrSignature=SignatureDiditAPI for the same
// reason those do, which also keeps it out of the refetch subscription (whose filter takes only
// messages that are not authenticated); the step-up function acks one it receives anyway (the
// emulator ignores filters).
type FaceSearch struct {
	ProfileID string `json:"profile_id"`
	// SessionID is the searched session: the verdict session of the decision that asked.
	SessionID string `json:"session_id"`
	// AssessmentID is the decision that asked for the search.
	AssessmentID string                `json:"assessment_id"`
	Facts        didit.FaceSearchFacts `json:"facts"`
	SearchedAt   time.Time             `json:"searched_at"`
}

// Key is the dedupe key of a Face Search: one per session and search type, however many
// decisions asked and however often the message is delivered.
func (f FaceSearch) Key() string {
	return "face_search:" + url.PathEscape(f.SessionID) + ":" + url.PathEscape(f.Facts.SearchType)
}

// Attributes returns the message attributes.
func (f FaceSearch) Attributes() map[string]string {
	a := map[string]string{
		AttrMessageType:           string(TypeFaceSearch),
		AttrDecisionAuthenticated: strconv.FormatBool(true),
		AttrSignature:             SignatureDiditAPI,
		AttrProfile:               f.ProfileID,
		AttrAssessmentID:          f.AssessmentID,
	}
	for k, v := range map[string]string{AttrEventID: f.Key(), AttrSessionID: f.SessionID} {
		if len(v) <= maxAttr {
			a[k] = v
		}
	}
	return a
}

// Encode returns the message data.
func (f FaceSearch) Encode() ([]byte, error) {
	b, err := json.Marshal(f)
	if err != nil {
		return nil, failure.Errorf(failure.Internal, "encode face search: %w", err)
	}
	return b, nil
}

// DecodeFaceSearch parses a Face Search message strictly: an unknown field (something that is
// not a derived fact) or a missing id is Invalid.
func DecodeFaceSearch(data []byte) (FaceSearch, error) {
	var f FaceSearch
	if err := strictJSON(data, &f); err != nil {
		return f, failure.Errorf(failure.Invalid, "decode face search: %w", err)
	}
	if f.ProfileID == "" || f.SessionID == "" || f.Facts.SearchType == "" {
		return f, failure.Errorf(failure.Invalid, "face search lacks profile_id, session_id or facts.search_type")
	}
	return f, nil
}

// strictJSON decodes one JSON value into v, refusing unknown fields and trailing data.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
