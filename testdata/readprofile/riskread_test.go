package riskread

import (
	"context"
	"os"
	"testing"

	"cloud.google.com/go/firestore"
)

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

// TestSessionSignals reads a session's signals from its assessment, on the Firestore emulator
// when FIRESTORE_EMULATOR_HOST is set (the integration tests run this module's tests with it).
func TestSessionSignals(t *testing.T) {
	if os.Getenv("FIRESTORE_EMULATOR_HOST") == "" {
		t.Skip("FIRESTORE_EMULATOR_HOST not set")
	}
	ctx := context.Background()
	fs, err := firestore.NewClient(ctx, "riskread-test")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	prof := fs.Collection("risk_profiles").Doc("reader-1")
	must := func(_ *firestore.WriteResult, err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(prof.Set(ctx, map[string]any{"schema_version": 3, "sessions": map[string]any{
		"s.1": map[string]any{"status": "Approved", "assessment_id": "e1"},
		"s2":  map[string]any{"status": "Declined", "assessment_id": "e2"},
		"s3":  map[string]any{"status": "In Progress"},
	}}))
	must(prof.Collection("assessments").Doc("e1").Set(ctx, map[string]any{"signals": map[string]any{"didit_status": "Approved"}}))
	must(prof.Collection("assessments").Doc("e2").Set(ctx, map[string]any{
		"signals":         map[string]any{"didit_status": "Approved"}, // another session's verdict
		"session_signals": map[string]any{"didit_status": "Declined"},
	}))
	for _, tt := range []struct {
		session string
		found   bool
		status  string
	}{{"s.1", true, "Approved"}, {"s2", true, "Declined"}, {"s3", false, ""}, {"nope", false, ""}} {
		sig, found, err := SessionSignals(ctx, fs, "reader-1", tt.session)
		if err != nil || found != tt.found || (found && sig["didit_status"] != tt.status) {
			t.Errorf("%s: got %v %v %v, want found=%v status %q", tt.session, sig, found, err, tt.found, tt.status)
		}
	}
}
