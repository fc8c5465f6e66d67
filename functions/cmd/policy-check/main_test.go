package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/testdata"
)

func TestRun(t *testing.T) {
	policyDir := testdata.Dir(t, "policy")
	def := policy.Default()
	shadow := 0
	for _, r := range def.Rules {
		if r.Shadow {
			shadow++
		}
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{name: "default", args: []string{"-default"}, code: 0,
			stdout: []string{fmt.Sprintf("ok default: version %s, %d rules (%d shadow)", def.Version, len(def.Rules), shadow)}},
		{name: "valid file", args: []string{filepath.Join(policyDir, "minimal.yaml")}, code: 0,
			stdout: []string{"minimal.yaml: version minimal-1, 3 rules (0 shadow)"}},
		{name: "invalid file names rules and CEL errors", args: []string{filepath.Join(policyDir, "invalid_cel.yaml")}, code: 1,
			stderr: []string{"INVALID", `rule "misspelt_signal": when:`, "undeclared reference to 'signals.liveness_scor'",
				`rule "not_bool": when: must be bool, is double`, `rule "bad_kind": steps: unknown step-up kind "selfie"`},
			noStdout: true},
		{name: "one invalid among valid", args: []string{filepath.Join(policyDir, "minimal.yaml"), filepath.Join(policyDir, "invalid_cel.yaml")}, code: 1,
			stdout: []string{"ok "}, stderr: []string{"INVALID"}},
		{name: "missing file", args: []string{filepath.Join(policyDir, "nope.yaml")}, code: 1, stderr: []string{"no such file"}},
		{name: "no arguments", args: nil, code: 2, stderr: []string{"usage: policy-check"}},
		{name: "unknown flag", args: []string{"-x"}, code: 2, stderr: []string{"flag provided but not defined"}},
		{name: "vars", args: []string{"-vars"}, code: 0,
			stdout: []string{"signals.liveness_score", "double", "history.step_ups", "risk.LIVENESS_FACE_ATTACK", "step_up_outcome"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			assert.Equal(t, tt.code, code, "stderr: %s", stderr.String())
			for _, s := range tt.stdout {
				assert.Contains(t, stdout.String(), s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, stderr.String(), s)
			}
			if tt.noStdout {
				assert.Empty(t, stdout.String())
			}
		})
	}
}
