// Package policy loads the risk rule file: thresholds that turn a score into a level, the
// action for each level, and rules whose `when` is a CEL expression over signals.* and
// history.*. Everything is validated and compiled once, when the file is parsed, so a bad
// policy fails at deploy time (or in `policy-check`) and never in the middle of a webhook.
package policy

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
	"gopkg.in/yaml.v3"
)

// Level is the risk level an assessment lands on.
type Level string

// Levels, from least to most risky.
const (
	Low      Level = "low"
	Medium   Level = "medium"
	High     Level = "high"
	Critical Level = "critical"
)

var levels = []Level{Low, Medium, High, Critical}

// Rank orders levels (low = 0 … critical = 3); -1 for anything else.
func (l Level) Rank() int { return slices.Index(levels, l) }

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l.Rank() >= 0 }

// Action is what product code should do with the user.
type Action string

// Actions, from most to least permissive.
const (
	Approve Action = "approve"
	StepUp  Action = "step_up"
	Review  Action = "review"
	Block   Action = "block"
)

var actions = []Action{Approve, StepUp, Review, Block}

// Rank orders actions (approve = 0 … block = 3); -1 for anything else.
func (a Action) Rank() int { return slices.Index(actions, a) }

// Valid reports whether a is one of the four actions.
func (a Action) Valid() bool { return a.Rank() >= 0 }

// MaxLevel returns the riskier of two levels; an invalid level never wins.
func MaxLevel(a, b Level) Level {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// MaxAction returns the stricter of two actions; an invalid action never wins.
func MaxAction(a, b Action) Action {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// StepKind is a kind of step-up session a rule may ask for; History.StepUps, the stored
// profile's step_ups and the step-up claims are keyed by it.
type StepKind string

// Step-up kinds.
const (
	StepNFC       StepKind = "nfc"
	StepBiometric StepKind = "biometric"
	StepPhone     StepKind = "phone"
	StepEmail     StepKind = "email"
	StepPOA       StepKind = "poa"
	StepAML       StepKind = "aml"
)

var stepKinds = []StepKind{StepAML, StepBiometric, StepEmail, StepNFC, StepPhone, StepPOA}

// StepKinds returns the known step-up kinds, sorted.
func StepKinds() []StepKind { return slices.Clone(stepKinds) }

// Valid reports whether k is a known step-up kind.
func (k StepKind) Valid() bool { return slices.Contains(stepKinds, k) }

func stepKindList() string {
	names := make([]string, len(stepKinds))
	for i, k := range stepKinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// StepStatus is where a step-up is in its life: rules read it as
// history.step_ups.<kind>.status (step_up_status("kind")), product code in the profile's
// step_ups.<kind>.status, and the step-up claims keep it as their state.
type StepStatus string

// Step-up statuses, in the order a step moves through them.
const (
	StepPending   StepStatus = "pending"   // claimed, Didit not yet called (or the call is being retried)
	StepCreated   StepStatus = "created"   // the Didit session exists; the user is sent to its URL
	StepCompleted StepStatus = "completed" // the step-up session's webhook came back with a decision
	StepFailed    StepStatus = "failed"    // Didit refused permanently
)

// StepOutcome is what a completed step-up's decision says; "" until it completes. Rules read it
// as history.step_ups.<kind>.outcome (step_up_outcome("kind")), product code in the profile's
// step_ups.<kind>.outcome. scoring.StepUpOutcome derives it from the Didit status.
type StepOutcome string

// Step-up outcomes.
const (
	OutcomeApproved StepOutcome = "approved"
	OutcomeDeclined StepOutcome = "declined"
	// OutcomeReview is a decision that is neither: In Review (a reviewer has yet to decide) or
	// Abandoned. It never counts as approved, so the step-up may be asked again.
	OutcomeReview StepOutcome = "review"
)

// Thresholds are the lowest score of each level above low (low starts at 0).
type Thresholds struct {
	Medium   int `yaml:"medium" json:"medium"`
	High     int `yaml:"high" json:"high"`
	Critical int `yaml:"critical" json:"critical"`
}

// Rule is one compiled rule of a policy.
type Rule struct {
	ID          string     `yaml:"id"`
	Description string     `yaml:"description"`
	When        string     `yaml:"when"`
	Points      int        `yaml:"points"`
	MinLevel    Level      `yaml:"min_level"` // "" = no floor
	Action      Action     `yaml:"action"`    // "" = not forced
	Steps       []StepKind `yaml:"steps"`     // step-up kinds, sorted
	Shadow      bool       `yaml:"shadow"`    // evaluated and recorded, never counted

	prg  cel.Program
	vars []string // vocabulary names `when` reads, sorted
}

// Vars returns the names of the variables the rule reads (signals.*, risk.*, history.*,
// including those a macro such as step_up_outcome expands to), sorted. A rule's result depends
// on nothing else: CEL is pure, so a caller may reuse a result while these values are unchanged.
func (r *Rule) Vars() []string { return slices.Clone(r.vars) }

// Eval reports whether the rule fires for the variables act resolves. An error (which a
// type-checked rule only meets on runtime faults such as overflow) means "did not fire".
func (r *Rule) Eval(act interpreter.Activation) (bool, error) {
	out, _, err := r.prg.Eval(act)
	if err != nil {
		return false, fmt.Errorf("rule %q: %w", r.ID, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("rule %q: result is %s, not bool", r.ID, out.Type())
	}
	return bool(b), nil
}

// Policy is a parsed, validated and compiled rule file. It is immutable and safe to share.
type Policy struct {
	Version     string
	Description string
	Thresholds  Thresholds
	Actions     map[Level]Action
	Rules       []*Rule
}

// LevelFor maps a score (0–100) to a level by the thresholds.
func (p *Policy) LevelFor(score int) Level {
	switch {
	case score >= p.Thresholds.Critical:
		return Critical
	case score >= p.Thresholds.High:
		return High
	case score >= p.Thresholds.Medium:
		return Medium
	}
	return Low
}

// ActionFor returns the action configured for a level.
func (p *Policy) ActionFor(l Level) Action { return p.Actions[l] }

// Rule returns the rule with the given id, or nil.
func (p *Policy) Rule(id string) *Rule {
	for _, r := range p.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultSource returns the embedded default policy file.
func DefaultSource() []byte { return slices.Clone(defaultYAML) }

var defaultPolicy = sync.OnceValues(func() (*Policy, error) { return Parse(defaultYAML) })

// Default returns the embedded default policy, compiled once. It panics if the embedded file
// is invalid, which the package tests rule out.
func Default() *Policy {
	p, err := defaultPolicy()
	if err != nil {
		panic(fmt.Sprintf("policy: embedded default.yaml: %v", err))
	}
	return p
}

// Load reads and parses a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// RuleError is a problem with one rule; Rule is its id (or "#N" for the N-th rule when it has
// none), Line where the rule starts in the file and Field the offending key.
type RuleError struct {
	Rule  string
	Line  int
	Field string
	Err   error
}

func (e *RuleError) Error() string {
	at := ""
	if e.Line > 0 {
		at = fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%srule %q: %v", at, e.Rule, e.Err)
	}
	return fmt.Sprintf("%srule %q: %s: %v", at, e.Rule, e.Field, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

var (
	idPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

	topFields  = []string{"version", "description", "thresholds", "actions", "rules"}
	ruleFields = []string{"id", "description", "when", "points", "min_level", "action", "steps", "shadow"}
)

// MaxPoints bounds a rule's points in either direction.
const MaxPoints = 100

// Parse validates and compiles a policy. Every problem found is reported (joined), each rule
// problem naming the rule id and, for `when`, CEL's own message.
func Parse(data []byte) (*Policy, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("policy: yaml: %w", err)
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 {
		return nil, errors.New("policy: empty document")
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("policy: line %d: the document must be a mapping", doc.Line)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("policy: "+format, args...)) }

	if err := knownFields(doc, topFields); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p := &Policy{Actions: map[Level]Action{}}
	var ruleNodes *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		var err error
		switch k.Value {
		case "version":
			err = v.Decode(&p.Version)
		case "description":
			err = v.Decode(&p.Description)
		case "thresholds":
			if err = knownFields(v, []string{"medium", "high", "critical"}); err == nil {
				err = v.Decode(&p.Thresholds)
			}
		case "actions":
			var m map[string]string
			if err = knownFields(v, []string{"low", "medium", "high", "critical"}); err == nil {
				err = v.Decode(&m)
			}
			for l, a := range m {
				p.Actions[Level(l)] = Action(a)
			}
		case "rules":
			ruleNodes = v
		}
		if err != nil {
			fail("%s: %v", k.Value, err)
		}
	}

	if strings.TrimSpace(p.Version) == "" {
		fail("version: missing")
	}
	t := p.Thresholds
	if !(t.Medium > 0 && t.Medium < t.High && t.High < t.Critical && t.Critical <= 100) {
		fail("thresholds: want 0 < medium < high < critical <= 100, got %d, %d, %d", t.Medium, t.High, t.Critical)
	}
	prev := Approve
	for _, l := range levels {
		a, ok := p.Actions[l]
		switch {
		case !ok:
			fail("actions: no action for level %s", l)
		case !a.Valid():
			fail("actions: %s: unknown action %q (want approve, step_up, review or block)", l, a)
		case a.Rank() < prev.Rank():
			// A riskier level must never get a more permissive action, or min_level could lower one.
			fail("actions: %s -> %s is more permissive than a lower level's %s", l, a, prev)
		default:
			prev = a
		}
	}

	switch {
	case ruleNodes == nil || ruleNodes.Kind == yaml.ScalarNode && ruleNodes.Tag == "!!null":
		fail("rules: none")
	case ruleNodes.Kind != yaml.SequenceNode:
		fail("rules: line %d: must be a list", ruleNodes.Line)
	default:
		e, err := env()
		if err != nil {
			return nil, fmt.Errorf("policy: cel environment: %w", err)
		}
		seen := map[string]int{}
		for i, n := range ruleNodes.Content {
			r, rerrs := parseRule(e, i, n)
			errs = append(errs, rerrs...)
			if r == nil {
				continue
			}
			if line, dup := seen[r.ID]; dup {
				errs = append(errs, &RuleError{Rule: r.ID, Line: n.Line, Field: "id", Err: fmt.Errorf("duplicate id, first at line %d", line)})
				continue
			}
			seen[r.ID] = n.Line
			if len(rerrs) == 0 {
				p.Rules = append(p.Rules, r)
			}
		}
		if len(ruleNodes.Content) == 0 {
			fail("rules: none")
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// parseRule decodes, validates and compiles one rule. It returns the rule (possibly invalid, so
// that duplicate ids are still found) and its problems.
func parseRule(e *cel.Env, i int, n *yaml.Node) (*Rule, []error) {
	name := fmt.Sprintf("#%d", i+1)
	if n.Kind != yaml.MappingNode {
		return nil, []error{&RuleError{Rule: name, Line: n.Line, Err: errors.New("a rule must be a mapping")}}
	}
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Value == "id" && n.Content[j+1].Kind == yaml.ScalarNode && n.Content[j+1].Value != "" {
			name = n.Content[j+1].Value
		}
	}
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, &RuleError{Rule: name, Line: n.Line, Field: field, Err: fmt.Errorf(format, args...)})
	}
	if err := knownFields(n, ruleFields); err != nil {
		bad("", "%v", err)
		return nil, errs
	}
	r := &Rule{}
	if err := n.Decode(r); err != nil {
		bad("", "%v", err)
		return nil, errs
	}
	if !idPattern.MatchString(r.ID) {
		bad("id", "want lower_snake_case of at most 64 characters, got %q", r.ID)
	}
	if strings.TrimSpace(r.Description) == "" {
		bad("description", "missing")
	}
	if r.Points < -MaxPoints || r.Points > MaxPoints {
		bad("points", "%d is outside [-%d, %d]", r.Points, MaxPoints, MaxPoints)
	}
	if r.MinLevel != "" && !r.MinLevel.Valid() {
		bad("min_level", "unknown level %q (want low, medium, high or critical)", r.MinLevel)
	}
	if r.Action != "" && !r.Action.Valid() {
		bad("action", "unknown action %q (want approve, step_up, review or block)", r.Action)
	}
	for _, s := range r.Steps {
		if !s.Valid() {
			bad("steps", "unknown step-up kind %q (want one of %s)", s, stepKindList())
		}
	}
	slices.Sort(r.Steps)
	if len(slices.Compact(slices.Clone(r.Steps))) != len(r.Steps) {
		bad("steps", "listed twice: %v", r.Steps)
	}
	if strings.TrimSpace(r.When) == "" {
		bad("when", "missing")
		return r, errs
	}
	ast, iss := e.Compile(r.When)
	if iss.Err() != nil {
		bad("when", "%v", iss.Err())
		return r, errs
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		bad("when", "must be bool, is %s", ast.OutputType())
		return r, errs
	}
	prg, err := e.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		bad("when", "%v", err)
		return r, errs
	}
	r.prg = prg
	r.vars = referencedVars(ast)
	return r, errs
}

// referencedVars lists the vocabulary variables a checked expression refers to.
func referencedVars(a *cel.Ast) []string {
	var out []string
	for _, ref := range a.NativeRep().ReferenceMap() {
		if ref.Name != "" && len(ref.OverloadIDs) == 0 && isVar(ref.Name) {
			out = append(out, ref.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// knownFields rejects keys outside allowed and keys given twice, so that a typo such as
// `min_levle` is an error rather than a silently ignored setting.
func knownFields(n *yaml.Node, allowed []string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: must be a mapping", n.Line)
	}
	seen := make(map[string]int, len(n.Content)/2)
	for j := 0; j+1 < len(n.Content); j += 2 {
		k := n.Content[j]
		if !slices.Contains(allowed, k.Value) {
			return fmt.Errorf("line %d: unknown field %q (want one of %s)", k.Line, k.Value, strings.Join(allowed, ", "))
		}
		if line, dup := seen[k.Value]; dup {
			return fmt.Errorf("line %d: field %q already given at line %d", k.Line, k.Value, line)
		}
		seen[k.Value] = k.Line
	}
	return nil
}
