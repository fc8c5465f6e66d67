package scoring

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// review_requested: In Review because the API key asked for a review (the latest review is the
// API client's In Review), not because Didit's checks sent the session there.
func TestReviewRequestedSignal(t *testing.T) {
	const api = `{"user":"API Client","new_status":"In Review","created_at":"2026-12-01T10:00:00.000000Z"}`
	const person = `{"user":"reviewer@example.com","new_status":"Approved","created_at":"2026-12-01T11:00:00.000000Z"}`
	tests := []struct {
		name, status, reviews string
		want                  bool
	}{
		{"asked with the API key", "In Review", `[` + api + `]`, true},
		{"Didit's own review queue", "In Review", `[]`, false},
		{"no reviews field", "In Review", `null`, false},
		{"a person set it In Review", "In Review", `[{"user":"reviewer@example.com","new_status":"In Review","created_at":"2026-12-01T10:00:00Z"}]`, false},
		{"a person decided after the request", "Approved", `[` + api + `,` + person + `]`, false},
		{"the API's review is not the latest", "In Review", `[` + api + `,{"user":"reviewer@example.com","new_status":"In Review","created_at":"2026-12-01T12:00:00Z"}]`, false},
		{"the latest by time, not by order", "In Review", `[` + api + `,{"user":"reviewer@example.com","new_status":"In Review","created_at":"2026-12-01T09:00:00Z"}]`, true},
		{"an API review of another status", "Declined", `[{"user":"API Client","new_status":"Declined","created_at":"2026-12-01T10:00:00Z"}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Extract(decode(t, `{"status":"`+tt.status+`","decision":{"status":"`+tt.status+`","reviews":`+tt.reviews+`}}`), nil)
			assert.Equal(t, tt.want, s.ReviewRequested)
			assert.Equal(t, tt.status, s.DiditStatus)
		})
	}
}
