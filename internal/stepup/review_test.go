package stepup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/stepup"
)

func reviewDecision() message.Decision {
	return message.Decision{ProfileID: "p1", UserID: "u1", AssessmentID: "a1", SessionID: "s0", Action: policy.Review,
		Score: 80, Level: "high", PolicyVersion: "v3", SessionStatus: didit.StatusApproved, DecisionTrusted: true,
		Reasons: []message.Reason{
			{Rule: "aml_pep_hit", Points: 20, Description: "PEP match for Jane Doe, born 1980-01-01"},
			{Rule: "stepup_nfc_approved", Points: -30, Description: "document 123456789 read"},
		}}
}

// The comment names rules by id and points, never their descriptions (a policy may put data
// in them) nor anything about the user.
func TestReviewComment(t *testing.T) {
	many := reviewDecision()
	many.Reasons = nil
	for i := range 45 {
		many.Reasons = append(many.Reasons, message.Reason{Rule: fmt.Sprintf("rule_%02d", i), Points: 1})
	}
	none := reviewDecision()
	none.Reasons, none.PolicyVersion = nil, ""
	tests := []struct {
		name string
		d    message.Decision
		want string
	}{
		{"rules with points", reviewDecision(),
			"didit-risk: review requested (policy v3, action review, score 80, level high, assessment a1). Rules: aml_pep_hit(+20) stepup_nfc_approved(-30)"},
		{"no rule", none, "didit-risk: review requested (policy -, action review, score 80, level high, assessment a1). No rule fired."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stepup.ReviewComment(tt.d)
			assert.Equal(t, tt.want, got)
			for _, leak := range []string{"Jane", "1980", "123456789", "u1", "PEP match"} {
				assert.NotContains(t, got, leak)
			}
		})
	}
	t.Run("many rules are cut", func(t *testing.T) {
		got := stepup.ReviewComment(many)
		assert.Contains(t, got, "rule_39(+1) +5 more")
		assert.NotContains(t, got, "rule_40")
		assert.LessOrEqual(t, utf8.RuneCountInString(got), didit.MaxReviewComment)
	})
	assert.True(t, strings.HasPrefix(stepup.DeclineComment(reviewDecision()), "didit-risk: declined ("))
}

// reviews counts CreateReview calls and what they asked.
type reviews struct {
	calls    []string // session ids
	statuses []didit.Status
	comments []string
	err      error
}

func (r *reviews) fn(_ context.Context, id string, st didit.Status, c string) error {
	r.calls, r.statuses, r.comments = append(r.calls, id), append(r.statuses, st), append(r.comments, c)
	return r.err
}

func TestReviewRequest(t *testing.T) {
	forbidden := failure.New(failure.Invalid, &didit.APIError{Method: "POST", Path: "/v3/sessions/s0/reviews/", StatusCode: 404, Detail: "Not found."})
	tests := []struct {
		name      string
		enabled   bool
		mod       func(*message.Decision)
		profile   *profile.Profile
		didit     error
		calls     int
		wantErr   failure.Kind // checked when wantRetry
		wantRetry bool
		wantState policy.StepStatus // the review claim's; "" means none
		wantLog   string
	}{
		{"requested", true, nil, nil, nil, 1, 0, false, policy.StepCompleted, `"outcome":"review_requested"`},
		{"disabled", false, nil, nil, nil, 0, 0, false, "", `"outcome":"disabled"`},
		{"already in review", true, func(d *message.Decision) { d.SessionStatus = didit.StatusInReview }, nil, nil, 0, 0, false, "", stepup.ReasonInReview},
		{"status unknown, the profile says in review", true, func(d *message.Decision) { d.SessionStatus = "" },
			&profile.Profile{Sessions: map[string]profile.SessionState{"s0": {Status: "In Review"}}}, nil, 0, 0, false, "", stepup.ReasonInReview},
		{"status unknown, the profile says approved", true, func(d *message.Decision) { d.SessionStatus = "" },
			&profile.Profile{Sessions: map[string]profile.SessionState{"s0": {Status: "Approved"}}}, nil, 1, 0, false, policy.StepCompleted, `"outcome":"review_requested"`},
		{"refused: recorded failed, acked", true, nil, nil, forbidden, 1, 0, false, policy.StepFailed, `"reason":"didit 404: Not found."`},
		{"Didit down: retried", true, nil, nil, failure.Errorf(failure.Transient, "giving up"), 1, failure.Transient, true, policy.StepPending, `"outcome":"retry"`},
		{"no session: dead-lettered", true, func(d *message.Decision) { d.SessionID = "" }, nil, nil, 0, failure.Invalid, true, "", `"outcome":"invalid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rv := &reviews{err: tt.didit}
			svc, claims, profiles, logs, _ := newUnit(t, &fakeDidit{review: rv.fn})
			svc.ReviewRequests = tt.enabled
			profiles.profile = tt.profile
			d := reviewDecision()
			if tt.mod != nil {
				tt.mod(&d)
			}

			err := svc.HandleEvent(context.Background(), event1(t, d))
			if tt.wantRetry {
				require.Error(t, err)
				assert.Equal(t, tt.wantErr, failure.KindOf(err))
			} else {
				require.NoError(t, err, "acked")
			}
			assert.Len(t, rv.calls, tt.calls)
			for i := range rv.calls {
				assert.Equal(t, "s0", rv.calls[i])
				assert.Equal(t, didit.StatusInReview, rv.statuses[i])
				assert.Equal(t, stepup.ReviewComment(d), rv.comments[i])
			}
			c, found, _ := claims.Get(context.Background(), stepup.ClaimID(d.SessionID, stepup.KindReview))
			if tt.wantState == "" {
				assert.False(t, found)
			} else {
				require.True(t, found)
				assert.Equal(t, tt.wantState, c.State)
				require.NotEmpty(t, profiles.reqs, "shown on the profile")
				last := profiles.reqs[len(profiles.reqs)-1]
				assert.Equal(t, profile.DiditRequest{Kind: profile.RequestReview, Status: tt.wantState, SessionID: "s0", AssessmentID: "a1",
					Reason: last.Reason, CreatedAt: c.CreatedAt, UpdatedAt: last.UpdatedAt}, last)
			}
			assert.Contains(t, logs.String(), tt.wantLog)
			assert.NotContains(t, logs.String(), "Jane")

			// A redelivery never asks again.
			before := len(rv.calls)
			_ = svc.HandleEvent(context.Background(), event1(t, d))
			if tt.wantState != policy.StepPending {
				assert.Len(t, rv.calls, before)
			}
		})
	}
}

// Decline and blocklist: each its own switch, once per session, only on a signature-covered
// decision, never on a session awaiting review.
func TestBlockRequests(t *testing.T) {
	inReview := &profile.Profile{Sessions: map[string]profile.SessionState{"s0": {Status: "In Review"}}}
	declinedByReviewer := &profile.Profile{Sessions: map[string]profile.SessionState{"s0": {Status: "Declined"}},
		HumanVerdict: &profile.HumanVerdict{SessionID: "s0", Status: didit.StatusDeclined}}
	tests := []struct {
		name              string
		decline, block    bool
		trusted           bool
		profile           *profile.Profile
		reviewAsked       bool
		declines, blocks  int
		wantSkippedReason string
	}{
		{"both off", false, false, true, nil, false, 0, 0, ""},
		{"decline only", true, false, true, nil, false, 1, 0, ""},
		{"blocklist only", false, true, true, nil, false, 0, 1, ""},
		{"both", true, true, true, nil, false, 1, 1, ""},
		{"not signature-covered", true, true, false, nil, false, 0, 0, stepup.ReasonUntrusted},
		{"in review at Didit", true, true, true, inReview, false, 0, 0, stepup.ReasonAwaitingReview},
		{"review asked, no verdict yet", true, true, true, nil, true, 0, 0, stepup.ReasonAwaitingReview},
		{"review asked, reviewer declined", true, true, true, declinedByReviewer, true, 1, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var declines, blocks int
			f := &fakeDidit{
				update: func(_ context.Context, id string, st didit.Status, c string) error {
					declines++
					assert.Equal(t, "s0", id)
					assert.Equal(t, didit.StatusDeclined, st)
					assert.NotContains(t, c, "Jane")
					return nil
				},
				block:  func(context.Context, string, bool, bool) error { blocks++; return nil },
				review: func(context.Context, string, didit.Status, string) error { return nil },
			}
			svc, claims, profiles, logs, _ := newUnit(t, f)
			svc.DeclineOnBlock, svc.BlocklistOnBlock, svc.ReviewRequests = tt.decline, tt.block, true
			profiles.profile = tt.profile
			if tt.reviewAsked {
				require.NoError(t, svc.Handle(context.Background(), reviewDecision()))
			}
			d := reviewDecision()
			d.AssessmentID, d.Action, d.Level, d.Score, d.DecisionTrusted = "a2", policy.Block, policy.Critical, 100, tt.trusted
			d.SessionStatus = didit.StatusDeclined

			for range 3 {
				require.NoError(t, svc.HandleEvent(context.Background(), event1(t, d)))
			}
			assert.Equal(t, tt.declines, declines, "declined at most once")
			assert.Equal(t, tt.blocks, blocks, "blocklisted at most once")
			if tt.wantSkippedReason != "" {
				assert.Contains(t, logs.String(), `"reason":"`+tt.wantSkippedReason+`"`)
			}
			for kind, n := range map[stepup.ClaimKind]int{stepup.KindDecline: tt.declines, stepup.KindBlocklist: tt.blocks} {
				c, found, _ := claims.Get(context.Background(), stepup.ClaimID("s0", kind))
				assert.Equal(t, n == 1, found, kind)
				if found {
					assert.Equal(t, policy.StepCompleted, c.State, kind)
				}
			}
		})
	}
}
