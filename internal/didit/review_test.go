package didit_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/diditsim"
	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
)

// A review and a status update on the simulator: the session moves, the trail records the API
// client's row with the comment, and each endpoint is called once.
func TestCreateReviewAndUpdateStatus(t *testing.T) {
	tests := []struct {
		name    string
		call    func(c *didit.Client, id string) error
		route   string
		from    string
		want    string
		webhook bool
	}{
		{"review in review", func(c *didit.Client, id string) error {
			return c.CreateReview(context.Background(), id, didit.StatusInReview, "rules: r1(+25)")
		}, diditsim.RouteCreateReview, "Approved", "In Review", true},
		{"decline", func(c *didit.Client, id string) error {
			return c.UpdateStatus(context.Background(), id, didit.StatusDeclined, "rules: r1(+25)")
		}, diditsim.RouteUpdateStatus, "Approved", "Declined", true},
		{"decline a declined session is a no-op", func(c *didit.Client, id string) error {
			return c.UpdateStatus(context.Background(), id, didit.StatusDeclined, "rules: r1(+25)")
		}, diditsim.RouteUpdateStatus, "Declined", "Declined", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _, c, _ := setup(t, diditsim.Options{}, 2*time.Second)
			s := sim.AddSession(diditsim.Session{VendorData: "u", WorkflowID: "wf", Status: tt.from})

			require.NoError(t, tt.call(c, s.ID))
			sim.WaitWebhooks()

			got, ok := sim.Session(s.ID)
			require.True(t, ok)
			assert.Equal(t, tt.want, got.Status)
			assert.Equal(t, 1, sim.Requests(tt.route))
			if tt.route == diditsim.RouteCreateReview || tt.webhook {
				rv := sim.Reviews(s.ID)
				require.Len(t, rv, 1)
				assert.Equal(t, diditsim.APIClientUser, rv[0].User)
				assert.Equal(t, tt.want, rv[0].NewStatus)
				assert.Equal(t, "rules: r1(+25)", rv[0].Comment)
			}
		})
	}
}

// What Didit would refuse is refused before a request; refusals are Invalid and not retried,
// 429 and 5xx are retried.
func TestReviewErrors(t *testing.T) {
	tests := []struct {
		name     string
		fault    *diditsim.Fault
		status   didit.Status
		comment  string
		session  string // "" means a known session
		ok       bool
		kind     failure.Kind // when not ok
		requests int
	}{
		{"update to in review refused locally", nil, didit.StatusInReview, "c", "", false, failure.Invalid, 0},
		{"resubmitted refused locally", nil, didit.StatusResubmitted, "c", "", false, failure.Invalid, 0},
		{"comment too long", nil, didit.StatusDeclined, strings.Repeat("x", didit.MaxReviewComment+1), "", false, failure.Invalid, 0},
		{"empty session", nil, didit.StatusDeclined, "c", "-", false, failure.Invalid, 0},
		{"unknown session 404", nil, didit.StatusDeclined, "c", "nope", false, failure.Invalid, 1},
		{"403 not retried", &diditsim.Fault{Route: diditsim.RouteUpdateStatus, Status: http.StatusForbidden}, didit.StatusDeclined, "c", "", false, failure.Invalid, 1},
		{"500 retried", &diditsim.Fault{Route: diditsim.RouteUpdateStatus, Status: http.StatusInternalServerError, Times: 2}, didit.StatusDeclined, "c", "", true, 0, 3},
		{"429 retried", &diditsim.Fault{Route: diditsim.RouteUpdateStatus, Status: http.StatusTooManyRequests, RetryAfter: "2"}, didit.StatusDeclined, "c", "", true, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _, c, _ := setup(t, diditsim.Options{}, 2*time.Second)
			id := sim.AddSession(diditsim.Session{VendorData: "u", WorkflowID: "wf", Status: "Approved"}).ID
			switch tt.session {
			case "-":
				id = ""
			case "":
			default:
				id = tt.session
			}
			if tt.fault != nil {
				sim.InjectFault(*tt.fault)
			}
			err := c.UpdateStatus(context.Background(), id, tt.status, tt.comment)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Equal(t, tt.kind, failure.KindOf(err), "%v", err)
			}
			assert.Equal(t, tt.requests, sim.Requests(diditsim.RouteUpdateStatus))
		})
	}

	t.Run("review with a status Didit does not take", func(t *testing.T) {
		sim, _, c, _ := setup(t, diditsim.Options{}, 2*time.Second)
		err := c.CreateReview(context.Background(), "s", didit.StatusKycExpired, "")
		assert.Equal(t, failure.Invalid, failure.KindOf(err))
		assert.Zero(t, sim.Requests(diditsim.RouteCreateReview))
	})
}
