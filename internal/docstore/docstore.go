// Package docstore is typed access to single Firestore documents: read one into a Go value, or
// change one inside a transaction, so that callers do not repeat the get / NotFound / DataTo /
// write boilerplate. Every error it returns is failure.Transient (Firestore unavailable,
// contention past the client's retries) unless the caller's function returned its own error,
// which is returned as it is.
package docstore

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Get reads the document at ref into a T; found is false when it does not exist.
func Get[T any](ctx context.Context, ref *firestore.DocumentRef) (v T, found bool, err error) {
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return v, false, nil
	}
	if err != nil {
		return v, false, failure.New(failure.Transient, fmt.Errorf("read %s: %w", ref.Path, err))
	}
	if err := snap.DataTo(&v); err != nil {
		// A document that does not decode is not going to decode on a retry either, but it is
		// ours, written by this code: treat it as an internal failure, not the caller's input.
		return v, false, failure.New(failure.Internal, fmt.Errorf("decode %s: %w", ref.Path, err))
	}
	return v, true, nil
}

// Update reads the document at ref inside a transaction and calls fn with its value (the zero
// T and exists=false when there is none). When fn returns write=true, *cur is written back:
// with tx.Set(ref, *cur, opts...) — pass firestore.Merge(...) to write only some fields. fn may
// run more than once when Firestore retries the transaction, so it must not have side effects
// beyond *cur. Update returns the value as fn left it on the successful run.
func Update[T any](ctx context.Context, fs *firestore.Client, ref *firestore.DocumentRef,
	fn func(cur *T, exists bool) (write bool, err error), opts ...firestore.SetOption) (T, error) {
	var out T
	var fnErr error
	err := fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var cur T
		exists := false
		snap, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			if err := snap.DataTo(&cur); err != nil {
				return fmt.Errorf("decode: %w", err)
			}
			exists = true
		}
		write, err := fn(&cur, exists)
		if err != nil {
			fnErr = err
			return err
		}
		out = cur
		if !write {
			return nil
		}
		return tx.Set(ref, cur, opts...)
	})
	switch {
	case err == nil:
		return out, nil
	case fnErr != nil && errors.Is(err, fnErr):
		return out, fnErr
	default:
		return out, failure.New(failure.Transient, fmt.Errorf("update %s: %w", ref.Path, err))
	}
}
