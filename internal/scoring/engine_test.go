package scoring

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/testdata"
)

// testPolicy has one rule per flag of signals the table below sets; names say what they do.
const testPolicy = `version: engine-test
thresholds: {medium: 25, high: 55, critical: 85}
actions: {low: approve, medium: step_up, high: review, critical: block}
rules:
  - {id: p10_nfc, description: ten points asking nfc, when: 'signals.document_type == "p10"', points: 10, steps: [nfc]}
  - {id: p30_phone, description: thirty points asking phone, when: 'signals.phone_carrier_type == "p30"', points: 30, steps: [phone, nfc]}
  - {id: p60, description: sixty points, when: 'signals.email_status == "p60"', points: 60}
  - {id: p90, description: ninety points, when: 'signals.poa_status == "p90"', points: 90}
  - {id: minus50, description: minus fifty, when: 'signals.aml_status == "m50"', points: -50}
  - {id: floor_high, description: at least high, when: 'signals.ip_status == "floor_high"', points: 0, min_level: high}
  - {id: floor_low, description: a floor below the score, when: 'signals.db_status == "floor_low"', points: 0, min_level: low}
  - {id: force_block, description: force block, when: 'signals.nfc_status == "block"', points: 5, action: block}
  - {id: force_approve, description: an action below the level, when: 'signals.nfc_status == "approve"', points: 0, action: approve}
  - {id: force_step_up, description: force step-up with biometric, when: 'signals.nfc_status == "step_up"', points: 0, action: step_up, steps: [biometric]}
  - {id: shadow_100, description: shadow, when: 'signals.liveness_method == "shadow"', points: 100, action: block, min_level: critical, steps: [poa], shadow: true}
  - {id: boom, description: fails at run time, when: '1 / history.sessions_30d == 42', points: 40}
  - {id: nfc_ok, description: approved nfc, when: 'step_up_outcome("nfc") == "approved"', points: -10}
`

func testEngine(t *testing.T) *Engine {
	t.Helper()
	p, err := policy.Parse([]byte(testPolicy))
	require.NoError(t, err)
	return NewEngine(p)
}

// sigWith returns approved signals; each "field=value" sets a string signal the test policy reads.
func sigWith(status string, kv ...string) Signals {
	s := emptySignals()
	s.DiditStatus = status
	for _, e := range kv {
		k, v, _ := strings.Cut(e, "=")
		switch k {
		case "document_type":
			s.DocumentType = v
		case "phone_carrier_type":
			s.PhoneCarrierType = v
		case "email_status":
			s.EmailStatus = v
		case "poa_status":
			s.POAStatus = v
		case "aml_status":
			s.AMLStatus = v
		case "ip_status":
			s.IPStatus = v
		case "db_status":
			s.DBStatus = v
		case "nfc_status":
			s.NFCStatus = v
		case "liveness_method":
			s.LivenessMethod = v
		default:
			panic("unknown key " + k)
		}
	}
	return s
}

func TestEvaluateSemantics(t *testing.T) {
	e := testEngine(t)
	tests := []struct {
		name      string
		sig       Signals
		h         *History // nil: a user with one session
		score     int
		level     policy.Level
		action    policy.Action
		reasons   []string
		steps     []policy.StepKind
		shadow    []string
		overrides []string
		errors    int
	}{
		{name: "nothing fires", sig: sigWith("Approved"),
			level: policy.Low, action: policy.Approve},
		{name: "score picks the level", sig: sigWith("Approved", "phone_carrier_type=p30"),
			score: 30, level: policy.Medium, action: policy.StepUp, reasons: []string{"p30_phone"}, steps: []policy.StepKind{"nfc", "phone"}},
		{name: "steps are a sorted union", sig: sigWith("Approved", "document_type=p10", "phone_carrier_type=p30"),
			score: 40, level: policy.Medium, action: policy.StepUp, reasons: []string{"p10_nfc", "p30_phone"}, steps: []policy.StepKind{"nfc", "phone"}},
		{name: "steps only when the action is step_up", sig: sigWith("Approved", "document_type=p10", "email_status=p60"),
			score: 70, level: policy.High, action: policy.Review, reasons: []string{"p10_nfc", "p60"}},
		{name: "clamped to 100", sig: sigWith("Approved", "email_status=p60", "poa_status=p90"),
			score: 100, level: policy.Critical, action: policy.Block, reasons: []string{"p60", "p90"}},
		{name: "clamped to 0", sig: sigWith("Approved", "document_type=p10", "aml_status=m50"),
			score: 0, level: policy.Low, action: policy.Approve, reasons: []string{"p10_nfc", "minus50"}},
		{name: "negative points lower the level", sig: sigWith("Approved", "email_status=p60", "aml_status=m50"),
			score: 10, level: policy.Low, action: policy.Approve, reasons: []string{"p60", "minus50"}},
		{name: "min_level raises level and action", sig: sigWith("Approved", "ip_status=floor_high"),
			score: 0, level: policy.High, action: policy.Review, reasons: []string{"floor_high"}},
		{name: "min_level never lowers", sig: sigWith("Approved", "poa_status=p90", "db_status=floor_low"),
			score: 90, level: policy.Critical, action: policy.Block, reasons: []string{"p90", "floor_low"}},
		{name: "forced action raises", sig: sigWith("Approved", "nfc_status=block"),
			score: 5, level: policy.Low, action: policy.Block, reasons: []string{"force_block"}},
		{name: "forced action never lowers", sig: sigWith("Approved", "email_status=p60", "nfc_status=approve"),
			score: 60, level: policy.High, action: policy.Review, reasons: []string{"p60", "force_approve"}},
		{name: "forced step_up brings its steps", sig: sigWith("Approved", "nfc_status=step_up"),
			score: 0, level: policy.Low, action: policy.StepUp, reasons: []string{"force_step_up"}, steps: []policy.StepKind{"biometric"}},
		{name: "shadow rules are recorded, never counted", sig: sigWith("Approved", "liveness_method=shadow"),
			level: policy.Low, action: policy.Approve, shadow: []string{"shadow_100"}},
		{name: "declined is never approved", sig: sigWith("Declined"),
			level: policy.Low, action: policy.Review, overrides: []string{OverrideDeclined}},
		{name: "declined keeps a stricter outcome", sig: sigWith("Declined", "phone_carrier_type=p30"),
			score: 30, level: policy.Medium, action: policy.StepUp, reasons: []string{"p30_phone"}, steps: []policy.StepKind{"nfc", "phone"}},
		{name: "in review may approve", sig: sigWith("In Review"),
			level: policy.Low, action: policy.Approve},
		{name: "approved step-up kinds are not asked again",
			sig:   sigWith("Approved", "phone_carrier_type=p30", "email_status=p60", "aml_status=m50"),
			h:     &History{Sessions30d: 1, StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}, "phone": {Status: policy.StepCreated}}},
			score: 30, level: policy.Medium, action: policy.StepUp, reasons: []string{"p30_phone", "p60", "minus50", "nfc_ok"}, steps: []policy.StepKind{"phone"}},
		{name: "declined or failed step-ups are asked again", sig: sigWith("Approved", "phone_carrier_type=p30"),
			h:     &History{Sessions30d: 1, StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeDeclined}, "phone": {Status: policy.StepFailed}}},
			score: 30, level: policy.Medium, action: policy.StepUp, reasons: []string{"p30_phone"}, steps: []policy.StepKind{"nfc", "phone"}},
		{name: "no step left turns step_up into review", sig: sigWith("Approved", "document_type=p10", "phone_carrier_type=p30"),
			h:     &History{Sessions30d: 1, StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}, "phone": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}}},
			score: 30, level: policy.Medium, action: policy.Review, reasons: []string{"p10_nfc", "p30_phone", "nfc_ok"}, overrides: []string{OverrideNoStepLeft}},
		{name: "the step-up being scored counts as completed",
			sig:   sigWith("Approved", "document_type=p10", "phone_carrier_type=p30"),
			h:     &History{Sessions30d: 1, IsStepUp: true, StepUpKind: "nfc", StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCreated}}},
			score: 30, level: policy.Medium, action: policy.StepUp, reasons: []string{"p10_nfc", "p30_phone", "nfc_ok"}, steps: []policy.StepKind{"phone"}},
		{name: "a rule failing at run time does not fire", sig: sigWith("Approved"), h: &History{},
			level: policy.Low, action: policy.Approve, errors: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := History{Sessions30d: 1}
			if tt.h != nil {
				h = *tt.h
			}
			a := e.Evaluate(tt.sig, h)
			assert.True(t, a.Scored)
			assert.Equal(t, tt.score, a.Score, "score")
			assert.Equal(t, tt.level, a.Level, "level")
			assert.Equal(t, tt.action, a.Action, "action")
			assert.Equal(t, tt.reasons, nilIfEmpty(ruleIDs(a.Reasons)), "reasons")
			assert.Equal(t, tt.steps, a.RequiredSteps, "required steps")
			assert.Equal(t, tt.shadow, nilIfEmpty(ruleIDs(a.ShadowHits)), "shadow")
			assert.Equal(t, tt.overrides, a.Overrides, "overrides")
			assert.Len(t, a.RuleErrors, tt.errors)
			assert.Equal(t, "engine-test", a.PolicyVersion)
			assert.Equal(t, tt.sig, a.Signals)
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestEvaluateReasonsExplainThemselves(t *testing.T) {
	a := testEngine(t).Evaluate(sigWith("Approved", "phone_carrier_type=p30", "aml_status=m50"), History{Sessions30d: 1})
	assert.Equal(t, []Reason{
		{Rule: "p30_phone", Points: 30, Description: "thirty points asking phone"},
		{Rule: "minus50", Points: -50, Description: "minus fifty"},
	}, a.Reasons)
	assert.Equal(t, -20, a.RawScore)
	assert.Equal(t, 0, a.Score)
}

func TestEvaluateWithoutDecision(t *testing.T) {
	e := NewEngine(policy.Default())
	for _, status := range []string{"Not Started", "In Progress", "Resubmitted", "Expired", "Kyc Expired", "Awaiting User", ""} {
		t.Run(status, func(t *testing.T) {
			sig := sigWith(status)
			a := e.Evaluate(sig, History{Sessions24h: 50, PreviousAction: "block"})
			assert.False(t, a.Scored)
			assert.Zero(t, a.Score)
			assert.Empty(t, a.Level)
			assert.Empty(t, a.Action)
			assert.Empty(t, a.Reasons)
			assert.Equal(t, policy.Default().Version, a.PolicyVersion)
			assert.Equal(t, sig, a.Signals)
		})
	}
}

func TestEvaluateDoesNotChangeHistory(t *testing.T) {
	stepUps := map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCreated}}
	h := History{Sessions30d: 1, IsStepUp: true, StepUpKind: "nfc", StepUps: stepUps}
	testEngine(t).Evaluate(sigWith("Approved"), h)
	assert.Equal(t, map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCreated}}, stepUps)
}

// TestHistoryInCEL covers history.* as rules read it, including step-ups that do not exist.
func TestHistoryInCEL(t *testing.T) {
	h := History{
		Sessions24h: 4, Sessions30d: 9, DeclinedSessions: 2, DistinctDocuments: 3, DistinctDevices: 5,
		PreviousLevel: "high", PreviousAction: "review", IsStepUp: true, StepUpKind: "phone",
		StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}, "phone": {Status: policy.StepCreated}},
	}
	tests := []struct {
		when string
		want bool
	}{
		{`history.sessions_24h == 4 && history.sessions_30d == 9 && history.declined_sessions == 2`, true},
		{`history.distinct_documents == 3 && history.distinct_devices == 5`, true},
		{`history.previous_level == "high" && history.previous_action == "review"`, true},
		{`history.is_step_up && history.step_up_kind == "phone"`, true},
		{`step_up_outcome("nfc") == "approved" && step_up_status("nfc") == "completed"`, true},
		{`history.step_ups.nfc.outcome == "approved"`, true},
		{`history.step_ups["phone"].status == "created" && history.step_ups.phone.outcome == ""`, true},
		{`step_up_outcome("biometric") == "" && step_up_status("biometric") == ""`, true},
		{`history.step_ups.biometric.status == ""`, true},
		{`"nfc" in history.step_ups && !("poa" in history.step_ups)`, true},
		{`size(history.step_ups) == 2`, true},
		{`history.step_ups.exists(k, history.step_ups[k].outcome == "approved")`, true},
		{`history.step_ups.all(k, k in ["nfc", "phone"])`, true},
		{`history.previous_level in ["high", "critical"]`, true},
		{`history.step_ups.nfc == {"status": "completed", "outcome": "approved"}`, true},
		{`"NFC_CHIP_NOT_VERIFIED" in signals.risk_codes`, false},
	}
	for i, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			src := fmt.Sprintf("version: t\nthresholds: {medium: 25, high: 55, critical: 85}\n"+
				"actions: {low: approve, medium: step_up, high: review, critical: block}\n"+
				"rules:\n  - id: r%d\n    description: d\n    when: '%s'\n", i, strings.ReplaceAll(tt.when, "'", "''"))
			p, err := policy.Parse([]byte(src))
			require.NoError(t, err)
			sig := emptySignals()
			a := vocabulary().newActivation(&sig, &h)
			defer a.release()
			fired, err := p.Rules[0].Eval(a)
			require.NoError(t, err)
			assert.Equal(t, tt.want, fired)
		})
	}
}

func TestEngineConcurrentUse(t *testing.T) {
	e := NewEngine(policy.Default())
	hash := NewHasher([]byte("k"))
	moderate := loadSignals(t, "scoring/payloads/moderate.json", hash)
	clean := loadSignals(t, "scoring/payloads/clean.json", hash)
	wantModerate, wantClean := e.Evaluate(moderate, History{}), e.Evaluate(clean, History{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				if i%2 == 0 {
					assert.Equal(t, wantModerate, e.Evaluate(moderate, History{}))
				} else {
					assert.Equal(t, wantClean, e.Evaluate(clean, History{}))
				}
			}
		})
	}
	wg.Wait()
}

// TestMemoMatchesFullEvaluation: reusing a rule's default result (see ruleMemo) never changes
// which rules fire. Every fixture, alone and merged, under several histories, is evaluated both
// ways.
func TestMemoMatchesFullEvaluation(t *testing.T) {
	files := append(testdata.Glob(t, "scoring/payloads/*.json"), testdata.Glob(t, "webhooks/*.json")...)
	histories := []History{
		{},
		{Sessions24h: 1, Sessions30d: 1, DistinctDocuments: 1, DistinctDevices: 1},
		{Sessions24h: 9, Sessions30d: 30, DeclinedSessions: 3, DistinctDocuments: 3, DistinctDevices: 5, PreviousLevel: "critical", PreviousAction: "block"},
		{IsStepUp: true, StepUpKind: "nfc", StepUps: map[policy.StepKind]StepUp{"nfc": {Status: policy.StepCompleted, Outcome: policy.OutcomeDeclined}, "biometric": {Status: policy.StepCompleted, Outcome: policy.OutcomeApproved}}},
	}
	e := NewEngine(policy.Default())
	base := loadSignals(t, "scoring/payloads/moderate.json", fakeHash)
	checked := 0
	for _, f := range files {
		body := testdata.Read(t, f)
		w, err := didit.DecodeWebhook(body)
		if err != nil {
			continue
		}
		sig := Extract(w, fakeHash)
		for _, s := range []Signals{sig, Merge(base, sig)} {
			for _, h := range histories {
				got := e.Evaluate(s, h)
				if !got.Scored {
					continue
				}
				full := fullEvaluation(t, e.p, s, h.withCurrentStepUp(didit.Status(s.DiditStatus)))
				assert.Equal(t, full, nilIfEmpty(append(ruleIDs(got.Reasons), ruleIDs(got.ShadowHits)...)), filepath.Base(f))
				checked++
			}
		}
	}
	assert.Greater(t, checked, 100)
}

// fullEvaluation runs every rule with CEL, without the memo, and lists the fired ones
// (non-shadow first, then shadow, as Assessment orders them).
func fullEvaluation(t *testing.T, p *policy.Policy, sig Signals, h History) []string {
	act := vocabulary().newActivation(&sig, &h)
	defer act.release()
	var fired, shadow []string
	for _, r := range p.Rules {
		ok, err := r.Eval(act)
		require.NoError(t, err)
		switch {
		case ok && r.Shadow:
			shadow = append(shadow, r.ID)
		case ok:
			fired = append(fired, r.ID)
		}
	}
	return append(fired, shadow...)
}

// ruleIDs returns the ids of the reasons.
func ruleIDs(rs []Reason) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.Rule
	}
	return ids
}

// TestStepUpOutcome pins the one Didit status → step-up outcome mapping, which the stored
// profile and the rules share.
func TestStepUpOutcome(t *testing.T) {
	tests := map[didit.Status]policy.StepOutcome{
		didit.StatusApproved:     policy.OutcomeApproved,
		didit.StatusDeclined:     policy.OutcomeDeclined,
		didit.StatusInReview:     policy.OutcomeReview,
		didit.StatusAbandoned:    policy.OutcomeReview,
		didit.StatusNotStarted:   "",
		didit.StatusInProgress:   "",
		didit.StatusResubmitted:  "",
		didit.StatusExpired:      "",
		didit.StatusKycExpired:   "",
		didit.StatusAwaitingUser: "",
		"":                       "",
	}
	for status, want := range tests {
		assert.Equal(t, want, StepUpOutcome(status), "%q", status)
	}
}

// TestStepUpInReviewIsAskedAgain: a step-up whose own webhook is In Review counts as completed
// with outcome review, which is not approved: the step stays required.
func TestStepUpInReviewIsAskedAgain(t *testing.T) {
	e := testEngine(t)
	h := History{Sessions30d: 1, IsStepUp: true, StepUpKind: policy.StepNFC}
	a := e.Evaluate(sigWith(string(didit.StatusInReview), "document_type=p10", "phone_carrier_type=p30"), h)
	assert.Equal(t, policy.StepUp, a.Action)
	assert.Equal(t, []policy.StepKind{policy.StepNFC, policy.StepPhone}, a.RequiredSteps)

	got := h.withCurrentStepUp(didit.StatusInReview)
	assert.Equal(t, StepUp{Status: policy.StepCompleted, Outcome: policy.OutcomeReview}, got.StepUps[policy.StepNFC])
}

// TestStepUpsMapHoldsOnlyExistingKinds: history.step_ups is a plain CEL map of the kinds that
// have a step-up. Indexing a kind without one is a run-time error, so the rule does not fire
// and the error is recorded; step_up_status reads "" for it.
func TestStepUpsMapHoldsOnlyExistingKinds(t *testing.T) {
	p, err := policy.Parse([]byte("version: t\nthresholds: {medium: 25, high: 55, critical: 85}\n" +
		"actions: {low: approve, medium: step_up, high: review, critical: block}\nrules:\n" +
		"  - {id: indexed, description: d, when: 'history.step_ups[\"poa\"].status == \"\"', points: 10}\n" +
		"  - {id: macro, description: d, when: 'step_up_status(\"poa\") == \"\"', points: 20}\n"))
	require.NoError(t, err)
	h := History{StepUps: map[policy.StepKind]StepUp{policy.StepNFC: {Status: policy.StepCreated}}}
	a := NewEngine(p).Evaluate(sigWith("Approved"), h)
	assert.Equal(t, []string{"macro"}, ruleIDs(a.Reasons))
	require.Len(t, a.RuleErrors, 1)
	assert.Equal(t, "indexed", a.RuleErrors[0].Rule)
}
