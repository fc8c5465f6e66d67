package scorer

import (
	"context"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
)

// FaceSearchApplier records a Face Search's facts on a profile; *profile.Store is one.
type FaceSearchApplier interface {
	ApplyFaceSearch(ctx context.Context, ev profile.FaceSearchEvent, eng profile.Evaluator, now time.Time) (profile.Result, error)
}

// faceSearch folds a Face Search message into the session's profile and publishes the new
// verdict, as a webhook's. It is trusted by its type alone: only the step-up function
// publishes that type to the webhooks topic (see message.FaceSearch for the argument).
func (h *Handler) faceSearch(ctx context.Context, m queue.Message) (handled, error) {
	out := handled{webhookType: string(message.TypeFaceSearch), class: message.ClassSession}
	f, err := message.DecodeFaceSearch(m.Data)
	if err != nil {
		return out, err
	}
	ev := profile.FaceSearchEvent{Key: f.Key(), ProfileID: f.ProfileID, SessionID: f.SessionID, Facts: f.Facts, At: f.SearchedAt}
	out.key = ev.Key
	out.ev = profile.Event{Key: ev.Key, ProfileID: ev.ProfileID, SessionID: ev.SessionID}
	if h.FaceSearches == nil {
		return out, failure.Errorf(failure.Internal, "face search message but the scorer has no face search store")
	}
	out.res, err = h.FaceSearches.ApplyFaceSearch(ctx, ev, h.Engine, h.Now())
	if err != nil {
		return out, err
	}
	if a := out.res.Assessment; a != nil {
		pe := out.ev
		pe.UserID = out.res.Profile.UserID
		if pe.UserID == "" {
			// A duplicate reads only the assessment: the decision then names the profile alone.
			pe.UserID = userOf(ev.ProfileID)
		}
		if err := h.publish(ctx, pe, a, verdictStatus(out.res)); err != nil {
			return out, err
		}
		out.published = true
	}
	return out, nil
}

// userOf is the user id of a profile id when the id is the user id itself (profile.DocID).
func userOf(profileID string) string {
	if strings.HasPrefix(profileID, "u:") || strings.HasPrefix(profileID, "session:") {
		return ""
	}
	return profileID
}
