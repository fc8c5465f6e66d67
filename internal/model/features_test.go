package model

import (
	"flag"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/scoring"
)

var update = flag.Bool("update", false, "rewrite FEATURES.md")

// storedSignals is a signals map as Firestore decodes a stored assessment: int64, float64,
// bool, string, []any, and nil for an empty list.
func storedSignals() map[string]any {
	return map[string]any{
		"didit_status": "Approved", "webhook_type": "status.updated",
		"liveness_score": 91.5, "face_match_score": 88.0, "face_quality": -1.0, "age_gap": 2.5,
		"document_expired": false, "duplicate_user_matches": int64(1), "duplicate_face_matches": int64(0),
		"nfc_verified": true, "nfc_skipped": false, "phone_disposable": false, "phone_voip": true,
		"email_breached": true, "email_disposable": false, "aml_hits": int64(2), "aml_max_score": 71.0,
		"aml_pep": true, "aml_sanction": false, "ip_vpn_or_tor": true, "ip_data_center": false,
		"ip_country_mismatch": true, "risk_errors": []any{"DOCUMENT_EXPIRED", "LOW_LIVENESS_SCORE"},
		"db_validation_match": "partial_match", "ip_countries": []any{"DE"}, "device_hashes": nil,
	}
}

func storedHistory() map[string]any {
	return map[string]any{
		"sessions_24h": int64(2), "sessions_30d": int64(3), "declined_sessions": int64(1),
		"distinct_documents": int64(1), "distinct_devices": int64(2), "previous_level": "medium",
	}
}

func feature(t *testing.T, x []float64, name string) float64 {
	t.Helper()
	for i, n := range FeatureNames() {
		if n == name {
			return x[i]
		}
	}
	t.Fatalf("no feature %s", name)
	return 0
}

func TestFeaturesFromMaps(t *testing.T) {
	x, err := FeaturesFromMaps(storedSignals(), storedHistory())
	require.NoError(t, err)
	require.Len(t, x, len(FeatureNames()))
	want := map[string]float64{
		"liveness_score": 91.5, "face_quality": -1, "document_expired": 0, "duplicate_user_matches": 1,
		"nfc_verified": 1, "phone_voip": 1, "aml_hits": 2, "aml_max_score": 71, "risk_errors": 2,
		"db_validation_match": 2, "sessions_24h": 2, "prior_declined_sessions": 1, "distinct_devices": 2,
		"previous_level": 2,
	}
	for name, v := range want {
		assert.Equal(t, v, feature(t, x, name), name)
	}
}

func TestFeaturesTransforms(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(s, h map[string]any)
		feature string
		want    float64
	}{
		{"declined session itself is not prior", func(s, h map[string]any) { s["didit_status"] = "Declined" }, "prior_declined_sessions", 0},
		{"prior never negative", func(s, h map[string]any) { s["didit_status"] = "Declined"; h["declined_sessions"] = int64(0) }, "prior_declined_sessions", 0},
		{"null list counts 0", func(s, h map[string]any) { s["risk_errors"] = nil }, "risk_errors", 0},
		{"Go string list", func(s, h map[string]any) { s["risk_errors"] = []string{"A"} }, "risk_errors", 1},
		{"new user", func(s, h map[string]any) { h["previous_level"] = "" }, "previous_level", 0},
		{"critical", func(s, h map[string]any) { h["previous_level"] = "critical" }, "previous_level", 4},
		{"no db validation", func(s, h map[string]any) { s["db_validation_match"] = "" }, "db_validation_match", 0},
		{"Go int", func(s, h map[string]any) { s["aml_hits"] = 3 }, "aml_hits", 3},
		{"true", func(s, h map[string]any) { s["document_expired"] = true }, "document_expired", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, h := storedSignals(), storedHistory()
			c.edit(s, h)
			x, err := FeaturesFromMaps(s, h)
			require.NoError(t, err)
			assert.Equal(t, c.want, feature(t, x, c.feature))
		})
	}
}

func TestFeaturesRefuseBadInput(t *testing.T) {
	cases := []struct {
		name string
		edit func(s, h map[string]any)
		want string
	}{
		{"missing signal", func(s, h map[string]any) { delete(s, "liveness_score") }, "feature liveness_score: signals.liveness_score is missing"},
		{"missing history", func(s, h map[string]any) { delete(h, "distinct_devices") }, "history.distinct_devices is missing"},
		{"string for number", func(s, h map[string]any) { s["aml_hits"] = "2" }, "feature aml_hits from signals.aml_hits: want number, got string"},
		{"number for bool", func(s, h map[string]any) { s["aml_pep"] = int64(1) }, "want bool, got int64"},
		{"unknown level", func(s, h map[string]any) { h["previous_level"] = "extreme" }, `unknown value "extreme"`},
		{"NaN", func(s, h map[string]any) { s["age_gap"] = math.NaN() }, "not a finite number"},
		{"map for list", func(s, h map[string]any) { s["risk_errors"] = map[string]any{} }, "want list"},
		{"status not a string", func(s, h map[string]any) { s["didit_status"] = nil }, "didit_status: want string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, h := storedSignals(), storedHistory()
			c.edit(s, h)
			_, err := FeaturesFromMaps(s, h)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
	_, err := FeaturesFromMaps(nil, nil)
	assert.ErrorContains(t, err, "is missing")
}

// TestFeatureSourcesAreStored pins the table to the stored schema: every source is a Firestore
// field of the signals (scoring.Signals) or history (profile.HistoryRecord) an assessment stores.
func TestFeatureSourcesAreStored(t *testing.T) {
	stored := map[string]bool{}
	for prefix, typ := range map[string]reflect.Type{
		"signals.": reflect.TypeFor[scoring.Signals](), "history.": reflect.TypeFor[profile.HistoryRecord](),
	} {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("firestore"), ",")
			stored[prefix+name] = true
		}
	}
	names := map[string]bool{}
	for _, f := range Features() {
		assert.False(t, names[f.Name], "duplicate feature %s", f.Name)
		names[f.Name] = true
		require.NotEmpty(t, f.Sources, f.Name)
		require.LessOrEqual(t, len(f.Sources), 2, "FeaturesFrom holds at most two sources per feature")
		for _, s := range f.Sources {
			assert.True(t, stored[s], "feature %s reads %s, which assessments do not store", f.Name, s)
		}
		assert.NotEmpty(t, f.Doc, f.Name)
	}
	assert.GreaterOrEqual(t, len(names), 15)
}

func TestFeatureDoc(t *testing.T) {
	got := FeatureDoc()
	if *update {
		require.NoError(t, os.WriteFile("FEATURES.md", []byte(got), 0o644))
	}
	want, err := os.ReadFile("FEATURES.md")
	require.NoError(t, err, "run go test ./internal/model -run TestFeatureDoc -update")
	assert.Equal(t, string(want), got, "FEATURES.md is stale: go test ./internal/model -run TestFeatureDoc -update")
	for _, n := range FeatureNames() {
		assert.Contains(t, got, "`"+n+"`")
	}
}

func BenchmarkFeaturesFromMaps(b *testing.B) {
	s, h := storedSignals(), storedHistory()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FeaturesFromMaps(s, h); err != nil {
			b.Fatal(err)
		}
	}
}
