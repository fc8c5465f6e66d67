//go:build integration

package docstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/riskwire/didit-risk/emulator/emulatortest"
	"github.com/riskwire/didit-risk/internal/docstore"
	"github.com/riskwire/didit-risk/internal/failure"
)

type doc struct {
	N     int               `firestore:"n"`
	Name  string            `firestore:"name"`
	Items map[string]string `firestore:"items"`
}

func TestGetAndUpdate(t *testing.T) {
	ctx := context.Background()
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	ref := fs.Collection("docs").Doc("a")

	_, found, err := docstore.Get[doc](ctx, ref)
	require.NoError(t, err)
	assert.False(t, found)

	// Created when absent.
	got, err := docstore.Update(ctx, fs, ref, func(cur *doc, exists bool) (bool, error) {
		assert.False(t, exists)
		cur.N, cur.Name = 1, "first"
		return true, nil
	})
	require.NoError(t, err)
	assert.Equal(t, doc{N: 1, Name: "first"}, got)

	// No write: the document is unchanged, the value read is returned.
	got, err = docstore.Update(ctx, fs, ref, func(cur *doc, exists bool) (bool, error) {
		assert.True(t, exists)
		cur.N = 99
		return false, nil
	})
	require.NoError(t, err)
	assert.Equal(t, 99, got.N, "the value as fn left it")
	stored, found, err := docstore.Get[doc](ctx, ref)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, 1, stored.N, "not written")

	// The caller's error is returned as it is, and nothing is written.
	mine := failure.Errorf(failure.Invalid, "refused")
	_, err = docstore.Update(ctx, fs, ref, func(cur *doc, _ bool) (bool, error) {
		cur.N = 7
		return true, mine
	})
	require.ErrorIs(t, err, mine)
	assert.Equal(t, failure.Invalid, failure.KindOf(err))
	stored, _, err = docstore.Get[doc](ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, 1, stored.N)

	// A merge option writes only the named fields.
	_, err = ref.Set(ctx, map[string]any{"n": 1, "name": "first", "items": map[string]any{"x": "1"}, "other": "kept"})
	require.NoError(t, err)
	_, err = docstore.Update(ctx, fs, ref, func(cur *doc, _ bool) (bool, error) {
		cur.Items["y"], cur.Name = "2", "not written"
		return true, nil
	}, firestore.Merge([]string{"items", "y"}))
	require.NoError(t, err)
	snap, err := ref.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"n": int64(1), "name": "first", "items": map[string]any{"x": "1", "y": "2"}, "other": "kept"}, snap.Data())
}

// Concurrent updates of one document are serialised: none is lost.
func TestUpdateSerialisesConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	ref := fs.Collection("docs").Doc("counter")
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = docstore.Update(ctx, fs, ref, func(cur *doc, _ bool) (bool, error) {
				cur.N++
				return true, nil
			})
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	got, _, err := docstore.Get[doc](ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, writers, got.N)
}

func TestGetUndecodable(t *testing.T) {
	ctx := context.Background()
	fs := emulatortest.Firestore(t, emulatortest.Project(t))
	ref := fs.Collection("docs").Doc("bad")
	_, err := ref.Set(ctx, map[string]any{"n": "not a number"})
	require.NoError(t, err)
	_, _, err = docstore.Get[doc](ctx, ref)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decode")
}
