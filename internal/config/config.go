// Package config reads each function's configuration once, at cold start, through an
// injected getenv. Every problem is collected so that a bad deploy fails with one error
// naming every missing or malformed variable, not the first of several.
package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
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
	HashKey           string // HASH_KEY: HMAC key for document and device hashes
	// DecisionPublishTimeout bounds one decision publish, retries included: past it the
	// message is retried rather than held until the function's own deadline.
	DecisionPublishTimeout time.Duration // DECISION_PUBLISH_TIMEOUT
	// ReplayHorizon is the receiver's replay horizon (the same variable and default): the
	// scorer's dedupe markers must live at least that long, or a replay the receiver still
	// accepts would be applied again.
	ReplayHorizon time.Duration // REPLAY_HORIZON
}

// StepUp configures the step-up function.
type StepUp struct {
	Common
	FirestoreDatabase string            // FIRESTORE_DATABASE
	DiditAPIURL       string            // DIDIT_API_URL
	DiditAPIKey       string            // DIDIT_API_KEY (secret)
	CallbackURL       string            // DIDIT_CALLBACK_URL
	Workflows         map[string]string // STEP_UP_WORKFLOWS: kind=workflow_id,...
	BlocklistOnBlock  bool              // DIDIT_BLOCKLIST_ON_BLOCK
	RequestTimeout    time.Duration     // DIDIT_REQUEST_TIMEOUT: per attempt
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
		Common:            r.common(),
		FirestoreDatabase: r.str("FIRESTORE_DATABASE", DefaultDatabase),
		DecisionsTopic:    r.str("DECISIONS_TOPIC", DefaultDecisionsTopic),
		PolicyFile:        r.str("POLICY_FILE", ""),
		HashKey:           r.required("HASH_KEY"),

		DecisionPublishTimeout: r.duration("DECISION_PUBLISH_TIMEOUT", DefaultPublishTimeout),
		ReplayHorizon:          r.duration("REPLAY_HORIZON", DefaultReplayHorizon),
	}
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
		Workflows:         r.pairs("STEP_UP_WORKFLOWS"),
		BlocklistOnBlock:  r.bool("DIDIT_BLOCKLIST_ON_BLOCK", false),
		RequestTimeout:    r.duration("DIDIT_REQUEST_TIMEOUT", 10*time.Second),
	}
	return c, r.err("step-up")
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
