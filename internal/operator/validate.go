package operator

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/policy"
)

// Bounds on what an operator may write.
const (
	MaxReason = 500                  // bytes of reason text
	MaxExpiry = 366 * 24 * time.Hour // an override ends within a year; set it again to extend
)

// ErrPersonalData marks an actor or reason refused because it looks like personal data: nothing
// personal is stored (the audit trail keeps handles and codes only).
var ErrPersonalData = errors.New("looks like personal data (an email, phone number or IP address)")

var (
	handle = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._-]{1,63}$`)
	email  = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)
	// phone: seven or more digits, possibly split by spaces, dots, dashes, slashes or
	// parentheses, possibly after a +. Dates (2026-12-02) and short codes stay allowed.
	phone = regexp.MustCompile(`\+?\(?\d(?:[\s.\-/()]*\d){6,}`)
	ipv4  = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)
	// ipv6: eight groups, or fewer around a "::" (so that a time such as 10:30:15 is none).
	ipv6 = regexp.MustCompile(`(?i)\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|(?:\b[0-9a-f]{1,4})?(?::[0-9a-f]{1,4})*::(?:[0-9a-f]{1,4}\b)`)
	date = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2})?)?\b`)
)

// personal reports whether s holds something that looks like an email, phone number or IP
// address. ISO dates and times are taken out first: "2026-12-02" is not a phone number.
func personal(s string) bool {
	s = date.ReplaceAllString(s, " ")
	return email.MatchString(s) || phone.MatchString(s) || ipv4.MatchString(s) || ipv6.MatchString(s)
}

// ValidateActor checks an operator handle: letters, digits, '.', '_' and '-', starting with a
// letter, 2 to 64 characters; never an email or a phone number.
func ValidateActor(actor string) error {
	switch {
	case actor == "":
		return failure.Errorf(failure.Invalid, "-actor is required: the operator's handle")
	case strings.Contains(actor, "@") || personal(actor):
		return failure.Errorf(failure.Invalid, "-actor %w: give a handle, not an address", ErrPersonalData)
	case !handle.MatchString(actor):
		return failure.Errorf(failure.Invalid, "-actor must be a handle: a letter, then letters, digits, '.', '_' or '-' (2-64 characters)")
	}
	return nil
}

// ValidateReason checks an override's reason: required, at most MaxReason bytes of UTF-8 on
// one line, and no email, phone number or IP address in it.
func ValidateReason(reason string) error {
	switch {
	case strings.TrimSpace(reason) == "":
		return failure.Errorf(failure.Invalid, "-reason is required: why, as a ticket or risk code, no personal data")
	case len(reason) > MaxReason:
		return failure.Errorf(failure.Invalid, "-reason is longer than %d bytes", MaxReason)
	case !utf8.ValidString(reason) || strings.ContainsAny(reason, "\n\r\x00"):
		return failure.Errorf(failure.Invalid, "-reason must be one line of text")
	case personal(reason):
		return failure.Errorf(failure.Invalid, "-reason %w: name a ticket or a risk code instead", ErrPersonalData)
	}
	return nil
}

// ParseAction reads an override's action: one of the policy's four.
func ParseAction(s string) (policy.Action, error) {
	a := policy.Action(s)
	if !a.Valid() {
		return "", failure.Errorf(failure.Invalid, "-action %q: want block, approve, review or step_up", s)
	}
	return a, nil
}

// Expiry is an override's -expires: a duration from when it is set, or an absolute time.
type Expiry struct {
	After time.Duration // relative; zero when At is set
	At    time.Time     // absolute (UTC); zero when After is set
}

// ParseExpiry reads 72h (Go durations, plus a d suffix for days: 7d) or an RFC 3339 time.
func ParseExpiry(s string) (Expiry, error) {
	if s == "" {
		return Expiry{}, failure.Errorf(failure.Invalid, "-expires is required: a duration (72h, 7d) or an RFC 3339 time")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return Expiry{At: t.UTC()}, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return Expiry{}, failure.Errorf(failure.Invalid, "-expires %q: want a positive duration (72h, 7d) or an RFC 3339 time", s)
	}
	if d > MaxExpiry {
		return Expiry{}, failure.Errorf(failure.Invalid, "-expires %s is beyond %v", s, MaxExpiry)
	}
	return Expiry{After: d}, nil
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("bad days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// Time is when the override ends if it is set at now; an absolute expiry must be after now and
// within MaxExpiry of it.
func (e Expiry) Time(now time.Time) (time.Time, error) {
	if e.After > 0 {
		return now.Add(e.After).UTC(), nil
	}
	switch {
	case !e.At.After(now):
		return time.Time{}, failure.Errorf(failure.Invalid, "-expires %s is not in the future", e.At.Format(time.RFC3339))
	case e.At.Sub(now) > MaxExpiry:
		return time.Time{}, failure.Errorf(failure.Invalid, "-expires %s is beyond %v from now", e.At.Format(time.RFC3339), MaxExpiry)
	}
	return e.At, nil
}

// String is the expiry as the command gave it, normalised: the override id hashes it, so that
// "72h" run twice is the same override although its end time would differ by the seconds
// between the runs.
func (e Expiry) String() string {
	if e.After > 0 {
		return e.After.String()
	}
	return e.At.Format(time.RFC3339Nano)
}

// overrideID names an override by its content and the audit entry it follows (basis: the id of
// the profile's latest audit entry when it is set, "" for none). The same command run twice
// gives the same id, so the store changes nothing the second time; the same command after
// something else happened to the profile (a clear, another override) is a new override.
func overrideID(profileID string, a policy.Action, reason string, e Expiry, actor, basis string) string {
	h := sha256.New()
	for _, f := range []string{"override/v1", profileID, string(a), reason, e.String(), actor, basis} {
		fmt.Fprintf(h, "%d:%s\n", len(f), f)
	}
	return "ovr-" + hex.EncodeToString(h.Sum(nil))[:32]
}
