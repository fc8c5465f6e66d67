package policy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/testdata"
)

// FuzzParsePolicy checks that no input makes Parse panic, and that whatever it accepts is
// complete: every rule compiled, thresholds ordered, an action per level.
func FuzzParsePolicy(f *testing.F) {
	f.Add(DefaultSource())
	for _, file := range testdata.Glob(f, "policy/*.yaml") {
		f.Add(testdata.Read(f, file))
	}
	for _, s := range []string{
		"", "---", "[]", "version: 1", header, header + "rules:\n", header + "rules: [1, 2]\n",
		header + rule("a", "signals.age > 1 && history.step_ups.nfc.outcome == \"x\""),
		header + rule("b", `step_up_outcome("nfc") == "approved"`, "steps: [nfc]", "min_level: high"),
		header + rule("c", "[1,2,3].exists(x, x > 2)"),
		header + rule("d", "risk.LIVENESS_FACE_ATTACK", "action: block", "shadow: true"),
		header + "rules:\n  - &a {id: x, description: y, when: 'true'}\n  - *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		require.NotEmpty(t, p.Rules)
		require.NotEmpty(t, p.Version)
		require.Less(t, p.Thresholds.Medium, p.Thresholds.High)
		for _, l := range levels {
			require.True(t, p.ActionFor(l).Valid())
		}
		for _, r := range p.Rules {
			require.NotNil(t, r.prg, r.ID)
		}
	})
}
