package profile

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/testdata"
)

func evaluatorOf(t testing.TB, fixture string) *PolicyEvaluator {
	t.Helper()
	p, err := policy.Parse(testdata.Read(t, "policy/"+fixture))
	require.NoError(t, err)
	return NewEvaluator(p)
}

// roundTrip copies p the way a stored document comes back: decoded afresh (so empty and nil
// slices may trade places, and times lose their location).
func roundTrip(t testing.TB, p Profile) Profile {
	t.Helper()
	b, err := json.Marshal(p)
	require.NoError(t, err)
	var out Profile
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}

// TestRescore is a table test of the pure rescore step: the facts a profile stores, settled
// under the promoted policy.
func TestRescore(t *testing.T) {
	minimal, strict := evaluatorOf(t, "minimal.yaml"), evaluatorOf(t, "minimal_strict.yaml")
	now := t0.Add(90 * 24 * time.Hour)
	clean := []Event{decided("e1", "s1", "Approved", t0, "doc-a")}
	declined := []Event{decided("e1", "s1", "Declined", t0, "doc-a")}
	tests := []struct {
		name     string
		events   []Event
		built    Evaluator // the policy the profile was built under
		promoted Evaluator
		outcome  RescoreOutcome
		from, to policy.Action // actions, when changed
	}{
		{"the same policy changes nothing", declined, minimal, minimal, RescoreUnchanged, "", ""},
		{"stricter policy, affected user", declined, minimal, strict, RescoreChanged, "review", "block"},
		{"stricter policy, unaffected user: the version alone", clean, minimal, strict, RescoreRestamped, "", ""},
		{"unverified user", []Event{progress("e1", "s1", "In Progress", t0)}, minimal, strict, RescoreUnchanged, "", ""},
		{"looser policy", declined, strict, minimal, RescoreChanged, "block", "review"},
		{"rule description edited", clean, minimal, describedAgain(t), RescoreRestamped, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			built, _ := fold(t, tt.built, tt.events...)
			before := roundTrip(t, built)
			p := roundTrip(t, built)
			a, outcome, err := rescoreT(&p, before, "u", tt.promoted, now, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.outcome, outcome)
			switch outcome {
			case RescoreUnchanged:
				assert.Nil(t, a)
				assert.True(t, sameValue(reflect.ValueOf(before), reflect.ValueOf(p)))
				return
			case RescoreRestamped:
				assert.Nil(t, a)
				assert.Equal(t, tt.promoted.(policyOf).Policy().Version, p.PolicyVersion, "written with the new version")
				assert.Equal(t, before.Action, p.Action)
				assert.Equal(t, before.LastAssessmentID, p.LastAssessmentID, "no assessment")
				assert.Equal(t, now, p.UpdatedAt)
			case RescoreChanged:
				require.NotNil(t, a)
				version := tt.promoted.(policyOf).Policy().Version
				assert.Equal(t, tt.to, p.Action)
				assert.Equal(t, version, p.PolicyVersion)
				assert.Equal(t, a.ID, p.LastAssessmentID)
				assert.Equal(t, before.AssessmentsTotal+1, p.AssessmentsTotal)
				assert.True(t, strings.HasPrefix(a.ID, rescorePrefix+version+":"), a.ID)
				assert.Equal(t, AssessmentRescore, a.Kind)
				assert.Equal(t, &PolicyVerdict{Score: before.Score, Level: policy.Level(before.Level), Action: policy.Action(tt.from),
					PolicyVersion: before.PolicyVersion}, a.Replaces, "it says what it replaced")
				assert.Equal(t, tt.to, a.Action)
				assert.Equal(t, version, a.PolicyVersion)
				assert.Equal(t, "s1", a.VerdictSession)
				assert.Equal(t, before.Sessions["s1"].Status, a.SessionStatus)
				assert.Equal(t, *before.Sessions["s1"].Signals, a.Signals, "explained by the stored signals")
				assert.Equal(t, ruleIDs(p.Reasons), ruleIDs(a.Reasons))
				assert.True(t, a.Trusted)
				assert.Equal(t, now, a.CreatedAt)
			}
			// Settled once, the same policy again changes nothing: a second run is a no-op.
			again := roundTrip(t, p)
			next := roundTrip(t, p)
			a2, o2, err := rescoreT(&next, again, "u", tt.promoted, now.Add(time.Hour), nil)
			require.NoError(t, err)
			assert.Equal(t, RescoreUnchanged, o2)
			assert.Nil(t, a2)
		})
	}
}

// describedAgain is minimal.yaml with one rule's description edited: the same verdict.
func describedAgain(t testing.TB) *PolicyEvaluator {
	src := strings.Replace(string(testdata.Read(t, "policy/minimal.yaml")), "version: minimal-1", "version: minimal-1b", 1)
	src = strings.Replace(src, "Liveness score below 50", "Liveness score under 50", 1)
	p, err := policy.Parse([]byte(src))
	require.NoError(t, err)
	return NewEvaluator(p)
}

// TestRescoreIDIsStable: the same rescore, retried, has the same id; another policy or another
// replaced assessment, another id.
func TestRescoreIDIsStable(t *testing.T) {
	id := rescoreID("u", "v2", "e1")
	assert.Equal(t, id, rescoreID("u", "v2", "e1"))
	for _, other := range []string{rescoreID("u", "v3", "e1"), rescoreID("u", "v2", "e2"), rescoreID("w", "v2", "e1")} {
		assert.NotEqual(t, id, other)
	}
	assert.True(t, strings.HasPrefix(id, "rescore:v2:"))
}

func TestRescoreOutcomeAnnounce(t *testing.T) {
	for o, want := range map[RescoreOutcome]bool{RescoreUnchanged: false, RescoreRestamped: false, RescoreChanged: true,
		RescoreUnannounced: true, RescoreMissing: false} {
		assert.Equal(t, want, o.Announce(), o.String())
	}
}

func TestSameValue(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	sig := scoring.Signals{RiskCodes: []string{"A"}}
	tests := []struct {
		name string
		a, b any
		want bool
	}{
		{"nil and empty slice", Profile{Reasons: nil}, Profile{Reasons: []Reason{}}, true},
		{"nil and empty map", Profile{Sessions: nil}, Profile{Sessions: map[string]SessionState{}}, true},
		{"one instant in two locations", Profile{UpdatedAt: at}, Profile{UpdatedAt: at.In(time.FixedZone("x", 3600))}, true},
		{"another instant", Profile{UpdatedAt: at}, Profile{UpdatedAt: at.Add(time.Microsecond)}, false},
		{"a field differs", Profile{PolicyVersion: "a"}, Profile{PolicyVersion: "b"}, false},
		{"a nested slice differs", Profile{Sessions: map[string]SessionState{"s": {Signals: &sig}}},
			Profile{Sessions: map[string]SessionState{"s": {Signals: &scoring.Signals{RiskCodes: []string{"B"}}}}}, false},
		{"nil and set pointer", Profile{Cooldown: nil}, Profile{Cooldown: &Cooldown{}}, false},
		{"map keys differ", Profile{StepUps: map[string]StepUp{"nfc": {}}}, Profile{StepUps: map[string]StepUp{"poa": {}}}, false},
		{"equal nested", Profile{Sessions: map[string]SessionState{"s": {Signals: &sig}}},
			Profile{Sessions: map[string]SessionState{"s": {Signals: &scoring.Signals{RiskCodes: []string{"A"}}}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, sameValue(reflect.ValueOf(tt.a), reflect.ValueOf(tt.b)))
		})
	}
}
