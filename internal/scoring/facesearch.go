package scoring

import (
	"slices"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/policy"
)

// WithFaceSearch lays the facts of the Face Searches run for a session (one per search type)
// over its signals: the most matches, users and similarity, any block or allow list match, and
// every code. Without facts it returns s unchanged. The profile keeps the facts beside the
// session's signals and applies them each time the verdict is derived, so a re-derivation (a
// later webhook of the user) keeps them, and a step-up session merged over the signals keeps
// them too (its decision has no face_search feature).
func WithFaceSearch(s Signals, facts ...didit.FaceSearchFacts) Signals {
	if len(facts) == 0 {
		return s
	}
	out := s.Clone()
	out.FaceSearched = true
	out.FaceSearchCodes = slices.Clone(out.FaceSearchCodes)
	for _, f := range facts {
		out.FaceSearchMatches = max(out.FaceSearchMatches, f.Matches)
		out.FaceSearchTopSimilarity = max(out.FaceSearchTopSimilarity, f.TopSimilarity)
		out.FaceSearchBlocklisted = out.FaceSearchBlocklisted || f.Blocklisted
		out.FaceSearchAllowlisted = out.FaceSearchAllowlisted || f.Allowlisted
		out.FaceSearchOtherUsers = max(out.FaceSearchOtherUsers, f.OtherUsers)
		out.FaceSearchCodes = append(out.FaceSearchCodes, f.Codes...)
	}
	slices.Sort(out.FaceSearchCodes)
	out.FaceSearchCodes = slices.Compact(out.FaceSearchCodes)
	out.FeaturesPresent = append(out.FeaturesPresent, policy.FeatureFaceSearch)
	out.derive()
	return out
}
