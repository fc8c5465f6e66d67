package diditsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes the next Times requests on Route misbehave, to test a client's retries.
type Fault struct {
	// Route is one of the Route constants; empty matches every API route.
	Route string
	// Status answers with this status instead of serving (429 and 503 get Retry-After);
	// 0 serves normally after Delay.
	Status int
	// RetryAfter is the Retry-After header value (seconds or an HTTP date); default "1".
	RetryAfter string
	// Detail is the {"detail": ...} message; a Didit-like default per status otherwise.
	Detail string
	// Delay holds the answer back; a client that times out first sees no answer at all.
	Delay time.Duration
	// Times is how many requests the fault applies to; 0 means 1.
	Times int
	// AfterProcessing serves the request first (the session is created, the entry added) and
	// only then delays or replaces the answer: Didit did the work but the client never learns.
	AfterProcessing bool
	// RateLimit is the X-RateLimit-Limit a 429 carries; 0 means the route's documented limit
	// (shared/didit-api.md §9.6: 600/min for GETs and creates, 300/min for writes).
	RateLimit int
}

// SandboxQuotaFault is the answer of a sandbox application past its quota of 500 sessions in
// 24 hours (§9.6): 429 on create, "available in 3600 seconds".
func SandboxQuotaFault() Fault {
	return Fault{Route: RouteCreateSession, Status: http.StatusTooManyRequests, RetryAfter: strconv.Itoa(sandboxQuotaRetryAfter),
		Detail: sandboxQuotaDetail, RateLimit: sandboxQuotaLimit}
}

const (
	sandboxQuotaLimit      = 500
	sandboxQuotaRetryAfter = 3600
	sandboxQuotaDetail     = "Request was throttled. Expected available in 3600 seconds."
)

// routeLimit is a route's documented per-key limit per minute.
func routeLimit(route string) int {
	if strings.HasPrefix(route, "GET ") || route == RouteCreateSession || route == "" {
		return 600
	}
	return 300
}

// writeThrottled answers 429 as Didit does: Retry-After and the X-RateLimit-* headers. The
// docs name the headers but not the unit of -Reset; the simulator sends seconds until the
// window resets, equal to Retry-After.
func writeThrottled(w http.ResponseWriter, limit, retryAfter int, detail string) {
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(retryAfter))
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.Itoa(retryAfter))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": detail})
}

// quotaExceededLocked reports whether Options.SandboxQuota sessions were created in the 24
// hours before now.
func (s *Server) quotaExceededLocked() (string, bool) {
	if s.opts.SandboxQuota <= 0 {
		return "", false
	}
	since, n := s.now().Add(-24*time.Hour), 0
	for _, id := range s.order {
		if s.sessions[id].CreatedAt.After(since) {
			n++
		}
	}
	return sandboxQuotaDetail, n >= s.opts.SandboxQuota
}

// InjectFault queues a fault; faults apply in the order injected.
func (s *Server) InjectFault(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// PendingFaults is the number of fault applications still queued.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.Times
	}
	return n
}

// takeFaultLocked consumes one application of the first fault matching route.
func (s *Server) takeFaultLocked(route string) *Fault {
	for i, f := range s.faults {
		if f.Route != "" && f.Route != route {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		cp := *f
		return &cp
	}
	return nil
}

// faultJSON is Fault on the wire: POST /_sim/faults takes one object or an array, e.g.
// {"route":"POST /v3/session/","status":429,"retry_after":"2","times":3} or
// {"status":0,"delay":"3s"}.
type faultJSON struct {
	RateLimit       int    `json:"rate_limit"`
	Route           string `json:"route"`
	Status          int    `json:"status"`
	RetryAfter      string `json:"retry_after"`
	Detail          string `json:"detail"`
	Delay           string `json:"delay"`
	Times           int    `json:"times"`
	AfterProcessing bool   `json:"after_processing"`
}

func (fj faultJSON) fault() (Fault, error) {
	f := Fault{Route: fj.Route, Status: fj.Status, RetryAfter: fj.RetryAfter, Detail: fj.Detail, Times: fj.Times, AfterProcessing: fj.AfterProcessing, RateLimit: fj.RateLimit}
	if fj.Delay != "" {
		d, err := time.ParseDuration(fj.Delay)
		if err != nil {
			return f, fmt.Errorf("delay: %w", err)
		}
		f.Delay = d
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		return f, fmt.Errorf("status %d is not an HTTP status", f.Status)
	}
	if f.Status == 0 && f.Delay == 0 {
		return f, fmt.Errorf("a fault needs a status or a delay")
	}
	return f, nil
}

func (s *Server) postFaults(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	var list []faultJSON
	if trimmed := strings.TrimSpace(string(body)); strings.HasPrefix(trimmed, "[") {
		err = json.Unmarshal(body, &list)
	} else {
		var one faultJSON
		err = json.Unmarshal(body, &one)
		list = []faultJSON{one}
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "fault: " + err.Error()})
		return
	}
	faults := make([]Fault, 0, len(list))
	for _, fj := range list {
		f, err := fj.fault()
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "fault: " + err.Error()})
			return
		}
		faults = append(faults, f)
	}
	for _, f := range faults {
		s.InjectFault(f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending_faults": s.PendingFaults()})
}
