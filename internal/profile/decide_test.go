package profile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// TestDecide: the decision layer's precedence (override > reviewer > cooldown > policy) on
// hand-made policy verdicts, without Firestore.
func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	opts := DecideOptions{HumanVerdictTTL: 30 * 24 * time.Hour, DowngradeCooldown: 24 * time.Hour}
	approved := &ReviewFact{Status: didit.StatusApproved, ReviewerHash: "rh1", At: t0.Add(time.Hour)}
	declined := &ReviewFact{Status: didit.StatusDeclined, ReviewerHash: "rh1", At: t0.Add(time.Hour)}
	heldHigh := &Cooldown{Level: policy.High, Score: 70, Action: policy.Review, SessionID: "s0", Since: t0.Add(-time.Hour), Until: t0.Add(23 * time.Hour)}
	hvOn := func(session string, st didit.Status, rules ...string) *HumanVerdict {
		hv := newHumanVerdict(session, ReviewFact{Status: st, ReviewerHash: "rh1", At: t0.Add(time.Hour)}, rules, opts)
		return hv
	}
	// pol is the policy's verdict on s1 as applyVerdict leaves it.
	type pol struct {
		score  int
		level  policy.Level
		action policy.Action
		rules  []string
	}
	review := pol{60, policy.High, policy.Review, []string{"didit_in_review"}}
	low := pol{10, policy.Low, policy.Approve, nil}
	tests := []struct {
		name     string
		pol      pol
		review   *ReviewFact // on the verdict session s1
		human    *HumanVerdict
		cooldown *Cooldown
		override *Override
		now      time.Time
		opts     *DecideOptions

		by        DecidedBy
		action    policy.Action
		level     policy.Level
		policyVer bool // policy_verdict recorded
		first     bool // the reviewer's verdict applied for the first time
		blocked   bool
		open      bool
		cools     bool // a cooldown left on the profile
	}{
		{name: "the policy alone", pol: low, now: t0.Add(2 * time.Hour), by: DecidedByPolicy, action: policy.Approve, level: policy.Low},
		{name: "a policy review opens review and starts a cooldown", pol: review, now: t0.Add(2 * time.Hour),
			by: DecidedByPolicy, action: policy.Review, level: policy.High, open: true, cools: true},
		{name: "a reviewer's approval closes review", pol: review, review: approved, now: t0.Add(2 * time.Hour),
			by: DecidedByReviewer, action: policy.Approve, level: policy.High, policyVer: true, first: true},
		{name: "a reviewer's decline blocks", pol: review, review: declined, now: t0.Add(2 * time.Hour),
			by: DecidedByReviewer, action: policy.Block, level: policy.High, policyVer: true, first: true, blocked: true, cools: true},
		{name: "the same review again is not new", pol: review, review: approved, human: hvOn("s1", didit.StatusApproved, "didit_in_review"),
			now: t0.Add(3 * time.Hour), by: DecidedByReviewer, action: policy.Approve, level: policy.High, policyVer: true},
		{name: "a rule that did not fire at review time re-opens", pol: pol{80, policy.High, policy.Review, []string{"didit_in_review", "aml_hit"}},
			review: approved, human: hvOn("s1", didit.StatusApproved, "didit_in_review"), now: t0.Add(3 * time.Hour),
			by: DecidedByPolicy, action: policy.Review, level: policy.High, open: true, cools: true},
		{name: "fewer rules than at review time still hold", pol: low, review: approved,
			human: hvOn("s1", didit.StatusApproved, "didit_in_review"), now: t0.Add(3 * time.Hour), by: DecidedByReviewer, action: policy.Approve, level: policy.Low},
		{name: "a verdict on another session does not apply", pol: review, human: hvOn("s0", didit.StatusApproved, "didit_in_review"),
			now: t0.Add(3 * time.Hour), by: DecidedByPolicy, action: policy.Review, level: policy.High, open: true, cools: true},
		{name: "an approval expires after its TTL", pol: review, review: approved, now: t0.Add(31 * 24 * time.Hour),
			opts: &DecideOptions{HumanVerdictTTL: 30 * 24 * time.Hour}, by: DecidedByPolicy, action: policy.Review, level: policy.High, open: true},
		{name: "no TTL: an approval holds", pol: review, review: approved, now: t0.Add(400 * 24 * time.Hour),
			opts: &DecideOptions{}, by: DecidedByReviewer, action: policy.Approve, level: policy.High, policyVer: true, first: true},
		{name: "a decline never expires", pol: review, review: declined, now: t0.Add(400 * 24 * time.Hour),
			opts: &DecideOptions{HumanVerdictTTL: time.Hour}, by: DecidedByReviewer, action: policy.Block, level: policy.High, policyVer: true, first: true, blocked: true},
		{name: "the cooldown holds a downgrade from another session", pol: low, cooldown: heldHigh, now: t0.Add(2 * time.Hour),
			by: DecidedByPolicy, action: policy.Review, level: policy.High, policyVer: true, open: true, cools: true},
		{name: "after the cooldown the downgrade applies", pol: low, cooldown: heldHigh, now: t0.Add(23 * time.Hour),
			by: DecidedByPolicy, action: policy.Approve, level: policy.Low},
		{name: "cooldown off", pol: low, cooldown: heldHigh, now: t0.Add(2 * time.Hour), opts: &DecideOptions{},
			by: DecidedByPolicy, action: policy.Approve, level: policy.Low},
		{name: "the cooldown's own session refined applies", pol: low, cooldown: &Cooldown{Level: policy.High, Score: 70, Action: policy.Review, SessionID: "s1", Until: t0.Add(23 * time.Hour)},
			now: t0.Add(2 * time.Hour), by: DecidedByPolicy, action: policy.Approve, level: policy.Low},
		{name: "a reviewer is not held by the cooldown", pol: low, review: approved, cooldown: heldHigh, now: t0.Add(2 * time.Hour),
			by: DecidedByReviewer, action: policy.Approve, level: policy.Low, first: true},
		{name: "an override beats a reviewer", pol: review, review: declined, override: &Override{ID: "o1", Action: policy.Approve, ExpiresAt: t0.Add(48 * time.Hour)},
			now: t0.Add(2 * time.Hour), by: DecidedByOperator, action: policy.Approve, level: policy.High, policyVer: true, first: true, cools: true},
		{name: "an override beats the cooldown", pol: low, cooldown: heldHigh, override: &Override{ID: "o1", Action: policy.Block, ExpiresAt: t0.Add(48 * time.Hour)},
			now: t0.Add(2 * time.Hour), by: DecidedByOperator, action: policy.Block, level: policy.High, policyVer: true, blocked: true, cools: true},
		{name: "an expired override no longer applies", pol: low, override: &Override{ID: "o1", Action: policy.Block, ExpiresAt: t0.Add(time.Hour)},
			now: t0.Add(2 * time.Hour), by: DecidedByPolicy, action: policy.Approve, level: policy.Low},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs []Reason
			for _, r := range tt.pol.rules {
				rs = append(rs, Reason{Rule: r, Points: 10})
			}
			p := Profile{VerdictState: VerdictAssessed, Score: tt.pol.score, Level: tt.pol.level, Action: tt.pol.action,
				Reasons: rs, PolicyVersion: "p1", HumanVerdict: tt.human, Cooldown: tt.cooldown, Override: tt.override,
				Sessions: map[string]SessionState{"s0": {Decided: true, EventTime: t0.Add(-time.Hour)},
					"s1": {Decided: true, EventTime: t0, Review: tt.review}}}
			v := Verdict{State: VerdictAssessed, Session: "s1", Sessions: map[string]SessionVerdict{"s1": {At: t0}}}
			o := opts
			if tt.opts != nil {
				o = *tt.opts
			}
			first := decide(&p, v, o, tt.now)

			assert.Equal(t, tt.by, p.DecidedBy)
			assert.Equal(t, tt.action, p.Action)
			assert.Equal(t, tt.level, p.Level)
			assert.Equal(t, tt.blocked, p.Blocked)
			assert.Equal(t, tt.open, p.ReviewState == ReviewOpen)
			assert.Equal(t, tt.cools, p.Cooldown != nil, "cooldown %+v", p.Cooldown)
			if tt.policyVer {
				require.NotNil(t, p.PolicyVerdict)
				assert.Equal(t, PolicyVerdict{Score: tt.pol.score, Level: tt.pol.level, Action: tt.pol.action, PolicyVersion: "p1"}, *p.PolicyVerdict)
			} else {
				assert.Nil(t, p.PolicyVerdict)
			}
			assert.Equal(t, tt.first, first != nil)
			if tt.review != nil {
				require.NotNil(t, p.HumanVerdict, "a review on the verdict session is kept as the human verdict")
				assert.Equal(t, tt.review.ReviewerHash, p.HumanVerdict.ReviewerHash)
			}
		})
	}
}

// TestDecideUnverified: nobody decided, so nobody is named.
func TestDecideUnverified(t *testing.T) {
	p := Profile{VerdictState: VerdictUnverified, DecidedBy: DecidedByPolicy, PolicyVerdict: &PolicyVerdict{}}
	assert.Nil(t, decide(&p, Verdict{State: VerdictUnverified}, DefaultDecideOptions(), time.Now()))
	assert.Empty(t, p.DecidedBy)
	assert.Nil(t, p.PolicyVerdict)
}

// TestDecisionOptionsDefaults: zero takes the defaults, Off turns each off.
func TestDecisionOptionsDefaults(t *testing.T) {
	assert.Equal(t, DecideOptions{HumanVerdictTTL: DefaultHumanVerdictTTL, DowngradeCooldown: DefaultDowngradeCooldown}, Options{}.decideOptions())
	assert.Equal(t, DecideOptions{}, Options{HumanVerdictTTL: Off, DowngradeCooldown: Off}.decideOptions())
	assert.Equal(t, DecideOptions{HumanVerdictTTL: time.Hour, DowngradeCooldown: 2 * time.Hour},
		Options{HumanVerdictTTL: time.Hour, DowngradeCooldown: 2 * time.Hour}.decideOptions())
}
