package stepup

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// A session awaits review while Didit has it In Review, or while a review asked for it has no
// reviewer's verdict yet; a refused request asked nobody.
func TestAwaitingReview(t *testing.T) {
	claim := func(state policy.StepStatus) *Claim { return &Claim{Kind: KindReview, State: state} }
	tests := []struct {
		name   string
		status didit.Status
		review *Claim
		human  bool
		want   bool
	}{
		{"in review at Didit", didit.StatusInReview, nil, false, true},
		{"in review at Didit again after a verdict", didit.StatusInReview, claim(policy.StepCompleted), true, true},
		{"review asked, Didit's webhook not back yet", didit.StatusApproved, claim(policy.StepCompleted), false, true},
		{"review being asked", didit.StatusApproved, claim(policy.StepPending), false, true},
		{"review asked, reviewer declined", didit.StatusDeclined, claim(policy.StepCompleted), true, false},
		{"review request refused by Didit", didit.StatusApproved, claim(policy.StepFailed), false, false},
		{"never reviewed, declined", didit.StatusDeclined, nil, false, false},
		{"unknown status, never reviewed", "", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, awaitingReview(tt.status, tt.review, tt.human))
		})
	}
}

func TestIsRequest(t *testing.T) {
	for kind, want := range map[ClaimKind]bool{KindReview: true, KindDecline: true, KindBlocklist: true, "nfc": false, "phone": false, "": false} {
		assert.Equal(t, want, isRequest(kind), string(kind))
	}
}
