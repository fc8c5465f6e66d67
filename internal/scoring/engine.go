package scoring

import (
	"slices"

	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Assessment is the outcome of one evaluation, stored with the user's profile. It explains
// itself: the rules that counted, the shadow rules that would have, and the signals read.
type Assessment struct {
	// Scored is false for statuses without a decision (Not Started, In Progress, Resubmitted,
	// Expired, Kyc Expired): nothing else but PolicyVersion and Signals is set, and product
	// code should keep the user's previous outcome.
	Scored        bool              `firestore:"scored" json:"scored"`
	Score         int               `firestore:"score" json:"score"`         // 0–100
	RawScore      int               `firestore:"raw_score" json:"raw_score"` // sum of points before clamping
	Level         policy.Level      `firestore:"level" json:"level"`
	Action        policy.Action     `firestore:"action" json:"action"`
	Reasons       []Reason          `firestore:"reasons" json:"reasons"`         // fired non-shadow rules, in policy order
	ShadowHits    []Reason          `firestore:"shadow_hits" json:"shadow_hits"` // fired shadow rules, not counted
	RequiredSteps []policy.StepKind `firestore:"required_steps" json:"required_steps"`
	// Overrides names the engine's own safety rules that changed the outcome:
	// "declined_never_approved", "no_step_up_left".
	Overrides     []string    `firestore:"overrides" json:"overrides"`
	RuleErrors    []RuleError `firestore:"rule_errors" json:"rule_errors"`
	PolicyVersion string      `firestore:"policy_version" json:"policy_version"`
	Signals       Signals     `firestore:"signals" json:"signals"`
	// Model is the engine's model on this assessment (WithModel); nil without one or when it
	// failed (then RuleErrors names ModelRule).
	Model *ModelResult `firestore:"model,omitempty" json:"model,omitempty"`
}

// Reason is one fired rule.
type Reason struct {
	Rule        string `firestore:"rule" json:"rule"`
	Points      int    `firestore:"points" json:"points"`
	Description string `firestore:"description" json:"description"`
}

// RuleError is a rule that failed at run time; it counts as not fired.
type RuleError struct {
	Rule  string `firestore:"rule" json:"rule"`
	Error string `firestore:"error" json:"error"`
}

// Engine overrides.
const (
	OverrideDeclined   = "declined_never_approved"
	OverrideNoStepLeft = "no_step_up_left"
)

// Engine evaluates one compiled policy. It is immutable and safe for concurrent use.
type Engine struct {
	p    *policy.Policy
	vars *variables
	memo []ruleMemo // by rule
	// defaults are the variables' values on the baseline input (see baseline).
	defaults []ref.Val
	// compared are the variables, other than risk.*, that some memoized rule reads: each
	// evaluation compares them with their default once.
	compared []int
	model    Model // nil: none (model.score -1)
	// modelNames are the names the model reads, in order, and modelIdx their variable indexes
	// (-1: unknown), learnt once (learnModel).
	modelNames []string
	modelIdx   []int
}

// ruleMemo is a rule's result on the baseline input. Most rules read a few variables that keep
// their baseline value in most decisions (a risk code not raised, no step-up, one session); CEL
// is pure, so while they do, the rule's result is this one and CEL need not run it again.
type ruleMemo struct {
	reads  bitset // indexes of the variables the rule reads
	always bool   // it reads a variable the activation does not know: always evaluate
	fired  bool
	err    error
}

// baseline is the most common input: an approved first session with no feature data. Any point
// would be correct; the common one lets the memo skip the most rules.
func baseline() (Signals, History) {
	s := emptySignals()
	s.DiditStatus, s.WebhookType = string(didit.StatusApproved), "status.updated"
	return s, History{Sessions24h: 1, Sessions30d: 1, DistinctDocuments: 1, DistinctDevices: 1}
}

// NewEngine returns an engine for p (policy.Default() for the embedded one).
func NewEngine(p *policy.Policy, opts ...Option) *Engine {
	v := vocabulary()
	n := len(v.names)
	e := &Engine{p: p, vars: v, memo: make([]ruleMemo, len(p.Rules)), defaults: make([]ref.Val, n)}
	for _, o := range opts {
		o(e)
	}
	sig, h := baseline()
	act := v.newActivation(&sig, &h)
	defer act.release()
	for i := range n {
		e.defaults[i] = act.value(i)
	}
	e.learnModel(act)
	compared := newBitset(n)
	for i, r := range p.Rules {
		m := &e.memo[i]
		m.reads = newBitset(n)
		for _, name := range r.Vars() {
			idx := v.lookup(name)
			if idx < 0 {
				m.always = true
				break
			}
			m.reads.set(idx)
			if !v.isRisk[idx] && !compared.has(idx) {
				compared.set(idx)
				e.compared = append(e.compared, idx)
			}
		}
		m.fired, m.err = r.Eval(act)
	}
	return e
}

// Version names what the engine evaluates with: the policy's version and, when it runs one,
// the model's. Two engines of one version give the same assessment on the same input, so a
// stored verdict computed under it can be reused.
func (e *Engine) Version() string {
	if e.model == nil {
		return e.p.Version
	}
	return e.p.Version + "+" + e.model.Version()
}

// Evaluate scores sig against the policy:
//   - score = sum of the points of the fired non-shadow rules, clamped to 0–100;
//   - level from the thresholds, raised to the highest min_level of a fired rule;
//   - action from the level, raised to the strictest forced action of a fired rule;
//   - a Didit Declined is never approved (it goes to review);
//   - required_steps = sorted union of the steps of the fired rules, minus kinds whose step-up
//     already completed approved, and only when the action is step_up; a step_up with no step
//     left to ask for becomes review, so nobody is asked for the same step-up forever.
//
// When h.IsStepUp, the step-up of kind h.StepUpKind counts as completed with the outcome of
// sig.DiditStatus if h does not say so yet.
func (e *Engine) Evaluate(sig Signals, h History) Assessment {
	a := Assessment{PolicyVersion: e.p.Version, Signals: sig}
	status := didit.Status(sig.DiditStatus)
	if !status.HasDecision() {
		return a
	}
	a.Scored = true
	h = h.withCurrentStepUp(status)

	act := e.vars.newActivation(&sig, &h)
	defer act.release()
	e.runModel(act, &a)

	var (
		raw      int
		minLevel = policy.Low
		forced   = policy.Approve
		steps    []policy.StepKind
	)
	a.Reasons = make([]Reason, 0, 8)
	frame, err := interpreter.NewExecutionFrame(act)
	if err != nil {
		// Only an activation CEL refuses gets here; fail safe rather than approve.
		a.RuleErrors = append(a.RuleErrors, RuleError{Rule: "*", Error: err.Error()})
		forced = policy.Review
	} else {
		defer frame.Close()
	}
	act.markChanged(e.compared, e.defaults)
	for i, r := range e.p.Rules {
		var fired bool
		var err error
		if m := &e.memo[i]; !m.always && !m.reads.intersects(act.changed) {
			fired, err = m.fired, m.err
		} else if frame != nil {
			fired, err = r.Eval(frame)
		}
		if err != nil {
			a.RuleErrors = append(a.RuleErrors, RuleError{Rule: r.ID, Error: err.Error()})
			continue
		}
		if !fired {
			continue
		}
		reason := Reason{Rule: r.ID, Points: r.Points, Description: r.Description}
		if r.Shadow {
			a.ShadowHits = append(a.ShadowHits, reason)
			continue
		}
		a.Reasons = append(a.Reasons, reason)
		raw += r.Points
		minLevel = policy.MaxLevel(minLevel, r.MinLevel)
		forced = policy.MaxAction(forced, r.Action)
		steps = append(steps, r.Steps...)
	}

	a.RawScore = raw
	a.Score = min(max(raw, 0), 100)
	a.Level = policy.MaxLevel(e.p.LevelFor(a.Score), minLevel)
	a.Action = policy.MaxAction(e.p.ActionFor(a.Level), forced)

	if status == didit.StatusDeclined && a.Action == policy.Approve {
		a.Action = policy.Review
		a.Overrides = append(a.Overrides, OverrideDeclined)
	}
	if a.Action == policy.StepUp {
		steps = slices.DeleteFunc(steps, h.approved)
		slices.Sort(steps)
		a.RequiredSteps = slices.Compact(steps)
		if len(a.RequiredSteps) == 0 {
			a.RequiredSteps = nil
			a.Action = policy.Review
			a.Overrides = append(a.Overrides, OverrideNoStepLeft)
		}
	}
	return a
}
