package scorer

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/profile"
)

// The decision carries Didit's status of the verdict's session, which is not always the
// assessed one (a step-up session's webhook re-scores the session it answers).
func TestVerdictStatus(t *testing.T) {
	sessions := map[string]profile.SessionState{"origin": {Status: "In Review"}, "step": {Status: "Approved"}}
	tests := []struct {
		name string
		res  profile.Result
		want didit.Status
	}{
		{"the assessed session", profile.Result{Profile: profile.Profile{Sessions: sessions},
			Assessment: &profile.Assessment{SessionID: "origin", SessionStatus: "In Review", VerdictSession: "origin"}}, didit.StatusInReview},
		{"a step-up session's webhook: the origin's status", profile.Result{Profile: profile.Profile{Sessions: sessions},
			Assessment: &profile.Assessment{SessionID: "step", SessionStatus: "Approved", VerdictSession: "origin"}}, didit.StatusInReview},
		{"a duplicate about the assessed session", profile.Result{Outcome: profile.Duplicate,
			Assessment: &profile.Assessment{SessionID: "s", SessionStatus: "Approved", VerdictSession: "s"}}, didit.StatusApproved},
		{"a duplicate about another session: unknown", profile.Result{Outcome: profile.Duplicate,
			Assessment: &profile.Assessment{SessionID: "step", SessionStatus: "Approved", VerdictSession: "origin"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, verdictStatus(tt.res))
		})
	}
}
