package profile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Limits on what one profile keeps, so a document stays far below Firestore's 1 MiB.
const (
	maxSessions  = 50
	maxDocuments = 20
	maxDevices   = 50
	dedupeTTL    = 30 * 24 * time.Hour
)

// Event is one verified webhook, reduced to what the profile needs: ids, state and derived
// signals. The scorer builds it; nothing personal is in it.
type Event struct {
	Key          string // dedupe key: Didit's event_id or the receiver's derived key
	ProfileID    string
	UserID       string
	SessionID    string
	Status       string    // Didit session status
	EventTime    time.Time // the webhook's timestamp
	HasDecision  bool      // the status carries a decision to score
	Signals      scoring.Signals
	DocumentHash string
	DeviceHashes []string
	StepUp       *StepUpLink // set when the session is a step-up we created
	Trusted      bool        // false when only X-Signature-Simple covered the webhook
}

// Outcome says what Apply did.
type Outcome int

const (
	Applied   Outcome = iota // state changed; an assessment was written if the event had a decision
	Duplicate                // this event was applied before: nothing changed
	Stale                    // an older event of a session already further along: nothing changed
)

func (o Outcome) String() string {
	return [...]string{"applied", "duplicate", "stale"}[o]
}

// Result of applying an event.
type Result struct {
	Outcome    Outcome
	Profile    Profile
	Assessment *Assessment // the assessment written (Applied) or found (Duplicate), nil otherwise
}

// Assessment is risk_profiles/{id}/assessments/{assessment id}: the profile's verdict after one
// event, with everything needed to explain it.
type Assessment struct {
	ID            string `firestore:"id"`
	EventKey      string `firestore:"event_key"`
	SessionID     string `firestore:"session_id"`
	SessionStatus string `firestore:"session_status"`
	// VerdictSession is the session the verdict is about: the user's latest decided primary
	// session (a step-up session's verdict is about the session it answers).
	VerdictSession string          `firestore:"verdict_session_id"`
	StepUpKind     string          `firestore:"step_up_kind,omitempty"`
	Score          int             `firestore:"score"`
	Level          string          `firestore:"level"`
	Action         string          `firestore:"action"`
	Reasons        []Reason        `firestore:"reasons"`
	Shadow         []Reason        `firestore:"shadow_rules"` // fired shadow rules: recorded, never counted
	RequiredSteps  []string        `firestore:"required_steps"`
	PolicyVersion  string          `firestore:"policy_version"`
	Signals        scoring.Signals `firestore:"signals"`
	History        HistoryRecord   `firestore:"history"`
	Trusted        bool            `firestore:"decision_trusted"`
	EventTime      time.Time       `firestore:"event_time"`
	CreatedAt      time.Time       `firestore:"created_at"`
}

// HistoryRecord is the history an assessment was computed with.
type HistoryRecord struct {
	Sessions24h       int    `firestore:"sessions_24h"`
	Sessions30d       int    `firestore:"sessions_30d"`
	DeclinedSessions  int    `firestore:"declined_sessions"`
	DistinctDocuments int    `firestore:"distinct_documents"`
	DistinctDevices   int    `firestore:"distinct_devices"`
	PreviousLevel     string `firestore:"previous_level"`
}

// ErrConflict is returned when a transaction kept losing to concurrent writers.
var ErrConflict = errors.New("profile transaction contended")

// Apply records ev on the user's profile in one transaction: deduplicated by ev.Key, never
// letting an older event move a session backwards, and re-deriving the profile's verdict from
// everything known about the user, so the final profile does not depend on delivery order.
func (s *Store) Apply(ctx context.Context, ev Event, eng Evaluator, now time.Time) (Result, error) {
	pref := s.profileRef(ev.ProfileID)
	marker := pref.Collection(Processed).Doc(docKey(ev.Key))
	aref := pref.Collection(Assessments).Doc(docKey(ev.Key))

	var res Result
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		res = Result{}
		docs, err := tx.GetAll([]*firestore.DocumentRef{marker, pref, aref})
		if err != nil {
			return err
		}
		if docs[0].Exists() {
			res.Outcome = Duplicate
			if docs[2].Exists() {
				var a Assessment
				if err := docs[2].DataTo(&a); err != nil {
					return fmt.Errorf("decode assessment: %w", err)
				}
				res.Assessment = &a
			}
			return nil
		}
		p := newProfile(ev, now)
		if docs[1].Exists() {
			if err := docs[1].DataTo(&p); err != nil {
				return fmt.Errorf("decode profile: %w", err)
			}
		}
		res.Profile = p

		markerDoc := map[string]any{"event_key": ev.Key, "session_id": ev.SessionID, "applied_at": now, "expire_at": now.Add(dedupeTTL)}
		if cur, ok := p.Sessions[ev.SessionID]; ok && !moves(cur, ev) {
			res.Outcome = Stale
			markerDoc["outcome"] = Stale.String()
			// The session's state stays, but an older event can still tell when the session
			// began, which the history windows count from: keep that fact order-independent.
			if ev.EventTime.Before(cur.FirstSeen) {
				cur.FirstSeen = ev.EventTime
				p.Sessions[ev.SessionID] = cur
				p.UpdatedAt = now
				applyVerdict(&p, eng)
				res.Profile = p
				if err := tx.Set(pref, p); err != nil {
					return err
				}
			}
			return tx.Set(marker, markerDoc)
		}

		a := record(&p, ev, eng, now)
		res.Profile, res.Assessment = p, a
		markerDoc["outcome"] = Applied.String()
		if err := tx.Set(marker, markerDoc); err != nil {
			return err
		}
		if a != nil {
			if err := tx.Create(aref, a); err != nil {
				return err
			}
		}
		return tx.Set(pref, p)
	}, firestore.MaxAttempts(25))
	if err != nil {
		if status.Code(err) == codes.Aborted {
			err = fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return Result{}, failure.New(failure.Transient, fmt.Errorf("apply event %s to profile %s: %w", ev.Key, ev.ProfileID, err))
	}
	return res, nil
}

// Evaluator scores signals against history; *scoring.Engine is one.
type Evaluator interface {
	Evaluate(sig scoring.Signals, h scoring.History) scoring.Assessment
}

func newProfile(ev Event, now time.Time) Profile {
	return Profile{
		SchemaVersion: SchemaVersion, UserID: ev.UserID, ReviewState: ReviewNone,
		Sessions: map[string]SessionState{}, StepUps: map[string]StepUp{}, CreatedAt: now,
	}
}

// statusRank orders Didit's statuses along a session's life, to break ties between webhooks
// with the same one-second timestamp.
var statusRank = map[didit.Status]int{
	didit.StatusNotStarted: 0, didit.StatusInProgress: 1, didit.StatusAwaitingUser: 1, didit.StatusInReview: 2,
	didit.StatusResubmitted: 2, didit.StatusApproved: 3, didit.StatusDeclined: 3, didit.StatusAbandoned: 3,
	didit.StatusExpired: 3, didit.StatusKycExpired: 4,
}

// moves reports whether ev may change the session's state: sessions only move forward.
func moves(cur SessionState, ev Event) bool {
	if !ev.EventTime.Equal(cur.EventTime) {
		return ev.EventTime.After(cur.EventTime)
	}
	next, now := statusRank[didit.Status(ev.Status)], statusRank[didit.Status(cur.Status)]
	return next > now || (ev.Status != cur.Status && next == now)
}

// record folds ev into p's facts and re-derives the verdict. It returns the assessment to store
// when ev carried a decision.
func record(p *Profile, ev Event, eng Evaluator, now time.Time) *Assessment {
	if p.Sessions == nil {
		p.Sessions = map[string]SessionState{}
	}
	if p.StepUps == nil {
		p.StepUps = map[string]StepUp{}
	}
	if p.UserID == "" {
		p.UserID = ev.UserID
	}
	st, seen := p.Sessions[ev.SessionID]
	if !seen {
		st.FirstSeen = ev.EventTime
	}
	st.Status, st.EventTime, st.UpdatedAt = ev.Status, ev.EventTime, now
	if ev.StepUp != nil {
		st.StepUpKind, st.OriginSessionID = ev.StepUp.Kind, ev.StepUp.OriginSessionID
	}
	if ev.HasDecision {
		sig := ev.Signals
		st.Signals = &sig
		st.Decided = true
		st.AssessmentID = ev.Key
		p.DocumentHashes = addCapped(p.DocumentHashes, maxDocuments, ev.DocumentHash)
		p.DeviceHashes = addCapped(p.DeviceHashes, maxDevices, ev.DeviceHashes...)
	}
	p.Sessions[ev.SessionID] = st
	if ev.StepUp != nil {
		completeStepUp(p, ev, now)
	}
	pruneSessions(p)
	p.EventsApplied++
	p.UpdatedAt = now
	p.SchemaVersion = SchemaVersion

	v := applyVerdict(p, eng)
	if v == nil || !ev.HasDecision {
		return nil // nothing (new) decided: the session's state is all there is to keep
	}
	p.LastAssessmentID = ev.Key
	p.AssessmentsTotal++
	return &Assessment{
		ID: ev.Key, EventKey: ev.Key, SessionID: ev.SessionID, SessionStatus: ev.Status, VerdictSession: v.session,
		StepUpKind: st.StepUpKind, Score: v.a.Score, Level: p.Level, Action: p.Action,
		Reasons: reasons(v.a.Reasons), Shadow: reasons(v.a.ShadowHits), RequiredSteps: stepNames(v.a.RequiredSteps),
		PolicyVersion: v.a.PolicyVersion, Signals: v.a.Signals, History: v.history, Trusted: ev.Trusted,
		EventTime: ev.EventTime, CreatedAt: now,
	}
}

// applyVerdict re-derives the profile's verdict from its facts and sets the verdict fields.
// Everything it sets is a function of the facts, never of the order they arrived in: the review
// state, too, follows the current verdict.
func applyVerdict(p *Profile, eng Evaluator) *verdict {
	v := derive(p, eng)
	if v == nil {
		if p.ReviewState == "" {
			p.ReviewState = ReviewNone
		}
		return nil
	}
	p.Score, p.Level, p.Action = v.a.Score, string(v.a.Level), string(v.a.Action)
	p.Reasons, p.RequiredSteps, p.PolicyVersion = reasons(v.a.Reasons), stepNames(v.a.RequiredSteps), v.a.PolicyVersion
	p.LastSessionID = v.session
	p.Blocked = v.a.Action == policy.Block
	p.ReviewState = ReviewNone
	if v.a.Action == policy.Review {
		p.ReviewState = ReviewOpen
	}
	return v
}

// completeStepUp records a step-up session's outcome on the step it answers.
func completeStepUp(p *Profile, ev Event, now time.Time) {
	k := ev.StepUp.Kind
	su := p.StepUps[k]
	if su.AssessmentID != "" && su.AssessmentID != ev.StepUp.AssessmentID && su.CreatedAt.After(ev.EventTime) {
		return // a newer step of this kind superseded the one this session answers
	}
	su.Kind, su.AssessmentID, su.OriginSessionID = k, ev.StepUp.AssessmentID, ev.StepUp.OriginSessionID
	su.DiditSessionID, su.UpdatedAt = ev.SessionID, now
	if su.CreatedAt.IsZero() {
		su.CreatedAt = now
	}
	if ev.HasDecision {
		su.Status, su.Outcome = StepCompleted, string(scoring.StepUpOutcome(didit.Status(ev.Status)))
	} else if su.Status == "" {
		su.Status = StepCreated
	}
	p.StepUps[k] = su
}

type verdict struct {
	a       scoring.Assessment
	session string
	history HistoryRecord
}

// derive computes the verdict for the latest decided primary session, walking the user's
// decided sessions in event-time order so that each one's history (and the previous level)
// is a function of the facts alone, not of the order in which webhooks arrived.
func derive(p *Profile, eng Evaluator) *verdict {
	type entry struct {
		id string
		st SessionState
	}
	var all []entry
	for id, st := range p.Sessions {
		all = append(all, entry{id, st})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].st.EventTime.Equal(all[j].st.EventTime) {
			return all[i].st.EventTime.Before(all[j].st.EventTime)
		}
		return all[i].id < all[j].id
	})

	var last *verdict
	var prevLevel policy.Level
	var prevAction policy.Action
	for i, e := range all {
		if !e.st.Decided || e.st.StepUpKind != "" || e.st.Signals == nil {
			continue
		}
		h := scoring.History{PreviousLevel: prevLevel, PreviousAction: prevAction, StepUps: map[policy.StepKind]scoring.StepUp{}}
		sig := *e.st.Signals
		docs, devs := map[string]bool{}, map[string]bool{}
		for _, o := range all[:i+1] {
			age := e.st.EventTime.Sub(o.st.FirstSeen)
			if age <= 24*time.Hour {
				h.Sessions24h++
			}
			if age <= 30*24*time.Hour {
				h.Sessions30d++
			}
			if didit.Status(o.st.Status) == didit.StatusDeclined {
				h.DeclinedSessions++
			}
			if o.st.Signals != nil {
				if d := o.st.Signals.DocumentHash; d != "" {
					docs[d] = true
				}
				for _, d := range o.st.Signals.DeviceHashes {
					devs[d] = true
				}
			}
		}
		// Step-up sessions answering this session, in time order, refine its signals.
		for _, o := range all[i+1:] {
			if o.st.StepUpKind == "" || o.st.OriginSessionID != e.id {
				continue
			}
			su := scoring.StepUp{Status: policy.StepCreated}
			if o.st.Decided && o.st.Signals != nil {
				sig = scoring.Merge(sig, *o.st.Signals)
				su = scoring.StepUp{Status: policy.StepCompleted, Outcome: scoring.StepUpOutcome(didit.Status(o.st.Status))}
			}
			h.StepUps[policy.StepKind(o.st.StepUpKind)] = su
			h.IsStepUp, h.StepUpKind = true, policy.StepKind(o.st.StepUpKind)
		}
		for k, su := range p.StepUps {
			if _, ok := h.StepUps[policy.StepKind(k)]; !ok && su.OriginSessionID == e.id {
				h.StepUps[policy.StepKind(k)] = scoring.StepUp{Status: policy.StepStatus(su.Status), Outcome: policy.StepOutcome(su.Outcome)}
			}
		}
		h.DistinctDocuments, h.DistinctDevices = len(docs), len(devs)
		a := eng.Evaluate(sig, h)
		prevLevel, prevAction = a.Level, a.Action
		last = &verdict{a: a, session: e.id, history: HistoryRecord{
			Sessions24h: h.Sessions24h, Sessions30d: h.Sessions30d, DeclinedSessions: h.DeclinedSessions,
			DistinctDocuments: h.DistinctDocuments, DistinctDevices: h.DistinctDevices, PreviousLevel: string(h.PreviousLevel),
		}}
	}
	return last
}

// stepNames is the stored (and published) form of the required steps.
func stepNames(ks []policy.StepKind) []string {
	if ks == nil {
		return nil
	}
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func reasons(rs []scoring.Reason) []Reason {
	out := make([]Reason, 0, len(rs))
	for _, r := range rs {
		out = append(out, Reason{Rule: r.Rule, Points: r.Points, Description: r.Description})
	}
	return out
}

// pruneSessions keeps the most recent sessions; the verdict only looks back 30 days.
func pruneSessions(p *Profile) {
	if len(p.Sessions) <= maxSessions {
		return
	}
	ids := make([]string, 0, len(p.Sessions))
	for id := range p.Sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return p.Sessions[ids[i]].EventTime.After(p.Sessions[ids[j]].EventTime) })
	for _, id := range ids[maxSessions:] {
		delete(p.Sessions, id)
	}
}

func addCapped(set []string, limit int, vals ...string) []string {
	for _, v := range vals {
		if v == "" || slices.Contains(set, v) {
			continue
		}
		set = append(set, v)
		if len(set) > limit {
			set = set[len(set)-limit:]
		}
	}
	return set
}

// docKey makes an event key safe as a document id.
func docKey(k string) string {
	return DocID(k, "")
}
