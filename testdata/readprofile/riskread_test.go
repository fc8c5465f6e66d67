package riskread

import "testing"

// The same cases as TestDocID in the main module's internal/profile.
func TestDocID(t *testing.T) {
	for in, want := range map[string]string{
		"user-42": "user-42", "a/b": "u:a%2Fb", "u:a%2Fb": "u:u:a%252Fb", "..": "u:..", "__x__": "u:__x__",
		"session:s1": "u:session:s1",
	} {
		if got := DocID(in); got != want {
			t.Errorf("DocID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVerified(t *testing.T) {
	zero := 0
	for _, tt := range []struct {
		p    Profile
		want bool
	}{
		{Profile{VerdictState: "unverified"}, false},
		{Profile{VerdictState: "assessed", Score: &zero, Action: "approve"}, true},
		{Profile{VerdictState: "assessed", Score: &zero, Action: "step_up"}, false},
		{Profile{Action: "approve"}, false}, // a profile without verdict_state is not a verdict
	} {
		if got := tt.p.Verified(); got != tt.want {
			t.Errorf("%+v: Verified() = %v", tt.p, got)
		}
	}
}
