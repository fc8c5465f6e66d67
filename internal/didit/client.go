package didit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Client calls Didit's verification API (shared/didit-api.md §5). Every call retries what can
// succeed later — 429 after the wait Retry-After asks for, 5xx, timeouts and connection errors
// with bounded, jittered exponential backoff — and gives up early rather than sleep past the
// caller's deadline. Refusals that cannot change (400, 401, 403, 404, other 4xx) are returned at
// once as failure.Invalid; exhausted retries as failure.Transient.
//
// The API key is sent in x-api-key only: it is never part of an error, a log value or the
// client's printed form.
type Client struct {
	http   *http.Client
	base   string
	apiKey string

	// Retry bounds the attempts of one call.
	Retry RetryPolicy
	// Sleep waits d or until ctx ends; tests replace it to record waits without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now reads the clock for HTTP-date Retry-After values and deadline checks.
	Now func() time.Time
	// Jitter spreads a backoff delay so that instances retrying together do not hit Didit in
	// step; the default keeps between half and all of d. Retry-After waits are not jittered.
	Jitter func(d time.Duration) time.Duration
}

// RetryPolicy bounds one call's retries. Its worst case (attempts × per-attempt timeout of the
// http.Client, plus the waits) must fit the caller's budget; a call also stops when the next wait
// would outlast the context's deadline.
type RetryPolicy struct {
	MaxAttempts   int           // total attempts, first included
	BaseDelay     time.Duration // first backoff; doubles each retry
	MaxDelay      time.Duration // cap of one backoff
	MaxRetryAfter time.Duration // cap of a server-requested Retry-After wait
}

// DefaultRetryPolicy fits a step-up invocation: 4 attempts, backoff 250 ms, 500 ms, 1 s (±
// jitter), Retry-After honoured up to 30 s.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 4 * time.Second, MaxRetryAfter: 30 * time.Second}

// maxResponseBytes bounds what is read of any answer; decisions are tens of KB.
const maxResponseBytes = 4 << 20

// NewClient returns a client for the API at baseURL (e.g. https://verification.didit.me).
// hc should carry a per-attempt Timeout; nil means a client with a 10 s timeout.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{
		http:   hc,
		base:   strings.TrimRight(baseURL, "/"),
		apiKey: apiKey,
		Retry:  DefaultRetryPolicy,
		Sleep:  sleepCtx,
		Now:    time.Now,
		Jitter: equalJitter,
	}
}

// String keeps the API key out of %v and %+v.
func (c *Client) String() string { return "didit.Client(" + c.base + ")" }

// GoString keeps the API key out of %#v.
func (c *Client) GoString() string { return c.String() }

// LogValue keeps the API key out of slog.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// CreateSessionRequest is the body of POST /v3/session/ that this project uses.
type CreateSessionRequest struct {
	WorkflowID string         `json:"workflow_id"`
	VendorData string         `json:"vendor_data,omitempty"`
	Callback   string         `json:"callback,omitempty"`
	Metadata   map[string]any `json:"metadata,omitempty"`

	// Existing, when set, recognises in Didit's session listing the session this request
	// creates. A retry that follows a failure after which Didit may have created the session
	// anyway (timeout, 5xx, connection lost mid-request) first lists the sessions of VendorData
	// on WorkflowID and returns the one Existing accepts, instead of creating a second.
	Existing func(SessionSummary) bool `json:"-"`
}

// SessionCreated is Didit's 201 answer to POST /v3/session/.
type SessionCreated struct {
	SessionID     string         `json:"session_id"`
	SessionNumber int64          `json:"session_number"`
	SessionToken  string         `json:"session_token"`
	URL           string         `json:"url"`
	Status        string         `json:"status"`
	WorkflowID    string         `json:"workflow_id"`
	VendorData    string         `json:"vendor_data"`
	Callback      string         `json:"callback"`
	Metadata      map[string]any `json:"metadata"`
	// Recovered is true when the session was found by Existing after an ambiguous failure
	// rather than returned by a successful create.
	Recovered bool `json:"-"`
}

// SessionQuery filters GET /v3/sessions/. Empty fields do not filter.
type SessionQuery struct {
	VendorData string
	WorkflowID string
	Status     string
}

// SessionSummary is one item of GET /v3/sessions/. The listing's item shape is not confirmed
// by Didit's docs (shared/didit-api.md §5.2), so both url and session_url are read, and
// FindSession completes a summary lacking metadata from the session's decision.
type SessionSummary struct {
	SessionID     string         `json:"session_id"`
	SessionNumber int64          `json:"session_number"`
	Status        string         `json:"status"`
	VendorData    string         `json:"vendor_data"`
	WorkflowID    string         `json:"workflow_id"`
	URL           string         `json:"url"`
	SessionURL    string         `json:"session_url"`
	Metadata      map[string]any `json:"metadata"`
}

// Link returns the URL to send the user to, whichever field carried it.
func (s SessionSummary) Link() string {
	if s.URL != "" {
		return s.URL
	}
	return s.SessionURL
}

// APIError is a non-2xx answer from Didit. Detail is Didit's "detail" message, or a short
// excerpt of the body when it has none (field errors such as {"workflow_id":[...]}).
type APIError struct {
	Method     string
	Path       string // without query
	StatusCode int
	Detail     string
	RetryAfter time.Duration // as requested by a 429 or 503, capped
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("didit %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// CreateSession creates a verification session (POST /v3/session/, 201 Created).
func (c *Client) CreateSession(ctx context.Context, req CreateSessionRequest) (SessionCreated, error) {
	if req.WorkflowID == "" {
		return SessionCreated{}, failure.Errorf(failure.Invalid, "didit create session: workflow_id is required")
	}
	body, err := json.Marshal(req)
	if err != nil {
		return SessionCreated{}, failure.Errorf(failure.Invalid, "didit create session: encode: %w", err)
	}
	var out SessionCreated
	// Didit answers 201; any 2xx with a session id is taken, in case it ever answers 200 with
	// an existing unfinished session (reported by third parties, unconfirmed).
	cl := call{method: http.MethodPost, path: "/v3/session/", body: body, out: &out}
	if req.Existing != nil {
		cl.recover = func(ctx context.Context) (bool, error) {
			s, found, err := c.FindSession(ctx, SessionQuery{VendorData: req.VendorData, WorkflowID: req.WorkflowID}, req.Existing)
			if err != nil || !found {
				return false, err
			}
			out = SessionCreated{
				SessionID: s.SessionID, SessionNumber: s.SessionNumber, URL: s.Link(), Status: s.Status,
				WorkflowID: s.WorkflowID, VendorData: s.VendorData, Metadata: s.Metadata, Recovered: true,
			}
			return true, nil
		}
	}
	if err := c.do(ctx, cl); err != nil {
		return SessionCreated{}, err
	}
	if out.SessionID == "" {
		return SessionCreated{}, failure.Errorf(failure.Transient, "didit create session: answer has no session_id")
	}
	return out, nil
}

// GetDecision returns a session's decision as Didit sends it (GET /v3/session/{id}/decision/).
func (c *Client) GetDecision(ctx context.Context, sessionID string) (json.RawMessage, error) {
	if sessionID == "" {
		return nil, failure.Errorf(failure.Invalid, "didit get decision: empty session id")
	}
	var out json.RawMessage
	err := c.do(ctx, call{method: http.MethodGet, path: "/v3/session/" + url.PathEscape(sessionID) + "/decision/", want: http.StatusOK, out: &out})
	return out, err
}

// AddToBlocklist blocklists the face and/or document of a session (POST /v3/blocklist/add/).
// Didit keeps one entry per face or document, so repeating the call is harmless.
func (c *Client) AddToBlocklist(ctx context.Context, sessionID string, face, document bool) error {
	if sessionID == "" {
		return failure.Errorf(failure.Invalid, "didit blocklist: empty session id")
	}
	body, _ := json.Marshal(map[string]any{"session_id": sessionID, "blocklist_face": face, "blocklist_document": document})
	return c.do(ctx, call{method: http.MethodPost, path: "/v3/blocklist/add/", body: body})
}

// maxListPages bounds FindSession's walk through the listing: step-up sessions of one user
// on one workflow are few, and Didit lists newest first.
const maxListPages = 10

// FindSession walks GET /v3/sessions/ (newest first) and returns the first session match
// accepts. An item without metadata is completed from its decision, which carries metadata
// (shared/didit-api.md §2.2), before match sees it.
func (c *Client) FindSession(ctx context.Context, q SessionQuery, match func(SessionSummary) bool) (SessionSummary, bool, error) {
	v := url.Values{}
	for k, s := range map[string]string{"vendor_data": q.VendorData, "workflow_id": q.WorkflowID, "status": q.Status} {
		if s != "" {
			v.Set(k, s)
		}
	}
	v.Set("limit", "50")
	query := v.Encode()
	for page := 0; page < maxListPages; page++ {
		var resp struct {
			Count   int              `json:"count"`
			Next    *string          `json:"next"`
			Results []SessionSummary `json:"results"`
		}
		if err := c.do(ctx, call{method: http.MethodGet, path: "/v3/sessions/", query: query, want: http.StatusOK, out: &resp}); err != nil {
			return SessionSummary{}, false, err
		}
		for _, s := range resp.Results {
			if s.Metadata == nil && s.SessionID != "" {
				raw, err := c.GetDecision(ctx, s.SessionID)
				if err != nil {
					return SessionSummary{}, false, err
				}
				var d struct {
					Metadata   map[string]any `json:"metadata"`
					SessionURL string         `json:"session_url"`
				}
				if json.Unmarshal(raw, &d) == nil {
					s.Metadata = d.Metadata
					if s.SessionURL == "" {
						s.SessionURL = d.SessionURL
					}
				}
			}
			if match(s) {
				return s, true, nil
			}
		}
		if resp.Next == nil || *resp.Next == "" {
			return SessionSummary{}, false, nil
		}
		next, err := url.Parse(*resp.Next)
		if err != nil {
			return SessionSummary{}, false, failure.Errorf(failure.Transient, "didit list sessions: bad next link: %w", err)
		}
		query = next.RawQuery
	}
	return SessionSummary{}, false, nil
}

// call is one logical API call, retried as a whole.
type call struct {
	method, path, query string
	body                []byte
	want                int // expected status; 0 accepts any 2xx
	out                 any // decoded from the answer when non-nil
	// recover runs before a retry that follows an ambiguous failure (the server may have acted
	// on the request); done=true ends the call successfully, an error ends it as Transient.
	recover func(ctx context.Context) (done bool, err error)
}

// do runs c with retries. Errors never contain the API key: the key lives only in a header,
// and transport errors are reported without the *url.Error wrapper (whose text holds the URL
// with its query).
func (c *Client) do(ctx context.Context, cl call) error {
	attempts := max(c.Retry.MaxAttempts, 1)
	var last error
	ambiguous := false
	for attempt := 1; ; attempt++ {
		if attempt > 1 && ambiguous && cl.recover != nil {
			done, err := cl.recover(ctx)
			if err != nil {
				return failure.Errorf(failure.Transient, "didit %s %s: could not tell whether attempt %d succeeded: %w (after: %v)", cl.method, cl.path, attempt-1, err, last)
			}
			if done {
				return nil
			}
		}
		status, hdr, body, err := c.once(ctx, cl)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return failure.Errorf(failure.Transient, "didit %s %s: attempt %d: %w", cl.method, cl.path, attempt, ctx.Err())
			}
			last = fmt.Errorf("didit %s %s: %w", cl.method, cl.path, err)
			ambiguous = !isDialError(err)
			wait = c.backoff(attempt)
		case status == http.StatusTooManyRequests:
			ra := c.retryAfter(hdr.Get("Retry-After"))
			last = &APIError{Method: cl.method, Path: cl.path, StatusCode: status, Detail: detail(body), RetryAfter: ra}
			ambiguous = false // a rate limiter refuses before doing anything
			wait = ra
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
		case status >= 500 || status == http.StatusRequestTimeout:
			ra := c.retryAfter(hdr.Get("Retry-After"))
			last = &APIError{Method: cl.method, Path: cl.path, StatusCode: status, Detail: detail(body), RetryAfter: ra}
			ambiguous = true
			wait = max(ra, c.backoff(attempt))
		case status < 200 || status > 299 || (cl.want != 0 && status != cl.want):
			if status >= 200 && status <= 299 {
				return failure.Errorf(failure.Transient, "didit %s %s: unexpected status %d", cl.method, cl.path, status)
			}
			return failure.New(failure.Invalid, &APIError{Method: cl.method, Path: cl.path, StatusCode: status, Detail: detail(body)})
		default:
			if cl.out == nil || len(bytes.TrimSpace(body)) == 0 {
				return nil
			}
			if err := json.Unmarshal(body, cl.out); err != nil {
				return failure.Errorf(failure.Transient, "didit %s %s: decode answer: %w", cl.method, cl.path, err)
			}
			return nil
		}
		if attempt >= attempts {
			return failure.Errorf(failure.Transient, "didit %s %s: giving up after %d attempts: %w", cl.method, cl.path, attempt, last)
		}
		if dl, ok := ctx.Deadline(); ok && c.Now().Add(wait).After(dl) {
			return failure.Errorf(failure.Transient, "didit %s %s: next retry in %s would pass the deadline: %w", cl.method, cl.path, wait, last)
		}
		if err := c.Sleep(ctx, wait); err != nil {
			return failure.Errorf(failure.Transient, "didit %s %s: %w (after: %w)", cl.method, cl.path, err, last)
		}
	}
}

// once sends one attempt and reads the (bounded) answer.
func (c *Client) once(ctx context.Context, cl call) (int, http.Header, []byte, error) {
	u := c.base + cl.path
	if cl.query != "" {
		u += "?" + cl.query
	}
	var rd io.Reader
	if cl.body != nil {
		rd = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, rd)
	if err != nil {
		return 0, nil, nil, errors.New("build request: invalid base URL or path")
	}
	req.Header.Set("x-api-key", c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "riskwire-didit-risk/1")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer (status %d): %w", resp.StatusCode, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}

// backoff is the jittered exponential delay before attempt+1.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.Retry.BaseDelay
	for i := 1; i < attempt && d < c.Retry.MaxDelay; i++ {
		d *= 2
	}
	if c.Retry.MaxDelay > 0 && d > c.Retry.MaxDelay {
		d = c.Retry.MaxDelay
	}
	if c.Jitter != nil {
		d = c.Jitter(d)
	}
	return d
}

// retryAfter parses Retry-After (delta seconds or an HTTP date) and caps it; 0 when absent
// or unreadable.
func (c *Client) retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		d = time.Duration(min(n, 1<<20)) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(c.Now())
	}
	if d < 0 {
		return 0
	}
	if c.Retry.MaxRetryAfter > 0 && d > c.Retry.MaxRetryAfter {
		d = c.Retry.MaxRetryAfter
	}
	return d
}

// detail extracts Didit's error message: {"detail": "..."} or, failing that, a compact excerpt.
func detail(body []byte) string {
	var d struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal(body, &d) == nil {
		switch v := d.Detail.(type) {
		case string:
			return excerpt(v)
		case nil:
		default:
			b, _ := json.Marshal(v)
			return excerpt(string(b))
		}
	}
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		return excerpt(compact.String())
	}
	return excerpt(strings.TrimSpace(string(body)))
}

func excerpt(s string) string {
	const limit = 200
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// isDialError reports a failure to connect at all: the request never reached Didit, so a retry
// cannot duplicate anything.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// equalJitter keeps half of d and randomises the other half.
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}
