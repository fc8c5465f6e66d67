// Package coldstart builds a function's dependencies once, on the first call of an instance.
// Functions register in init(), where nothing may fail; building lazily lets a bad deploy
// surface as one clear error (every missing variable named) in the logs, with a status that
// makes Pub/Sub and Didit retry once the configuration is fixed.
//
// A failed build is cached for the instance's life: it is not retried on the next call, so a
// fix (a new secret version, a corrected variable) takes effect only on new instances, that is,
// after a redeploy or once the platform replaces the instance. Until then every call fails the
// same way, which keeps a broken instance from half-working.
package coldstart

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/logging"
)

// once runs build the first time and logs its error, once, at ERROR.
func once[T any](name string, stderr io.Writer, build func() (T, error)) func() (T, error) {
	return sync.OnceValues(func() (T, error) {
		v, err := build()
		if err != nil {
			logging.New(stderr, "json", "info").Error("cold start failed", "function", name, "error", err.Error())
		}
		return v, err
	})
}

// HTTP returns an HTTP function that builds its handler on first use. While the build fails,
// every request is answered 500 (Didit retries 5xx).
func HTTP(name string, stderr io.Writer, build func() (http.Handler, error)) func(http.ResponseWriter, *http.Request) {
	get := once(name, stderr, build)
	return func(w http.ResponseWriter, r *http.Request) {
		h, err := get()
		if err != nil {
			http.Error(w, "function not configured", http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	}
}

// CloudEvent returns an event function that builds its handler on first use. While the build
// fails, every event is returned as an error, so Pub/Sub keeps it for a retry.
func CloudEvent(name string, stderr io.Writer, build func() (func(context.Context, event.Event) error, error)) func(context.Context, event.Event) error {
	get := once(name, stderr, build)
	return func(ctx context.Context, e event.Event) error {
		fn, err := get()
		if err != nil {
			return fmt.Errorf("%s not configured: %w", name, err)
		}
		return fn(ctx, e)
	}
}
