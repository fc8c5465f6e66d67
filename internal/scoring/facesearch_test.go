package scoring

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

func TestWithFaceSearch(t *testing.T) {
	base := Extract(decode(t, `{"status":"Declined","decision":{"liveness_checks":[{"status":"Declined","score":40}]}}`), nil)
	ring := didit.FaceSearchFacts{SearchType: didit.SearchMostSimilar, Matches: 3, TopSimilarity: 98.7, OtherUsers: 3}
	blocked := didit.FaceSearchFacts{SearchType: didit.SearchBlocklistedOrApproved, Matches: 1, TopSimilarity: 99.1, Blocklisted: true,
		Codes: []string{"FACE_IN_BLOCKLIST"}}
	tests := []struct {
		name  string
		facts []didit.FaceSearchFacts
		check func(t *testing.T, s Signals)
	}{
		{"no search", nil, func(t *testing.T, s Signals) { assert.Equal(t, base, s) }},
		{"a ring", []didit.FaceSearchFacts{ring}, func(t *testing.T, s Signals) {
			assert.True(t, s.FaceSearched)
			assert.Equal(t, int64(3), s.FaceSearchMatches)
			assert.Equal(t, int64(3), s.FaceSearchOtherUsers)
			assert.InDelta(t, 98.7, s.FaceSearchTopSimilarity, 0)
			assert.False(t, s.FaceSearchBlocklisted)
			assert.Empty(t, s.FaceSearchCodes)
		}},
		{"an empty answer still says searched", []didit.FaceSearchFacts{{SearchType: didit.SearchMostSimilar}}, func(t *testing.T, s Signals) {
			assert.True(t, s.FaceSearched)
			assert.Zero(t, s.FaceSearchMatches)
		}},
		{"both search types combined", []didit.FaceSearchFacts{ring, blocked, {Codes: []string{"FACE_IN_BLOCKLIST", "NO_FACE_DETECTED"}}}, func(t *testing.T, s Signals) {
			assert.Equal(t, int64(3), s.FaceSearchMatches)
			assert.InDelta(t, 99.1, s.FaceSearchTopSimilarity, 0)
			assert.True(t, s.FaceSearchBlocklisted)
			assert.Equal(t, []string{"FACE_IN_BLOCKLIST", "NO_FACE_DETECTED"}, s.FaceSearchCodes)
			assert.Equal(t, base.RiskCodes, s.RiskCodes, "the codes stay out of risk_codes: the face_search rules read them")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := WithFaceSearch(base, tt.facts...)
			tt.check(t, s)
			assert.Equal(t, tt.facts != nil, s.Has(policy.FeatureFaceSearch))
		})
	}

	// A step-up session merged over the signals keeps the facts: its decision has no face search.
	withRing := WithFaceSearch(base, ring)
	overlay := Extract(decode(t, `{"status":"Approved","decision":{"liveness_checks":[{"status":"Approved","score":95}]}}`), nil)
	m := Merge(withRing, overlay)
	assert.Equal(t, int64(3), m.FaceSearchOtherUsers)
	assert.InDelta(t, 95, m.LivenessScore, 0)
}
