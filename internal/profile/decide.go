package profile

import (
	"slices"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Defaults of the decision layer (Options.HumanVerdictTTL, Options.DowngradeCooldown).
const (
	// DefaultHumanVerdictTTL is how long a reviewer's approval holds (HUMAN_OVERRIDE_TTL).
	DefaultHumanVerdictTTL = 30 * 24 * time.Hour
	// DefaultDowngradeCooldown is how long a high or critical verdict holds back a lower one
	// from another session (DOWNGRADE_COOLDOWN).
	DefaultDowngradeCooldown = 24 * time.Hour
)

// Off, as Options.HumanVerdictTTL or Options.DowngradeCooldown, turns the expiry or the cooldown
// off (a zero field takes the default).
const Off time.Duration = -1

// OffIfZero turns a duration as the configuration and the commands' flags give it (0: off)
// into an Options duration (0: the default).
func OffIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return Off
	}
	return d
}

// DecideOptions are the decision layer's durations, resolved: 0 turns each off.
type DecideOptions struct {
	HumanVerdictTTL   time.Duration // how long a reviewer's approval holds; 0: no expiry
	DowngradeCooldown time.Duration // 0: no cooldown
}

// DefaultDecideOptions are the decision layer's defaults, as Fold and backtests use them.
func DefaultDecideOptions() DecideOptions { return Options{}.decideOptions() }

func (o Options) decideOptions() DecideOptions {
	res := func(d, def time.Duration) time.Duration {
		switch {
		case d == 0:
			return def
		case d < 0:
			return 0
		}
		return d
	}
	return DecideOptions{HumanVerdictTTL: res(o.HumanVerdictTTL, DefaultHumanVerdictTTL),
		DowngradeCooldown: res(o.DowngradeCooldown, DefaultDowngradeCooldown)}
}

// ReviewFact is a person's review of a session in Didit's console, as the profile keeps it: the
// status the reviewer set (Approved or Declined, the session's status when it was seen), the
// reviewer as a keyed hash and when. The reviewer's email and comment are never kept.
type ReviewFact struct {
	Status       didit.Status `firestore:"status" json:"status"`
	ReviewerHash string       `firestore:"reviewer_hash" json:"reviewer_hash"`
	At           time.Time    `firestore:"at" json:"at"`
}

// decide sets p's applied decision over the policy's verdict v, which applyVerdict has just put
// on p's verdict fields. Precedence: an active operator's override, then a holding reviewer's
// verdict, then the downgrade cooldown, then the policy. It sets decided_by, policy_verdict (the
// policy's own verdict when the applied one differs), human_verdict (a new one when the verdict
// session carries a review it has not seen), cooldown, blocked and review_state. A person
// decides the action; the score and level stay the policy's (a held verdict keeps its own).
// It returns the reviewer's verdict when it applied it for the first time (to be audited).
// Pure: no I/O, no clock but now.
func decide(p *Profile, v Verdict, o DecideOptions, now time.Time) (first *HumanVerdict) {
	if v.State != VerdictAssessed {
		p.DecidedBy, p.PolicyVerdict, p.Cooldown = "", nil, nil
		return nil
	}
	pol := PolicyVerdict{Score: p.Score, Level: policy.Level(p.Level), Action: policy.Action(p.Action), PolicyVersion: p.PolicyVersion}
	rules := ruleIDs(p.Reasons)
	applied, by := pol, DecidedByPolicy

	// A reviewer's verdict on the verdict session, while the facts are those it was made on.
	if r := p.Sessions[v.Session].Review; r != nil && verdictStatus(r.Status) && !sameReview(p.HumanVerdict, v.Session, *r) {
		p.HumanVerdict = newHumanVerdict(v.Session, *r, rules, o)
		if p.HumanVerdict.holds(v.Session, rules, now) {
			first = p.HumanVerdict
		}
	}
	human := p.HumanVerdict.holds(v.Session, rules, now)

	// The downgrade cooldown, from the facts alone (so the result does not depend on the order
	// webhooks arrived in): the latest other session Didit decided within the cooldown before
	// the verdict session, with a high or critical verdict that is not an approval, holds back a
	// lower verdict until its end. The same session's refinements (step-ups, a reviewer) apply.
	at := v.Sessions[v.Session].At
	var cd *Cooldown
	if src, ok := cooldownSource(v, o.DowngradeCooldown); ok && !human && now.Before(src.Until) {
		cd = &src
	}
	held := cd != nil && pol.Level.Rank() < cd.Level.Rank()
	if held {
		applied.Score, applied.Level, applied.Action = cd.Score, cd.Level, cd.Action
	}
	if human {
		applied.Action, by = p.HumanVerdict.Action, DecidedByReviewer
	}
	if !held {
		cd = nil
		if o.DowngradeCooldown > 0 && startsCooldown(applied.Level, applied.Action) && now.Before(at.Add(o.DowngradeCooldown)) {
			cd = &Cooldown{Level: applied.Level, Score: applied.Score, Action: applied.Action, SessionID: v.Session,
				Since: at, Until: at.Add(o.DowngradeCooldown)}
		}
	}
	p.Cooldown = cd

	if p.Override.Active(now) {
		applied.Action, by = p.Override.Action, DecidedByOperator
	}

	p.Score, p.Level, p.Action, p.DecidedBy = applied.Score, applied.Level, applied.Action, by
	p.PolicyVerdict = nil
	if applied != pol {
		p.PolicyVerdict = &pol
	}
	p.Blocked = applied.Action == policy.Block
	p.ReviewState = ReviewNone
	if applied.Action == policy.Review {
		p.ReviewState = ReviewOpen
	}
	return first
}

// startsCooldown reports whether a verdict of this level and action holds back later
// downgrades.
func startsCooldown(l policy.Level, a policy.Action) bool {
	return l.Rank() >= policy.High.Rank() && a != policy.Approve
}

// cooldownSource is the cooldown the fold's other sessions put on the verdict session: the
// latest session decided before it (event time, ties by id) within d, whose policy verdict
// starts a cooldown. ok is false when there is none (or d is 0).
func cooldownSource(v Verdict, d time.Duration) (Cooldown, bool) {
	if d <= 0 {
		return Cooldown{}, false
	}
	cur, ok := v.Sessions[v.Session]
	if !ok {
		return Cooldown{}, false
	}
	var best Cooldown
	var bestID string
	found := false
	for id, sv := range v.Sessions {
		before := sv.At.Before(cur.At) || (sv.At.Equal(cur.At) && id < v.Session)
		if id == v.Session || !before || !cur.At.Before(sv.At.Add(d)) || !startsCooldown(sv.Level, sv.Action) {
			continue
		}
		if found && (sv.At.Before(best.Since) || (sv.At.Equal(best.Since) && id < bestID)) {
			continue
		}
		best, bestID, found = Cooldown{Level: sv.Level, Score: sv.Score, Action: sv.Action, SessionID: id,
			Since: sv.At, Until: sv.At.Add(d)}, id, true
	}
	return best, found
}

func verdictStatus(s didit.Status) bool {
	return s == didit.StatusApproved || s == didit.StatusDeclined
}

// sameReview reports whether hv is the verdict of review r of session.
func sameReview(hv *HumanVerdict, session string, r ReviewFact) bool {
	return hv != nil && hv.SessionID == session && hv.Status == r.Status && hv.DecidedAt.Equal(r.At) &&
		hv.ReviewerHash == r.ReviewerHash
}

func newHumanVerdict(session string, r ReviewFact, rules []string, o DecideOptions) *HumanVerdict {
	hv := &HumanVerdict{SessionID: session, Status: r.Status, Action: policy.Approve, ReviewerHash: r.ReviewerHash,
		Rules: rules, DecidedAt: r.At}
	if r.Status == didit.StatusDeclined {
		hv.Action = policy.Block
	} else if o.HumanVerdictTTL > 0 {
		hv.ExpiresAt = r.At.Add(o.HumanVerdictTTL)
	}
	return hv
}

// holds reports whether the reviewer's verdict applies to the verdict on session, on which rules
// fire now: the same session, no rule it was not made with, and (an approval) not expired.
func (hv *HumanVerdict) holds(session string, rules []string, now time.Time) bool {
	if hv == nil || hv.SessionID != session {
		return false
	}
	for _, r := range rules {
		if !slices.Contains(hv.Rules, r) {
			return false
		}
	}
	return hv.ExpiresAt.IsZero() || now.Before(hv.ExpiresAt)
}

// ruleIDs are the ids of the rules that fired, in order; never nil, so a stored empty list
// reads back the same.
func ruleIDs(rs []Reason) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Rule)
	}
	return out
}

// decisionRecord is p's applied decision, as an audit entry keeps it.
func decisionRecord(p Profile) DecisionRecord {
	return DecisionRecord{Level: policy.Level(p.Level), Action: policy.Action(p.Action), DecidedBy: p.DecidedBy}
}
