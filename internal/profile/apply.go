package profile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
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
	maxDeclined  = 100
	maxKeyHashes = 4 // hashes kept per document or device: one per hash key it was seen under
)

// Defaults of Options.
const (
	// DefaultDedupeTTL outlives the receiver's default replay horizon (REPLAY_HORIZON, 168 h) by a
	// day: a webhook old enough to have lost its marker is refused at the receiver.
	DefaultDedupeTTL = 8 * 24 * time.Hour
	// DefaultAssessmentRetention is how long an assessment is kept (Firestore TTL on expire_at);
	// the profile's aggregates keep what risk needs after that.
	DefaultAssessmentRetention = 400 * 24 * time.Hour
)

// Options configure a Store. Zero fields take the defaults.
type Options struct {
	// DedupeTTL is how long a processed-event marker lives (expire_at, a Firestore TTL field). It
	// must be at least the receiver's replay horizon, or a replayed webhook could apply twice.
	DedupeTTL time.Duration
	// AssessmentRetention sets each assessment's expire_at = created_at + AssessmentRetention.
	AssessmentRetention time.Duration
	// HumanVerdictTTL is how long a reviewer's approval holds (HUMAN_OVERRIDE_TTL): 0 takes
	// DefaultHumanVerdictTTL, Off never expires it. A reviewer's decline never expires.
	HumanVerdictTTL time.Duration
	// DowngradeCooldown is how long a high or critical verdict holds back a lower one from
	// another session (DOWNGRADE_COOLDOWN): 0 takes DefaultDowngradeCooldown, Off turns it off.
	DowngradeCooldown time.Duration
}

func (o Options) withDefaults() Options {
	if o.DedupeTTL <= 0 {
		o.DedupeTTL = DefaultDedupeTTL
	}
	if o.AssessmentRetention <= 0 {
		o.AssessmentRetention = DefaultAssessmentRetention
	}
	return o
}

// Event is one verified webhook, reduced to what the profile needs: ids, state and derived
// signals. The scorer builds it; nothing personal is in it.
type Event struct {
	Key          string // dedupe key: Didit's event_id or the receiver's derived key
	ProfileID    string
	UserID       string
	SessionID    string
	Status       didit.Status // Didit session status
	EventTime    time.Time    // the webhook's timestamp
	HasDecision  bool         // the status carries a decision to score
	Signals      scoring.Signals
	DocumentHash string   // under the current hash key
	DeviceHashes []string // under the current hash key
	// DocumentKeys and DeviceKeys are the same document and devices hashed under every
	// configured hash key, current first (scoring.Hasher.All): a returning user matches under an
	// old key too. Empty: DocumentHash and DeviceHashes alone.
	DocumentKeys []string
	DeviceKeys   [][]string
	StepUp       *StepUpLink // the step-up link in the session's metadata, if any
	// Review is the latest review by a person in Didit's console, when it set the session's
	// current status (Approved or Declined): the reviewer keyed-hashed, no comment.
	Review  *ReviewFact
	Trusted bool // false when only X-Signature-Simple covered the webhook
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
	// AssessmentReads is how many assessments the fold read to re-evaluate sessions whose
	// inputs changed (an out-of-order or step-up event, a new policy): 0 for in-order arrival.
	AssessmentReads int
}

// Assessment is risk_profiles/{id}/assessments/{assessment id}: the profile's verdict after one
// event, with everything needed to explain and replay it.
type Assessment struct {
	ID            string       `firestore:"id"`
	EventKey      string       `firestore:"event_key"`
	SessionID     string       `firestore:"session_id"`
	SessionStatus didit.Status `firestore:"session_status"`
	// VerdictSession is the session the verdict is about: the user's latest decided primary
	// session (a step-up session's verdict is about the session it answers).
	VerdictSession string          `firestore:"verdict_session_id"`
	StepUpKind     policy.StepKind `firestore:"step_up_kind,omitempty"`
	Score          int             `firestore:"score"`
	RawScore       int             `firestore:"raw_score"` // sum of points before clamping to 0–100
	Level          policy.Level    `firestore:"level"`
	Action         policy.Action   `firestore:"action"`
	// DecidedBy says who set Level and Action (policy, reviewer, operator); PolicyVerdict is the
	// policy's own verdict when it is not the one applied. Score and Reasons are the policy's
	// (a verdict a cooldown held keeps its own score).
	DecidedBy     DecidedBy      `firestore:"decided_by,omitempty"`
	PolicyVerdict *PolicyVerdict `firestore:"policy_verdict,omitempty"`
	Reasons       []Reason       `firestore:"reasons"`
	Shadow        []Reason       `firestore:"shadow_rules"` // fired shadow rules: recorded, never counted
	// ShadowPolicy is the verdict of the shadow policy (SHADOW_POLICY_FILE) on the same signals
	// and history: stored, never acted on.
	ShadowPolicy  *ShadowVerdict    `firestore:"shadow_policy,omitempty"`
	RequiredSteps []policy.StepKind `firestore:"required_steps"`
	PolicyVersion string            `firestore:"policy_version"`
	Signals       scoring.Signals   `firestore:"signals"` // the verdict session's, merged with its step-ups'
	// SessionSignals are the event's own signals when they differ from Signals (the verdict is
	// about another session, or step-up results were merged in): a fold re-evaluating the
	// session reads them here. Absent: they are Signals.
	SessionSignals *scoring.Signals `firestore:"session_signals,omitempty"`
	History        HistoryRecord    `firestore:"history"`
	// RuleErrors are the rules that failed at evaluation time (they counted as not fired);
	// Adjustments are the minimum levels, forced actions and engine overrides that raised the
	// verdict above its score. With Signals and History they explain and replay the verdict.
	RuleErrors  []scoring.RuleError `firestore:"rule_errors"`
	Adjustments []Adjustment        `firestore:"adjustments"`
	// Model is the scorer's model on this assessment: its score, version and the features that
	// moved the score most. Absent when the scorer runs no model (or it failed: see RuleErrors).
	Model     *scoring.ModelResult `firestore:"model,omitempty"`
	Trusted   bool                 `firestore:"decision_trusted"`
	EventTime time.Time            `firestore:"event_time"`
	CreatedAt time.Time            `firestore:"created_at"`
	ExpireAt  time.Time            `firestore:"expire_at"` // created_at + the retention: a Firestore TTL field
	// Kind is absent on a webhook's assessment and AssessmentRescore on one the rescore job
	// wrote after a policy change; Replaces is then the verdict it replaced.
	Kind     AssessmentKind `firestore:"kind,omitempty"`
	Replaces *PolicyVerdict `firestore:"replaces,omitempty"`
}

// ShadowVerdict is a shadow policy's verdict on an assessment's signals and history.
type ShadowVerdict struct {
	PolicyVersion string        `firestore:"policy_version" json:"policy_version"`
	Score         int           `firestore:"score" json:"score"`
	Level         policy.Level  `firestore:"level" json:"level"`
	Action        policy.Action `firestore:"action" json:"action"`
	Reasons       []Reason      `firestore:"reasons" json:"reasons"`
}

// HistoryRecord is the history an assessment was computed with.
type HistoryRecord struct {
	Sessions24h       int           `firestore:"sessions_24h"`
	Sessions30d       int           `firestore:"sessions_30d"`
	DeclinedSessions  int           `firestore:"declined_sessions"`
	DistinctDocuments int           `firestore:"distinct_documents"`
	DistinctDevices   int           `firestore:"distinct_devices"`
	PreviousLevel     policy.Level  `firestore:"previous_level"`
	PreviousAction    policy.Action `firestore:"previous_action"`
	// StepUps, IsStepUp and StepUpKind are the step-up part of the history: the latest step-up
	// of each kind for the verdict's session, and whether a step-up session of ours refined it.
	// With the rest they let a backtest replay the verdict exactly (HistoryRecord.Scoring).
	StepUps    map[string]StepUpRecord `firestore:"step_ups"`
	IsStepUp   bool                    `firestore:"is_step_up"`
	StepUpKind policy.StepKind         `firestore:"step_up_kind,omitempty"`
}

// StepUpRecord is one step-up as the policy saw it: its status and, once completed, its outcome.
type StepUpRecord struct {
	Status  policy.StepStatus  `firestore:"status" json:"status"`
	Outcome policy.StepOutcome `firestore:"outcome,omitempty" json:"outcome,omitempty"`
}

// Fold records ev on p in memory exactly as Apply does inside its transaction (without the
// dedupe marker and the staleness check, which need the store): the assessment Apply would
// write, nil when it would write none. Backtests and benchmarks build stored-shaped
// assessments through it, so what they replay is what the scorer stores.
func Fold(p *Profile, ev Event, eng Evaluator, now time.Time) *Assessment {
	// In memory every session keeps its signals, so the fold never needs to read any: no loader.
	a, _, _ := record(p, ev, eng, now, nil, DefaultDecideOptions())
	return a
}

// ErrConflict is returned when a transaction kept losing to concurrent writers.
var ErrConflict = errors.New("profile transaction contended")

// Apply records ev on the user's profile in one transaction: deduplicated by ev.Key, never
// letting an older event move a session backwards, and re-deriving the profile's verdict from
// everything known about the user, so the final profile does not depend on delivery order.
// An event whose assessment already exists is a Duplicate (its marker may have expired).
func (s *Store) Apply(ctx context.Context, ev Event, eng Evaluator, now time.Time) (Result, error) {
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
				// The marker expired but the assessment is still there: a replay. Mark it again.
				return tx.Set(marker, markerDoc(Duplicate))
			}
			return nil
		}
		p := newProfile(ev, now)
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
		res.Profile = p
		load := s.loader(tx, pref, &res.AssessmentReads)

		if cur, ok := p.Sessions[ev.SessionID]; ok && !moves(cur, ev) {
			res.Outcome = Stale
			changed, first, err := recordStale(&p, cur, ev, eng, load, opts.decideOptions(), now)
			if err != nil {
				return err
			}
			if changed {
				p.UpdatedAt = now
				res.Profile = p
				if err := auditHuman(tx, pref, first, now); err != nil {
					return err
				}
				if err := setProfile(tx, pref, old, p); err != nil {
					return err
				}
			}
			return tx.Set(marker, markerDoc(Stale))
		}

		a, first, err := record(&p, ev, eng, now, load, opts.decideOptions())
		if err != nil {
			return err
		}
		if err := auditHuman(tx, pref, first, now); err != nil {
			return err
		}
		if a != nil {
			a.ExpireAt = now.Add(opts.AssessmentRetention)
		}
		res.Profile, res.Assessment = p, a
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
		// The assessment appeared between the read and the commit: this event was applied by
		// another delivery. A duplicate, never a transient error.
		return s.duplicate(ctx, aref)
	}
	if err != nil {
		if status.Code(err) == codes.Aborted {
			err = fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return Result{}, failure.New(failure.Transient, fmt.Errorf("apply event %s to profile %s: %w", ev.Key, ev.ProfileID, err))
	}
	return res, nil
}

// legacySignals puts on p's sessions the signals a profile of schema 2 kept on them, so that
// its first fold under schema 3 reads no assessment for them (and needs none that a schema 2
// assessment cannot give: it kept only the verdict session's signals); it reports whether there
// were any, and the write that follows is then whole, which drops them. It looks at the
// sessions themselves, not schema_version, which the step-up function's partial writes stamp.
func legacySignals(snap *firestore.DocumentSnapshot, p *Profile) (bool, error) {
	var v2 struct {
		Sessions map[string]struct {
			Signals *scoring.Signals `firestore:"signals"`
		} `firestore:"sessions"`
	}
	if err := snap.DataTo(&v2); err != nil {
		return false, fmt.Errorf("decode schema %d sessions: %w", p.SchemaVersion, err)
	}
	legacy := false
	for id, s := range v2.Sessions {
		if st, ok := p.Sessions[id]; ok && s.Signals != nil {
			st.Signals = s.Signals
			p.Sessions[id] = st
			legacy = true
		}
	}
	return legacy, nil
}

// duplicate reads the assessment an earlier delivery of the event wrote.
func (s *Store) duplicate(ctx context.Context, aref *firestore.DocumentRef) (Result, error) {
	snap, err := aref.Get(ctx)
	if err != nil {
		return Result{}, failure.New(failure.Transient, fmt.Errorf("read existing assessment %s: %w", aref.ID, err))
	}
	var a Assessment
	if err := snap.DataTo(&a); err != nil {
		return Result{}, failure.New(failure.Internal, fmt.Errorf("decode assessment %s: %w", aref.ID, err))
	}
	return Result{Outcome: Duplicate, Assessment: &a}, nil
}

// recordStale folds what a stale event still tells into p: the session's state stays, but an
// older event can tell when the session began (the history windows count from it) and when its
// document and devices were first seen, so those facts do not depend on arrival order. It
// reports whether p changed.
func recordStale(p *Profile, cur SessionState, ev Event, eng Evaluator, load signalLoader, o DecideOptions, now time.Time) (bool, *AuditEntry, error) {
	docs, devs := slices.Clone(p.Aggregates.Documents), slices.Clone(p.Aggregates.Devices)
	addHashes(&p.Aggregates, ev)
	seen := !reflect.DeepEqual(docs, p.Aggregates.Documents) || !reflect.DeepEqual(devs, p.Aggregates.Devices)
	if !ev.EventTime.Before(cur.FirstSeen) && !seen {
		return false, nil, nil
	}
	cur.FirstSeen = minTime(cur.FirstSeen, ev.EventTime)
	p.Sessions[ev.SessionID] = cur
	last, state := p.LastSessionID, p.VerdictState
	_, first, err := settle(p, eng, load, func(v Verdict) bool { return v.Session != last || state != VerdictAssessed }, o, now)
	return true, first, err
}

// verdictFields are left out of an unverified profile's document: no score is better than a
// score of 0, which reads as the lowest risk.
var verdictFields = []string{"score", "level", "action", "reasons", "required_steps", "policy_version"}

// profileFields are the profile's top-level Firestore fields.
var profileFields = func() []string {
	t := reflect.TypeFor[Profile]()
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("firestore"), ",")
		out = append(out, name)
	}
	return out
}()

// setProfile writes p: whole when there is no stored profile (old is nil) or it is of an older
// schema, else only the fields that changed (profileUpdates); an unverified profile without its
// verdict fields.
func setProfile(tx *firestore.Transaction, ref *firestore.DocumentRef, old *Profile, p Profile) error {
	if old != nil && old.SchemaVersion == SchemaVersion {
		ups := profileUpdates(*old, p)
		if len(ups) == 0 {
			return nil
		}
		return tx.Update(ref, ups)
	}
	p.SchemaVersion = SchemaVersion // a stale event can be the first write of schema 3
	if p.VerdictState == VerdictAssessed {
		return tx.Set(ref, p)
	}
	var paths []firestore.FieldPath
	pv := reflect.ValueOf(p)
	for i, f := range profileFields {
		// A merge writes every path it names, an empty omitempty field as null: leave those out.
		empty := strings.Contains(pv.Type().Field(i).Tag.Get("firestore"), ",omitempty") && pv.Field(i).IsZero()
		if !slices.Contains(verdictFields, f) && !empty {
			paths = append(paths, firestore.FieldPath{f})
		}
	}
	return tx.Set(ref, p, firestore.Merge(paths...))
}

// profileUpdates are the field paths that differ between the stored profile old and p, so that
// a webhook writes (and re-indexes) only what it changed: a user's sessions and step-ups one
// entry at a time, the other top-level fields whole. Verdict fields absent from p (unverified)
// are deleted.
func profileUpdates(old, p Profile) []firestore.Update {
	var ups []firestore.Update
	ov, nv := reflect.ValueOf(old), reflect.ValueOf(p)
	t := nv.Type()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("firestore"), ",")
		switch name {
		case "sessions":
			ups = append(ups, mapUpdates(name, storedSessions(old.Sessions), storedSessions(p.Sessions))...)
			continue
		case "step_ups":
			ups = append(ups, mapUpdates(name, old.StepUps, p.StepUps)...)
			continue
		}
		o, n := ov.Field(i).Interface(), nv.Field(i).Interface()
		if p.VerdictState != VerdictAssessed && slices.Contains(verdictFields, name) {
			if old.VerdictState == VerdictAssessed {
				ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{name}, Value: firestore.Delete})
			}
			continue
		}
		if !reflect.DeepEqual(o, n) || (old.VerdictState != VerdictAssessed && slices.Contains(verdictFields, name)) {
			if strings.Contains(t.Field(i).Tag.Get("firestore"), ",omitempty") && nv.Field(i).IsZero() {
				// An omitempty field that became empty is removed, as a whole write omits it.
				ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{name}, Value: firestore.Delete})
				continue
			}
			ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{name}, Value: n})
		}
	}
	return ups
}

// mapUpdates are the entries of a map field that changed, were added or removed.
func mapUpdates[K ~string, V any](field string, old, cur map[K]V) []firestore.Update {
	var ups []firestore.Update
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if o, ok := old[k]; !ok || !reflect.DeepEqual(o, cur[k]) {
			ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{field, string(k)}, Value: cur[k]})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(old)) {
		if _, ok := cur[k]; !ok {
			ups = append(ups, firestore.Update{FieldPath: firestore.FieldPath{field, string(k)}, Value: firestore.Delete})
		}
	}
	return ups
}

// storedSessions are the sessions as stored: without the signals held in memory.
func storedSessions(ss map[string]SessionState) map[string]SessionState {
	out := make(map[string]SessionState, len(ss))
	for id, st := range ss {
		st.Signals = nil
		out[id] = st
	}
	return out
}

func newProfile(ev Event, now time.Time) Profile {
	return Profile{
		SchemaVersion: SchemaVersion, UserID: ev.UserID, ReviewState: ReviewNone, VerdictState: VerdictUnverified,
		Sessions: map[string]SessionState{}, StepUps: map[string]StepUp{}, CreatedAt: now,
	}
}

// statusOrder totally orders Didit's session statuses along a session's life. Two webhooks of
// one session with the same one-second timestamp are ordered by it, so the result never depends
// on which arrived last; a verdict outranks progress, and Declined outranks Approved (the safe
// side: Didit is silent on which came first). Kyc Expired only ever follows an approval.
var statusOrder = []didit.Status{
	didit.StatusNotStarted, didit.StatusInProgress, didit.StatusAwaitingUser, didit.StatusResubmitted,
	didit.StatusInReview, didit.StatusAbandoned, didit.StatusExpired, didit.StatusApproved,
	didit.StatusDeclined, didit.StatusKycExpired,
}

func statusRank(s didit.Status) int { return slices.Index(statusOrder, s) }

// moves reports whether ev may change the session's state: sessions only move forward. An
// older event never does; one with the same timestamp only when its status ranks higher, so a
// terminal status is never moved by an older-or-equal event of a lower or equal rank.
func moves(cur SessionState, ev Event) bool {
	if !ev.EventTime.Equal(cur.EventTime) {
		return ev.EventTime.After(cur.EventTime)
	}
	return statusRank(ev.Status) > statusRank(cur.Status)
}

// record folds ev into p's facts and re-derives the verdict. It returns the assessment to store
// when ev carried a decision or changed the verdict (a Kyc Expired ending an approval).
func record(p *Profile, ev Event, eng Evaluator, now time.Time, load signalLoader, o DecideOptions) (*Assessment, *AuditEntry, error) {
	if p.Sessions == nil {
		p.Sessions = map[string]SessionState{}
	}
	if p.StepUps == nil {
		p.StepUps = map[string]StepUp{}
	}
	if p.UserID == "" {
		p.UserID = ev.UserID
	}
	before, last, state := verdictID(*p), p.LastSessionID, p.VerdictState
	st, seen := p.Sessions[ev.SessionID]
	if !seen {
		st.FirstSeen = ev.EventTime
	}
	st.Status, st.EventTime, st.UpdatedAt = ev.Status, ev.EventTime, now
	if r := ev.Review; r != nil && (st.Review == nil || !r.At.Before(st.Review.At)) {
		// A person's review stays a fact of the session until a newer one replaces it.
		review := *r
		st.Review = &review
	}
	if ev.StepUp != nil && st.StepUpKind == "" {
		link := *ev.StepUp
		st.StepUpClaim = &link
	}
	ag := &p.Aggregates
	if ev.HasDecision {
		sig := ev.Signals
		st.Signals = &sig
		st.Decided = true
		st.AssessmentID = ev.Key
		addHashes(ag, ev)
	}
	ag.DeclinedSessions = markDeclined(ag.DeclinedSessions, ev)
	p.Sessions[ev.SessionID] = st
	bindStepUps(p)
	if link := stepUpOf(*p, ev.SessionID, p.Sessions[ev.SessionID]); link != nil && ev.HasDecision {
		completeStepUp(p, ev, *link, now)
	}
	p.EventsApplied++
	p.UpdatedAt = now
	p.SchemaVersion = SchemaVersion

	// The verdict session is evaluated in full (its signals read if need be) whenever the
	// verdict may be new: an assessment is then written.
	v, first, err := settle(p, eng, load, func(v Verdict) bool {
		return ev.HasDecision || v.Session != last || state != VerdictAssessed
	}, o, now)
	if err != nil {
		return nil, nil, err
	}
	if v.State != VerdictAssessed || (!ev.HasDecision && verdictID(*p) == before) {
		return nil, first, nil // nothing (new) decided: the session's state is all there is to keep
	}
	var own *scoring.Signals
	if ev.HasDecision && !reflect.DeepEqual(ev.Signals, v.Assessment.Signals) {
		own = &ev.Signals
	}
	a := newAssessment(p, v, ev, own, now)
	a.ShadowPolicy = shadowVerdict(eng, v)
	return a, first, nil
}

// newAssessment counts and returns the assessment of the verdict v that ev led to; own is the
// event's own signals when they differ from the verdict's.
func newAssessment(p *Profile, v Verdict, ev Event, own *scoring.Signals, now time.Time) *Assessment {
	p.LastAssessmentID = ev.Key
	p.AssessmentsTotal++
	return &Assessment{
		ID: ev.Key, EventKey: ev.Key, SessionID: ev.SessionID, SessionStatus: ev.Status, VerdictSession: v.Session,
		StepUpKind: p.Sessions[ev.SessionID].StepUpKind, Score: p.Score, RawScore: v.Assessment.RawScore,
		Level: p.Level, Action: p.Action, DecidedBy: p.DecidedBy, PolicyVerdict: clonePolicyVerdict(p.PolicyVerdict), Reasons: reasons(v.Assessment.Reasons), Shadow: reasons(v.Assessment.ShadowHits),
		RequiredSteps: slices.Clone(v.Assessment.RequiredSteps), PolicyVersion: v.Assessment.PolicyVersion, Signals: v.Assessment.Signals,
		SessionSignals: own, History: v.History, RuleErrors: v.Assessment.RuleErrors, Adjustments: v.Adjustments, Model: v.Assessment.Model, Trusted: ev.Trusted,
		EventTime: ev.EventTime, CreatedAt: now,
	}
}

// verdictID identifies a verdict, to tell whether an event without a decision changed it.
func verdictID(p Profile) string {
	rules := make([]string, len(p.Reasons))
	for i, r := range p.Reasons {
		rules[i] = r.Rule
	}
	return fmt.Sprint(p.VerdictState, p.Score, p.Level, p.Action, rules, p.RequiredSteps, p.LastSessionID, p.DecidedBy)
}

// settle derives the verdict, prunes the sessions (archiving what the pruned ones contributed)
// and sets the verdict fields from the facts that remain, then the decision layer (decide) sets
// the applied decision over the policy's: an operator's override, a reviewer's verdict, the
// downgrade cooldown. The policy's verdict is a function of the facts, never of the order they
// arrived in; the review state follows the applied action. full says whether the verdict
// session must be evaluated rather than its stored verdict reused. It returns the audit entry
// of a reviewer's verdict applied for the first time, to be written with the profile.
func settle(p *Profile, eng Evaluator, load signalLoader, full func(Verdict) bool, o DecideOptions, now time.Time) (Verdict, *AuditEntry, error) {
	before := decisionRecord(*p)
	v, err := derive(p, eng, load, full)
	if err != nil {
		return v, nil, err
	}
	if pruneSessions(p, v) {
		if v, err = derive(p, eng, load, full); err != nil {
			return v, nil, err
		}
	}
	applyVerdict(p, v)
	hv := decide(p, v, o, now)
	if hv == nil {
		return v, nil, nil
	}
	return v, &AuditEntry{ID: humanAuditID(*hv), Kind: AuditHumanVerdict, Actor: hv.ReviewerHash, Before: before,
		After: decisionRecord(*p), Reason: "reviewer " + string(hv.Status) + " session " + hv.SessionID, At: now}, nil
}

// maxLoadRounds bounds the reads of one fold: each round reads, in one batch, every session the
// fold may need from the earliest one it missed onwards, so one round is the rule.
const maxLoadRounds = 3

// derive runs Derive, reading from their assessments the signals of the sessions it must
// re-evaluate, until it misses none it can read.
func derive(p *Profile, eng Evaluator, load signalLoader, full func(Verdict) bool) (Verdict, error) {
	for round := 0; ; round++ {
		v := Derive(*p, eng)
		need := v.Missing
		if v.State == VerdictAssessed && v.Reused && full != nil && full(v) {
			need = append(need, v.Session)
		}
		if len(need) == 0 || load == nil || round == maxLoadRounds {
			return v, nil
		}
		changed, err := load(p, need)
		if err != nil || changed == 0 {
			return v, err
		}
	}
}

// applyVerdict sets the profile's verdict fields from v.
func applyVerdict(p *Profile, v Verdict) {
	for id, st := range p.Sessions {
		sv := v.Sessions[id] // zero for sessions outside the fold: undecided, step-ups
		st.Score, st.Level, st.Action, st.VerdictKey = sv.Score, sv.Level, sv.Action, sv.Key
		p.Sessions[id] = st
	}
	kept := v.Reused && p.VerdictState == VerdictAssessed && p.LastSessionID == v.Session
	p.VerdictState = v.State
	p.Aggregates.HighestLevel, p.Aggregates.EverBlocked = v.HighestLevel, v.EverBlocked
	p.DocumentHashes, p.DeviceHashes = newestHashes(p.Aggregates.Documents), newestHashes(p.Aggregates.Devices)
	p.ReviewState = ReviewNone
	if v.State != VerdictAssessed {
		p.Score, p.Level, p.Action, p.Reasons, p.RequiredSteps, p.PolicyVersion = 0, "", "", nil, nil, ""
		p.Blocked = false
		return
	}
	a := v.Assessment
	p.Score, p.Level, p.Action = a.Score, a.Level, a.Action
	if !kept {
		// kept: the verdict session's stored verdict stands on the same inputs, and so do the
		// reasons and steps already on the profile.
		p.Reasons, p.RequiredSteps, p.PolicyVersion = reasons(a.Reasons), slices.Clone(a.RequiredSteps), a.PolicyVersion
	}
	p.LastSessionID = v.Session
	p.Blocked = a.Action == policy.Block
	if a.Action == policy.Review {
		p.ReviewState = ReviewOpen
	}
}

// bindStepUps makes permanent the step-up claims that are now bound: the session is the Didit
// session recorded for its step.
func bindStepUps(p *Profile) {
	for id, st := range p.Sessions {
		if c := st.StepUpClaim; c != nil && st.StepUpKind == "" && boundStepUp(*p, id, *c) {
			st.StepUpKind, st.OriginSessionID, st.StepUpClaim = c.Kind, c.OriginSessionID, nil
			p.Sessions[id] = st
		}
	}
}

// completeStepUp records a bound step-up session's outcome on the step it answers and in the
// aggregates.
func completeStepUp(p *Profile, ev Event, link StepUpLink, now time.Time) {
	su := p.StepUps[string(link.Kind)]
	su.Status, su.Outcome, su.UpdatedAt = policy.StepCompleted, scoring.StepUpOutcome(ev.Status), now
	p.StepUps[string(link.Kind)] = su
	if p.Aggregates.StepUpOutcomes == nil {
		p.Aggregates.StepUpOutcomes = map[string]StepUpOutcome{}
	}
	if cur, ok := p.Aggregates.StepUpOutcomes[string(link.Kind)]; !ok || ev.EventTime.After(cur.At) ||
		(ev.EventTime.Equal(cur.At) && ev.SessionID >= cur.SessionID) {
		p.Aggregates.StepUpOutcomes[string(link.Kind)] = StepUpOutcome{Outcome: su.Outcome, SessionID: ev.SessionID,
			OriginSessionID: link.OriginSessionID, At: ev.EventTime}
	}
}

// markDeclined keeps the set of sessions whose latest status is Declined. A session leaves it
// only on a newer event (a reviewer's approval), never on a late older one.
func markDeclined(marks []SessionMark, ev Event) []SessionMark {
	i := slices.IndexFunc(marks, func(m SessionMark) bool { return m.SessionID == ev.SessionID })
	if didit.Status(ev.Status) == didit.StatusDeclined {
		if i >= 0 {
			marks[i].At = ev.EventTime
			return marks
		}
		marks = append(marks, SessionMark{SessionID: ev.SessionID, At: ev.EventTime})
		sort.Slice(marks, func(a, b int) bool {
			if !marks[a].At.Equal(marks[b].At) {
				return marks[a].At.Before(marks[b].At)
			}
			return marks[a].SessionID < marks[b].SessionID
		})
		if len(marks) > maxDeclined {
			marks = marks[len(marks)-maxDeclined:]
		}
		return marks
	}
	if i >= 0 && ev.EventTime.After(marks[i].At) {
		marks = slices.Delete(marks, i, i+1)
	}
	return marks
}

// addHashes adds a decided event's document and devices to the aggregates.
func addHashes(ag *Aggregates, ev Event) {
	if !ev.HasDecision {
		return
	}
	ag.Documents = addClass(ag.Documents, maxDocuments, ev.EventTime, keysOr(ev.DocumentKeys, ev.DocumentHash))
	devs := ev.DeviceKeys
	if len(devs) == 0 {
		for _, d := range ev.DeviceHashes {
			devs = append(devs, []string{d})
		}
	}
	for _, d := range devs {
		ag.Devices = addClass(ag.Devices, maxDevices, ev.EventTime, d)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func newestHashes(cs []HashClass) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Hashes[0])
	}
	return out
}

func keysOr(keys []string, h string) []string {
	if len(keys) > 0 {
		return keys
	}
	if h == "" {
		return nil
	}
	return []string{h}
}

// addClass adds one document (or device), given as its hashes under each key, to the classes:
// merged into the class that shares any hash (the same document under an older key), else a
// new class; the oldest classes go first beyond limit.
func addClass(classes []HashClass, limit int, at time.Time, hashes []string) []HashClass {
	hashes = slices.DeleteFunc(slices.Clone(hashes), func(h string) bool { return h == "" })
	if len(hashes) == 0 {
		return classes
	}
	for i, c := range classes {
		if slices.ContainsFunc(hashes, func(h string) bool { return slices.Contains(c.Hashes, h) }) {
			for _, h := range hashes {
				if !slices.Contains(c.Hashes, h) {
					c.Hashes = append([]string{h}, c.Hashes...) // newest key first
				}
			}
			if len(c.Hashes) > maxKeyHashes {
				c.Hashes = c.Hashes[:maxKeyHashes]
			}
			if at.Before(c.FirstSeen) {
				c.FirstSeen = at
			}
			classes[i] = c
			sortClasses(classes) // an earlier first_seen moves the class
			return classes
		}
	}
	if len(hashes) > maxKeyHashes {
		hashes = hashes[:maxKeyHashes]
	}
	classes = append(classes, HashClass{Hashes: hashes, FirstSeen: at})
	sortClasses(classes)
	if len(classes) > limit {
		classes = classes[len(classes)-limit:]
	}
	return classes
}

// sortClasses puts classes in a total order, so the kept classes do not depend on the order
// events arrived in.
func sortClasses(classes []HashClass) {
	sort.Slice(classes, func(a, b int) bool {
		if !classes[a].FirstSeen.Equal(classes[b].FirstSeen) {
			return classes[a].FirstSeen.Before(classes[b].FirstSeen)
		}
		return classes[a].Hashes[len(classes[a].Hashes)-1] < classes[b].Hashes[len(classes[b].Hashes)-1]
	})
}

func reasons(rs []scoring.Reason) []Reason {
	out := make([]Reason, 0, len(rs))
	for _, r := range rs {
		out = append(out, Reason{Rule: r.Rule, Points: r.Points, Description: r.Description})
	}
	return out
}

// pruneSessions keeps at most maxSessions sessions. Undecided sessions go first (oldest first),
// then decided ones, oldest first, a step-up session with the session it answers. What a pruned
// decided session contributed to the verdict fold is archived in the aggregates; declined
// sessions, documents, devices and step-up outcomes are aggregates already. It reports whether
// it removed anything.
func pruneSessions(p *Profile, v Verdict) bool {
	if len(p.Sessions) <= maxSessions {
		return false
	}
	type entry struct {
		id      string
		decided bool
		at      time.Time
	}
	es := make([]entry, 0, len(p.Sessions))
	for id, st := range p.Sessions {
		at := st.EventTime
		if link := stepUpOf(*p, id, st); link != nil {
			if o, ok := p.Sessions[link.OriginSessionID]; ok {
				at = o.EventTime
			}
		}
		es = append(es, entry{id, st.Decided, at})
	}
	sort.Slice(es, func(i, j int) bool {
		if es[i].decided != es[j].decided {
			return !es[i].decided
		}
		if !es[i].at.Equal(es[j].at) {
			return es[i].at.Before(es[j].at)
		}
		return es[i].id < es[j].id
	})
	ar := &p.Aggregates.Archive
	for _, e := range es[:len(es)-maxSessions] {
		if sv, ok := v.Sessions[e.id]; ok {
			ar.Sessions++
			if !sv.At.Before(ar.Until) {
				ar.Until, ar.LastLevel, ar.LastAction = sv.At, sv.Level, sv.Action
			}
			ar.HighestLevel = policy.MaxLevel(ar.HighestLevel, sv.Level)
			ar.EverBlocked = ar.EverBlocked || sv.Action == policy.Block
		}
		ar.FirstSeen = append(ar.FirstSeen, p.Sessions[e.id].FirstSeen)
		delete(p.Sessions, e.id)
	}
	slices.SortFunc(ar.FirstSeen, time.Time.Compare)
	if len(ar.FirstSeen) > maxSessions {
		ar.FirstSeen = ar.FirstSeen[len(ar.FirstSeen)-maxSessions:]
	}
	return true
}

// docKey makes an event key safe as a document id.
func docKey(k string) string {
	return DocID(k, "")
}
