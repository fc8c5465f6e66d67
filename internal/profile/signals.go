package profile

import (
	"fmt"
	"slices"

	"cloud.google.com/go/firestore"

	"github.com/riskwire/didit-risk/internal/scoring"
)

// signalLoader puts on p's sessions the signals of the sessions named (and of any other the
// fold may need with them), read from their assessments; a session whose assessment is gone is
// marked SignalsExpired. It returns how many sessions it changed.
type signalLoader func(p *Profile, need []string) (int, error)

// assessmentGetter reads assessments by id, in one round trip: nil for one that does not exist.
type assessmentGetter func(ids []string) ([]*Assessment, error)

// loader reads signals inside tx (reads come before the transaction's writes), counting the
// assessments read in reads.
func (s *Store) loader(tx *firestore.Transaction, pref *firestore.DocumentRef, reads *int) signalLoader {
	return loadSignals(func(ids []string) ([]*Assessment, error) {
		refs := make([]*firestore.DocumentRef, len(ids))
		for i, id := range ids {
			refs[i] = pref.Collection(Assessments).Doc(docKey(id))
		}
		docs, err := tx.GetAll(refs)
		if err != nil {
			return nil, err
		}
		*reads += len(docs)
		out := make([]*Assessment, len(docs))
		for i, d := range docs {
			if !d.Exists() {
				continue
			}
			var a Assessment
			if err := d.DataTo(&a); err != nil {
				return nil, fmt.Errorf("decode assessment %s: %w", d.Ref.ID, err)
			}
			out[i] = &a
		}
		return out, nil
	})
}

// loadSignals is a signalLoader over get. To keep to one round trip, it reads every decided
// session still without signals from the earliest one needed onwards: an earlier session's new
// verdict is the later ones' history, so they are the ones a fold asks for next.
func loadSignals(get assessmentGetter) signalLoader {
	return func(p *Profile, need []string) (int, error) {
		var from *SessionState
		for _, id := range need {
			if st, ok := p.Sessions[id]; ok && (from == nil || st.EventTime.Before(from.EventTime)) {
				from = &st
			}
		}
		if from == nil {
			return 0, nil
		}
		var ids []string
		for id, st := range p.Sessions {
			if st.Decided && st.Signals == nil && !st.SignalsExpired &&
				(!st.EventTime.Before(from.EventTime) || slices.Contains(need, id)) {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		var keys, sessions []string
		changed := 0
		for _, id := range ids {
			st := p.Sessions[id]
			if st.AssessmentID == "" {
				st.SignalsExpired = true // nowhere to read them from
				p.Sessions[id] = st
				changed++
				continue
			}
			keys, sessions = append(keys, st.AssessmentID), append(sessions, id)
		}
		if len(keys) == 0 {
			return changed, nil
		}
		as, err := get(keys)
		if err != nil {
			return changed, fmt.Errorf("read %d assessments for their signals: %w", len(keys), err)
		}
		for i, a := range as {
			id := sessions[i]
			st := p.Sessions[id]
			if sig, ok := ownSignals(a, id); ok {
				st.Signals = &sig
			} else {
				// Expired (retention TTL) or unusable: the stored verdict stands.
				st.SignalsExpired = true
			}
			p.Sessions[id] = st
			changed++
		}
		return changed, nil
	}
}

// ownSignals are session id's own signals as its assessment a keeps them: session_signals, or
// signals when the assessment is a verdict on the session itself (schema 2 assessments have no
// session_signals).
func ownSignals(a *Assessment, id string) (scoring.Signals, bool) {
	switch {
	case a == nil:
		return scoring.Signals{}, false
	case a.SessionSignals != nil:
		return a.SessionSignals.Clone(), true
	case a.SessionID == id && a.VerdictSession == id:
		return a.Signals.Clone(), true
	}
	return scoring.Signals{}, false
}
