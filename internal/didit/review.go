package didit

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"unicode/utf8"

	"github.com/riskwire/didit-risk/internal/failure"
)

// MaxReviewComment is Didit's limit on a review's or a status update's comment, in characters
// (shared/didit-api.md §9.1).
const MaxReviewComment = 10000

// reviewStatuses are the new_status values POST /v3/sessions/{id}/reviews/ takes (§9.1), and
// updateStatuses those update-status takes without nodes to resubmit (§9.3; Resubmitted needs
// nodes_to_resubmit, which this client does not send).
var (
	reviewStatuses = []Status{StatusApproved, StatusDeclined, StatusInReview}
	updateStatuses = []Status{StatusApproved, StatusDeclined}
)

// statusBody is the body both endpoints share.
type statusBody struct {
	NewStatus Status `json:"new_status"`
	Comment   string `json:"comment,omitempty"`
}

// CreateReview records a manual review on a session (POST /v3/sessions/{session_id}/reviews/,
// 201): the programmatic equivalent of the console's review buttons. With In Review it puts
// the session in the console's review queue; Didit may or may not send a status.updated
// webhook for it (§9.1 disagrees between renderings).
//
// A retry after an ambiguous failure (a timeout, a 5xx after Didit wrote the row) can add a
// second identical row to the session's audit trail; the status it asks for is the same, so
// nothing else changes and Didit sends no second webhook. The answer's shape differs between
// Didit's renderings, and it names console users: it is not decoded.
func (c *Client) CreateReview(ctx context.Context, sessionID string, newStatus Status, comment string) error {
	body, err := statusRequest("didit create review", sessionID, newStatus, comment, reviewStatuses)
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodPost, path: "/v3/sessions/" + url.PathEscape(sessionID) + "/reviews/", body: body})
}

// UpdateStatus sets a session's status (PATCH /v3/session/{session_id}/update-status/, 200
// {"session_id": ...}) to Approved or Declined, with a comment and no email to the user. The
// session must be Approved, Declined, In Review, Kyc Expired, Abandoned or Resubmitted (else
// 400). Setting the status a session already has is a no-op for Didit (200, no webhook), so
// repeating the call is harmless.
func (c *Client) UpdateStatus(ctx context.Context, sessionID string, newStatus Status, comment string) error {
	body, err := statusRequest("didit update status", sessionID, newStatus, comment, updateStatuses)
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodPatch, path: "/v3/session/" + url.PathEscape(sessionID) + "/update-status/", body: body})
}

// statusRequest validates and encodes a review or status update: what Didit would refuse with
// a 400 is refused here as failure.Invalid, without a request.
func statusRequest(what, sessionID string, newStatus Status, comment string, allowed []Status) ([]byte, error) {
	switch {
	case sessionID == "":
		return nil, failure.Errorf(failure.Invalid, "%s: empty session id", what)
	case !slices.Contains(allowed, newStatus):
		return nil, failure.Errorf(failure.Invalid, "%s: new_status %q is not one of %q", what, newStatus, allowed)
	case utf8.RuneCountInString(comment) > MaxReviewComment:
		return nil, failure.Errorf(failure.Invalid, "%s: comment longer than %d characters", what, MaxReviewComment)
	}
	body, err := json.Marshal(statusBody{NewStatus: newStatus, Comment: comment})
	if err != nil {
		return nil, failure.Errorf(failure.Invalid, "%s: encode: %w", what, err)
	}
	return body, nil
}
