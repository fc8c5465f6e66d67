package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/testdata"
)

// edited writes the default policy with each old→new replacement applied (each must match once).
func edited(t *testing.T, pairs ...string) string {
	t.Helper()
	src := string(policy.DefaultSource())
	for i := 0; i < len(pairs); i += 2 {
		require.Equal(t, 1, strings.Count(src, pairs[i]), "replacement %q must match once", pairs[i])
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	path := filepath.Join(t.TempDir(), "candidate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o600))
	return path
}

func TestRun(t *testing.T) {
	minimal := filepath.Join(testdata.Dir(t, "policy"), "minimal.yaml")
	invalid := filepath.Join(testdata.Dir(t, "policy"), "invalid_cel.yaml")
	tests := []struct {
		name   string
		a, b   string
		code   int
		stdout []string
		absent []string
		stderr string
	}{
		{name: "same policy", a: "-", b: "-", code: 0, stdout: []string{"no difference"}},
		{name: "version only", a: "-", b: edited(t, "version: \""+policy.Default().Version+"\"", `version: "v2"`), code: 0,
			stdout: []string{"-> v2", "no difference"}},
		{name: "points, condition and min_level", a: "-", b: edited(t,
			"    when: signals.liveness_score >= 50 && signals.liveness_score < 80\n    points: 15\n",
			"    when: signals.liveness_score >= 40 && signals.liveness_score < 80\n    points: 20\n    min_level: medium\n"),
			code: 1, stdout: []string{"~ rule liveness_borderline_score", `points    "15" -> "20"`,
				`when      "signals.liveness_score >= 50 && signals.liveness_score < 80" -> "signals.liveness_score >= 40 && signals.liveness_score < 80"`,
				`min_level "" -> "medium"`, "0 added, 0 removed, 1 changed rules"}},
		{name: "action and steps", a: "-", b: edited(t,
			"    when: signals.liveness_score >= 50 && signals.liveness_score < 80\n    points: 15\n    steps: [biometric]\n",
			"    when: signals.liveness_score >= 50 && signals.liveness_score < 80\n    points: 15\n    steps: [nfc, biometric]\n    action: review\n"),
			code: 1, stdout: []string{`action    "" -> "review"`, `steps     "[biometric]" -> "[biometric nfc]"`}},
		{name: "model rule out of shadow", a: "-", b: edited(t, "    points: 30\n    shadow: true\n", "    points: 30\n"),
			code: 1, stdout: []string{"~ rule model_high_risk", `shadow    "true" -> "false"`}},
		{name: "thresholds and actions", a: "-", b: edited(t, "  medium: 25\n", "  medium: 30\n", "  medium: step_up\n", "  medium: review\n"),
			code: 1, stdout: []string{"~ threshold medium: 25 -> 30", "~ action for medium: step_up -> review", "1 thresholds, 1 actions changed"}},
		{name: "rules added and removed", a: "-", b: minimal, code: 1,
			stdout: []string{"-> minimal-1", "+ rule ", "- rule didit_in_review"}},
		{name: "reverse direction", a: minimal, b: "-", code: 1, stdout: []string{"- rule ", "+ rule didit_in_review"}},
		{name: "folded whitespace is no change", a: "-", b: edited(t, "    when: signals.nfc_skipped\n", "    when: >-\n      signals.nfc_skipped\n"),
			code: 0, absent: []string{"nfc_skipped"}},
		{name: "invalid candidate", a: "-", b: invalid, code: 2, stderr: "misspelt_signal"},
		{name: "missing file", a: "-", b: "nope.yaml", code: 2, stderr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run([]string{tt.a, tt.b}, &out, &errOut)
			assert.Equal(t, tt.code, code, "stdout %s\nstderr %s", out.String(), errOut.String())
			for _, s := range tt.stdout {
				assert.Contains(t, out.String(), s)
			}
			for _, s := range tt.absent {
				assert.NotContains(t, out.String(), s)
			}
			if tt.stderr != "" {
				assert.Contains(t, errOut.String(), tt.stderr)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"a.yaml"}, {"a", "b", "c"}, {"-x"}} {
		var out, errOut bytes.Buffer
		assert.Equal(t, 2, run(args, &out, &errOut), "%v", args)
		assert.Contains(t, errOut.String(), "usage: policy-diff")
	}
}
