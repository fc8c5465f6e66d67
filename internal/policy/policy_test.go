package policy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cel.dev/cel-go/interpreter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	assert.NotEmpty(t, p.Version)
	assert.GreaterOrEqual(t, len(p.Rules), 30)
	assert.Equal(t, Thresholds{Medium: 25, High: 55, Critical: 90}, p.Thresholds)
	assert.Equal(t, map[Level]Action{Low: Approve, Medium: StepUp, High: Review, Critical: Block}, p.Actions)

	var shadow, negative, forcedBlock, withSteps int
	for _, r := range p.Rules {
		require.NotNil(t, r.prg, r.ID)
		if r.Shadow {
			shadow++
		}
		if r.Points < 0 {
			negative++
		}
		if r.Action == Block {
			forcedBlock++
		}
		if len(r.Steps) > 0 {
			withSteps++
			assert.True(t, slices.IsSorted(r.Steps), r.ID)
		}
	}
	assert.Positive(t, shadow, "at least one shadow rule")
	assert.Positive(t, negative, "approved step-ups lower the score")
	assert.Positive(t, forcedBlock)
	assert.Positive(t, withSteps)
	assert.Same(t, p, Default(), "compiled once")
}

// TestRiskCodes: the declared codes are unique, and a rule naming an undeclared one fails to
// load (see TestParseErrors), so the default policy only uses codes Didit documents.
func TestRiskCodes(t *testing.T) {
	codes := RiskCodes()
	assert.Len(t, codes, len(slices.Compact(slices.Sorted(slices.Values(codes)))), "no code listed twice")
	assert.Contains(t, codes, "LIVENESS_FACE_ATTACK")
}

func TestLevelAndActionOrder(t *testing.T) {
	assert.Equal(t, High, MaxLevel(Medium, High))
	assert.Equal(t, High, MaxLevel(High, Medium))
	assert.Equal(t, Low, MaxLevel(Low, ""))
	assert.Equal(t, Critical, MaxLevel("bogus", Critical))
	assert.Equal(t, Block, MaxAction(Review, Block))
	assert.Equal(t, StepUp, MaxAction(StepUp, Approve))
	assert.Equal(t, Approve, MaxAction(Approve, ""))
	assert.False(t, Level("LOW").Valid())
	assert.False(t, Action("").Valid())
}

func TestLevelFor(t *testing.T) {
	p := Default()
	tests := []struct {
		score int
		want  Level
	}{{0, Low}, {24, Low}, {25, Medium}, {54, Medium}, {55, High}, {89, High}, {90, Critical}, {100, Critical}}
	for _, tt := range tests {
		assert.Equal(t, tt.want, p.LevelFor(tt.score), "score %d", tt.score)
	}
}

const header = `version: "t1"
thresholds: {medium: 25, high: 55, critical: 85}
actions: {low: approve, medium: step_up, high: review, critical: block}
`

// TestParseErrors: each invalid policy is refused with an error that names the rule (when the
// problem is in one) and, for `when`, carries CEL's own message.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{"yaml syntax", header + "rules: [\n", []string{"yaml"}},
		{"not a mapping", "- a\n- b\n", []string{"must be a mapping"}},
		{"empty document", "", []string{"empty document"}},
		{"unknown top-level field", header + "rulez: []\n", []string{`unknown field "rulez"`}},
		{"missing version", strings.Replace(header, `version: "t1"`, "", 1) + rule("a", "true"), []string{"version: missing"}},
		{"thresholds out of order", strings.Replace(header, "high: 55", "high: 20", 1) + rule("a", "true"), []string{"thresholds"}},
		{"threshold unknown field", strings.Replace(header, "critical: 85", "critical: 85, severe: 95", 1) + rule("a", "true"), []string{`unknown field "severe"`}},
		{"action missing for a level", strings.Replace(header, ", critical: block", "", 1) + rule("a", "true"), []string{"no action for level critical"}},
		{"unknown action", strings.Replace(header, "high: review", "high: escalate", 1) + rule("a", "true"), []string{`unknown action "escalate"`}},
		{"actions not monotonic", strings.Replace(header, "high: review", "high: approve", 1) + rule("a", "true"), []string{"more permissive"}},
		{"no rules", header + "rules: []\n", []string{"rules: none"}},
		{"rules missing", header, []string{"rules: none"}},
		{"rule unknown field", header + "rules:\n  - id: r1\n    description: d\n    when: 'true'\n    min_levle: high\n", []string{`rule "r1"`, `unknown field "min_levle"`}},
		{"rule field twice", header + "rules:\n  - id: r1\n    description: d\n    when: 'true'\n    when: 'false'\n", []string{`rule "r1"`, `"when" already given`}},
		{"cel syntax error", header + rule("bad_syntax", "signals.age >"), []string{`rule "bad_syntax": when:`, "Syntax error"}},
		{"cel undeclared signal", header + rule("typo", "signals.liveness_scor < 50"), []string{`rule "typo": when:`, "undeclared reference to 'signals.liveness_scor'"}},
		{"cel unknown risk code", header + rule("code_typo", "risk.DOCUMENT_EXPIRD"), []string{`rule "code_typo"`, "undeclared reference to 'risk.DOCUMENT_EXPIRD'"}},
		{"cel type error", header + rule("types", `signals.age == "old"`), []string{`rule "types": when:`, "no matching overload"}},
		{"cel not bool", header + rule("not_bool", "signals.liveness_score + 1.0"), []string{`rule "not_bool": when: must be bool, is double`}},
		{"cel string result", header + rule("str", "signals.didit_status"), []string{`rule "str": when: must be bool, is string`}},
		{"unknown step-up kind in macro", header + rule("kind", `step_up_outcome("nfcc") == "approved"`), []string{`rule "kind": when:`, `unknown step-up kind "nfcc"`}},
		{"non-literal macro argument", header + rule("kindvar", `step_up_outcome(signals.didit_status) == "x"`), []string{`rule "kindvar": when:`, "string literal"}},
		{"missing when", header + "rules:\n  - id: r1\n    description: d\n", []string{`rule "r1": when: missing`}},
		{"missing description", header + "rules:\n  - id: r1\n    when: 'true'\n", []string{`rule "r1": description: missing`}},
		{"duplicate id", header + rule("same", "true") + strings.TrimPrefix(rule("same", "false"), "rules:\n"), []string{`rule "same": id: duplicate id`}},
		{"bad id", header + rule("Bad-ID", "true"), []string{`rule "Bad-ID": id:`, "lower_snake_case"}},
		{"missing id", header + "rules:\n  - description: d\n    when: 'true'\n", []string{`rule "#1": id:`}},
		{"bad level", header + rule("lvl", "true", "min_level: severe"), []string{`rule "lvl": min_level: unknown level "severe"`}},
		{"bad action", header + rule("act", "true", "action: ban"), []string{`rule "act": action: unknown action "ban"`}},
		{"bad step kind", header + rule("stp", "true", "steps: [nfc, selfie]"), []string{`rule "stp": steps: unknown step-up kind "selfie"`}},
		{"step listed twice", header + rule("stp2", "true", "steps: [nfc, nfc]"), []string{`rule "stp2": steps: listed twice`}},
		{"points out of range", header + rule("pts", "true", "points: 150"), []string{`rule "pts": points: 150 is outside`}},
		{"points not a number", header + rule("pts2", "true", "points: many"), []string{`rule "pts2"`, "cannot unmarshal"}},
		{"shadow not a bool", header + rule("sh", "true", "shadow: maybe"), []string{`rule "sh"`, "cannot unmarshal"}},
		{"rule not a mapping", header + "rules:\n  - just a string\n", []string{`rule "#1"`, "must be a mapping"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.yaml))
			require.Error(t, err)
			assert.Nil(t, p)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	src := header + rule("one", "signals.nope") + strings.TrimPrefix(rule("two", "true", "action: ban"), "rules:\n")
	_, err := Parse([]byte(src))
	require.Error(t, err)
	var rerrs []*RuleError
	for _, e := range unwrapAll(err) {
		var re *RuleError
		if errors.As(e, &re) {
			rerrs = append(rerrs, re)
		}
	}
	require.Len(t, rerrs, 2)
	assert.Equal(t, "one", rerrs[0].Rule)
	assert.Equal(t, "when", rerrs[0].Field)
	assert.Equal(t, "two", rerrs[1].Rule)
	assert.Equal(t, "action", rerrs[1].Field)
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestParseValid(t *testing.T) {
	src := header + `rules:
  - id: low_liveness
    description: low liveness
    when: signals.liveness_score >= 0 && signals.liveness_score < 50
    points: 40
    min_level: medium
    action: step_up
    steps: [phone, biometric]
  - id: nfc_ok
    description: nfc approved
    when: step_up_outcome("nfc") == "approved" || history.step_ups.nfc.status == "completed"
    points: -20
    shadow: true
`
	p, err := Parse([]byte(src))
	require.NoError(t, err)
	require.Len(t, p.Rules, 2)
	r := p.Rule("low_liveness")
	require.NotNil(t, r)
	assert.Equal(t, []StepKind{StepBiometric, StepPhone}, r.Steps, "steps are kept sorted")
	assert.Equal(t, Medium, r.MinLevel)
	assert.Equal(t, StepUp, r.Action)
	assert.True(t, p.Rule("nfc_ok").Shadow)
	assert.Equal(t, []string{"signals.liveness_score"}, r.Vars())
	assert.Equal(t, []string{"history.step_ups.nfc.outcome", "history.step_ups.nfc.status"}, p.Rule("nfc_ok").Vars(),
		"the macro and the select both read the flat step-up variables")
	assert.Equal(t, -20, p.Rule("nfc_ok").Points)
	assert.Nil(t, p.Rule("nope"))
}

func TestLoad(t *testing.T) {
	p, err := Load(testdata.Dir(t, "policy", "minimal.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "minimal-1", p.Version)

	_, err = Load(testdata.Dir(t, "policy", "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)

	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(header+rule("x", "1")), 0o600))
	_, err = Load(bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
	assert.Contains(t, err.Error(), `line 5: rule "x": when: must be bool, is int`)
}

// TestPolicyFiles: every policy under testdata/policy parses, except the ones named invalid_*.
func TestPolicyFiles(t *testing.T) {
	for _, name := range testdata.Glob(t, "policy/*.yaml") {
		f := testdata.Dir(t, filepath.FromSlash(name))
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			if strings.HasPrefix(filepath.Base(f), "invalid_") {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// TestEval runs compiled rules against a map activation: the variables are those of Vars.
func TestEval(t *testing.T) {
	src := header + rule("a", "signals.liveness_score < 50") + strings.TrimPrefix(rule("b", `risk.DOCUMENT_EXPIRED && history.sessions_24h > 2`), "rules:\n") +
		strings.TrimPrefix(rule("c", "1 / history.sessions_30d > 0"), "rules:\n")
	p, err := Parse([]byte(src))
	require.NoError(t, err)
	act, err := interpreter.NewActivation(map[string]any{
		"signals.liveness_score": 42.0, "risk.DOCUMENT_EXPIRED": true, "history.sessions_24h": 3, "history.sessions_30d": 0,
	})
	require.NoError(t, err)
	got := map[string]bool{}
	var errs []error
	for _, r := range p.Rules {
		fired, err := r.Eval(act)
		got[r.ID] = fired
		if err != nil {
			errs = append(errs, err)
		}
	}
	assert.Equal(t, map[string]bool{"a": true, "b": true, "c": false}, got)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), `rule "c"`)
	assert.Contains(t, errs[0].Error(), "division by zero")
}

func TestVars(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range Vars() {
		assert.False(t, seen[v.Name], "declared twice: %s", v.Name)
		seen[v.Name] = true
		assert.NotEmpty(t, v.Doc, v.Name)
		assert.True(t, strings.HasPrefix(v.Name, "signals.") || strings.HasPrefix(v.Name, "history.") || strings.HasPrefix(v.Name, "model.") || strings.HasPrefix(v.Name, RiskVarPrefix), v.Name)
	}
	assert.Equal(t, "map(string, map(string, string))", KindStepUps.String())
	assert.Equal(t, "list(string)", KindStringList.String())
}

// rule renders a one-rule `rules:` block; extra lines are added to the rule verbatim.
func rule(id, when string, extra ...string) string {
	var b strings.Builder
	b.WriteString("rules:\n  - id: " + id + "\n    description: test rule\n    when: '" + strings.ReplaceAll(when, "'", "''") + "'\n")
	for _, e := range extra {
		b.WriteString("    " + e + "\n")
	}
	return b.String()
}

func TestRuleVars(t *testing.T) {
	tests := []struct {
		when string
		want []string
	}{
		{"true", nil},
		{"signals.age > 18 && signals.age < 99", []string{"signals.age"}},
		{`risk.DOCUMENT_EXPIRED || "X" in signals.risk_codes`, []string{"risk.DOCUMENT_EXPIRED", "signals.risk_codes"}},
		{`step_up_outcome("nfc") == "approved"`, []string{"history.step_ups.nfc.outcome"}},
		{`history.step_ups.exists(k, history.step_ups[k].outcome == "approved")`, []string{"history.step_ups"}},
		{`signals.device_hashes.all(h, h != signals.document_hash)`, []string{"signals.device_hashes", "signals.document_hash"}},
	}
	for _, tt := range tests {
		t.Run(tt.when, func(t *testing.T) {
			p, err := Parse([]byte(header + rule("r", tt.when)))
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Rules[0].Vars())
		})
	}
}

// TestModelVars: a rule file reading model.* type-checks on its own, model.score is a double
// and model.version a string (a comparison of the wrong type is refused at load).
func TestModelVars(t *testing.T) {
	p, err := Parse([]byte(header + rule("m", `model.score >= 0.8 && model.version != ""`)))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"model.score", "model.version"}, p.Rules[0].Vars())
	act, err := interpreter.NewActivation(map[string]any{"model.score": 0.9, "model.version": "v1"})
	require.NoError(t, err)
	fired, err := p.Rules[0].Eval(act)
	require.NoError(t, err)
	assert.True(t, fired)

	_, err = Parse([]byte(header + rule("m", `model.version > 0.5`)))
	assert.Error(t, err)
	_, err = Parse([]byte(header + rule("m", `model.scor > 0.5`)))
	assert.ErrorContains(t, err, "model.scor")
}
