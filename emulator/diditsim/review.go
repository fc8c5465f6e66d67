package diditsim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Manual review and status changes from the API (shared/didit-api.md §9.1–9.3), and a console
// reviewer a test can play.

// Routes of the review and status endpoints, as counted by Requests and matched by Fault.Route.
const (
	RouteCreateReview = "POST /v3/sessions/{id}/reviews/"
	RouteListReviews  = "GET /v3/sessions/{id}/reviews/"
	RouteUpdateStatus = "PATCH /v3/session/{id}/update-status/"
)

// Statuses beyond the three a decision can take.
const (
	StatusResubmitted = "Resubmitted"
	StatusKycExpired  = "Kyc Expired"
	StatusAbandoned   = "Abandoned"
)

// APIClientUser is the reviews' `user` for changes made with the API key (§9.2).
const APIClientUser = "API Client"

// DefaultReviewerEmail is the console reviewer ConsoleReview acts as when Options.ReviewerEmail
// is empty: a placeholder, never a real person's address.
const DefaultReviewerEmail = "reviewer@example.com"

// maxReviewComment is the documented limit of a review's comment.
const maxReviewComment = 10000

// Review is one row of a session's review trail.
type Review struct {
	UUID           string
	User           string // the console reviewer's email, or APIClientUser
	ActorType      string // "user" for a console reviewer, "api" for the API key
	NewStatus      string
	PreviousStatus string
	Comment        string
	CreatedAt      time.Time
}

// ErrStatusUnchanged is returned by ConsoleReview when the session already has the status:
// nothing changes and Didit sends no webhook.
var ErrStatusUnchanged = errors.New("diditsim: session already has that status")

// rowJSON is a review as the decision's reviews[] carries it (§9.2) and, by default, as the
// reviews endpoints answer (the docs page's shape).
func (rv Review) rowJSON() map[string]any {
	return map[string]any{
		"user":       rv.User,
		"new_status": rv.NewStatus,
		"comment":    nullIfEmpty(rv.Comment),
		"created_at": rv.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
}

// activityJSON is a review in the API reference's shape (§9.1), with Options.ReviewActivityShape.
func (rv Review) activityJSON() map[string]any {
	display, email := "API Client", any(nil)
	if rv.ActorType == "user" {
		display, email = rv.User, rv.User
	}
	return map[string]any{
		"uuid":            rv.UUID,
		"activity_type":   "REVIEW",
		"actor_display":   display,
		"actor_email":     email,
		"actor_type":      rv.ActorType,
		"new_status":      rv.NewStatus,
		"previous_status": nullIfEmpty(rv.PreviousStatus),
		"comment":         nullIfEmpty(rv.Comment),
		"metadata":        map[string]any{},
		"created_at":      rv.CreatedAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
	}
}

func (s *Server) reviewJSON(rv Review) map[string]any {
	if s.opts.ReviewActivityShape {
		return rv.activityJSON()
	}
	return rv.rowJSON()
}

// Reviews returns a session's review trail, oldest first.
func (s *Server) Reviews(sessionID string) []Review {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.sessions[sessionID]; ok {
		return slices.Clone(ss.Reviews)
	}
	return nil
}

// reviewBody is the body of POST .../reviews/ and PATCH .../update-status/.
type reviewBody struct {
	NewStatus       string            `json:"new_status"`
	Comment         string            `json:"comment"`
	NodesToResubmit []json.RawMessage `json:"nodes_to_resubmit"`
	SendEmail       bool              `json:"send_email"`
	EmailAddress    string            `json:"email_address"`
}

// parseReviewBody decodes and validates the fields both endpoints share; allowed are the
// new_status values the endpoint takes.
func parseReviewBody(r *http.Request, allowed ...string) (reviewBody, fieldErrors) {
	var b reviewBody
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return b, fieldErrors{"detail": "JSON parse error - " + err.Error()}
	}
	fe := fieldErrors{}
	for field, dst := range map[string]any{"new_status": &b.NewStatus, "comment": &b.Comment, "nodes_to_resubmit": &b.NodesToResubmit,
		"send_email": &b.SendEmail, "email_address": &b.EmailAddress} {
		if v, ok := raw[field]; ok && string(v) != "null" && json.Unmarshal(v, dst) != nil {
			fe.add(field, "Invalid value.")
		}
	}
	switch {
	case fe["new_status"] != nil:
	case b.NewStatus == "":
		fe.add("new_status", "This field is required.")
	case !slices.Contains(allowed, b.NewStatus):
		fe.add("new_status", strconv.Quote(b.NewStatus)+" is not a valid choice.")
	}
	if len([]rune(b.Comment)) > maxReviewComment {
		fe.add("comment", "Ensure this field has no more than 10000 characters.")
	}
	if len(fe) > 0 {
		return b, fe
	}
	return b, nil
}

// createReview is POST /v3/sessions/{id}/reviews/: a review row, and for Approved or Declined
// (and, unless Options.InReviewNoteOnly, In Review) a status change and its webhook.
func (s *Server) createReview(w http.ResponseWriter, r *http.Request) {
	b, fe := parseReviewBody(r, StatusApproved, StatusDeclined, StatusInReview)
	if fe != nil {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	s.mu.Lock()
	ss, ok := s.sessions[r.PathValue("id")]
	if !ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	// The English page says every review changes the status and queues status.updated; some
	// translations say In Review only records a note. Options.InReviewNoteOnly picks the latter.
	change := b.NewStatus != StatusInReview || !s.opts.InReviewNoteOnly
	rv, env := s.reviewLocked(ss, APIClientUser, "api", b.NewStatus, b.Comment, change)
	s.mu.Unlock()
	if env != nil {
		s.sendAsync(env)
	}
	writeJSON(w, http.StatusCreated, s.reviewJSON(rv))
}

// reviewLocked appends a review row and, when change is set and the status differs, moves the
// session to newStatus and returns the status.updated webhook to send. Didit is silent on a
// review repeating the current status; like update-status, it changes nothing and sends none.
func (s *Server) reviewLocked(ss *Session, user, actor, newStatus, comment string, change bool) (Review, map[string]any) {
	rv := Review{UUID: uuid.NewString(), User: user, ActorType: actor, NewStatus: newStatus, PreviousStatus: ss.Status,
		Comment: comment, CreatedAt: s.now()}
	ss.Reviews = append(ss.Reviews, rv)
	if !change || ss.Status == newStatus {
		return rv, nil
	}
	ss.Status = newStatus
	return rv, s.envelopeLocked(ss)
}

// listReviews is GET /v3/sessions/{id}/reviews/: the trail, newest first, paginated like the
// session listing.
func (s *Server) listReviews(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 20
	}
	offset = max(offset, 0)
	s.mu.Lock()
	ss, ok := s.sessions[r.PathValue("id")]
	var trail []Review
	base := s.baseFor(r)
	if ok {
		trail = slices.Clone(ss.Reviews)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	slices.Reverse(trail)
	results := []any{}
	for i := offset; i < len(trail) && i < offset+limit; i++ {
		results = append(results, s.reviewJSON(trail[i]))
	}
	writeJSON(w, http.StatusOK, pageJSON(r, base, len(trail), offset, limit, results))
}

// pageJSON is Didit's paginated list envelope.
func pageJSON(r *http.Request, base string, count, offset, limit int, results []any) map[string]any {
	page := func(off int) any {
		u := *r.URL
		qq := u.Query()
		qq.Set("offset", strconv.Itoa(off))
		qq.Set("limit", strconv.Itoa(limit))
		u.RawQuery = qq.Encode()
		return base + u.RequestURI()
	}
	var next, prev any
	if offset+limit < count {
		next = page(offset + limit)
	}
	if offset > 0 {
		prev = page(max(offset-limit, 0))
	}
	return map[string]any{"count": count, "next": next, "previous": prev, "results": results}
}

// updatable are the statuses update-status accepts a session in (§9.3).
var updatable = map[string]bool{StatusApproved: true, StatusDeclined: true, StatusInReview: true, StatusKycExpired: true,
	StatusAbandoned: true, StatusResubmitted: true}

// backendFeatures are the features whose resubmission Didit re-runs by itself.
var backendFeatures = map[string]bool{"AML": true, "DATABASE_VALIDATION": true, "IP_ANALYSIS": true}

// updateStatus is PATCH /v3/session/{id}/update-status/.
func (s *Server) updateStatus(w http.ResponseWriter, r *http.Request) {
	b, fe := parseReviewBody(r, StatusApproved, StatusDeclined, StatusResubmitted)
	if fe == nil {
		fe = fieldErrors{}
	}
	var nodes []map[string]any
	if fe["new_status"] == nil && b.NewStatus == StatusResubmitted {
		for _, n := range b.NodesToResubmit {
			var node struct {
				NodeID  string `json:"node_id"`
				Feature string `json:"feature"`
			}
			if json.Unmarshal(n, &node) != nil || node.NodeID == "" || node.Feature == "" {
				fe.add("nodes_to_resubmit", "Each node needs a node_id and a feature.")
				break
			}
			nodes = append(nodes, map[string]any{"node_id": node.NodeID, "feature": node.Feature})
		}
		if len(b.NodesToResubmit) == 0 {
			fe.add("nodes_to_resubmit", "This field is required.")
		}
	}
	if b.SendEmail && strings.TrimSpace(b.EmailAddress) == "" {
		fe.add("email_address", "This field is required when send_email is true.")
	}
	if len(fe) > 0 {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	ss, ok := s.sessions[id]
	if !ok {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	if !updatable[ss.Status] {
		st := ss.Status
		s.mu.Unlock()
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "The status of a session in " + strconv.Quote(st) + " cannot be updated."})
		return
	}
	if ss.Status == b.NewStatus { // a no-op: 200, nothing changes, no webhook
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"session_id": id})
		return
	}
	if b.NewStatus == StatusResubmitted && allBackend(nodes) {
		if wait := 30*time.Second - s.now().Sub(ss.lastBackendResubmit); !ss.lastBackendResubmit.IsZero() && wait > 0 {
			s.mu.Unlock()
			secs := int((wait + time.Second - 1) / time.Second)
			writeThrottled(w, routeLimit(RouteUpdateStatus), secs, "Request was throttled. Expected available in "+strconv.Itoa(secs)+" seconds.")
			return
		}
		ss.lastBackendResubmit = s.now()
	}
	ss.resubmitNodes = nodes
	// Didit is silent on whether an update-status shows in the decision's reviews; the
	// simulator records it as the API client's, so a consumer must tell it from a person's.
	_, env := s.reviewLocked(ss, APIClientUser, "api", b.NewStatus, b.Comment, true)
	s.mu.Unlock()
	if env != nil {
		s.sendAsync(env)
	}
	writeJSON(w, http.StatusOK, map[string]any{"session_id": id})
}

func allBackend(nodes []map[string]any) bool {
	for _, n := range nodes {
		if !backendFeatures[fmt.Sprint(n["feature"])] {
			return false
		}
	}
	return len(nodes) > 0
}

// ConsoleReview plays a compliance officer in Didit's console (Options.ReviewerEmail, a
// placeholder by default): it records the review, moves the session to newStatus (Approved,
// Declined or In Review) and sends the status.updated webhook Didit sends, whose decision
// lists the review. A session already in newStatus gets the review row only, and
// ErrStatusUnchanged.
func (s *Server) ConsoleReview(ctx context.Context, sessionID, newStatus, comment string) (Delivery, error) {
	if newStatus != StatusApproved && newStatus != StatusDeclined && newStatus != StatusInReview {
		return Delivery{}, fmt.Errorf("diditsim: a console review sets Approved, Declined or In Review, not %q", newStatus)
	}
	s.mu.Lock()
	ss, ok := s.sessions[sessionID]
	if !ok {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("%w %s", ErrUnknownSession, sessionID)
	}
	_, env := s.reviewLocked(ss, cmp.Or(s.opts.ReviewerEmail, DefaultReviewerEmail), "user", newStatus, comment, true)
	s.mu.Unlock()
	if env == nil {
		return Delivery{}, ErrStatusUnchanged
	}
	return s.sendEnvelope(ctx, env)
}

// sendEnvelope serialises a webhook like Didit's raw body and delivers it.
func (s *Server) sendEnvelope(ctx context.Context, env map[string]any) (Delivery, error) {
	body, err := Marshal(env)
	if err != nil {
		return Delivery{}, err
	}
	d, err := s.SendWebhook(ctx, body)
	d.EventID, _ = env["event_id"].(string)
	s.log.Info("diditsim: webhook sent", "session_id", env["session_id"], "status", env["status"], "event_id", d.EventID, "receiver_status", d.StatusCode)
	return d, err
}

// sendAsync delivers a webhook after the API call that caused it has answered, as Didit
// queues it; WaitWebhooks waits for it.
func (s *Server) sendAsync(env map[string]any) {
	s.hooks.Add(1)
	go func() {
		defer s.hooks.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.sendEnvelope(ctx, env); err != nil {
			s.log.Warn("diditsim: webhook delivery failed", "session_id", env["session_id"], "error", err.Error())
		}
	}()
}

// WaitWebhooks waits until the webhooks queued by API calls (reviews, status updates) have
// been delivered or have failed.
func (s *Server) WaitWebhooks() { s.hooks.Wait() }

// Deliveries returns every webhook the simulator has sent, in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.deliveries)
}

// postReview is POST /_sim/sessions/{id}/review: ConsoleReview over HTTP, for `make demo`.
// Body: {"new_status": "Approved", "comment": "..."}.
func (s *Server) postReview(w http.ResponseWriter, r *http.Request) {
	var in struct {
		NewStatus string `json:"new_status"`
		Comment   string `json:"comment"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(bytes.TrimSpace(body), &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "review: " + err.Error()})
		return
	}
	d, err := s.ConsoleReview(r.Context(), r.PathValue("id"), in.NewStatus, in.Comment)
	switch {
	case errors.Is(err, ErrUnknownSession):
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": err.Error()})
	case errors.Is(err, ErrStatusUnchanged):
		writeJSON(w, http.StatusOK, map[string]any{"detail": err.Error(), "webhook_sent": false})
	case err != nil && d.Body == nil:
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadGateway, map[string]any{"event_id": d.EventID, "receiver_status": d.StatusCode, "error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"event_id": d.EventID, "receiver_status": d.StatusCode, "webhook_sent": true})
	}
}

// reviewsJSON is the decision's reviews[].
func reviewsJSON(trail []Review) []any {
	out := make([]any, 0, len(trail))
	for _, rv := range trail {
		out = append(out, rv.rowJSON())
	}
	return out
}

// cloneMap is a shallow copy.
func cloneMap(m map[string]any) map[string]any { return maps.Clone(m) }
