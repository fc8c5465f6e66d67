// Package webhook authenticates Didit webhook deliveries before anything decodes them.
//
// Didit signs every delivery three ways (shared/didit-api.md §1): X-Signature
// over the raw body, X-Signature-V2 over a canonical re-serialisation of the
// parsed body (which survives proxies that re-encode JSON), and
// X-Signature-Simple over four envelope fields only. A Verifier checks the
// X-Timestamp window, then tries the schemes from cheapest and strongest to
// weakest, each with every configured secret so that secrets can be rotated.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"sync"
	"time"
)

// Header names Didit sends.
const (
	HeaderTimestamp       = "X-Timestamp"
	HeaderSignature       = "X-Signature"
	HeaderSignatureV2     = "X-Signature-V2"
	HeaderSignatureSimple = "X-Signature-Simple"
)

// DefaultTolerance is Didit's documented freshness window.
const DefaultTolerance = 300 * time.Second

// Error is a refusal with a stable reason code for logs and metrics. Its text
// never contains secrets, signatures or body content.
type Error struct {
	reason string
	msg    string
}

func (e *Error) Error() string { return "webhook: " + e.msg }

// Reason is a short snake_case code such as "timestamp_stale".
func (e *Error) Reason() string { return e.reason }

// Verification refusals. Verify wraps one of these (or a canonicalisation
// error inside ErrSignatureMismatch's message) with detail fit for logs.
var (
	ErrTimestampMissing   = &Error{"timestamp_missing", "X-Timestamp header is missing"}
	ErrTimestampMalformed = &Error{"timestamp_malformed", "X-Timestamp header is not a decimal unix time"}
	ErrTimestampStale     = &Error{"timestamp_stale", "timestamp is older than the tolerance"}
	ErrTimestampFuture    = &Error{"timestamp_future", "timestamp is further in the future than the tolerance"}
	ErrNoSignature        = &Error{"no_signature", "no signature header"}
	ErrSimpleNotAllowed   = &Error{"simple_not_allowed", "only X-Signature-Simple is present and the simple scheme is disabled"}
	ErrSignatureMismatch  = &Error{"signature_mismatch", "no signature matches"}
	ErrSignatureMalformed = &Error{"signature_malformed", "no signature header is well-formed"}
)

// Reason returns the reason code of the first *Error in err's chain, or "" if none.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.reason
	}
	return ""
}

// Scheme names the signature that authenticated a delivery.
type Scheme string

const (
	SchemeRaw    Scheme = "raw"    // X-Signature over the exact body bytes
	SchemeV2     Scheme = "v2"     // X-Signature-V2 over Canonicalize(body)
	SchemeSimple Scheme = "simple" // X-Signature-Simple over four envelope fields
)

// Result describes a delivery that passed verification.
type Result struct {
	Scheme Scheme
	// Timestamp is X-Timestamp. Raw and V2 signatures do not cover the header,
	// so it bounds delivery time but is not itself authenticated.
	Timestamp time.Time
	// SecretIndex is the index in Config.Secrets that matched; above 0 means
	// Didit still signs with a secret that rotation should retire.
	SecretIndex int
	// BodyAuthenticated is false for SchemeSimple: only the fields in Simple are
	// signed, and the decision must be re-fetched from Didit before it is trusted.
	BodyAuthenticated bool
	// Simple holds the signed fields when Scheme is SchemeSimple.
	Simple SimpleFields
}

// SimpleFields are the envelope fields X-Signature-Simple covers, as read from the body.
type SimpleFields struct {
	Timestamp   string
	SessionID   string
	Status      string
	WebhookType string
}

// Config holds a Verifier's dependencies.
type Config struct {
	// Secrets are the webhook signing secrets, current first; several are
	// accepted at once while a rotation is in progress. Used as raw key bytes.
	Secrets [][]byte
	// Tolerance is the accepted |now - X-Timestamp|; 0 means DefaultTolerance.
	Tolerance time.Duration
	// AllowSimple accepts X-Signature-Simple, which leaves the decision
	// unauthenticated. Off by default: a risk scorer must not trust it.
	AllowSimple bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Verifier authenticates Didit webhook deliveries. It is safe for concurrent use.
type Verifier struct {
	secrets     [][]byte
	tolerance   time.Duration
	allowSimple bool
	now         func() time.Time
	pool        sync.Pool // *macState
}

// macState is per-call scratch: one keyed HMAC per secret, reset between uses
// so the key schedule is computed once, and a buffer for the canonical body.
type macState struct {
	macs  []hash.Hash
	sum   [sha256.Size]byte
	canon []byte
}

// NewVerifier checks cfg and returns a Verifier.
func NewVerifier(cfg Config) (*Verifier, error) {
	if len(cfg.Secrets) == 0 {
		return nil, errors.New("webhook: no secrets configured")
	}
	secrets := make([][]byte, len(cfg.Secrets))
	for i, s := range cfg.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("webhook: secret %d is empty", i)
		}
		secrets[i] = append([]byte(nil), s...)
	}
	if cfg.Tolerance < 0 {
		return nil, errors.New("webhook: negative timestamp tolerance")
	}
	v := &Verifier{secrets: secrets, tolerance: cfg.Tolerance, allowSimple: cfg.AllowSimple, now: cfg.Now}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.pool.New = func() any {
		st := &macState{macs: make([]hash.Hash, len(secrets))}
		for i, s := range secrets {
			st.macs[i] = hmac.New(sha256.New, s)
		}
		return st
	}
	return v, nil
}

// Precheck refuses, from the headers alone, a delivery that Verify would refuse whatever its
// body: an X-Timestamp outside the window, no signature header, or no signature header that is
// usable (64 hex digits; X-Signature-Simple only when allowed). A caller runs it before reading
// the body, so a request that cannot be genuine costs no body read and no canonicalisation.
func (v *Verifier) Precheck(h http.Header) error {
	if _, err := v.timestamp(h.Get(HeaderTimestamp)); err != nil {
		return err
	}
	raw, v2, simple := h.Get(HeaderSignature), h.Get(HeaderSignatureV2), h.Get(HeaderSignatureSimple)
	switch {
	case raw == "" && v2 == "" && simple == "":
		return ErrNoSignature
	case raw == "" && v2 == "" && !v.allowSimple:
		return ErrSimpleNotAllowed
	}
	if isHexSig(raw) || isHexSig(v2) || v.allowSimple && isHexSig(simple) {
		return nil
	}
	return fmt.Errorf("%w (no signature header is %d hex digits)", ErrSignatureMalformed, 2*sha256.Size)
}

func isHexSig(s string) bool {
	var buf [sha256.Size]byte
	return decodeHex(buf[:], s)
}

// Verify authenticates a delivery from its headers and exact body bytes.
// The timestamp window is checked first, then X-Signature, X-Signature-V2 and,
// only when allowed, X-Signature-Simple; the first that matches any secret wins.
func (v *Verifier) Verify(h http.Header, body []byte) (Result, error) {
	ts, err := v.timestamp(h.Get(HeaderTimestamp))
	if err != nil {
		return Result{}, err
	}
	raw, v2, simple := h.Get(HeaderSignature), h.Get(HeaderSignatureV2), h.Get(HeaderSignatureSimple)
	if raw == "" && v2 == "" {
		switch {
		case simple == "":
			return Result{}, ErrNoSignature
		case !v.allowSimple:
			return Result{}, ErrSimpleNotAllowed
		}
	}

	st := v.pool.Get().(*macState)
	defer v.put(st)

	var want [sha256.Size]byte
	if raw != "" && decodeHex(want[:], raw) {
		if i, ok := st.match(&want, body); ok {
			return Result{Scheme: SchemeRaw, Timestamp: ts, SecretIndex: i, BodyAuthenticated: true}, nil
		}
	}
	var canonErr error
	if v2 != "" && decodeHex(want[:], v2) { // a malformed header is not worth canonicalising for
		st.canon, canonErr = Canonicalize(st.canon[:0], body)
		if canonErr == nil {
			if i, ok := st.match(&want, st.canon); ok {
				return Result{Scheme: SchemeV2, Timestamp: ts, SecretIndex: i, BodyAuthenticated: true}, nil
			}
		}
	}
	if simple != "" && v.allowSimple && decodeHex(want[:], simple) {
		fields, err := extractSimple(body)
		if err == nil {
			msg := SimpleMessage(fields.Timestamp, fields.SessionID, fields.Status, fields.WebhookType)
			if i, ok := st.match(&want, []byte(msg)); ok {
				return Result{Scheme: SchemeSimple, Timestamp: ts, SecretIndex: i, Simple: fields}, nil
			}
		}
	}
	return Result{}, mismatch(raw != "", v2 != "", simple != "" && v.allowSimple, canonErr)
}

func (v *Verifier) put(st *macState) {
	if cap(st.canon) > 1<<20 {
		st.canon = nil // do not pin buffers grown by unusually large bodies
	}
	v.pool.Put(st)
}

func mismatch(raw, v2, simple bool, canonErr error) error {
	tried := ""
	for _, s := range []struct {
		on   bool
		name Scheme
	}{{raw, SchemeRaw}, {v2, SchemeV2}, {simple, SchemeSimple}} {
		if s.on {
			if tried != "" {
				tried += ", "
			}
			tried += string(s.name)
		}
	}
	if canonErr != nil {
		return fmt.Errorf("%w (tried %s; v2 body not canonicalisable: %v)", ErrSignatureMismatch, tried, canonErr)
	}
	return fmt.Errorf("%w (tried %s)", ErrSignatureMismatch, tried)
}

// timestamp parses X-Timestamp and checks it against the window.
func (v *Verifier) timestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, ErrTimestampMissing
	}
	if len(s) > 18 {
		return time.Time{}, ErrTimestampMalformed
	}
	var sec int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, ErrTimestampMalformed
		}
		sec = sec*10 + int64(s[i]-'0')
	}
	ts, now := time.Unix(sec, 0), v.now()
	// Compare instants rather than durations: a far-off timestamp would saturate time.Duration.
	switch {
	case ts.Before(now.Add(-v.tolerance)):
		return time.Time{}, fmt.Errorf("%w (%ds old, tolerance %s)", ErrTimestampStale, now.Unix()-sec, v.tolerance)
	case ts.After(now.Add(v.tolerance)):
		return time.Time{}, fmt.Errorf("%w (%ds ahead, tolerance %s)", ErrTimestampFuture, sec-now.Unix(), v.tolerance)
	}
	return ts, nil
}

// match reports which secret's HMAC of msg equals want, in constant time.
func (st *macState) match(want *[sha256.Size]byte, msg []byte) (int, bool) {
	for i, m := range st.macs {
		m.Reset()
		m.Write(msg)
		if hmac.Equal(m.Sum(st.sum[:0]), want[:]) {
			return i, true
		}
	}
	return 0, false
}

// decodeHex decodes a signature header, in either case, into dst and reports
// whether it was exactly len(dst) bytes of hex.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	ok := true
	for i := range dst {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		ok = ok && hi >= 0 && lo >= 0
		dst[i] = byte(hi)<<4 | byte(lo)
	}
	return ok
}

// Sign returns the lowercase hex HMAC-SHA256 of msg under secret, as Didit
// computes every signature header.
func Sign(secret, msg []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// SimpleMessage is the string X-Signature-Simple signs.
func SimpleMessage(timestamp, sessionID, status, webhookType string) string {
	return timestamp + ":" + sessionID + ":" + status + ":" + webhookType
}

// Envelope reads timestamp, session_id, status and webhook_type from a body as Python does
// (exact keys, the last of repeated keys), for routing a body no typed decoder reads.
func Envelope(body []byte) (SimpleFields, error) { return extractSimple(body) }

// extractSimple reads the four top-level fields X-Signature-Simple covers with
// Python's semantics (exact key match, last duplicate wins). Strings are
// decoded; numbers are taken as written (an int timestamp is its decimal
// digits); absent, null or other fields are "".
func extractSimple(body []byte) (SimpleFields, error) {
	c := canonPool.Get().(*canonicalizer)
	defer c.release()
	if err := c.parse(body); err != nil {
		return SimpleFields{}, err
	}
	root := &c.tape[0]
	if root.kind() != kindObject {
		return SimpleFields{}, fmt.Errorf("%w: body is not an object", ErrInvalidJSON)
	}
	var f SimpleFields
	j := int32(1)
	for k := int32(0); k < root.count(); k++ {
		var dst *string
		switch string(c.key(j)) {
		case "timestamp":
			dst = &f.Timestamp
		case "session_id":
			dst = &f.SessionID
		case "status":
			dst = &f.Status
		case "webhook_type":
			dst = &f.WebhookType
		}
		if dst != nil {
			n := &c.tape[j+1]
			switch n.kind() {
			case kindString:
				if raw := c.b[n.start+1 : n.end-1]; n.is(flagEscaped) {
					*dst = string(decodeString(nil, raw))
				} else {
					*dst = string(raw)
				}
			case kindInt, kindFloat:
				*dst = string(c.b[n.start:n.end])
			default: // null or a type Didit never sends here
				*dst = ""
			}
		}
		j = c.next(j + 1)
	}
	return f, nil
}
