// Package riskread reads a user's risk profile the way product code does, from another module:
// it copies the fields it needs (their names are the contract, see risk_profile.schema.json).
package riskread

import (
	"context"
	"net/url"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Profile is the part of risk_profiles/{id} this product reads.
type Profile struct {
	VerdictState  string            `firestore:"verdict_state"` // "unverified" or "assessed"
	Score         *int              `firestore:"score"`         // nil while unverified
	Level         string            `firestore:"level"`
	Action        string            `firestore:"action"` // approve, step_up, review, block
	RequiredSteps []string          `firestore:"required_steps"`
	ReviewState   string            `firestore:"review_state"`
	StepUps       map[string]StepUp `firestore:"step_ups"`
	UpdatedAt     time.Time         `firestore:"updated_at"`
}

// StepUp is one entry of step_ups.
type StepUp struct {
	Status  string `firestore:"status"` // pending, created, completed, failed
	URL     string `firestore:"url"`
	Outcome string `firestore:"outcome"`
}

// Verified reports whether the user may use what needs a verified identity: only an assessed
// profile whose action is approve. Unverified, step_up, review and block all say no.
func (p Profile) Verified() bool { return p.VerdictState == "assessed" && p.Action == "approve" }

// StepUpURLs are where to send the user for the step-ups the verdict asks for.
func (p Profile) StepUpURLs() []string {
	var out []string
	for _, k := range p.RequiredSteps {
		if s := p.StepUps[k]; p.Action == "step_up" && s.Status == "created" && s.URL != "" {
			out = append(out, s.URL)
		}
	}
	return out
}

// Get reads the profile of userID (Didit's vendor_data); found is false when Didit has sent
// nothing about the user yet: treat that like unverified.
func Get(ctx context.Context, fs *firestore.Client, userID string) (p Profile, found bool, err error) {
	snap, err := fs.Collection("risk_profiles").Doc(DocID(userID)).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return Profile{VerdictState: "unverified"}, false, nil
	}
	if err != nil {
		return p, false, err
	}
	err = snap.DataTo(&p)
	return p, err == nil, err
}

// SessionSignals reads the derived signals of one of the user's sessions (no personal data).
// Since schema 3 they are not on the profile: sessions.{id}.assessment_id names the assessment
// of the session's latest decision, which keeps them in session_signals, or in signals when
// session_signals is absent. found is false for an unknown or undecided session, or once the
// assessment has expired (ASSESSMENT_RETENTION).
func SessionSignals(ctx context.Context, fs *firestore.Client, userID, sessionID string) (sig map[string]any, found bool, err error) {
	prof := fs.Collection("risk_profiles").Doc(DocID(userID))
	snap, err := prof.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	id, _ := snap.DataAtPath(firestore.FieldPath{"sessions", sessionID, "assessment_id"})
	aid, _ := id.(string)
	if aid == "" {
		return nil, false, nil
	}
	a, err := prof.Collection("assessments").Doc(DocID(aid)).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	for _, field := range []string{"session_signals", "signals"} {
		if v, err := a.DataAtPath(firestore.FieldPath{field}); err == nil {
			if m, ok := v.(map[string]any); ok {
				return m, true, nil
			}
		}
	}
	return nil, false, nil
}

// DocID is the document id of a user: vendor_data itself, or "u:" + its URL path escape when
// Firestore could not take it as an id.
func DocID(userID string) string {
	if strings.ContainsRune(userID, '/') || userID == "." || userID == ".." ||
		strings.HasPrefix(userID, "u:") || strings.HasPrefix(userID, "session:") ||
		(strings.HasPrefix(userID, "__") && strings.HasSuffix(userID, "__")) || len(userID) > 1400 {
		return "u:" + url.PathEscape(userID)
	}
	return userID
}
