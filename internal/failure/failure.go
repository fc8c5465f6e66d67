// Package failure classifies errors into the few kinds the edges care about, and makes the two
// edge decisions in one place each:
//
//   - HTTPStatus: the status code the receiver answers Didit with. Didit retries 5xx and 404
//     only, so every permanent refusal is a 4xx other than 404.
//   - EventOutcome (and Resolve, its short form): whether an event function (the scorer, the
//     step-up) acks a Pub/Sub message or asks for a retry, and how loudly to log it. A
//     permanent error is acked only when its consequence is already recorded (Recorded); any
//     other failure is retried, so that a message that can never be processed reaches the
//     dead-letter topic after the subscription's max attempts instead of being dropped.
//
// An event function ends like this (the scorer and refetch.Handler do; the step-up should):
//
//	err := handle(ctx, msg)              // classified errors, wrapped freely
//	o := failure.EventOutcome(err)
//	log.LogAttrs(ctx, o.Level, "decision "+o.Message, ...)
//	return failure.Resolve(err)          // nil: ack; err: Pub/Sub retries
//
// A refusal that is already stored (a step-up Didit refused for good, recorded failed) is
// returned as failure.Recorded(failure.Errorf(failure.Invalid, ...)) to be acked.
//
// Errors are classified where they are made (failure.New, failure.Errorf) and wrapped freely
// on the way up: KindOf finds the outermost kind in the chain.
package failure

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// Kind is the class of an error as seen by a caller at the edge.
type Kind int

const (
	// Internal is an unexpected failure: answer 500, retry the message.
	Internal Kind = iota
	// Invalid input that will never become valid: 400; an event is retried, then dead-lettered
	// (acked only when Recorded).
	Invalid
	// Unauthorized: the caller could not prove who it is: 401.
	Unauthorized
	// TooLarge: the body exceeds the configured limit: 413.
	TooLarge
	// MethodNotAllowed: 405.
	MethodNotAllowed
	// Transient: a dependency is down or slow; retrying later can succeed: 503, retry.
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

// Permanent reports whether retrying the same input can never succeed. It does not decide
// ack or retry on its own: see EventOutcome.
func Permanent(err error) bool {
	switch KindOf(err) {
	case Invalid, Unauthorized, TooLarge, MethodNotAllowed:
		return true
	}
	return false
}

// ErrRecorded marks an error whose consequence is already durably recorded where operators and
// product code see it (a step-up Didit refused for good, stored as failed on the claim and the
// profile). Wrap it next to the cause, e.g.
//
//	failure.Errorf(failure.Invalid, "assessment %s: %w: %w", id, ErrStepFailed, failure.ErrRecorded)
//
// or with Recorded. Only a permanent error is acked for it: a Transient or unclassified error
// marked recorded is still retried, since retrying may yet succeed and acking would lose it.
var ErrRecorded = errors.New("outcome recorded")

// Recorded marks err (classified as it is) with ErrRecorded. A nil err stays nil.
func Recorded(err error) error {
	if err == nil {
		return nil
	}
	return &recorded{err}
}

type recorded struct{ err error }

func (r *recorded) Error() string   { return r.err.Error() }
func (r *recorded) Unwrap() []error { return []error{r.err, ErrRecorded} }

// Outcome is how an event function ends for one message.
type Outcome struct {
	// Ack is true when the function returns nil; false when it returns the error so that
	// Pub/Sub redelivers with the subscription's backoff and, after its max attempts,
	// dead-letters the message.
	Ack bool
	// Level is how loudly to log the message's end: Info when done, Warn for a transient
	// failure (retrying is expected to help), Error for a permanent one (a person must look:
	// a recorded refusal, or a message heading for the dead-letter topic).
	Level slog.Level
	// Message is a log message saying what happens next.
	Message string
}

// Outcomes, by case; EventOutcome returns one of them.
var (
	Done          = Outcome{Ack: true, Level: slog.LevelInfo, Message: "processed"}
	AckedRecorded = Outcome{Ack: true, Level: slog.LevelError, Message: "acked: permanent failure, recorded"}
	DeadLetter    = Outcome{Ack: false, Level: slog.LevelError, Message: "cannot be processed"} // retried, then dead-lettered
	Retry         = Outcome{Ack: false, Level: slog.LevelWarn, Message: "will be retried"}
)

// EventOutcome decides ack or retry for an event function from err alone:
//   - nil: ack (Done);
//   - permanent and Recorded: ack (AckedRecorded) — nothing is lost, retrying cannot help;
//   - permanent, not recorded (a message that does not decode): retry (DeadLetter), so Pub/Sub
//     dead-letters it after max attempts, where it can be inspected and replayed; never acked
//     silently;
//   - anything else (Transient, Internal, unclassified): retry (Retry).
func EventOutcome(err error) Outcome {
	switch {
	case err == nil:
		return Done
	case Permanent(err) && errors.Is(err, ErrRecorded):
		return AckedRecorded
	case Permanent(err):
		return DeadLetter
	default:
		return Retry
	}
}

// Resolve is what an event function returns for err: nil to ack, err itself to retry
// (EventOutcome(err).Ack decides).
func Resolve(err error) error {
	if EventOutcome(err).Ack {
		return nil
	}
	return err
}
