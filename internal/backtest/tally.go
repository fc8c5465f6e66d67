package backtest

import (
	"fmt"
	"slices"
	"sort"

	"github.com/riskwire/didit-risk/internal/policy"
)

// Bins of the score histograms: 0–9, 10–19, …, 90–100.
const Bins = 10

var (
	levelNames  = []policy.Level{policy.Low, policy.Medium, policy.High, policy.Critical}
	actionNames = []policy.Action{policy.Approve, policy.StepUp, policy.Review, policy.Block}
)

// Report is a backtest's (or shadow comparison's) outcome. "Live" is the verdict each assessment
// stored; "Candidate" the candidate policy's replay (or the stored shadow verdict).
type Report struct {
	Mode          string         `json:"mode"` // backtest or shadow
	Candidate     string         `json:"candidate"`
	LiveVersions  map[string]int `json:"live_versions"` // stored policy_version -> assessments
	LatestPerUser bool           `json:"latest_per_user"`
	Window        Window         `json:"window"`
	Read          int            `json:"read"`        // assessments read from the source
	Assessments   int            `json:"assessments"` // compared
	Skipped       int            `json:"skipped"`     // read but not compared (outside the window; superseded; no shadow verdict)
	// Levels and Actions are transition matrices: [live][candidate], by rank (low…critical,
	// approve…block); index 4 is a value outside the vocabulary (none).
	Levels  [5][5]int `json:"levels"`
	Actions [5][5]int `json:"actions"`
	// Agree counts the assessments whose action and level are both the same.
	Agree    int `json:"agree"`
	Stricter int `json:"stricter"` // candidate action stricter than live
	Looser   int `json:"looser"`
	// Rules are the fire counts of every rule that fired on either side, by id.
	Rules []RuleCount `json:"rules"`
	// Changes are the assessments whose action changes, the first ChangesKept of them (in
	// reading order); ChangesTotal counts them all.
	Changes      []Change       `json:"changes"`
	ChangesTotal int            `json:"changes_total"`
	Disagreement map[string]int `json:"disagreement_by_rule"` // rule -> changed actions it is part of the difference of
	// Scores are the score histograms, Bins bins of 10 points.
	LiveScores      [Bins]int `json:"live_scores"`
	CandidateScores [Bins]int `json:"candidate_scores"`
	LiveScoreSum    int       `json:"live_score_sum"`
	CandScoreSum    int       `json:"candidate_score_sum"`
	// Mismatches counts live-policy replays that did not give the stored verdict back (only
	// when the run verified the live policy); the first few are in MismatchSamples.
	Mismatches      int      `json:"mismatches"`
	MismatchSamples []string `json:"mismatch_samples,omitempty"`
}

// RuleCount is how often one rule fired live and with the candidate. A shadow rule is counted
// under its id with Shadow set; a rule that is shadow on one side only appears twice.
type RuleCount struct {
	Rule      string `json:"rule"`
	Shadow    bool   `json:"shadow"`
	Live      int    `json:"live"`
	Candidate int    `json:"candidate"`
}

// Change is one assessment whose action differs: ids only, and the rules that make the
// difference (fired on one side only, or fired on both with a definition that changed).
type Change struct {
	ProfileID    string        `json:"profile_id"`
	AssessmentID string        `json:"assessment_id"`
	Live         policy.Action `json:"live"`
	Candidate    policy.Action `json:"candidate"`
	Added        []string      `json:"added"`   // fired with the candidate only
	Removed      []string      `json:"removed"` // fired live only
	Redefined    []string      `json:"redefined,omitempty"`
}

// Tally folds compared verdicts into a Report in constant memory (apart from the Changes it
// keeps and one counter per rule).
type Tally struct {
	r           Report
	keep        int
	redefined   map[string]bool
	rules       map[ruleKey]*RuleCount
	onChange    func(Change) error
	maxMismatch int
}

type ruleKey struct {
	rule   string
	shadow bool
}

// TallyOptions configure a Tally.
type TallyOptions struct {
	Mode, Candidate string
	ChangesKept     int      // changes kept in the report (default 50)
	Redefined       []string // rules whose definition differs between the policies (policy.Diff.ChangedRules)
	// OnChange, when set, receives every change (the report keeps only ChangesKept): a
	// streaming writer keeps memory flat however many users move.
	OnChange func(Change) error
}

// NewTally returns an empty tally.
func NewTally(o TallyOptions) *Tally {
	if o.ChangesKept == 0 {
		o.ChangesKept = 50
	}
	t := &Tally{keep: o.ChangesKept, redefined: map[string]bool{}, rules: map[ruleKey]*RuleCount{}, onChange: o.OnChange, maxMismatch: 10}
	for _, id := range o.Redefined {
		t.redefined[id] = true
	}
	t.r = Report{Mode: o.Mode, Candidate: o.Candidate, LiveVersions: map[string]int{}, Disagreement: map[string]int{}}
	return t
}

// Skip counts an assessment read but not compared.
func (t *Tally) Skip() { t.r.Read++; t.r.Skipped++ }

// Mismatch records a live-policy replay that did not reproduce the stored verdict.
func (t *Tally) Mismatch(assessmentID, why string) {
	t.r.Mismatches++
	if len(t.r.MismatchSamples) < t.maxMismatch {
		t.r.MismatchSamples = append(t.r.MismatchSamples, assessmentID+": "+why)
	}
}

// Add folds one comparison.
func (t *Tally) Add(profileID, assessmentID, liveVersion string, live, cand Verdict) error {
	r := &t.r
	r.Read++
	r.Assessments++
	r.LiveVersions[liveVersion]++
	li, ci := levelIndex(live.Level), levelIndex(cand.Level)
	r.Levels[li][ci]++
	la, ca := actionIndex(live.Action), actionIndex(cand.Action)
	r.Actions[la][ca]++
	if li == ci && la == ca {
		r.Agree++
	}
	r.LiveScores[bin(live.Score)]++
	r.CandidateScores[bin(cand.Score)]++
	r.LiveScoreSum += live.Score
	r.CandScoreSum += cand.Score
	t.count(live.Rules, false, 0)
	t.count(live.Shadow, true, 0)
	t.count(cand.Rules, false, 1)
	t.count(cand.Shadow, true, 1)
	if live.Action == cand.Action {
		return nil
	}
	if cand.Action.Rank() > live.Action.Rank() {
		r.Stricter++
	} else {
		r.Looser++
	}
	c := Change{ProfileID: profileID, AssessmentID: assessmentID, Live: live.Action, Candidate: cand.Action,
		Added: minus(cand.Rules, live.Rules), Removed: minus(live.Rules, cand.Rules)}
	for _, id := range cand.Rules {
		if t.redefined[id] && slices.Contains(live.Rules, id) {
			c.Redefined = append(c.Redefined, id)
		}
	}
	for _, set := range [][]string{c.Added, c.Removed, c.Redefined} {
		for _, id := range set {
			r.Disagreement[id]++
		}
	}
	r.ChangesTotal++
	if len(r.Changes) < t.keep {
		r.Changes = append(r.Changes, c)
	}
	if t.onChange != nil {
		return t.onChange(c)
	}
	return nil
}

func (t *Tally) count(ids []string, shadow bool, side int) {
	for _, id := range ids {
		k := ruleKey{id, shadow}
		rc := t.rules[k]
		if rc == nil {
			rc = &RuleCount{Rule: id, Shadow: shadow}
			t.rules[k] = rc
		}
		if side == 0 {
			rc.Live++
		} else {
			rc.Candidate++
		}
	}
}

// Report returns the tally so far, its rules sorted by id.
func (t *Tally) Report() Report {
	r := t.r
	r.Rules = make([]RuleCount, 0, len(t.rules))
	for _, rc := range t.rules {
		r.Rules = append(r.Rules, *rc)
	}
	sort.Slice(r.Rules, func(i, j int) bool {
		if r.Rules[i].Rule != r.Rules[j].Rule {
			return r.Rules[i].Rule < r.Rules[j].Rule
		}
		return !r.Rules[i].Shadow
	})
	r.Changes = slices.Clone(r.Changes)
	return r
}

// minus returns the ids of a not in b, in a's order.
func minus(a, b []string) []string {
	var out []string
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

func levelIndex(l policy.Level) int {
	if l.Valid() {
		return l.Rank()
	}
	return 4
}

func actionIndex(a policy.Action) int {
	if a.Valid() {
		return a.Rank()
	}
	return 4
}

func bin(score int) int { return min(max(score, 0)/10, Bins-1) }

// Share returns n as a share of the assessments compared (0 when none).
func (r Report) Share(n int) float64 {
	if r.Assessments == 0 {
		return 0
	}
	return float64(n) / float64(r.Assessments)
}

// Guard limits how many compared assessments (users, with LatestPerUser) may move to a
// stricter or a looser action. A limit below zero is no limit.
type Guard struct {
	MaxStricter, MaxLooser float64
}

// Check returns an error naming each limit r exceeds.
func (g Guard) Check(r Report) error {
	var msgs []string
	if g.MaxStricter >= 0 && r.Share(r.Stricter) > g.MaxStricter {
		msgs = append(msgs, fmt.Sprintf("%d stricter (%.1f%%) > %.1f%%", r.Stricter, 100*r.Share(r.Stricter), 100*g.MaxStricter))
	}
	if g.MaxLooser >= 0 && r.Share(r.Looser) > g.MaxLooser {
		msgs = append(msgs, fmt.Sprintf("%d looser (%.1f%%) > %.1f%%", r.Looser, 100*r.Share(r.Looser), 100*g.MaxLooser))
	}
	if len(msgs) == 0 {
		return nil
	}
	return &GuardError{Msgs: msgs}
}

// GuardError is a guard breach: the command exits non-zero on it, so CI holds the change.
type GuardError struct{ Msgs []string }

func (e *GuardError) Error() string { return fmt.Sprintf("guard: %v", e.Msgs) }
