package backtest

import (
	"context"
	"fmt"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"

	"github.com/riskwire/didit-risk/internal/profile"
)

// DefaultPageSize is how many assessments one Firestore page holds.
const DefaultPageSize = 500

// FirestoreSource reads risk_profiles/{id}/assessments (a collection-group query) in pages of
// PageSize, each page a query resumed after the last document of the one before, so memory
// holds one page whatever the number of assessments.
//
// Pages are ordered by document path, which groups each profile's assessments together: the
// latest-per-user reduction then needs only the profile being read, not a map of every user.
// The time window is applied as the documents stream by rather than in the query: a range
// filter on a collection group needs a collection-group index on event_time or created_at,
// which the deployment does not create (it would cost every assessment write an index entry
// for a query run now and then), and it would order the stream by time, losing the grouping.
// The cost is reading the assessments outside the window; the assessments TTL
// (ASSESSMENT_RETENTION) bounds them.
type FirestoreSource struct {
	Client   *firestore.Client
	PageSize int
}

func (s FirestoreSource) query() firestore.Query {
	return s.Client.CollectionGroup(profile.Assessments).OrderBy(firestore.DocumentID, firestore.Asc)
}

// Count returns how many assessments are stored (a count aggregation: for the progress bar).
func (s FirestoreSource) Count(ctx context.Context) (int, error) {
	res, err := s.Client.CollectionGroup(profile.Assessments).NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("count assessments: %w", err)
	}
	v, ok := res["n"].(*firestorepb.Value)
	if !ok {
		return 0, fmt.Errorf("count assessments: unexpected result %T", res["n"])
	}
	return int(v.GetIntegerValue()), nil
}

// Each implements Source.
func (s FirestoreSource) Each(ctx context.Context, _ Window, _ bool, fn func(string, *profile.Assessment) error) error {
	size := s.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	var last *firestore.DocumentSnapshot
	for {
		q := s.query().Limit(size)
		if last != nil {
			q = q.StartAfter(last)
		}
		docs, err := q.Documents(ctx).GetAll()
		if err != nil {
			return fmt.Errorf("read assessments page: %w", err)
		}
		for _, doc := range docs {
			parent := doc.Ref.Parent.Parent
			if parent == nil || parent.Parent == nil || parent.Parent.ID != profile.Profiles || parent.Parent.Parent != nil {
				continue // an "assessments" collection that is not a risk profile's
			}
			a := new(profile.Assessment)
			if err := doc.DataTo(a); err != nil {
				return fmt.Errorf("decode %s: %w", doc.Ref.Path, err)
			}
			if err := fn(parent.ID, a); err != nil {
				return err
			}
		}
		if len(docs) < size {
			return nil
		}
		last = docs[len(docs)-1]
	}
}
