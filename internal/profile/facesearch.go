package profile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
)

// FaceSearchEvent is the derived facts of one Didit Face Search of a session, as the scorer
// receives them from the step-up function (message.FaceSearch).
type FaceSearchEvent struct {
	Key       string // dedupe key: one per session and search type
	ProfileID string
	SessionID string
	Facts     didit.FaceSearchFacts
	At        time.Time // when the search ran
}

// ApplyFaceSearch records a Face Search's facts on the searched session and re-derives the
// verdict, like a webhook: deduplicated by ev.Key (a marker and the assessment, in the same
// transaction), then the facts are kept on sessions.{id}.face_search.{search type} — so every
// later derivation lays them over the session's signals again — and the new verdict is stored
// as an assessment. A search about a session the profile does not keep (pruned, or never
// seen) changes nothing: Stale.
func (s *Store) ApplyFaceSearch(ctx context.Context, ev FaceSearchEvent, eng Evaluator, now time.Time) (Result, error) {
	opts := s.opts.withDefaults()
	pref := s.profileRef(ev.ProfileID)
	marker := pref.Collection(Processed).Doc(docKey(ev.Key))
	aref := pref.Collection(Assessments).Doc(docKey(ev.Key))
	markerDoc := func(o Outcome) map[string]any {
		return map[string]any{"event_key": ev.Key, "session_id": ev.SessionID, "applied_at": now,
			"expire_at": now.Add(opts.DedupeTTL), "outcome": o.String()}
	}
	var res Result
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		res = Result{}
		docs, err := tx.GetAll([]*firestore.DocumentRef{marker, pref, aref})
		if err != nil {
			return err
		}
		if docs[0].Exists() || docs[2].Exists() {
			res.Outcome = Duplicate
			if docs[2].Exists() {
				var a Assessment
				if err := docs[2].DataTo(&a); err != nil {
					return fmt.Errorf("decode assessment: %w", err)
				}
				res.Assessment = &a
			}
			if !docs[0].Exists() {
				return tx.Set(marker, markerDoc(Duplicate))
			}
			return nil
		}
		var p Profile
		var old *Profile // as stored: the write sends only what changed
		if docs[1].Exists() {
			if err := docs[1].DataTo(&p); err != nil {
				return fmt.Errorf("decode profile: %w", err)
			}
			old = new(Profile)
			if err := docs[1].DataTo(old); err != nil {
				return fmt.Errorf("decode profile: %w", err)
			}
			legacy, err := legacySignals(docs[1], &p)
			if err != nil {
				return err
			}
			if legacy {
				old.SchemaVersion = 2 // written whole, which drops the signals
			}
		}
		st, ok := p.Sessions[ev.SessionID]
		if !docs[1].Exists() || !ok {
			res.Outcome = Stale
			return tx.Set(marker, markerDoc(Stale))
		}
		res.Profile = p
		if st.FaceSearch == nil {
			st.FaceSearch = map[string]didit.FaceSearchFacts{}
		}
		st.FaceSearch[ev.Facts.SearchType] = ev.Facts
		st.UpdatedAt = now
		p.Sessions[ev.SessionID] = st
		p.EventsApplied++
		p.UpdatedAt = now
		p.SchemaVersion = SchemaVersion

		// The facts change the session's verdict inputs: it is evaluated in full, its signals
		// read from its assessment.
		v, first, err := settle(&p, eng, s.loader(tx, pref, &res.AssessmentReads), func(Verdict) bool { return true }, opts.decideOptions(), now)
		if err != nil {
			return err
		}
		if err := auditHuman(tx, pref, first, now); err != nil {
			return err
		}
		var a *Assessment
		if v.State == VerdictAssessed {
			// The facts came from Didit's API, read with the API key: as trusted as a
			// signature-covered decision (see message.FaceSearch).
			a = newAssessment(&p, v, Event{Key: ev.Key, SessionID: ev.SessionID, Status: st.Status, EventTime: ev.At, Trusted: true}, nil, now)
			a.ShadowPolicy = shadowVerdict(eng, v)
			a.ExpireAt = now.Add(opts.AssessmentRetention)
		}
		res.Outcome, res.Profile, res.Assessment = Applied, p, a
		if err := tx.Set(marker, markerDoc(Applied)); err != nil {
			return err
		}
		if a != nil {
			if err := tx.Create(aref, a); err != nil {
				return err
			}
		}
		return setProfile(tx, pref, old, p)
	}, firestore.MaxAttempts(25))
	if status.Code(err) == codes.AlreadyExists {
		return s.duplicate(ctx, aref)
	}
	if err != nil {
		if status.Code(err) == codes.Aborted {
			err = fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return Result{}, failure.New(failure.Transient, fmt.Errorf("apply face search %s to profile %s: %w", ev.Key, ev.ProfileID, err))
	}
	return res, nil
}

// faceSearchFacts are the session's Face Search facts in search-type order, so a derivation
// does not depend on map order.
func (st SessionState) faceSearchFacts() []didit.FaceSearchFacts {
	out := make([]didit.FaceSearchFacts, 0, len(st.FaceSearch))
	for _, k := range slices.Sorted(maps.Keys(st.FaceSearch)) {
		out = append(out, st.FaceSearch[k])
	}
	return out
}
