package profile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
)

// AssessmentKind says what wrote an assessment: absent for a webhook's.
type AssessmentKind string

// AssessmentRescore is the kind of an assessment the rescore job wrote: the live policy's new
// verdict on facts already stored, after a policy change.
const AssessmentRescore AssessmentKind = "rescore"

// rescorePrefix starts every rescore assessment id, so a profile whose latest assessment is one
// is told apart without reading it.
const rescorePrefix = "rescore:"

// RescoreOutcome says what Rescore did.
type RescoreOutcome int

const (
	// RescoreUnchanged: the live policy's verdict is the stored one; nothing was written.
	RescoreUnchanged RescoreOutcome = iota
	// RescoreRestamped: the same verdict under the live policy; the profile was rewritten (its
	// policy_version, and what else the settle path re-derives), with no assessment and nothing
	// to announce.
	RescoreRestamped
	// RescoreChanged: the verdict changed; the profile and a rescore assessment were written and
	// the decision is to be announced (then MarkAnnounced).
	RescoreChanged
	// RescoreUnannounced: an earlier run changed the verdict and did not record announcing it
	// (it stopped between the commit and the publish): announce it (again), then MarkAnnounced.
	RescoreUnannounced
	// RescoreMissing: there is no such profile.
	RescoreMissing
)

func (o RescoreOutcome) String() string {
	return [...]string{"unchanged", "restamped", "changed", "unannounced", "missing"}[o]
}

// Announce reports whether the outcome has a decision to publish.
func (o RescoreOutcome) Announce() bool { return o == RescoreChanged || o == RescoreUnannounced }

// RescoreResult is what Rescore did to one profile.
type RescoreResult struct {
	Outcome    RescoreOutcome
	Profile    Profile
	Assessment *Assessment // the decision to announce when Outcome.Announce()
}

// Rescore re-derives profileID's verdict under eng from the facts stored on the profile, in
// one transaction, through the same settle path Apply runs. A changed verdict is written with
// eng's policy version, recorded as an assessment of kind rescore (its signals, history, rules
// and the verdict it replaces) and returned to be announced; a profile whose verdict eng
// leaves as it is writes nothing, so running it twice changes nothing.
func (s *Store) Rescore(ctx context.Context, profileID string, eng Evaluator, now time.Time) (RescoreResult, error) {
	opts := s.opts.withDefaults()
	pref := s.profileRef(profileID)
	var res RescoreResult
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		res = RescoreResult{}
		snap, err := tx.Get(pref)
		if status.Code(err) == codes.NotFound {
			res.Outcome = RescoreMissing
			return nil
		}
		if err != nil {
			return err
		}
		var before, p Profile
		if err := snap.DataTo(&before); err != nil {
			return fmt.Errorf("decode profile: %w", err)
		}
		if err := snap.DataTo(&p); err != nil { // a second, independent copy for settle to change
			return fmt.Errorf("decode profile: %w", err)
		}
		legacy, err := legacySignals(snap, &p)
		if err != nil {
			return err
		}
		old := before // as stored: the write sends only what changed
		if legacy {
			old.SchemaVersion = 2 // written whole, which drops the signals
		}
		var reads int
		a, first, outcome, err := rescore(&p, before, profileID, eng, now, s.loader(tx, pref, &reads), opts.decideOptions())
		if err != nil {
			return err
		}
		if err := auditHuman(tx, pref, first, now); err != nil {
			return err
		}
		res.Outcome, res.Profile = outcome, p
		switch outcome {
		case RescoreUnchanged:
			res.Assessment, err = unannounced(tx, pref, p)
			if res.Assessment != nil {
				res.Outcome = RescoreUnannounced
			}
			return err
		case RescoreRestamped:
			return setProfile(tx, pref, &old, p)
		}
		a.ExpireAt = now.Add(opts.AssessmentRetention)
		res.Assessment = a
		if err := tx.Create(pref.Collection(Assessments).Doc(docKey(a.ID)), a); err != nil {
			return err
		}
		return setProfile(tx, pref, &old, p)
	}, firestore.MaxAttempts(25))
	if err != nil {
		if status.Code(err) == codes.Aborted {
			err = fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return RescoreResult{}, failure.New(failure.Transient, fmt.Errorf("rescore profile %s: %w", profileID, err))
	}
	return res, nil
}

// rescore settles p (decoded from the same document as before) under eng and says what changed:
// the assessment to record when the verdict did. Pure: no I/O, no clock but now.
func rescore(p *Profile, before Profile, profileID string, eng Evaluator, now time.Time, load signalLoader, o DecideOptions) (*Assessment, *AuditEntry, RescoreOutcome, error) {
	// A new policy re-evaluates every session; the verdict session in full, its signals read
	// from its assessment if need be.
	v, first, err := settle(p, eng, load, func(Verdict) bool { return true }, o, now)
	if err != nil {
		return nil, nil, 0, err
	}
	// Signals read into memory are not stored: compare what would be written.
	stored := *p
	stored.Sessions = storedSessions(p.Sessions)
	before.Sessions = storedSessions(before.Sessions)
	if sameValue(reflect.ValueOf(before), reflect.ValueOf(stored)) {
		return nil, nil, RescoreUnchanged, nil
	}
	p.UpdatedAt, p.SchemaVersion = now, SchemaVersion
	if v.State != VerdictAssessed || verdictID(before) == verdictID(*p) {
		return nil, first, RescoreRestamped, nil
	}
	id := rescoreID(profileID, v.Assessment.PolicyVersion, before.LastAssessmentID)
	p.LastAssessmentID = id
	p.AssessmentsTotal++
	st := p.Sessions[v.Session]
	a := &Assessment{
		ID: id, EventKey: id, Kind: AssessmentRescore, SessionID: v.Session, SessionStatus: st.Status, VerdictSession: v.Session,
		Score: p.Score, RawScore: v.Assessment.RawScore, Level: p.Level, Action: p.Action,
		DecidedBy: p.DecidedBy, PolicyVerdict: clonePolicyVerdict(p.PolicyVerdict),
		Reasons: reasons(v.Assessment.Reasons), Shadow: reasons(v.Assessment.ShadowHits), RequiredSteps: slices.Clone(v.Assessment.RequiredSteps),
		PolicyVersion: v.Assessment.PolicyVersion, Signals: v.Assessment.Signals, History: v.History, RuleErrors: v.Assessment.RuleErrors,
		Adjustments: v.Adjustments, Model: v.Assessment.Model,
		// Only authenticated decisions are ever folded into a profile (the scorer acks the rest
		// untouched), so every fact a rescore reads was signature-covered.
		Trusted:   true,
		EventTime: st.EventTime, CreatedAt: now,
	}
	if before.VerdictState == VerdictAssessed {
		a.Replaces = &PolicyVerdict{Score: before.Score, Level: policy.Level(before.Level), Action: policy.Action(before.Action),
			PolicyVersion: before.PolicyVersion}
	}
	return a, first, RescoreChanged, nil
}

// rescoreID names the rescore of a profile under a policy version from the assessment it
// replaces: the same rescore, retried, has the same id, and consumers deduplicate on it.
func rescoreID(profileID, version, replaced string) string {
	sum := sha256.Sum256([]byte(profileID + "\x00" + version + "\x00" + replaced))
	return rescorePrefix + version + ":" + hex.EncodeToString(sum[:8])
}

// unannounced returns p's latest assessment when a rescore wrote it and MarkAnnounced never
// recorded its decision as published.
func unannounced(tx *firestore.Transaction, pref *firestore.DocumentRef, p Profile) (*Assessment, error) {
	if !strings.HasPrefix(p.LastAssessmentID, rescorePrefix) {
		return nil, nil
	}
	key := docKey(p.LastAssessmentID)
	docs, err := tx.GetAll([]*firestore.DocumentRef{pref.Collection(Processed).Doc(key), pref.Collection(Assessments).Doc(key)})
	if err != nil {
		return nil, err
	}
	if docs[0].Exists() || !docs[1].Exists() {
		return nil, nil // announced, or expired with its assessment
	}
	var a Assessment
	if err := docs[1].DataTo(&a); err != nil {
		return nil, fmt.Errorf("decode assessment: %w", err)
	}
	return &a, nil
}

// MarkAnnounced records that the decision of rescore assessment assessmentID was published, so a
// later run does not publish it again. The marker lives as long as the assessment.
func (s *Store) MarkAnnounced(ctx context.Context, profileID, assessmentID string, now time.Time) error {
	opts := s.opts.withDefaults()
	ref := s.profileRef(profileID).Collection(Processed).Doc(docKey(assessmentID))
	_, err := ref.Set(ctx, map[string]any{"event_key": assessmentID, "applied_at": now, "outcome": "announced",
		"expire_at": now.Add(opts.AssessmentRetention)})
	if err != nil {
		return failure.New(failure.Transient, fmt.Errorf("mark rescore %s of %s announced: %w", assessmentID, profileID, err))
	}
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// sameValue is reflect.DeepEqual, except that a nil and an empty slice or map are the same (a
// document decodes an empty array as one, the fold writes the other) and times compare as
// instants.
func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !sameValue(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type() == timeType {
			return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
		}
		for i := range a.NumField() {
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.String:
		return a.String() == b.String()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
