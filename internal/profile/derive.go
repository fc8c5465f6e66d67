package profile

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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

// versioned is an Evaluator that names what it evaluates with (policy and model versions);
// *scoring.Engine is one. A stored session verdict is reused only under the same version.
type versioned interface{ Version() string }

func evaluatorVersion(eng Evaluator) string {
	if v, ok := eng.(versioned); ok {
		return v.Version()
	}
	return ""
}

// Verdict is what Derive concludes from a profile's facts.
type Verdict struct {
	State VerdictState
	// The rest is set only when State is VerdictAssessed.
	Assessment  scoring.Assessment // the policy's verdict on Session
	Session     string             // the latest decided primary session
	History     HistoryRecord      // the history Assessment was computed with
	Adjustments []Adjustment       // what raised Assessment above its score's level and action
	// Reused: Session was not evaluated (its signals were not at hand) and Assessment holds only
	// the verdict stored on the session (score, level, action): the inputs are the same as when
	// it was computed, or its signals have expired.
	Reused bool
	// Sessions is the verdict of every decided primary session in the fold, by id: stored on the
	// sessions (and archived for those pruning removes).
	Sessions map[string]SessionVerdict
	// Missing are the decided sessions whose signals the fold needed (its inputs changed since
	// their stored verdict) but did not have; the store reads them from their assessments and
	// derives again. Their stored verdict stood in for them meanwhile.
	Missing []string
	// HighestLevel and EverBlocked summarise every verdict of the fold and the archive.
	HighestLevel policy.Level
	EverBlocked  bool
	// Input is the history Assessment was computed with, in full (step-ups included): a shadow
	// policy is evaluated on Assessment.Signals and Input, the live verdict's own inputs,
	// without a second fold.
	Input scoring.History
}

// SessionVerdict is one session's verdict in the fold.
type SessionVerdict struct {
	Score  int
	Level  policy.Level
	Action policy.Action
	Key    string // the inputs it was computed from (see SessionState.VerdictKey)
	At     time.Time
}

// Derive computes a profile's verdict from its facts alone: the sessions it keeps, the step-ups
// recorded on it and its aggregates. It walks the decided primary sessions in event-time order
// (ties by id), seeding the fold with the archive of pruned sessions, so each session's history
// and previous level are functions of the facts and never of the order webhooks arrived in. It
// does no I/O and reads no clock.
//
// A session whose signals are at hand (SessionState.Signals: the event's own, or read from its
// assessment) is evaluated. One without them keeps the verdict stored on it when its inputs —
// the evaluator's version, its decision, its history, its step-ups — are those the verdict was
// computed from (SessionState.VerdictKey), or when its signals have expired; otherwise it is
// listed in Missing. Evaluating a session is a function of the same inputs, so the verdict is
// the same whichever sessions were evaluated.
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
	version := evaluatorVersion(eng)
	v := Verdict{State: VerdictUnverified, Sessions: map[string]SessionVerdict{},
		HighestLevel: ag.Archive.HighestLevel, EverBlocked: ag.Archive.EverBlocked}
	prevLevel, prevAction := ag.Archive.LastLevel, ag.Archive.LastAction

	for i, e := range all {
		if !e.st.Decided || stepUpOf(p, e.id, e.st) != nil {
			continue
		}
		h := scoring.History{PreviousLevel: prevLevel, PreviousAction: prevAction, StepUps: map[policy.StepKind]scoring.StepUp{}}
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
		// Sessions pruned from the profile still count in the windows.
		for _, fs := range ag.Archive.FirstSeen {
			if age := at.Sub(fs); age >= 0 && age <= 24*time.Hour {
				h.Sessions24h++
			}
			if age := at.Sub(fs); age >= 0 && age <= 30*24*time.Hour {
				h.Sessions30d++
			}
		}
		h.DeclinedSessions = declinedUntil(p, at)
		h.DistinctDocuments = distinctUntil(ag.Documents, at)
		h.DistinctDevices = distinctUntil(ag.Devices, at)

		// Step-up sessions we created for this session, in time order, refine its signals.
		var missing []string
		var overlays []scoring.Signals
		var inputs []stepUpInput
		for _, o := range all[i+1:] {
			link := stepUpOf(p, o.id, o.st)
			if link == nil || link.OriginSessionID != e.id {
				continue
			}
			kind := link.Kind
			su := scoring.StepUp{Status: policy.StepCreated}
			if o.st.Decided {
				inputs = append(inputs, stepUpInput{o.id, o.st.AssessmentID, o.st.Status})
				switch {
				case o.st.Signals != nil:
					overlays = append(overlays, *o.st.Signals)
				case !o.st.SignalsExpired:
					missing = append(missing, o.id)
				}
				su = scoring.StepUp{Status: policy.StepCompleted, Outcome: scoring.StepUpOutcome(didit.Status(o.st.Status))}
			}
			h.StepUps[kind] = su
			h.IsStepUp, h.StepUpKind = true, kind
		}
		for k, su := range p.StepUps {
			if _, ok := h.StepUps[policy.StepKind(k)]; !ok && su.OriginSessionID == e.id {
				h.StepUps[policy.StepKind(k)] = scoring.StepUp{Status: su.Status, Outcome: su.Outcome}
			}
		}
		for k, o := range ag.StepUpOutcomes {
			// A completed step-up whose session was pruned still counts for its origin.
			if _, ok := h.StepUps[policy.StepKind(k)]; !ok && o.OriginSessionID == e.id {
				h.StepUps[policy.StepKind(k)] = scoring.StepUp{Status: policy.StepCompleted, Outcome: o.Outcome}
			}
		}
		key := verdictKey(version, e.st, h, inputs)
		if e.st.Signals == nil && !e.st.SignalsExpired {
			missing = append([]string{e.id}, missing...)
		}
		stored := e.st.Level != "" && (e.st.VerdictKey == key || e.st.SignalsExpired)
		if len(missing) > 0 && !stored {
			v.Missing = append(v.Missing, missing...)
		}

		var a scoring.Assessment
		var sv SessionVerdict
		reused := false
		switch {
		case e.st.Signals != nil && (len(missing) == 0 || !stored):
			// The Face Search facts the step-up function found for the session lie over its
			// signals at every derivation, so a re-derivation keeps them.
			sig := scoring.WithFaceSearch(e.st.Signals.Clone(), e.st.faceSearchFacts()...)
			for _, o := range overlays {
				sig = scoring.Merge(sig, o)
			}
			// Didit's Kyc Expired ends an earlier approval: the session keeps the signals of its
			// decision, but the policy must see that the approval no longer holds.
			if e.st.Status == didit.StatusKycExpired {
				sig.KycExpired = true
			}
			a = eng.Evaluate(sig, h)
			sv = SessionVerdict{Score: a.Score, Level: a.Level, Action: a.Action, Key: key, At: at}
		case e.st.Level != "":
			// Not evaluated: the verdict stored on the session stands (the same inputs, or its
			// signals are gone, or they are being read).
			a = scoring.Assessment{Score: e.st.Score, Level: e.st.Level, Action: e.st.Action,
				PolicyVersion: p.PolicyVersion}
			sv = SessionVerdict{Score: e.st.Score, Level: e.st.Level, Action: e.st.Action, Key: e.st.VerdictKey, At: at}
			reused = true
		default:
			continue // neither signals nor a stored verdict: nothing to fold (listed in Missing)
		}
		prevLevel, prevAction = a.Level, a.Action
		v.Sessions[e.id] = sv
		v.HighestLevel = policy.MaxLevel(v.HighestLevel, a.Level)
		v.EverBlocked = v.EverBlocked || a.Action == policy.Block
		v.State, v.Assessment, v.Session, v.Reused, v.Input = VerdictAssessed, a, e.id, reused, h
		v.History = historyRecord(h)
	}
	if v.State == VerdictAssessed && !v.Reused {
		v.Adjustments = adjustments(eng, v.Assessment)
	}
	return v
}

// stepUpInput is what a decided step-up session brings to its origin's verdict.
type stepUpInput struct {
	Session, Assessment string
	Status              didit.Status
}

// verdictKey names the inputs of one session's verdict: the evaluator's version, the decision
// (its assessment id, which names its signals) and status, the history and the step-up sessions
// merged. A short hash: equal keys, equal verdicts.
func verdictKey(version string, st SessionState, h scoring.History, steps []stepUpInput) string {
	b, _ := json.Marshal(struct {
		V, A string
		S    didit.Status
		H    scoring.History
		U    []stepUpInput
		F    []didit.FaceSearchFacts `json:",omitempty"`
	}{version, st.AssessmentID, st.Status, h, steps, st.faceSearchFacts()})
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:12])
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
	su, ok := p.StepUps[string(link.Kind)]
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
		if st.Status == didit.StatusDeclined && !st.EventTime.After(at) {
			seen[id] = true
		}
	}
	return len(seen)
}

// distinctUntil counts the classes (documents or devices) first seen at or before at.
func distinctUntil(classes []HashClass, at time.Time) int {
	n := 0
	for _, c := range classes {
		if !c.FirstSeen.After(at) {
			n++
		}
	}
	return n
}

// historyRecord is h as an assessment stores it.
func historyRecord(h scoring.History) HistoryRecord {
	r := HistoryRecord{
		Sessions24h: h.Sessions24h, Sessions30d: h.Sessions30d, DeclinedSessions: h.DeclinedSessions,
		DistinctDocuments: h.DistinctDocuments, DistinctDevices: h.DistinctDevices,
		PreviousLevel: h.PreviousLevel, PreviousAction: h.PreviousAction,
		IsStepUp: h.IsStepUp, StepUpKind: h.StepUpKind,
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
		PreviousLevel: r.PreviousLevel, PreviousAction: r.PreviousAction,
		IsStepUp: r.IsStepUp, StepUpKind: r.StepUpKind,
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
