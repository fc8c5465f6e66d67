package profile

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/model"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
	"github.com/riskwire/didit-risk/internal/scoring/modelscore"
)

// firestoreMap is v's fields by firestore name, as Firestore would hand them back to
// model.FeaturesFromMaps (ints as int64, lists as []any).
func firestoreMap(v any) map[string]any {
	out := map[string]any{}
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		name, _, _ := strings.Cut(rv.Type().Field(i).Tag.Get("firestore"), ",")
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			out[name] = f.Int()
		case reflect.Slice:
			l := make([]any, f.Len())
			for j := range l {
				l[j] = f.Index(j).Interface()
			}
			out[name] = l
		case reflect.String:
			out[name] = f.String()
		default:
			out[name] = f.Interface()
		}
	}
	return out
}

// TestAssessmentKeepsTheModel: an assessment scored by an engine with the default model stores
// the model's score, version and contributions, and they are what the model computes from the
// signals and history stored beside them (what export-training reads back), so the stored
// explanation and a retraining see the same features.
func TestAssessmentKeepsTheModel(t *testing.T) {
	m, err := model.LoadDefault()
	require.NoError(t, err)
	p := policy.Default()
	eng := NewEvaluator(p, scoring.WithModel(modelscore.New(m)))

	ev := decided("e1", "s1", "Declined", t0, "doc-a", "LIVENESS_FACE_ATTACK", "LOW_LIVENESS_SCORE")
	ev.Signals.LivenessScore, ev.Signals.DuplicateFaceMatches, ev.Signals.RiskErrors = 12, 2, []string{"LIVENESS_FACE_ATTACK", "LOW_LIVENESS_SCORE"}
	early := decided("e0", "s0", "Declined", t0.Add(-3600e9), "doc-b")
	_, as := fold(t, eng, early, ev)
	require.Len(t, as, 2)
	a := as[1]
	require.NotNil(t, a.Model, "an engine with a model stores its result")
	assert.Equal(t, m.Version(), a.Model.Version)
	assert.True(t, a.Model.Score >= 0 && a.Model.Score <= 1, "score %v", a.Model.Score)
	require.NotEmpty(t, a.Model.Top, "a risky assessment is explained")
	assert.LessOrEqual(t, len(a.Model.Top), model.TopContributions)
	for i, c := range a.Model.Top {
		assert.Contains(t, model.FeatureNames(), c.Feature)
		assert.NotZero(t, c.Contribution, c.Feature)
		if i > 0 {
			assert.GreaterOrEqual(t, abs(a.Model.Top[i-1].Contribution), abs(c.Contribution), "largest first")
		}
	}

	x, err := model.FeaturesFromMaps(firestoreMap(a.Signals), firestoreMap(a.History))
	require.NoError(t, err)
	want, err := m.Score(x)
	require.NoError(t, err)
	assert.Equal(t, want.Score, a.Model.Score, "the stored score is the model on the stored features")
	require.Len(t, a.Model.Top, len(want.Top))
	for i, c := range want.Top {
		assert.Equal(t, scoring.ModelContribution{Feature: c.Feature, Value: c.Value, Contribution: c.Contribution}, a.Model.Top[i])
	}
	assert.Equal(t, 2, a.History.DeclinedSessions, "the history the model saw counts both declines")

	// Without a model, nothing is stored.
	_, plain := fold(t, NewEvaluator(p), early, ev)
	assert.Nil(t, plain[1].Model)
}

func abs(f float64) float64 { return max(f, -f) }
