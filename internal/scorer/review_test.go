package scorer

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

// TestReviewBecomesAFact: the latest review by a person that set the session's current status
// is on the event, the reviewer keyed-hashed and the comment gone; our own API changes and
// reviews the status has moved on from are not.
func TestReviewBecomesAFact(t *testing.T) {
	const email = "compliance@example.com"
	review := func(user, status string, at int64) map[string]any {
		return map[string]any{"user": user, "new_status": status, "comment": "see acc_3107 " + email, "created_at": at}
	}
	hash := scoring.NewHasher([]byte("k"))
	tests := []struct {
		name    string
		status  string
		reviews []any
		want    *profile.ReviewFact
	}{
		{"a person approved", "Approved", []any{review(email, "Approved", 1767232800)},
			&profile.ReviewFact{Status: didit.StatusApproved, ReviewerHash: reviewerHash(email, hash), At: time.Unix(1767232800, 0).UTC()}},
		{"a person declined after our review request", "Declined", []any{review(didit.ReviewerAPIClient, "In Review", 1767232700), review(email, "Declined", 1767232800)},
			&profile.ReviewFact{Status: didit.StatusDeclined, ReviewerHash: reviewerHash(email, hash), At: time.Unix(1767232800, 0).UTC()}},
		{"the latest person's review counts", "Declined", []any{review("Other@Example.com", "Declined", 1767232900), review(email, "Approved", 1767232800)},
			&profile.ReviewFact{Status: didit.StatusDeclined, ReviewerHash: reviewerHash("other@example.com", hash), At: time.Unix(1767232900, 0).UTC()}},
		{"our own API change is not a person's", "Declined", []any{review(didit.ReviewerAPIClient, "Declined", 1767232800)}, nil},
		{"the status moved on from the review", "In Review", []any{review(email, "Approved", 1767232800)}, nil},
		{"a person's note In Review", "In Review", []any{review(email, "In Review", 1767232800)}, nil},
		{"no reviews", "Approved", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, app, _, logs := newHandler(t)
			body := mutate(t, testdata.Read(t, "webhooks/full_v3.json"), func(m map[string]any) {
				m["status"] = tt.status
				d := m["decision"].(map[string]any)
				d["status"] = tt.status
				d["reviews"] = tt.reviews
			})
			require.NoError(t, h.Handle(context.Background(), push(t, body, authenticated("k"))))
			evs := app.events()
			require.Len(t, evs, 1)
			assert.Equal(t, tt.want, evs[0].Review)
			kept := fmt.Sprintf("%+v", evs[0]) + logs.String()
			assert.NotContains(t, kept, "example.com", "the reviewer's email is neither kept nor logged")
			assert.NotContains(t, kept, "acc_3107", "the comment is neither kept nor logged")
		})
	}
}

// TestDecisionNamesWhoDecided: the decision event carries the assessment's decided_by; an
// assessment written before it existed was the policy's.
func TestDecisionNamesWhoDecided(t *testing.T) {
	for _, by := range []profile.DecidedBy{"", profile.DecidedByPolicy, profile.DecidedByReviewer, profile.DecidedByOperator} {
		a := assessment("a1", "approve")
		a.DecidedBy = by
		d := Decision("p", "u", a)
		want := string(by)
		if by == "" {
			want = string(profile.DecidedByPolicy)
		}
		assert.Equal(t, want, d.DecidedBy)
		assert.Equal(t, want, d.Attributes()[message.AttrDecidedBy])
	}
}
