package scoring

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/testdata"
)

var update = flag.Bool("update", false, "rewrite the want part of testdata/scoring/cases/*.json and internal/policy/signals_gen.go")

// goldenCase is one file of testdata/scoring/cases: a payload (optionally a step-up laid over a
// primary session), the history before it, and the expected outcome.
type goldenCase struct {
	Description string       `json:"description"`
	Payload     string       `json:"payload"`          // webhook body, relative to testdata/
	Base        string       `json:"base,omitempty"`   // primary session the payload is merged over
	Policy      string       `json:"policy,omitempty"` // policy file relative to testdata/; default embedded
	History     *caseHistory `json:"history,omitempty"`
	Want        *goldenWant  `json:"want"`
}

type caseHistory struct {
	Sessions24h       int                            `json:"sessions_24h,omitempty"`
	Sessions30d       int                            `json:"sessions_30d,omitempty"`
	DeclinedSessions  int                            `json:"declined_sessions,omitempty"`
	DistinctDocuments int                            `json:"distinct_documents,omitempty"`
	DistinctDevices   int                            `json:"distinct_devices,omitempty"`
	PreviousLevel     policy.Level                   `json:"previous_level,omitempty"`
	PreviousAction    policy.Action                  `json:"previous_action,omitempty"`
	StepUps           map[policy.StepKind]caseStepUp `json:"step_ups,omitempty"`
	IsStepUp          bool                           `json:"is_step_up,omitempty"`
	StepUpKind        policy.StepKind                `json:"step_up_kind,omitempty"`
}

type caseStepUp struct {
	Status  policy.StepStatus  `json:"status"`
	Outcome policy.StepOutcome `json:"outcome,omitempty"`
}

func (c *caseHistory) history() History {
	if c == nil {
		return History{Sessions24h: 1, Sessions30d: 1, DistinctDocuments: 1, DistinctDevices: 1}
	}
	h := History{
		Sessions24h: c.Sessions24h, Sessions30d: c.Sessions30d, DeclinedSessions: c.DeclinedSessions,
		DistinctDocuments: c.DistinctDocuments, DistinctDevices: c.DistinctDevices,
		PreviousLevel: c.PreviousLevel, PreviousAction: c.PreviousAction,
		IsStepUp: c.IsStepUp, StepUpKind: c.StepUpKind,
	}
	if c.StepUps != nil {
		h.StepUps = map[policy.StepKind]StepUp{}
		for k, v := range c.StepUps {
			h.StepUps[k] = StepUp(v)
		}
	}
	return h
}

type goldenWant struct {
	Scored        bool              `json:"scored"`
	Score         int               `json:"score"`
	Level         string            `json:"level"`
	Action        string            `json:"action"`
	Reasons       []string          `json:"reasons"`
	RequiredSteps []policy.StepKind `json:"required_steps"`
	Shadow        []string          `json:"shadow"`
	Overrides     []string          `json:"overrides"`
}

// nonNil keeps an empty list as [] in the case files.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func wantOf(a Assessment) *goldenWant {
	return &goldenWant{
		Scored: a.Scored, Score: a.Score, Level: string(a.Level), Action: string(a.Action),
		Reasons: nonNil(ruleIDs(a.Reasons)), RequiredSteps: nonNil(a.RequiredSteps),
		Shadow: nonNil(ruleIDs(a.ShadowHits)), Overrides: nonNil(a.Overrides),
	}
}

func loadSignals(t *testing.T, rel string, hash func(string) string) Signals {
	t.Helper()
	body := testdata.Read(t, rel)
	w, err := didit.DecodeWebhook(body)
	require.NoError(t, err)
	return Extract(w, hash)
}

// TestGolden runs every case in testdata/scoring/cases against its policy; -update rewrites the
// want parts from the current outcome (review the diff before committing it).
func TestGolden(t *testing.T) {
	runGolden(t, nil, *update, func(t *testing.T, want, got *goldenWant, _ Assessment) { assert.Equal(t, want, got) })
}

// runGolden evaluates every case with an engine built with opts and checks the outcome against
// the case's want with check, or rewrites the want when rewrite is set.
func runGolden(t *testing.T, opts []Option, rewrite bool, check func(t *testing.T, want, got *goldenWant, a Assessment)) {
	hash := NewHasher([]byte("golden-test-key"))
	for _, file := range testdata.Glob(t, "scoring/cases/*.json") {
		name := strings.TrimSuffix(path.Base(file), ".json")
		t.Run(name, func(t *testing.T) {
			raw := testdata.Read(t, file)
			var c goldenCase
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&c))
			require.NotEmpty(t, c.Description, "every case says what it shows")

			p := policy.Default()
			if c.Policy != "" {
				var err error
				p, err = policy.Load(testdata.Dir(t, filepath.FromSlash(c.Policy)))
				require.NoError(t, err)
			}
			sig := loadSignals(t, c.Payload, hash)
			if c.Base != "" {
				sig = Merge(loadSignals(t, c.Base, hash), sig)
			}
			a := NewEngine(p, opts...).Evaluate(sig, c.History.history())
			got := wantOf(a)

			if rewrite {
				c.Want = got
				out, err := json.MarshalIndent(c, "", "  ")
				require.NoError(t, err)
				// The embedded copy is read-only: -update writes the case file on disk.
				require.NoError(t, os.WriteFile(testdata.Dir(t, filepath.FromSlash(file)), append(out, '\n'), 0o644))
				return
			}
			require.NotNil(t, c.Want, "no want yet: run go test ./internal/scoring -run TestGolden -update")
			check(t, c.Want, got, a)
		})
	}
}
