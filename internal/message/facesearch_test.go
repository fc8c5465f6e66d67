package message_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
)

func TestFaceSearchRoundTrip(t *testing.T) {
	f := message.FaceSearch{ProfileID: "user-1", SessionID: "s/1", AssessmentID: "a1",
		Facts:      didit.FaceSearchFacts{SearchType: didit.SearchMostSimilar, Matches: 3, TopSimilarity: 98.7, OtherUsers: 3, Codes: []string{"X"}},
		SearchedAt: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	data, err := f.Encode()
	require.NoError(t, err)
	got, err := message.DecodeFaceSearch(data)
	require.NoError(t, err)
	assert.Equal(t, f, got)
	assert.Equal(t, "face_search:s%2F1:most_similar", f.Key(), "one key per session and search type")

	a := f.Attributes()
	assert.Equal(t, message.TypeFaceSearch, message.TypeOf(a))
	w := message.ParseWebhookAttrs(a)
	assert.True(t, w.DecisionAuthenticated, "never matches the refetch filter (NOT decision_authenticated = true)")
	assert.Equal(t, message.SignatureDiditAPI, w.Signature)
	assert.Equal(t, f.Key(), w.EventKey)
	assert.False(t, w.Scorable(), "not a webhook: the scorer reads it by its type, never as a session webhook")
}

func TestDecodeFaceSearchIsStrict(t *testing.T) {
	for _, body := range []string{
		`{`,
		`{"profile_id":"p","session_id":"s","facts":{}}`,
		`{"profile_id":"p","session_id":"s","facts":{"search_type":"most_similar","full_name":"Ana"}}`,
		`{"profile_id":"p","session_id":"s","facts":{"search_type":"most_similar"},"match_image_url":"https://x"}`,
		`{"profile_id":"p","session_id":"s","facts":{"search_type":"most_similar"}} {}`,
	} {
		_, err := message.DecodeFaceSearch([]byte(body))
		assert.Equal(t, failure.Invalid, failure.KindOf(err), body)
	}
}
