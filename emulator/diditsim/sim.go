// Package diditsim is a Didit simulator: a real HTTP server answering as Didit documents
// (shared/didit-api.md) the parts of its verification API this project uses — create session
// (with the reuse rule), read decision, list sessions, blocklist, reviews, update-status, Face
// Search — with Didit's errors (403, 400 keyed by field, 429 with rate-limit headers), fault
// injection for tests, and a webhook sender that POSTs Didit-shaped, Didit-signed
// status.updated webhooks when a session completes or a reviewer decides. It serves `make run`
// (in process) and tests (behind httptest), so both exercise the real HTTP client and receiver.
package diditsim

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/riskwire/didit-risk/internal/profile"
)

// Routes, as counted by Requests and matched by Fault.Route.
const (
	RouteCreateSession = "POST /v3/session/"
	RouteDecision      = "GET /v3/session/{id}/decision/"
	RouteListSessions  = "GET /v3/sessions/"
	RouteBlocklist     = "POST /v3/blocklist/add/"
	RouteFaceSearch    = "POST /v3/face-search/"
)

// Didit's answer to a missing or wrong x-api-key (shared/didit-api.md §5.3).
const forbiddenDetail = "You do not have permission to perform this action."

// Options configures a simulator. The zero value works: any API key is accepted, nothing is
// signed with a real secret and Complete needs a WebhookURL (or SetWebhookURL) to deliver.
type Options struct {
	// APIKey is the x-api-key every /v3 call must carry; empty accepts any non-empty key.
	APIKey string
	// Secret signs webhooks (Didit's destination secret_shared_key).
	Secret string
	// WebhookURL receives the webhooks Complete and SendWebhook send.
	WebhookURL string
	// BaseURL is the simulator's public base, used in session URLs; empty means the Host of
	// the request (right behind httptest) or, after Start, the listening address.
	BaseURL string
	// ApplicationID appears in webhooks as application_id.
	ApplicationID string
	// AutoComplete, when set, completes every created session by itself after a delay: the
	// `make run` demo, where nobody walks through a hosted verification flow. Off by default.
	AutoComplete *AutoComplete
	// SandboxQuota, when positive, makes creates past that many sessions in 24 hours answer
	// 429 "available in 3600 seconds", as a sandbox application past its quota (500) does.
	SandboxQuota int
	// RateLimits enforces Didit's documented per-key limits (GETs 600/min, creates 600/min,
	// writes 300/min shared) in fixed one-minute windows of Now: every API answer carries
	// X-RateLimit-*, and a request over the limit gets 429 with Retry-After. Off by default.
	RateLimits bool
	// InReviewNoteOnly makes POST /v3/sessions/{id}/reviews/ with "In Review" only record the
	// review, without a status change or webhook, as some translated pages of Didit's docs
	// say; by default it changes the status and sends status.updated, as the English page says.
	InReviewNoteOnly bool
	// ReviewActivityShape answers the reviews endpoints in the API reference's shape (uuid,
	// activity_type, actor_*, previous_status, metadata, ...) instead of the docs page's
	// {user, new_status, comment, created_at}; the two renderings disagree (§9.1).
	ReviewActivityShape bool
	// ReviewerEmail is the console reviewer ConsoleReview acts as; empty means
	// DefaultReviewerEmail.
	ReviewerEmail string
	// NoSessionReuse turns off Didit's reuse rule (§9.4), so that every POST /v3/session/
	// creates a new session. Only for a test that needs two open sessions of one user.
	NoSessionReuse bool
	// HTTPClient sends webhooks; nil means a client with Didit's 5 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives one line per webhook sent and per auto-completion error; nil discards.
	Log *slog.Logger
}

// AutoComplete completes sessions without anyone acting on them.
type AutoComplete struct {
	Delay   time.Duration
	Outcome Outcome
}

// Session is what the simulator remembers of a session it created. Values returned by the
// simulator are copies; Metadata is shared and must not be modified.
type Session struct {
	ID         string
	Number     int64
	Token      string
	URL        string
	Status     string
	WorkflowID string
	VendorData string
	Callback   string
	Metadata   map[string]any
	CreatedAt  time.Time
	// Decision is the latest decision object, as GET /v3/session/{id}/decision/ returns it.
	Decision map[string]any
	// WorkflowVersion is the workflow's version the session was created on; 0 means the
	// workflow's latest version when the session is stored.
	WorkflowVersion int
	// Language is the `language` sent on create; it adds a /{language}/ segment to URL.
	Language string
	// Features are the feature results of the last completion (list rows show them).
	Features []FeatureResult
	// Reviews is the session's review trail (API reviews, status updates, console reviews);
	// the decision lists it as reviews[].
	Reviews []Review
	// FaceImage is the image the session's face media serve and Face Search matches on;
	// empty means one of the session's own (FaceImage(ID)).
	FaceImage []byte

	base                string // the public base the session's URLs were made with
	resubmitNodes       []map[string]any
	lastBackendResubmit time.Time
	faceHash            [32]byte
	faceHashed          bool
}

// BlocklistEntry records one POST /v3/blocklist/add/.
type BlocklistEntry struct {
	SessionID string `json:"session_id"`
	Face      bool   `json:"blocklist_face"`
	Document  bool   `json:"blocklist_document"`
	Phone     bool   `json:"blocklist_phone"`
	Email     bool   `json:"blocklist_email"`
}

// Server is the simulator. It is an http.Handler; use it behind httptest.NewServer or Start.
type Server struct {
	opts Options
	mux  *http.ServeMux
	now  func() time.Time
	log  *slog.Logger
	hc   *http.Client

	mu         sync.Mutex
	sessions   map[string]*Session
	order      []string // creation order
	nextNumber int64
	reused     int
	versions   map[string]int // workflow_id → latest version; absent means 1

	faces        []faceEntry
	faceImages   map[[32]byte][]byte
	faceSearches []FaceSearchCall
	requests     map[string]int
	faults       []*Fault
	blocklist    []BlocklistEntry
	webhookURL   string
	baseURL      string
	seenBase     string // the base of the latest API request, for sessions stored outside one

	deliveries []Delivery
	windows    map[string]rateWindow // Options.RateLimits, per limit class

	srv       *http.Server
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // auto-completions
	hooks     sync.WaitGroup // webhooks queued by API calls
}

// New returns a simulator.
func New(opts Options) *Server {
	s := &Server{
		opts:       opts,
		now:        opts.Now,
		log:        opts.Log,
		hc:         opts.HTTPClient,
		sessions:   map[string]*Session{},
		versions:   map[string]int{},
		faceImages: map[[32]byte][]byte{},
		nextNumber: 1001,
		requests:   map[string]int{},
		webhookURL: opts.WebhookURL,
		baseURL:    strings.TrimRight(opts.BaseURL, "/"),
		done:       make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.hc == nil {
		s.hc = &http.Client{Timeout: 5 * time.Second}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v3/session/{$}", s.api(RouteCreateSession, s.createSession))
	mux.Handle("GET /v3/session/{id}/decision/{$}", s.api(RouteDecision, s.getDecision))
	mux.Handle("GET /v3/sessions/{$}", s.api(RouteListSessions, s.listSessions))
	mux.Handle("POST /v3/blocklist/add/{$}", s.api(RouteBlocklist, s.addBlocklist))
	mux.Handle("POST /v3/face-search/{$}", s.api(RouteFaceSearch, s.faceSearch))
	mux.Handle("POST /v3/sessions/{id}/reviews/{$}", s.api(RouteCreateReview, s.createReview))
	mux.Handle("GET /v3/sessions/{id}/reviews/{$}", s.api(RouteListReviews, s.listReviews))
	mux.Handle("PATCH /v3/session/{id}/update-status/{$}", s.api(RouteUpdateStatus, s.updateStatus))
	mux.HandleFunc("/v3/", func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			writeJSON(w, http.StatusForbidden, map[string]any{"detail": forbiddenDetail})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
	})
	mux.HandleFunc("GET /session/{token}", s.sessionPage)
	for l := range languages {
		mux.HandleFunc("GET /"+l+"/session/{token}", s.sessionPage)
	}
	mux.HandleFunc("GET /media/{id}/{file}", s.getMedia)
	mux.HandleFunc("POST /_sim/faults", s.postFaults)
	mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_sim/stats", s.getStats)
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_sim/sessions/{id}/complete", s.postComplete)
	mux.HandleFunc("POST /_sim/sessions/{id}/review", s.postReview)
	mux.HandleFunc("POST /_sim/sessions/{id}/face", s.postSessionFace)
	mux.HandleFunc("POST /_sim/faces", s.postFaces)
	mux.HandleFunc("POST /_sim/webhook", s.postWebhook)
	s.mux = mux
	return s
}

// ServeHTTP serves the API, the hosted-flow stand-in and the /_sim control endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Start serves on addr (e.g. "127.0.0.1:0") until Close and returns the base URL.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("diditsim: listen %s: %w", addr, err)
	}
	base := "http://" + ln.Addr().String()
	s.mu.Lock()
	if s.baseURL == "" {
		s.baseURL = base
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	srv := s.srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return base, nil
}

// Close stops pending auto-completions and, after Start, the server.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.wg.Wait()
	s.hooks.Wait()
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		return srv.Close()
	}
	return nil
}

// SetWebhookURL points webhooks at a receiver started after the simulator.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL = u
}

// CreatedSessions is the number of sessions created so far.
func (s *Server) CreatedSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// Requests is the number of requests seen on route (one of the Route constants), faulted
// ones included.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[route]
}

// Sessions returns the created sessions in creation order.
func (s *Server) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.sessions[id])
	}
	return out
}

// Session returns one session.
func (s *Server) Session(id string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[id]
	if !ok {
		return Session{}, false
	}
	return *ss, true
}

// AddSession registers a session the simulator did not create through its API — say, the
// assessed session of a fixture webhook — so that decision reads and blocklisting find it.
// Empty fields are filled in as POST /v3/session/ would.
func (s *Server) AddSession(ss Session) Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.storeLocked(ss, s.fallbackBaseLocked())
}

// SetStatus moves a session to status without a webhook, as a user opening the hosted flow
// ("In Progress") or the passing of time ("Expired", "Kyc Expired") would.
func (s *Server) SetStatus(sessionID, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[sessionID]
	if ok {
		ss.Status = status
	}
	return ok
}

// RegisterWebhookSession makes the simulator know the session a webhook body is about, as
// Didit knows every session it sends webhooks for: its id, vendor_data, workflow, status,
// metadata and decision. The decision's image links become the simulator's own media links,
// as Didit's API hands out fresh presigned links of its own storage: a client that reads the
// decision (the step-up function's Face Search) then downloads the session's face from the
// simulator. A session already known, or a body that is not a session event, is left alone.
// It reports whether a session was registered.
func (s *Server) RegisterWebhookSession(body []byte) bool {
	var env struct {
		SessionID  string         `json:"session_id"`
		Status     string         `json:"status"`
		VendorData string         `json:"vendor_data"`
		WorkflowID string         `json:"workflow_id"`
		Metadata   map[string]any `json:"metadata"`
		Decision   map[string]any `json:"decision"`
		CreatedAt  json.Number    `json:"created_at"`
	}
	if unmarshalNumbers(body, &env) != nil || env.SessionID == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[env.SessionID]; ok {
		return false
	}
	ss := Session{ID: env.SessionID, Status: env.Status, VendorData: env.VendorData, WorkflowID: env.WorkflowID,
		Metadata: env.Metadata, Decision: env.Decision}
	if n, ok := env.Decision["session_number"].(json.Number); ok {
		ss.Number, _ = n.Int64()
	}
	if sec, err := env.CreatedAt.Int64(); err == nil && sec > 0 {
		ss.CreatedAt = time.Unix(sec, 0)
	}
	for _, f := range []struct{ key, feature string }{{"id_verifications", FeatureID}, {"liveness_checks", FeatureLiveness},
		{"face_matches", FeatureFaceMatch}, {"nfc_verifications", FeatureNFC}} {
		if items, ok := env.Decision[f.key].([]any); ok && len(items) > 0 {
			item, _ := items[0].(map[string]any)
			st, _ := item["status"].(string)
			ss.Features = append(ss.Features, FeatureResult{Feature: f.feature, Status: st})
		}
	}
	stored := s.storeLocked(ss, s.fallbackBaseLocked())
	if stored.Decision != nil {
		stored.Decision = maps.Clone(stored.Decision)
		s.ownMediaLocked(stored)
	}
	return true
}

// mediaLinks are the image and file links of a decision's feature lists, by list and key, with
// the simulator media name each one becomes (see featureItems).
var mediaLinks = map[string]map[string]string{
	"id_verifications":  {"portrait_image": "id_portrait", "front_image": "id_front", "back_image": "id_back", "full_front_image": "id_full_front", "full_back_image": "id_full_back"},
	"nfc_verifications": {"portrait_image": "nfc_portrait", "signature_image": "nfc_signature"},
	"liveness_checks":   {"reference_image": "liveness_reference"},
	"face_matches":      {"source_image": "face_source", "target_image": "face_target"},
	"poa_verifications": {"document_file": "poa_document"},
}

// ownMediaLocked points a stored decision's image links at the simulator's media; the items
// it changes are copies, so the webhook body the decision came from is not touched.
func (s *Server) ownMediaLocked(ss *Session) {
	for list, keys := range mediaLinks {
		items, ok := ss.Decision[list].([]any)
		if !ok {
			continue
		}
		out := make([]any, len(items))
		for i, it := range items {
			item, ok := it.(map[string]any)
			if !ok {
				out[i] = it
				continue
			}
			item = maps.Clone(item)
			for key, name := range keys {
				if v, ok := item[key].(string); ok && v != "" {
					item[key] = s.mediaURLLocked(ss, name)
				}
			}
			out[i] = item
		}
		ss.Decision[list] = out
	}
}

// Blocklist returns the blocklist additions seen, in order.
func (s *Server) Blocklist() []BlocklistEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.blocklist)
}

// Reset forgets sessions, counters, faults and the blocklist.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*Session{}
	s.order = nil
	s.requests = map[string]int{}
	s.faults = nil
	s.blocklist = nil
	s.reused = 0
	s.deliveries = nil
	s.faces = nil
	s.faceImages = map[[32]byte][]byte{}
	s.faceSearches = nil
	s.windows = nil
}

// api wraps an API handler: count, inject faults, authenticate, then serve. A fault marked
// AfterProcessing lets the handler act first and replaces only its answer, as when Didit did
// the work but the answer was lost.
func (s *Server) api(route string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body now: once it is consumed the server notices a client that hangs up,
		// which ends a delayed answer early.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.mu.Lock()
		s.requests[route]++
		s.seenBase = s.baseFor(r)
		f := s.takeFaultLocked(route)
		s.mu.Unlock()

		serve := func(w http.ResponseWriter) {
			if !s.authorized(r) {
				writeJSON(w, http.StatusForbidden, map[string]any{"detail": forbiddenDetail})
				return
			}
			s.mu.Lock()
			reset, over := s.rateLimitLocked(route, w.Header())
			s.mu.Unlock()
			if over {
				w.Header().Set("Retry-After", strconv.Itoa(reset))
				writeJSON(w, http.StatusTooManyRequests, map[string]any{"detail": "Request was throttled. Expected available in " + strconv.Itoa(reset) + " seconds."})
				return
			}
			h(w, r)
		}
		if f == nil {
			serve(w)
			return
		}
		var done *httptest.ResponseRecorder
		if f.AfterProcessing {
			done = httptest.NewRecorder()
			serve(done)
		}
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return // the client gave up; unless AfterProcessing, nothing happened
			}
		}
		switch {
		case f.Status == 0 && done != nil:
			copyRecorded(w, done) // slow, but the answer the work produced
		case f.Status == 0:
			serve(w)
		case f.Status == http.StatusTooManyRequests:
			ra := cmp.Or(f.RetryAfter, "1")
			reset := ra
			if when, err := http.ParseTime(ra); err == nil { // Retry-After as an HTTP date
				reset = strconv.Itoa(max(int(time.Until(when).Seconds()), 0))
			}
			w.Header().Set("X-RateLimit-Limit", strconv.Itoa(cmp.Or(f.RateLimit, routeLimit(route))))
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", reset)
			w.Header().Set("Retry-After", ra)
			writeJSON(w, f.Status, map[string]any{"detail": cmp.Or(f.Detail, faultDetail(f.Status))})
		default:
			if f.Status == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", cmp.Or(f.RetryAfter, "1"))
			}
			writeJSON(w, f.Status, map[string]any{"detail": cmp.Or(f.Detail, faultDetail(f.Status))})
		}
	})
}

func copyRecorded(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func faultDetail(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Request was throttled."
	case http.StatusForbidden:
		return forbiddenDetail
	case http.StatusNotFound:
		return "Not found."
	}
	return http.StatusText(status)
}

func (s *Server) authorized(r *http.Request) bool {
	key := r.Header.Get("x-api-key")
	if s.opts.APIKey == "" {
		return key != ""
	}
	return key == s.opts.APIKey
}

// createRequest is POST /v3/session/'s body, as far as the simulator uses it; numbers in
// metadata stay as written.
type createRequest struct {
	WorkflowID  string
	VendorData  string
	Callback    string
	HasCallback bool
	Metadata    map[string]any
	HasMetadata bool
	Language    string
}

// languages is the `language` enum of POST /v3/session/ (docs.didit.me/sessions-api/create-session).
var languages = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Fields("en ar bg bn ca cnr cs da de el es et fa fi fr he hi hr hu hy id it ja ka ko lt lv mk ms nl no pl pt-BR pt ro ru sk sl so sr sv th tr uk uz vi zh-CN zh-TW zh") {
		m[l] = true
	}
	return m
}()

// fieldErrors is a 400 body keyed by field, each with a list of messages, as Didit (Django
// REST framework) answers invalid input (shared/didit-api.md §9.6).
type fieldErrors map[string]any

func (fe fieldErrors) add(field, msg string) { fe[field] = []string{msg} }

// parseCreate validates POST /v3/session/'s body field by field.
func parseCreate(body []byte) (createRequest, fieldErrors) {
	var raw map[string]json.RawMessage
	if err := unmarshalNumbers(body, &raw); err != nil {
		return createRequest{}, fieldErrors{"detail": "JSON parse error - " + err.Error()}
	}
	var req createRequest
	fe := fieldErrors{}
	str := func(field string, required bool) (string, bool) {
		v, ok := raw[field]
		if !ok || string(v) == "null" {
			if required {
				fe.add(field, "This field is required.")
			}
			return "", ok
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			fe.add(field, "Not a valid string.")
			return "", true
		}
		if required && strings.TrimSpace(s) == "" {
			fe.add(field, "This field is required.")
		}
		return s, true
	}
	req.WorkflowID, _ = str("workflow_id", true)
	req.VendorData, _ = str("vendor_data", false)
	req.Callback, req.HasCallback = str("callback", false)
	if req.Callback != "" {
		if u, err := url.Parse(req.Callback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fe.add("callback", "Enter a valid URL.")
		}
	}
	if m, ok := str("callback_method", false); ok && m != "" && m != "initiator" && m != "completer" && m != "both" {
		fe.add("callback_method", strconv.Quote(m)+" is not a valid choice.")
	}
	if l, _ := str("language", false); l != "" {
		if !languages[l] {
			fe.add("language", strconv.Quote(l)+" is not a valid choice.")
		}
		req.Language = l
	}
	if v, ok := raw["metadata"]; ok {
		req.HasMetadata = true
		// The reference renders metadata as a string in its request example and as an object
		// everywhere else: accept an object, or a string holding one.
		var s string
		if json.Unmarshal(v, &s) == nil {
			v = json.RawMessage(s)
		}
		if string(v) != "null" {
			if err := unmarshalNumbers(v, &req.Metadata); err != nil {
				fe.add("metadata", "Value must be valid JSON.")
			}
		}
	}
	for _, obj := range []string{"contact_details", "expected_details"} {
		if v, ok := raw[obj]; ok && string(v) != "null" {
			var m map[string]any
			if json.Unmarshal(v, &m) != nil {
				fe.add(obj, "Invalid data. Expected a dictionary.")
			}
		}
	}
	if p, _ := str("portrait_image", false); p != "" {
		if b, err := base64.StdEncoding.DecodeString(p); err != nil {
			fe.add("portrait_image", "Invalid base64 image.")
		} else if len(b) > 1<<20 {
			fe.add("portrait_image", "The image must not exceed 1MB.")
		}
	}
	if len(fe) > 0 {
		return req, fe
	}
	return req, nil
}

// unfinished are the statuses in which Didit hands an existing session back on create
// (shared/didit-api.md §9.4).
var unfinished = map[string]bool{"Not Started": true, "In Progress": true, "Resubmitted": true, "Awaiting User": true}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "Could not read the request body."})
		return
	}
	req, fe := parseCreate(body)
	if fe != nil {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	s.mu.Lock()
	base := s.baseFor(r)
	ss, reused := s.reusableLocked(req)
	if reused {
		// Didit returns the open session with callback and metadata overwritten by the new
		// request (§9.4). It is silent on fields the new request leaves out: those stay.
		if req.HasCallback {
			ss.Callback = req.Callback
		}
		if req.HasMetadata {
			ss.Metadata = req.Metadata
		}
		if req.Language != "" && req.Language != ss.Language {
			ss.Language = req.Language
			ss.URL = sessionURL(ss.base, ss.Language, ss.Token)
		}
		s.reused++
	} else {
		if msg, limited := s.quotaExceededLocked(); limited {
			s.mu.Unlock()
			writeThrottled(w, sandboxQuotaLimit, sandboxQuotaRetryAfter, msg)
			return
		}
		ss = s.storeLocked(Session{WorkflowID: req.WorkflowID, VendorData: req.VendorData, Callback: req.Callback,
			Metadata: req.Metadata, Language: req.Language}, base)
	}
	created := createdJSON(ss)
	id := ss.ID
	s.mu.Unlock()

	if ac := s.opts.AutoComplete; ac != nil && !reused {
		s.autoComplete(id, *ac)
	}
	writeJSON(w, http.StatusCreated, created)
}

// reusableLocked finds the newest unfinished session of req's vendor_data on the workflow's
// latest version, which Didit returns instead of creating one.
func (s *Server) reusableLocked(req createRequest) (*Session, bool) {
	if s.opts.NoSessionReuse || req.VendorData == "" {
		return nil, false
	}
	latest := s.latestVersionLocked(req.WorkflowID)
	for i := len(s.order) - 1; i >= 0; i-- {
		ss := s.sessions[s.order[i]]
		if ss.VendorData == req.VendorData && ss.WorkflowID == req.WorkflowID && ss.WorkflowVersion == latest && unfinished[ss.Status] {
			return ss, true
		}
	}
	return nil, false
}

func (s *Server) latestVersionLocked(workflowID string) int {
	if v := s.versions[workflowID]; v > 0 {
		return v
	}
	return 1
}

// SetWorkflowVersion publishes a new version of a workflow: sessions created from now on
// carry it, and unfinished sessions on older versions are no longer reused.
func (s *Server) SetWorkflowVersion(workflowID string, version int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[workflowID] = version
}

// ReusedSessions is how many creates were answered with an existing unfinished session.
func (s *Server) ReusedSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reused
}

// baseFor is the public base for URLs made while serving r.
func (s *Server) baseFor(r *http.Request) string {
	if s.baseURL != "" {
		return s.baseURL
	}
	return "http://" + r.Host
}

// fallbackBaseLocked is the base for sessions stored outside an API request (AddSession,
// fixtures, seeds): the configured one, else the one the API was last reached at.
func (s *Server) fallbackBaseLocked() string { return cmp.Or(s.baseURL, s.seenBase) }

// sessionURL is the hosted flow's address. Didit documents a /{language}/ segment when
// `language` is sent but not where it goes; the simulator puts it first, as locale-prefixed
// web apps do.
func sessionURL(base, language, token string) string {
	if base == "" {
		return ""
	}
	if language != "" {
		return base + "/" + language + "/session/" + token
	}
	return base + "/session/" + token
}

// storeLocked fills in a session's generated fields and remembers it.
func (s *Server) storeLocked(ss Session, base string) *Session {
	if ss.ID == "" {
		ss.ID = uuid.NewString()
	}
	if ss.Number == 0 {
		ss.Number = s.nextNumber
		s.nextNumber++
	}
	if ss.Token == "" {
		ss.Token = token()
	}
	if ss.base == "" {
		ss.base = base
	}
	if ss.URL == "" {
		ss.URL = sessionURL(ss.base, ss.Language, ss.Token)
	}
	if st, ok := ss.Decision["status"].(string); ok && ss.Status == "" {
		ss.Status = st
	}
	if ss.Status == "" {
		ss.Status = "Not Started"
	}
	if ss.WorkflowVersion == 0 {
		ss.WorkflowVersion = s.latestVersionLocked(ss.WorkflowID)
	}
	if ss.CreatedAt.IsZero() {
		ss.CreatedAt = s.now()
	}
	p := &ss
	if _, exists := s.sessions[ss.ID]; !exists {
		s.order = append(s.order, ss.ID)
	}
	s.sessions[ss.ID] = p
	return p
}

// createdJSON is POST /v3/session/'s answer: the fields of Didit's documented example plus
// workflow_version (shared/didit-api.md §9.4).
func createdJSON(ss *Session) map[string]any {
	return map[string]any{
		"session_id":       ss.ID,
		"session_number":   ss.Number,
		"session_token":    ss.Token,
		"url":              ss.URL,
		"status":           ss.Status,
		"workflow_id":      ss.WorkflowID,
		"workflow_version": ss.WorkflowVersion,
		"vendor_data":      nullIfEmpty(ss.VendorData),
		"metadata":         ss.Metadata,
		"callback":         nullIfEmpty(ss.Callback),
	}
}

func (s *Server) autoComplete(id string, ac AutoComplete) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(ac.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.done:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := s.Complete(ctx, id, ac.Outcome); err != nil {
			s.log.Warn("diditsim: auto-complete failed", "session_id", id, "error", err.Error())
		}
	}()
}

func (s *Server) getDecision(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ss, ok := s.sessions[r.PathValue("id")]
	var d map[string]any
	if ok {
		d = s.decisionLocked(ss)
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	b, err := Marshal(d)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"detail": err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// commaSet is a comma-separated filter value as a set; nil when the filter is absent.
func commaSet(v string) map[string]bool {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	set := map[string]bool{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			set[p] = true
		}
	}
	return set
}

// listSessions is GET /v3/sessions/: filters vendor_data, status and workflow_id (the last
// two comma-separated), limit/offset, newest first, rows in the documented shape.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 20
	}
	offset = max(offset, 0)
	statuses, workflows := commaSet(q.Get("status")), commaSet(q.Get("workflow_id"))
	s.mu.Lock()
	base := s.baseFor(r)
	var matched []*Session
	for i := len(s.order) - 1; i >= 0; i-- { // newest first
		ss := s.sessions[s.order[i]]
		if v := q.Get("vendor_data"); v != "" && ss.VendorData != v {
			continue
		}
		if workflows != nil && !workflows[ss.WorkflowID] {
			continue
		}
		if statuses != nil && !statuses[ss.Status] {
			continue
		}
		matched = append(matched, ss)
	}
	results := []any{}
	for i := offset; i < len(matched) && i < offset+limit; i++ {
		results = append(results, s.listRowLocked(matched[i]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, pageJSON(r, base, len(matched), offset, limit, results))
}

// listRowLocked is one KYC row of GET /v3/sessions/ (shared/didit-api.md §9.5): no metadata,
// workflow_id or url. The personal-data keys carry the simulator's placeholder identity once
// the feature that yields them has run, null before.
func (s *Server) listRowLocked(ss *Session) map[string]any {
	features := []any{}
	results := ss.Features
	if len(results) == 0 {
		link, _ := profile.ParseStepUpLink(ss.Metadata)
		for _, f := range kindFeatures(link.Kind) {
			results = append(results, FeatureResult{Feature: f, Status: "Not Started"})
		}
	}
	row := map[string]any{
		"session_id":     ss.ID,
		"session_kind":   "user",
		"session_number": ss.Number,
		"session_url":    ss.URL,
		"status":         ss.Status,
		"vendor_data":    nullIfEmpty(ss.VendorData),
		"created_at":     ss.CreatedAt.UTC().Format(time.RFC3339Nano),
		"portrait_image": nil,
		"document_type":  nil,
		"full_name":      nil,
		"country":        nil,
		"phone_number":   nil,
		"email_address":  nil,
	}
	for _, f := range results {
		features = append(features, map[string]any{"feature": f.Feature, "status": f.Status})
		if len(ss.Features) == 0 {
			continue
		}
		switch f.Feature {
		case FeatureID:
			row["portrait_image"] = s.mediaURLLocked(ss, "id_portrait")
			row["document_type"] = "Identity Card"
			row["full_name"] = "Ana García López"
			row["country"] = "ESP"
		case FeaturePhone:
			row["phone_number"] = map[string]any{"full_number": "+34612345678", "status": f.Status}
		case FeatureEmail:
			row["email_address"] = map[string]any{"email": "ana.garcia@example.es", "status": f.Status}
		}
	}
	row["features"] = features
	return row
}

// decisionLocked is the session's decision (or the empty shape of a session not yet finished)
// with its current status and review trail.
func (s *Server) decisionLocked(ss *Session) map[string]any {
	var d map[string]any
	if ss.Decision != nil {
		d = maps.Clone(ss.Decision)
	} else {
		d = baseDecision(ss, ss.Status, nil)
	}
	d["status"] = ss.Status
	if len(ss.Reviews) > 0 || d["reviews"] == nil {
		d["reviews"] = reviewsJSON(ss.Reviews)
	}
	return d
}

func (s *Server) addBlocklist(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&raw); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "JSON parse error - " + err.Error()})
		return
	}
	var e BlocklistEntry
	fe := fieldErrors{}
	if v, ok := raw["session_id"]; !ok || string(v) == "null" {
		fe.add("session_id", "This field is required.")
	} else if json.Unmarshal(v, &e.SessionID) != nil || e.SessionID == "" {
		fe.add("session_id", "Must be a valid UUID.")
	}
	for field, dst := range map[string]*bool{"blocklist_face": &e.Face, "blocklist_document": &e.Document, "blocklist_phone": &e.Phone, "blocklist_email": &e.Email} {
		if v, ok := raw[field]; ok && string(v) != "null" && json.Unmarshal(v, dst) != nil {
			fe.add(field, "Must be a valid boolean.")
		}
	}
	if len(fe) > 0 {
		writeJSON(w, http.StatusBadRequest, fe)
		return
	}
	s.mu.Lock()
	ss, ok := s.sessions[e.SessionID]
	if ok {
		s.blocklist = append(s.blocklist, e)
		if e.Face {
			s.blockFaceLocked(faceLocked(ss), ss.ID)
		}
	}
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not found."})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Successfully updated blocklist."})
}

var pageTmpl = template.Must(template.New("session").Parse(`<!doctype html>
<title>Didit simulator · session {{.Number}}</title>
<h1>Didit simulator</h1>
<p>Session {{.Number}} ({{.ID}}) on workflow {{.WorkflowID}}: <b>{{.Status}}</b></p>
<form method="post" action="/_sim/sessions/{{.ID}}/complete?status=Approved"><button>Approve</button></form>
<form method="post" action="/_sim/sessions/{{.ID}}/complete?status=Declined"><button>Decline</button></form>
<p>As a reviewer in Didit's console:</p>
<form method="post" action="/_sim/sessions/{{.ID}}/review?new_status=Approved"><button>Reviewer approves</button></form>
<form method="post" action="/_sim/sessions/{{.ID}}/review?new_status=Declined"><button>Reviewer declines</button></form>
`))

// sessionPage stands in for Didit's hosted flow at the session URL.
func (s *Server) sessionPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var found *Session
	for _, ss := range s.sessions {
		if ss.Token == r.PathValue("token") {
			cp := *ss
			found = &cp
		}
	}
	s.mu.Unlock()
	if found == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = pageTmpl.Execute(w, found)
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	stats := map[string]any{
		"created_sessions": len(s.order),
		"reused_sessions":  s.reused,
		"face_searches":    len(s.faceSearches),
		"webhooks_sent":    len(s.deliveries),
		"requests":         cloneCounts(s.requests),
		"blocklist":        slices.Clone(s.blocklist),
		"pending_faults":   len(s.faults),
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, stats)
}

func cloneCounts(m map[string]int) map[string]int { return maps.Clone(m) }

// postComplete completes a session over HTTP: the body (optional) is an Outcome; a status query
// parameter is a shortcut for {"status": ...}.
func (s *Server) postComplete(w http.ResponseWriter, r *http.Request) {
	var o Outcome
	if body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20)); len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &o); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "outcome: " + err.Error()})
			return
		}
	}
	if st := r.URL.Query().Get("status"); st != "" {
		o.Status = st
	}
	d, err := s.Complete(r.Context(), r.PathValue("id"), o)
	if errors.Is(err, ErrUnknownSession) {
		writeJSON(w, http.StatusNotFound, map[string]any{"detail": err.Error()})
		return
	}
	resp := map[string]any{"event_id": d.EventID, "receiver_status": d.StatusCode}
	if err != nil {
		resp["error"] = err.Error()
		writeJSON(w, http.StatusBadGateway, resp)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// postWebhook signs the request body like Didit and sends it to the receiver. A session event
// about a session the simulator does not know registers that session first (RegisterWebhookSession),
// so that `make demo`'s fixture sessions can then be reviewed, blocklisted and searched. A face
// query parameter gives the session the face FaceImage(face) before the webhook leaves, as
// POST /_sim/sessions/{id}/face does, so that a Face Search the webhook sets off finds it.
func (s *Server) postWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"detail": err.Error()})
		return
	}
	s.mu.Lock()
	s.seenBase = s.baseFor(r) // the registered session's media links point here
	s.mu.Unlock()
	s.RegisterWebhookSession(body)
	if seed := r.URL.Query().Get("face"); seed != "" {
		var env struct {
			SessionID string `json:"session_id"`
		}
		if json.Unmarshal(body, &env) != nil || !s.SetFace(env.SessionID, FaceImage(seed)) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"detail": "face: the body is not an event of a session the simulator knows"})
			return
		}
	}
	d, err := s.SendWebhook(r.Context(), body)
	resp := map[string]any{"receiver_status": d.StatusCode}
	if err != nil {
		resp["error"] = err.Error()
		writeJSON(w, http.StatusBadGateway, resp)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"encode error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// token is a session token like Didit's: 12 alphanumeric characters (§9.4).
func token() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
