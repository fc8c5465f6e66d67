package didit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Client calls Didit's verification API (shared/didit-api.md §5, §9). Every call retries what can
// succeed later — 429 after the wait Retry-After asks for, 5xx, timeouts and connection errors
// with bounded, jittered exponential backoff — and gives up early rather than sleep past the
// caller's deadline or past RetryPolicy.MaxRetryAfter: such an error carries the wait Didit asked
// for (see RetryAfter), so the caller can hand the work back for later. Refusals that cannot
// change (400, 401, 403, 404, other 4xx, and any redirect) are returned at once as
// failure.Invalid; exhausted retries as failure.Transient.
//
// The API key is sent in x-api-key only: it is never part of an error, a log value or the
// client's printed form, and never follows a redirect (Go's http.Client forwards custom headers
// such as x-api-key to another origin on a redirect; this client refuses every redirect).
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
// jitter), a Retry-After of up to 30 s waited for in the call; a longer one ends the call at
// once with the wait in the error.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 4 * time.Second, MaxRetryAfter: 30 * time.Second}
}

// maxResponseBytes bounds what is read of any answer; decisions are tens of KB.
const maxResponseBytes = 4 << 20

// NewClient returns a client for the API at baseURL (e.g. https://verification.didit.me).
// hc should carry a per-attempt Timeout; nil means a client with a 10 s timeout. The client uses
// a copy of hc that refuses redirects; hc itself is not modified.
func NewClient(baseURL, apiKey string, hc *http.Client) *Client {
	cp := http.Client{Timeout: 10 * time.Second}
	if hc != nil {
		cp = *hc
	}
	// Didit's API documents no redirect; following one would send x-api-key wherever the
	// Location points. The 3xx answer itself is returned and refused in do.
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{
		http:   &cp,
		base:   strings.TrimRight(baseURL, "/"),
		apiKey: apiKey,
		Retry:  DefaultRetryPolicy(),
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
}

// SessionQuery filters GET /v3/sessions/ (shared/didit-api.md §9.5). Empty fields do not
// filter; Limit 0 means 20, and more than MaxListLimit is lowered to it.
type SessionQuery struct {
	VendorData string
	WorkflowID string
	Status     string
	Limit      int
}

// MaxListLimit bounds one listing page: ListSessions reads one page, never walks the listing.
const MaxListLimit = 50

// SessionSummary is one row of GET /v3/sessions/, in the documented shape (§9.5): a row has no
// metadata, workflow_id or url — the hosted-flow link is session_url. Rows also carry personal
// data (full_name, portrait_image, document, phone, email), which is deliberately not decoded.
type SessionSummary struct {
	SessionID     string    `json:"session_id"`
	SessionNumber int64     `json:"session_number"`
	SessionURL    string    `json:"session_url"`
	Status        string    `json:"status"`
	VendorData    string    `json:"vendor_data"`
	CreatedAt     time.Time `json:"created_at"`
}

// APIError is a non-2xx answer from Didit. Detail is Didit's "detail" message, or a short
// excerpt of the body when it has none (field errors such as {"workflow_id":[...]}).
type APIError struct {
	Method     string
	Path       string // without query
	StatusCode int
	Detail     string
	// RetryAfter is the wait a 429 or 503 asked for (Retry-After, else X-RateLimit-Reset, else
	// Didit's "available in N seconds" text), uncapped; 0 when it asked for none.
	RetryAfter time.Duration
	// RateLimit is what the X-RateLimit-* headers of the answer said; zero when absent.
	RateLimit RateLimit
}

// RateLimit is the X-RateLimit-Limit, -Remaining and -Reset headers of an answer (§9.6).
// Didit does not document the unit of Reset; see resetWait.
type RateLimit struct {
	Limit, Remaining int
	Reset            string
}

// RetryAfter reports the wait Didit asked for before the call in err can succeed: set when a
// 429 or 503 asked for a wait longer than the client waits within one call (or than the
// caller's deadline allows). The caller should hand the work back to be retried after it.
func RetryAfter(err error) (time.Duration, bool) {
	var ae *APIError
	if errors.As(err, &ae) && (ae.StatusCode == http.StatusTooManyRequests || ae.StatusCode == http.StatusServiceUnavailable) && ae.RetryAfter > 0 {
		return ae.RetryAfter, true
	}
	return 0, false
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
	// Didit answers 201, also when it returns an existing session (below); any 2xx with a
	// session id is taken.
	//
	// A retry after an ambiguous failure (timeout, 5xx, connection lost mid-request: Didit may
	// have created the session) simply repeats the create. That is safe because of Didit's
	// session reuse (§9.4): with vendor_data set, an unfinished session (Not Started, In
	// Progress, Resubmitted, Awaiting User) for that vendor_data on the workflow's latest version
	// is returned instead of a new one, with callback and metadata overwritten by the identical
	// ones of the repeat. A session created a moment ago is Not Started: its user has not been
	// sent to it yet. What Didit's docs leave unsaid, and is therefore not relied on beyond
	// this: reuse holds only on the workflow's latest version (a workflow republished between
	// the two attempts gets a second session), and a request without vendor_data is never
	// reused.
	cl := call{method: http.MethodPost, path: "/v3/session/", body: body, out: &out}
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

// ListSessions reads one page of GET /v3/sessions/ (newest first), filtered by q: at most
// MaxListLimit rows, one request (plus the retries of a failed one), never a decision per row.
func (c *Client) ListSessions(ctx context.Context, q SessionQuery) ([]SessionSummary, error) {
	v := url.Values{}
	for k, s := range map[string]string{"vendor_data": q.VendorData, "workflow_id": q.WorkflowID, "status": q.Status} {
		if s != "" {
			v.Set(k, s)
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 20
	}
	v.Set("limit", strconv.Itoa(min(limit, MaxListLimit)))
	var resp struct {
		Results []SessionSummary `json:"results"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: "/v3/sessions/", query: v.Encode(), want: http.StatusOK, out: &resp}); err != nil {
		return nil, err
	}
	return resp.Results, nil
}

// call is one logical API call, retried as a whole.
type call struct {
	method, path, query string
	body                []byte
	contentType         string // of body; empty: application/json
	want                int    // expected status; 0 accepts any 2xx
	out                 any    // decoded from the answer when non-nil
}

// do runs c with retries. Errors never contain the API key: the key lives only in a header,
// and transport errors are reported without the *url.Error wrapper (whose text holds the URL
// with its query).
func (c *Client) do(ctx context.Context, cl call) error {
	attempts := max(c.Retry.MaxAttempts, 1)
	var last error
	for attempt := 1; ; attempt++ {
		status, hdr, body, err := c.once(ctx, cl)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return failure.Errorf(failure.Transient, "didit %s %s: attempt %d: %w", cl.method, cl.path, attempt, ctx.Err())
			}
			last = fmt.Errorf("didit %s %s: %w", cl.method, cl.path, err)
			wait = c.backoff(attempt)
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
			ae := &APIError{Method: cl.method, Path: cl.path, StatusCode: status, Detail: detail(body), RateLimit: rateLimit(hdr)}
			ae.RetryAfter = c.requestedWait(hdr, ae.Detail)
			last = ae
			wait = ae.RetryAfter
			if c.Retry.MaxRetryAfter > 0 && wait > c.Retry.MaxRetryAfter {
				// A long wait (the sandbox quota asks for an hour) is not spent here: retrying
				// sooner only burns the limit, and sleeping holds the invocation. The caller
				// gets the wait and hands the work back.
				return failure.Errorf(failure.Transient, "didit %s %s: asked to wait %s: %w", cl.method, cl.path, wait, ae)
			}
			if wait <= 0 {
				wait = c.backoff(attempt)
			}
			if status == http.StatusServiceUnavailable {
				wait = max(wait, c.backoff(attempt))
			}
		case status >= 500 || status == http.StatusRequestTimeout:
			last = &APIError{Method: cl.method, Path: cl.path, StatusCode: status, Detail: detail(body)}
			wait = c.backoff(attempt)
		case status >= 300 && status <= 399:
			return failure.Errorf(failure.Invalid, "didit %s %s: answered %d with a redirect, refused so that the API key is not sent elsewhere (check DIDIT_API_URL)", cl.method, cl.path, status)
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
			// The error keeps the requested wait (RetryAfter) so the caller can defer.
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
		req.Header.Set("Content-Type", cmp.Or(cl.contentType, "application/json"))
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

// requestedWait is the wait a 429 or 503 asks for: Retry-After (delta seconds or an HTTP
// date), else X-RateLimit-Reset, else the "available in N seconds" of Didit's quota message;
// 0 when none says. Not capped: do decides what to do with a long one.
func (c *Client) requestedWait(h http.Header, detail string) time.Duration {
	if d, ok := c.parseRetryAfter(h.Get("Retry-After")); ok {
		return d
	}
	if d, ok := c.resetWait(h.Get("X-RateLimit-Reset")); ok {
		return d
	}
	if m := availableIn.FindStringSubmatch(detail); m != nil {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			return time.Duration(min(n, maxWaitSeconds)) * time.Second
		}
	}
	return 0
}

// maxWaitSeconds bounds any requested wait (a day): a larger value is nonsense, not a plan.
const maxWaitSeconds = 24 * 3600

// availableIn finds the wait in the sandbox quota's answer ("... available in 3600 seconds").
var availableIn = regexp.MustCompile(`available in (\d+) seconds?`)

func (c *Client) parseRetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(max(0, min(n, maxWaitSeconds))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(0, t.Sub(c.Now())), maxWaitSeconds*time.Second), true
	}
	return 0, false
}

// resetWait reads X-RateLimit-Reset. Didit does not document its unit; both common ones are
// read: a Unix time (a value past 10^9) or seconds until the window resets.
func (c *Client) resetWait(v string) (time.Duration, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	if n > 1_000_000_000 {
		return min(max(0, time.Unix(n, 0).Sub(c.Now())), maxWaitSeconds*time.Second), true
	}
	return time.Duration(min(n, maxWaitSeconds)) * time.Second, true
}

func rateLimit(h http.Header) RateLimit {
	l, _ := strconv.Atoi(h.Get("X-RateLimit-Limit"))
	r, _ := strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	return RateLimit{Limit: l, Remaining: r, Reset: excerpt(h.Get("X-RateLimit-Reset"))}
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
