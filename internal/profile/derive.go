package profile

import (
	"slices"
	"sort"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Evaluator scores signals against history; *scoring.Engine is one.
type Evaluator interface {
	Evaluate(sig scoring.Signals, h scoring.History) scoring.Assessment
}

// Verdict is what Derive concludes from a profile's facts.
type Verdict struct {
	State string // VerdictUnverified or VerdictAssessed
	// The rest is set only when State is VerdictAssessed.
	Assessment  scoring.Assessment // the policy's verdict on Session
	Session     string             // the latest decided primary session
	History     HistoryRecord      // the history Assessment was computed with
	Adjustments []Adjustment       // what raised Assessment above its score's level and action
	// Sessions is the verdict of every decided primary session in the fold, by id: pruning
	// archives these for the sessions it removes.
	Sessions map[string]SessionVerdict
	// HighestLevel and EverBlocked summarise every verdict of the fold and the archive.
	HighestLevel string
	EverBlocked  bool
}

// SessionVerdict is one session's level and action in the fold.
type SessionVerdict struct {
	Level  string
	Action string
	At     time.Time
}

// Derive computes a profile's verdict from its facts alone: the sessions it keeps, the step-ups
// recorded on it and its aggregates. It walks the decided primary sessions in event-time order
// (ties by id), seeding the fold with the archive of pruned sessions, so each session's history
// and previous level are functions of the facts and never of the order webhooks arrived in. It
// does no I/O and reads no clock.
func Derive(p Profile, eng Evaluator) Verdict {
	type entry struct {
		id string
		st SessionState
	}
	all := make([]entry, 0, len(p.Sessions))
	for id, st := range p.Sessions {
		all = append(all, entry{id, st})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].st.EventTime.Equal(all[j].st.EventTime) {
			return all[i].st.EventTime.Before(all[j].st.EventTime)
		}
		return all[i].id < all[j].id
	})
	ag := p.Aggregates
	v := Verdict{State: VerdictUnverified, Sessions: map[string]SessionVerdict{},
		HighestLevel: ag.Archive.HighestLevel, EverBlocked: ag.Archive.EverBlocked}
	prevLevel, prevAction := policy.Level(ag.Archive.LastLevel), policy.Action(ag.Archive.LastAction)

	for i, e := range all {
		if !e.st.Decided || e.st.Signals == nil || stepUpOf(p, e.id, e.st) != nil {
			continue
		}
		h := scoring.History{PreviousLevel: prevLevel, PreviousAction: prevAction, StepUps: map[policy.StepKind]scoring.StepUp{}}
		sig := e.st.Signals.Clone()
		at := e.st.EventTime
		for _, o := range all[:i+1] {
			age := at.Sub(o.st.FirstSeen)
			if age <= 24*time.Hour {
				h.Sessions24h++
			}
			if age <= 30*24*time.Hour {
				h.Sessions30d++
			}
		}
		h.DeclinedSessions = declinedUntil(p, at)
		h.DistinctDocuments = distinctUntil(ag.Documents, sessionHashes(p, at, func(s *scoring.Signals) []string {
			if s.DocumentHash == "" {
				return nil
			}
			return []string{s.DocumentHash}
		}), at)
		h.DistinctDevices = distinctUntil(ag.Devices, sessionHashes(p, at, func(s *scoring.Signals) []string { return s.DeviceHashes }), at)

		// Step-up sessions we created for this session, in time order, refine its signals.
		for _, o := range all[i+1:] {
			link := stepUpOf(p, o.id, o.st)
			if link == nil || link.OriginSessionID != e.id {
				continue
			}
			kind := policy.StepKind(link.Kind)
			su := scoring.StepUp{Status: policy.StepCreated}
			if o.st.Decided && o.st.Signals != nil {
				sig = scoring.Merge(sig, *o.st.Signals)
				su = scoring.StepUp{Status: policy.StepCompleted, Outcome: scoring.StepUpOutcome(didit.Status(o.st.Status))}
			}
			h.StepUps[kind] = su
			h.IsStepUp, h.StepUpKind = true, kind
		}
		for k, su := range p.StepUps {
			if _, ok := h.StepUps[policy.StepKind(k)]; !ok && su.OriginSessionID == e.id {
				h.StepUps[policy.StepKind(k)] = scoring.StepUp{Status: policy.StepStatus(su.Status), Outcome: policy.StepOutcome(su.Outcome)}
			}
		}
		for k, o := range ag.StepUpOutcomes {
			// A completed step-up whose session was pruned still counts for its origin.
			if _, ok := h.StepUps[policy.StepKind(k)]; !ok && o.OriginSessionID == e.id {
				h.StepUps[policy.StepKind(k)] = scoring.StepUp{Status: policy.StepCompleted, Outcome: policy.StepOutcome(o.Outcome)}
			}
		}
		// Didit's Kyc Expired ends an earlier approval: the session keeps the signals of its
		// decision, but the policy must see that the approval no longer holds.
		if didit.Status(e.st.Status) == didit.StatusKycExpired {
			sig.KycExpired = true
		}

		a := eng.Evaluate(sig, h)
		prevLevel, prevAction = a.Level, a.Action
		v.Sessions[e.id] = SessionVerdict{Level: string(a.Level), Action: string(a.Action), At: at}
		v.HighestLevel = string(policy.MaxLevel(policy.Level(v.HighestLevel), a.Level))
		v.EverBlocked = v.EverBlocked || a.Action == policy.Block
		v.State, v.Assessment, v.Session = VerdictAssessed, a, e.id
		v.History = historyRecord(h)
	}
	if v.State == VerdictAssessed {
		v.Adjustments = adjustments(eng, v.Assessment)
	}
	return v
}

// stepUpOf returns the step-up link of a session when the session is the one the system
// created for that step: bound when it was recorded, or its Didit session id now being the
// one recorded on step_ups.{kind}. Any other session carrying a link is an ordinary session.
func stepUpOf(p Profile, id string, st SessionState) *StepUpLink {
	if st.StepUpKind != "" {
		return &StepUpLink{Kind: st.StepUpKind, OriginSessionID: st.OriginSessionID}
	}
	if c := st.StepUpClaim; c != nil && boundStepUp(p, id, *c) {
		return c
	}
	return nil
}

// boundStepUp reports whether session id is the Didit session recorded for the step link names.
func boundStepUp(p Profile, id string, link StepUpLink) bool {
	su, ok := p.StepUps[link.Kind]
	return ok && id != "" && su.DiditSessionID == id && su.OriginSessionID == link.OriginSessionID
}

// declinedUntil counts the sessions declined at or before at, from the aggregate and from the
// sessions kept (a profile built before the aggregates existed has only the latter).
func declinedUntil(p Profile, at time.Time) int {
	seen := map[string]bool{}
	for _, m := range p.Aggregates.DeclinedSessions {
		if !m.At.After(at) {
			seen[m.SessionID] = true
		}
	}
	for id, st := range p.Sessions {
		if didit.Status(st.Status) == didit.StatusDeclined && !st.EventTime.After(at) {
			seen[id] = true
		}
	}
	return len(seen)
}

// sessionHashes lists the hashes the kept sessions decided at or before at carry.
func sessionHashes(p Profile, at time.Time, get func(*scoring.Signals) []string) []string {
	var out []string
	for _, st := range p.Sessions {
		if st.Signals != nil && !st.EventTime.After(at) {
			out = append(out, get(st.Signals)...)
		}
	}
	return out
}

// distinctUntil counts the classes first seen at or before at, plus the hashes of kept sessions
// that no class holds.
func distinctUntil(classes []HashClass, extra []string, at time.Time) int {
	n := 0
	for _, c := range classes {
		if !c.FirstSeen.After(at) {
			n++
		}
	}
	var loose []string
	for _, h := range extra {
		if h == "" || slices.ContainsFunc(classes, func(c HashClass) bool { return slices.Contains(c.Hashes, h) }) {
			continue
		}
		if !slices.Contains(loose, h) {
			loose = append(loose, h)
		}
	}
	return n + len(loose)
}

// historyRecord is h as an assessment stores it.
func historyRecord(h scoring.History) HistoryRecord {
	r := HistoryRecord{
		Sessions24h: h.Sessions24h, Sessions30d: h.Sessions30d, DeclinedSessions: h.DeclinedSessions,
		DistinctDocuments: h.DistinctDocuments, DistinctDevices: h.DistinctDevices,
		PreviousLevel: string(h.PreviousLevel), PreviousAction: string(h.PreviousAction),
		IsStepUp: h.IsStepUp, StepUpKind: string(h.StepUpKind),
	}
	if len(h.StepUps) > 0 {
		r.StepUps = make(map[string]StepUpRecord, len(h.StepUps))
		for k, su := range h.StepUps {
			r.StepUps[string(k)] = StepUpRecord{Status: su.Status, Outcome: su.Outcome}
		}
	}
	return r
}

// Scoring is the history the verdict was computed with, as the engine reads it: a replay of
// the assessment's signals against it gives the stored verdict back.
func (r HistoryRecord) Scoring() scoring.History {
	h := scoring.History{
		Sessions24h: r.Sessions24h, Sessions30d: r.Sessions30d, DeclinedSessions: r.DeclinedSessions,
		DistinctDocuments: r.DistinctDocuments, DistinctDevices: r.DistinctDevices,
		PreviousLevel: policy.Level(r.PreviousLevel), PreviousAction: policy.Action(r.PreviousAction),
		IsStepUp: r.IsStepUp, StepUpKind: policy.StepKind(r.StepUpKind),
	}
	if len(r.StepUps) == 0 {
		return h // no map: the engine reads a missing kind the same from nil
	}
	h.StepUps = make(map[policy.StepKind]scoring.StepUp, len(r.StepUps))
	for k, su := range r.StepUps {
		h.StepUps[policy.StepKind(k)] = scoring.StepUp{Status: su.Status, Outcome: su.Outcome}
	}
	return h
}

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

// Adjustment is one thing that raised a verdict above what its score alone gives: a rule's
// minimum level or forced action, or one of the engine's overrides. Stored with the assessment
// so a verdict can be explained, and replayed, without the policy at hand.
type Adjustment struct {
	Kind string `firestore:"kind" json:"kind"` // min_level, action or override
	Rule string `firestore:"rule,omitempty" json:"rule,omitempty"`
	// Value is the level (min_level) or action (action) the rule asked for, or the override's name.
	Value string `firestore:"value" json:"value"`
}

// Adjustment kinds.
const (
	AdjustMinLevel = "min_level"
	AdjustAction   = "action"
	AdjustOverride = "override"
)

// policyOf is an Evaluator that can say which policy it runs (PolicyEvaluator does).
type policyOf interface{ Policy() *policy.Policy }

// PolicyEvaluator is the scoring engine of one policy, kept with the policy so that each
// assessment can record which rules' minimum levels and forced actions changed its verdict.
type PolicyEvaluator struct {
	*scoring.Engine
	pol *policy.Policy
}

// NewEvaluator returns the Evaluator for p, with the engine options given (scoring.WithModel);
// prefer it to a bare scoring.Engine, whose assessments can only name the engine's overrides
// among their adjustments.
func NewEvaluator(p *policy.Policy, opts ...scoring.Option) *PolicyEvaluator {
	return &PolicyEvaluator{Engine: scoring.NewEngine(p, opts...), pol: p}
}

// Policy returns the policy the evaluator runs.
func (e *PolicyEvaluator) Policy() *policy.Policy { return e.pol }

// adjustments lists the fired rules whose min_level or action is above what the score alone
// gives, and the engine's overrides. Without a policy (a test evaluator), only the overrides.
func adjustments(eng Evaluator, a scoring.Assessment) []Adjustment {
	var out []Adjustment
	if pe, ok := eng.(policyOf); ok && pe.Policy() != nil {
		pol := pe.Policy()
		base := pol.LevelFor(a.Score)
		baseAction := pol.ActionFor(base)
		for _, r := range a.Reasons {
			rule := pol.Rule(r.Rule)
			if rule == nil {
				continue
			}
			if rule.MinLevel.Valid() && rule.MinLevel.Rank() > base.Rank() {
				out = append(out, Adjustment{Kind: AdjustMinLevel, Rule: r.Rule, Value: string(rule.MinLevel)})
			}
			if rule.Action.Valid() && rule.Action.Rank() > baseAction.Rank() {
				out = append(out, Adjustment{Kind: AdjustAction, Rule: r.Rule, Value: string(rule.Action)})
			}
		}
	}
	for _, o := range a.Overrides {
		out = append(out, Adjustment{Kind: AdjustOverride, Value: o})
	}
	return out
}
