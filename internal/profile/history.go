package profile

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
)

// History reads a profile's latest assessments, newest first, at most limit of them.
func (s *Store) History(ctx context.Context, profileID string, limit int) ([]Assessment, error) {
	it := s.profileRef(profileID).Collection(Assessments).OrderBy("created_at", firestore.Desc).Limit(limit).Documents(ctx)
	defer it.Stop()
	var out []Assessment
	for {
		doc, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, failure.New(failure.Transient, fmt.Errorf("assessments of %s: %w", profileID, err))
		}
		var a Assessment
		if err := doc.DataTo(&a); err != nil {
			return nil, failure.New(failure.Internal, fmt.Errorf("decode %s: %w", doc.Ref.Path, err))
		}
		out = append(out, a)
	}
}

// Document reads a profile as stored: its fields by their Firestore names, the way product
// code reads them. found is false when there is no such profile.
func (s *Store) Document(ctx context.Context, profileID string) (map[string]any, bool, error) {
	snap, err := s.profileRef(profileID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, failure.New(failure.Transient, fmt.Errorf("read profile %s: %w", profileID, err))
	}
	return snap.Data(), true, nil
}
