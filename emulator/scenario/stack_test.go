package scenario_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/scenario"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/testdata"
)

func searched(facts ...didit.FaceSearchFacts) profile.Profile {
	p := profile.Profile{Sessions: map[string]profile.SessionState{}}
	for i, f := range facts {
		p.Sessions[string(rune('a'+i))] = profile.SessionState{FaceSearch: map[string]didit.FaceSearchFacts{f.SearchType: f}}
	}
	return p
}

func TestFaceSearchColumn(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    profile.Profile
		want string
	}{
		{"not searched", profile.Profile{Sessions: map[string]profile.SessionState{"s": {}}}, "-"},
		{"nothing found", searched(didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved}), "no match"},
		{"fraud ring", searched(didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved, Matches: 3, OtherUsers: 3}), "3 other users"},
		{"blocklisted wins over users", searched(didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved, Matches: 2, OtherUsers: 1, Blocklisted: true}), "blocklisted"},
		{"blocklist code alone", searched(didit.FaceSearchFacts{SearchType: didit.SearchMostSimilar, Codes: []string{didit.RiskFaceInBlocklist}}), "blocklisted"},
		{"anonymous matches", searched(didit.FaceSearchFacts{SearchType: didit.SearchMostSimilar, Matches: 2}), "2 matches"},
		{"two sessions, in session order", searched(didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved},
			didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved, OtherUsers: 2}), "no match 2 other users"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, scenario.FaceSearch(tc.p)) })
	}
}

func TestWhyWeightiestFirst(t *testing.T) {
	r := func(rule string, points int) profile.Reason { return profile.Reason{Rule: rule, Points: points} }
	for _, tc := range []struct {
		name    string
		reasons []profile.Reason
		want    string
	}{
		{"none", nil, "no rule fired"},
		{"by weight, a discount counts by its size", []profile.Reason{r("a", 25), r("b", -30), r("c", 10)}, "b(-30) a(+25) c(+10)"},
		{"equal weights keep policy order", []profile.Reason{r("a", 10), r("b", 40), r("c", 10)}, "b(+40) a(+10) c(+10)"},
		{"a face search rule is not cut off", []profile.Reason{r("a", 25), r("b", 20), r("c", 10), r("d", 10), r("e", 5), r("face_search_fraud_ring", 40)},
			"face_search_fraud_ring(+40) a(+25) b(+20) c(+10) +2 more"},
	} {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, scenario.Why(profile.Profile{Reasons: tc.reasons})) })
	}
}

// A review user is one no person has looked at: the fixture's reviewer approval is not re-issued
// (a reviewer's decision would otherwise hold from the first webhook).
func TestReviewKindHasNoReviewYet(t *testing.T) {
	b, err := scenario.NewBuilder(testdata.Dir(t, "webhooks"))
	require.NoError(t, err)
	body, err := b.Webhook(scenario.Review, "u", "s", "e", time.Now())
	require.NoError(t, err)
	w, err := didit.DecodeWebhook(body)
	require.NoError(t, err)
	require.NotNil(t, w.Decision)
	assert.Empty(t, w.Decision.Reviews)
	assert.Equal(t, "u", w.VendorData)
}
