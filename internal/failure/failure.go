// Package failure classifies errors into the few kinds the edges care about,
// so that HTTP status codes and Pub/Sub ack-or-retry decisions are made in one place.
package failure

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind is the class of an error as seen by a caller at the edge.
type Kind int

const (
	// Internal is an unexpected failure: answer 500, retry the message.
	Internal Kind = iota
	// Invalid input that will never become valid: 400, dead-letter.
	Invalid
	// Unauthorized: the caller could not prove who it is: 401.
	Unauthorized
	// TooLarge: the body exceeds the configured limit: 413.
	TooLarge
	// MethodNotAllowed: 405.
	MethodNotAllowed
	// Transient: a dependency is down or slow; retrying later can succeed: 503.
	Transient
)

var names = [...]string{"internal", "invalid", "unauthorized", "too_large", "method_not_allowed", "transient"}

func (k Kind) String() string {
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error carries a Kind next to the wrapped cause.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// New wraps err with kind k. A nil err stays nil.
func New(k Kind, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: k, Err: err}
}

// Errorf formats an error of kind k; %w verbs wrap as in fmt.Errorf.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the kind of the outermost classified error in err's chain,
// Internal when none is classified.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// HTTPStatus maps an error to the status code a webhook sender should see.
// Didit retries on 5xx and 404 only, so every permanent refusal is a 4xx other than 404.
func HTTPStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	switch KindOf(err) {
	case Invalid:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case Transient:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// Permanent reports whether retrying the same input can never succeed.
// Event functions still return such errors (so Pub/Sub dead-letters the message after the
// configured attempts instead of dropping it), but log them at ERROR.
func Permanent(err error) bool {
	switch KindOf(err) {
	case Invalid, Unauthorized, TooLarge, MethodNotAllowed:
		return true
	}
	return false
}
