// Package config reads each function's configuration once, at cold start, through an
// injected getenv. Every problem is collected so that a bad deploy fails with one error
// naming every missing or malformed variable, not the first of several.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/scoring"
)

// Common is what every function needs.
type Common struct {
	Project   string // GOOGLE_CLOUD_PROJECT
	LogFormat string // LOG_FORMAT: json (default) or text
	LogLevel  string // LOG_LEVEL: info (default)
}

// Receiver configures the webhook receiver.
type Receiver struct {
	Common
	WebhookSecrets     []string      // DIDIT_WEBHOOK_SECRET, comma-separated: several at once during a rotation
	WebhooksTopic      string        // WEBHOOKS_TOPIC
	MaxBodyBytes       int64         // MAX_BODY_BYTES
	TimestampTolerance time.Duration // TIMESTAMP_TOLERANCE
	AllowSimple        bool          // ALLOW_SIMPLE_SIGNATURE: accept X-Signature-Simple (decision unauthenticated)
	PublishTimeout     time.Duration // PUBLISH_TIMEOUT: bounded well under Didit's 5 s delivery timeout
	ReplayHorizon      time.Duration // REPLAY_HORIZON: a signed body timestamp older than this is a replay
	TestWebhooks       TestWebhooks  // TEST_WEBHOOKS: publish (marked event_class=test) or drop console test deliveries
}

// TestWebhooks says what the receiver does with Didit's console test deliveries.
type TestWebhooks string

const (
	TestWebhooksPublish TestWebhooks = "publish" // acknowledge and publish, marked so that no profile changes
	TestWebhooksDrop    TestWebhooks = "drop"    // acknowledge and log only
)

// Scorer configures the scoring function.
type Scorer struct {
	Common
	FirestoreDatabase string // FIRESTORE_DATABASE
	DecisionsTopic    string // DECISIONS_TOPIC
	PolicyFile        string // POLICY_FILE: empty means the embedded default policy
	// ModelFile is the model the policy reads as model.score (MODEL_FILE; its header at
	// MODEL_FILE + ".json"): empty means the embedded demonstration model.
	ModelFile string
	// HashKeys are the HMAC keys for document and device hashes, current first: HASH_KEYS
	// ("id:secret,id:secret"), or HASH_KEY alone as the one key with the empty id (unprefixed
	// hashes, as before key ids existed). A rotation adds a key in front, e.g.
	// HASH_KEYS="k2:<new>,:<old HASH_KEY>": new hashes are "k2:<hex>", and stored ones still match.
	HashKeys []scoring.HashKey
	// DecisionPublishTimeout bounds one decision publish, retries included: past it the
	// message is retried rather than held until the function's own deadline.
	DecisionPublishTimeout time.Duration // DECISION_PUBLISH_TIMEOUT
	// ReplayHorizon is the receiver's replay horizon (the same variable and default): the
	// scorer's dedupe markers must live at least that long, or a replay the receiver still
	// accepts would be applied again.
	ReplayHorizon time.Duration // REPLAY_HORIZON
	// AssessmentRetention (ASSESSMENT_RETENTION) is how long an assessment is kept before
	// Firestore's TTL policy deletes it; 0 means the profile store's default (400 days).
	AssessmentRetention time.Duration
	// ShadowPolicyFile (SHADOW_POLICY_FILE) is a second policy evaluated beside the live one on
	// every webhook: its verdict is stored with the assessment and never acted on. Empty: none.
	ShadowPolicyFile string
	// HumanOverrideTTL (HUMAN_OVERRIDE_TTL, default 720h) is how long a reviewer's approval in
	// Didit's console holds against the policy; 0: it never expires. A decline never does.
	HumanOverrideTTL time.Duration
	// DowngradeCooldown (DOWNGRADE_COOLDOWN, default 24h) is how long a high or critical
	// verdict holds back a lower one from another session; 0 turns the cooldown off.
	DowngradeCooldown time.Duration
}

// Defaults of the decision layer (the profile store's defaults, kept equal by a test).
const (
	DefaultHumanOverrideTTL  = 30 * 24 * time.Hour
	DefaultDowngradeCooldown = 24 * time.Hour
)

// StepUp configures the step-up function.
type StepUp struct {
	Common
	FirestoreDatabase string // FIRESTORE_DATABASE
	DiditAPIURL       string // DIDIT_API_URL: https, or http on a loopback host only
	DiditAPIKey       string // DIDIT_API_KEY (secret)
	// VerifyHosts (DIDIT_VERIFY_HOSTS, comma-separated host[:port]) are the hosts a session URL
	// from Didit may point at for it to be shown to product code. Default: verify.didit.me, or,
	// when DIDIT_API_URL is on a loopback host (a local Didit simulator), that host and port.
	VerifyHosts      []string
	CallbackURL      string                     // DIDIT_CALLBACK_URL
	Workflows        map[policy.StepKind]string // STEP_UP_WORKFLOWS: kind=workflow_id,...
	BlocklistOnBlock bool                       // DIDIT_BLOCKLIST_ON_BLOCK
	ReviewRequests   bool                       // DIDIT_REVIEW_REQUESTS: ask Didit's console to review review decisions (on by default)
	DeclineOnBlock   bool                       // DIDIT_DECLINE_ON_BLOCK: decline blocked sessions in Didit
	RequestTimeout   time.Duration              // DIDIT_REQUEST_TIMEOUT: per attempt
	// WebhooksTopic (WEBHOOKS_TOPIC) is where decisions read from Didit's API for webhooks
	// the signature did not cover are republished for scoring.
	WebhooksTopic  string
	PublishTimeout time.Duration // PUBLISH_TIMEOUT: bound on that publish
	// FaceSearch (FACE_SEARCH, default off) runs a Didit Face Search (1:N) of the session's face
	// for decisions at or above FaceSearchMinLevel (FACE_SEARCH_MIN_LEVEL: low, medium, high or
	// critical; default high), with FaceSearchType (FACE_SEARCH_TYPE: blocklisted_or_approved,
	// the default, or most_similar). It sends a biometric image to Didit's API and costs a call.
	FaceSearch         bool
	FaceSearchType     string
	FaceSearchMinLevel string
	// MediaHosts (DIDIT_MEDIA_HOSTS, comma-separated host[:port]) are the hosts a decision's
	// image link may point at for the face to be downloaded; default: DIDIT_API_URL's host.
	MediaHosts []string
}

// Defaults, shared with Terraform and the local runner.
const (
	DefaultWebhooksTopic  = "didit-webhooks"
	DefaultDecisionsTopic = "risk-decisions"
	// DefaultMaxBodyBytes is 256 KiB: seven times the largest real Didit body seen (36 KB, a
	// decision with every feature), while a forged request at the limit costs about a
	// millisecond of CPU to refuse (BenchmarkForgedV2AtDefaultLimit in internal/receiver).
	DefaultMaxBodyBytes = 256 << 10
	// DefaultReplayHorizon bounds how old a signed body timestamp may be. Dedupe markers must
	// outlive it, so that a replay within the horizon is a duplicate and one beyond it refused.
	DefaultReplayHorizon  = 7 * 24 * time.Hour
	DefaultTolerance      = 300 * time.Second
	DefaultPublishTimeout = 3 * time.Second
	DefaultDiditAPIURL    = "https://verification.didit.me"
	DefaultVerifyHost     = "verify.didit.me"
	DefaultDatabase       = "(default)"
)

// LoadReceiver reads the receiver's configuration.
func LoadReceiver(getenv func(string) string) (Receiver, error) {
	r := reader{getenv: getenv}
	c := Receiver{
		Common:             r.common(),
		WebhookSecrets:     r.list("DIDIT_WEBHOOK_SECRET", true),
		WebhooksTopic:      r.str("WEBHOOKS_TOPIC", DefaultWebhooksTopic),
		MaxBodyBytes:       r.int64("MAX_BODY_BYTES", DefaultMaxBodyBytes),
		TimestampTolerance: r.duration("TIMESTAMP_TOLERANCE", DefaultTolerance),
		AllowSimple:        r.bool("ALLOW_SIMPLE_SIGNATURE", false),
		PublishTimeout:     r.duration("PUBLISH_TIMEOUT", DefaultPublishTimeout),
		ReplayHorizon:      r.duration("REPLAY_HORIZON", DefaultReplayHorizon),
		TestWebhooks:       TestWebhooks(r.oneOf("TEST_WEBHOOKS", string(TestWebhooksPublish), string(TestWebhooksPublish), string(TestWebhooksDrop))),
	}
	return c, r.err("receiver")
}

// LoadScorer reads the scorer's configuration.
func LoadScorer(getenv func(string) string) (Scorer, error) {
	r := reader{getenv: getenv}
	c := Scorer{
		Common:                 r.common(),
		FirestoreDatabase:      r.str("FIRESTORE_DATABASE", DefaultDatabase),
		DecisionsTopic:         r.str("DECISIONS_TOPIC", DefaultDecisionsTopic),
		PolicyFile:             r.str("POLICY_FILE", ""),
		ShadowPolicyFile:       r.str("SHADOW_POLICY_FILE", ""),
		ModelFile:              r.str("MODEL_FILE", ""),
		DecisionPublishTimeout: r.duration("DECISION_PUBLISH_TIMEOUT", DefaultPublishTimeout),
		ReplayHorizon:          r.duration("REPLAY_HORIZON", DefaultReplayHorizon),
		AssessmentRetention:    r.duration("ASSESSMENT_RETENTION", 0),
		HumanOverrideTTL:       r.durationOrOff("HUMAN_OVERRIDE_TTL", DefaultHumanOverrideTTL),
		DowngradeCooldown:      r.durationOrOff("DOWNGRADE_COOLDOWN", DefaultDowngradeCooldown),
	}
	c.HashKeys = r.hashKeys()
	return c, r.err("scorer")
}

// LoadStepUp reads the step-up function's configuration.
func LoadStepUp(getenv func(string) string) (StepUp, error) {
	r := reader{getenv: getenv}
	c := StepUp{
		Common:            r.common(),
		FirestoreDatabase: r.str("FIRESTORE_DATABASE", DefaultDatabase),
		DiditAPIURL:       strings.TrimRight(r.str("DIDIT_API_URL", DefaultDiditAPIURL), "/"),
		DiditAPIKey:       r.required("DIDIT_API_KEY"),
		CallbackURL:       r.str("DIDIT_CALLBACK_URL", ""),
		Workflows:         stepWorkflows(r.pairs("STEP_UP_WORKFLOWS")),
		BlocklistOnBlock:  r.bool("DIDIT_BLOCKLIST_ON_BLOCK", false),
		ReviewRequests:    r.bool("DIDIT_REVIEW_REQUESTS", true),
		DeclineOnBlock:    r.bool("DIDIT_DECLINE_ON_BLOCK", false),
		RequestTimeout:    r.duration("DIDIT_REQUEST_TIMEOUT", 10*time.Second),
		WebhooksTopic:     r.str("WEBHOOKS_TOPIC", DefaultWebhooksTopic),
		PublishTimeout:    r.duration("PUBLISH_TIMEOUT", DefaultPublishTimeout),
	}
	apiHost, apiOK := secureBase(c.DiditAPIURL)
	if !apiOK {
		// The API key travels to this URL on every call: only TLS, or a loopback simulator.
		r.bad = append(r.bad, fmt.Sprintf("DIDIT_API_URL (%q must be an https URL, or http on a loopback host)", c.DiditAPIURL))
	}
	c.VerifyHosts = r.list("DIDIT_VERIFY_HOSTS", false)
	if len(c.VerifyHosts) == 0 {
		c.VerifyHosts = []string{DefaultVerifyHost}
		if apiOK && IsLoopback(apiHost) {
			c.VerifyHosts = []string{apiHost}
		}
	}
	c.FaceSearch = r.bool("FACE_SEARCH", false)
	c.FaceSearchType = r.oneOf("FACE_SEARCH_TYPE", FaceSearchBlocklistedOrApproved, FaceSearchBlocklistedOrApproved, FaceSearchMostSimilar)
	c.FaceSearchMinLevel = r.oneOf("FACE_SEARCH_MIN_LEVEL", "high", "low", "medium", "high", "critical")
	c.MediaHosts = r.list("DIDIT_MEDIA_HOSTS", false)
	if len(c.MediaHosts) == 0 && apiOK {
		c.MediaHosts = []string{apiHost}
	}
	return c, r.err("step-up")
}

// Face Search types (FACE_SEARCH_TYPE), as Didit names them.
const (
	FaceSearchBlocklistedOrApproved = "blocklisted_or_approved"
	FaceSearchMostSimilar           = "most_similar"
)

func stepWorkflows(pairs map[string]string) map[policy.StepKind]string {
	out := make(map[policy.StepKind]string, len(pairs))
	for k, v := range pairs {
		out[policy.StepKind(k)] = v
	}
	return out
}

// CheckStepKinds refuses a STEP_UP_WORKFLOWS kind that is not one of the policy's step kinds:
// a typo would otherwise surface only as failed step-ups at run time.
func (c StepUp) CheckStepKinds() error {
	var unknown, known []string
	for k := range c.Workflows {
		if !k.Valid() {
			unknown = append(unknown, string(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	for _, k := range policy.StepKinds() {
		known = append(known, string(k))
	}
	sort.Strings(unknown)
	return fmt.Errorf("step-up configuration: invalid STEP_UP_WORKFLOWS (unknown step-up kind %s; known: %s)",
		strings.Join(quoteAll(unknown), ", "), strings.Join(known, ", "))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// hashKeys reads HASH_KEYS, or HASH_KEY alone; exactly one of them must be set, so that a
// deploy cannot hash under a key it did not mean to.
func (r *reader) hashKeys() []scoring.HashKey {
	list, single := strings.TrimSpace(r.getenv("HASH_KEYS")), strings.TrimSpace(r.getenv("HASH_KEY"))
	switch {
	case list == "" && single == "":
		r.missing = append(r.missing, "HASH_KEY")
		return nil
	case list != "" && single != "":
		r.bad = append(r.bad, "HASH_KEYS (set HASH_KEYS or HASH_KEY, not both: put the old key in HASH_KEYS as \":<secret>\")")
		return nil
	case list == "":
		return []scoring.HashKey{{Secret: []byte(single)}}
	}
	var out []scoring.HashKey
	for _, e := range strings.Split(list, ",") {
		id, secret, ok := strings.Cut(strings.TrimSpace(e), ":")
		id, secret = strings.TrimSpace(id), strings.TrimSpace(secret)
		dup := false
		for _, k := range out {
			dup = dup || k.ID == id
		}
		// Nothing of the entry is echoed (without its ':' it is all secret): its position only.
		if !ok || secret == "" || dup || !scoring.ValidKeyID(id) {
			r.bad = append(r.bad, fmt.Sprintf("HASH_KEYS (entry %d: want id:secret with a distinct id: %s)", len(out)+1, scoring.KeyIDRule))
			return nil
		}
		out = append(out, scoring.HashKey{ID: id, Secret: []byte(secret)})
	}
	return out
}

// secureBase reports whether raw is an absolute https URL, or http on a loopback host, and
// returns its host[:port].
func secureBase(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	switch u.Scheme {
	case "https":
		return u.Host, true
	case "http":
		return u.Host, IsLoopback(u.Host)
	}
	return "", false
}

// IsLoopback reports whether host (host or host:port) is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// reader accumulates problems while reading variables.
type reader struct {
	getenv  func(string) string
	missing []string
	bad     []string
}

func (r *reader) common() Common {
	return Common{
		Project:   r.required("GOOGLE_CLOUD_PROJECT"),
		LogFormat: r.str("LOG_FORMAT", "json"),
		LogLevel:  r.str("LOG_LEVEL", "info"),
	}
}

func (r *reader) str(key, def string) string {
	if v := strings.TrimSpace(r.getenv(key)); v != "" {
		return v
	}
	return def
}

func (r *reader) required(key string) string {
	v := strings.TrimSpace(r.getenv(key))
	if v == "" {
		r.missing = append(r.missing, key)
	}
	return v
}

func (r *reader) list(key string, required bool) []string {
	var out []string
	for _, s := range strings.Split(r.getenv(key), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if required && len(out) == 0 {
		r.missing = append(r.missing, key)
	}
	return out
}

func (r *reader) pairs(key string) map[string]string {
	out := map[string]string{}
	for _, p := range r.list(key, false) {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			r.bad = append(r.bad, fmt.Sprintf("%s (entry %q is not kind=workflow_id)", key, p))
			continue
		}
		out[k] = v
	}
	return out
}

func (r *reader) int64(key string, def int64) int64 {
	s := strings.TrimSpace(r.getenv(key))
	if s == "" {
		return def
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		r.bad = append(r.bad, fmt.Sprintf("%s (%q is not a positive integer)", key, s))
		return def
	}
	return n
}

func (r *reader) duration(key string, def time.Duration) time.Duration {
	s := strings.TrimSpace(r.getenv(key))
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		r.bad = append(r.bad, fmt.Sprintf("%s (%q is not a positive duration such as 300s)", key, s))
		return def
	}
	return d
}

// durationOrOff is duration where "0" (or "0s") is allowed and means off.
func (r *reader) durationOrOff(key string, def time.Duration) time.Duration {
	s := strings.TrimSpace(r.getenv(key))
	if d, err := time.ParseDuration(s); err == nil && d == 0 {
		return 0
	}
	return r.duration(key, def)
}

func (r *reader) oneOf(key, def string, allowed ...string) string {
	s := strings.TrimSpace(r.getenv(key))
	if s == "" {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.bad = append(r.bad, fmt.Sprintf("%s (%q is not one of %s)", key, s, strings.Join(allowed, ", ")))
	return def
}

func (r *reader) bool(key string, def bool) bool {
	s := strings.TrimSpace(r.getenv(key))
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.bad = append(r.bad, fmt.Sprintf("%s (%q is not true or false)", key, s))
		return def
	}
	return b
}

func (r *reader) err(what string) error {
	if len(r.missing) == 0 && len(r.bad) == 0 {
		return nil
	}
	sort.Strings(r.missing)
	var parts []string
	if len(r.missing) > 0 {
		parts = append(parts, "missing "+strings.Join(r.missing, ", "))
	}
	if len(r.bad) > 0 {
		parts = append(parts, "invalid "+strings.Join(r.bad, ", "))
	}
	return errors.New(what + " configuration: " + strings.Join(parts, "; "))
}
