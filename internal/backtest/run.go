package backtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
)

// Time fields a window can apply to.
const (
	FieldEventTime = "event_time" // the webhook's timestamp
	FieldCreatedAt = "created_at" // when the scorer stored the assessment
)

// Window selects assessments by one of their times: Since ≤ t < Until; a zero bound is open.
type Window struct {
	Field string    `json:"field"`
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// Open reports whether the window selects everything.
func (w Window) Open() bool { return w.Since.IsZero() && w.Until.IsZero() }

// Contains reports whether a falls in the window.
func (w Window) Contains(a *profile.Assessment) bool {
	t := a.EventTime
	if w.Field == FieldCreatedAt {
		t = a.CreatedAt
	}
	return (w.Since.IsZero() || !t.Before(w.Since)) && (w.Until.IsZero() || t.Before(w.Until))
}

// Validate checks the field name and the bounds' order.
func (w Window) Validate() error {
	if w.Field != FieldEventTime && w.Field != FieldCreatedAt {
		return fmt.Errorf("window field %q: want %s or %s", w.Field, FieldEventTime, FieldCreatedAt)
	}
	if !w.Since.IsZero() && !w.Until.IsZero() && !w.Since.Before(w.Until) {
		return errors.New("window: since must be before until")
	}
	return nil
}

// Source yields stored assessments with the id of their profile. With byProfile the source must
// yield each profile's assessments consecutively (the latest-per-user reduction relies on it)
// and may ignore the window (Run applies it again); otherwise it may select by the window itself.
type Source interface {
	Each(ctx context.Context, w Window, byProfile bool, fn func(profileID string, a *profile.Assessment) error) error
}

// Options configure Run.
type Options struct {
	Window        Window
	LatestPerUser bool // compare only each user's newest assessment in the window
	// Verify, when set, replays each assessment with this policy too (the live one) and counts
	// the replays that do not give the stored verdict back (Report.Mismatches).
	Verify *policy.Policy
	Tally  TallyOptions
	// Progress, when set, is called after each assessment read with the count so far.
	Progress func(read int)
}

// Comparer turns a stored assessment into the candidate side of the comparison; false skips it.
type Comparer func(a *profile.Assessment) (Verdict, bool)

// Candidate compares with a replay of the candidate policy.
func Candidate(r *Replayer) Comparer {
	return func(a *profile.Assessment) (Verdict, bool) { return Of(r.Replay(a)), true }
}

// Shadow compares with the shadow verdict the assessment stored; one without is skipped.
func Shadow() Comparer { return ShadowOf }

// Run reads src and compares every assessment (or each user's latest) in the window: the
// stored verdict against cmp's. Memory stays flat: assessments are folded into the tally one
// at a time; the latest-per-user reduction keeps one pending assessment, since src yields a
// profile's assessments together.
func Run(ctx context.Context, src Source, cmp Comparer, o Options) (Report, error) {
	if o.Window.Field == "" {
		o.Window.Field = FieldEventTime
	}
	if err := o.Window.Validate(); err != nil {
		return Report{}, err
	}
	t := NewTally(o.Tally)
	var verify *Replayer
	if o.Verify != nil {
		verify = NewReplayer(o.Verify)
	}
	read := 0
	compare := func(pid string, a *profile.Assessment) error {
		if verify != nil {
			if why := Mismatch(a, verify.Replay(a)); why != "" {
				t.Mismatch(a.ID, why)
			}
		}
		cand, ok := cmp(a)
		if !ok {
			t.Skip()
			return nil
		}
		return t.Add(pid, a.ID, a.PolicyVersion, Stored(a), cand)
	}
	var (
		pendingPID string
		pending    *profile.Assessment
	)
	flush := func() error {
		if pending == nil {
			return nil
		}
		a := pending
		pending = nil
		return compare(pendingPID, a)
	}
	err := src.Each(ctx, o.Window, o.LatestPerUser, func(pid string, a *profile.Assessment) error {
		read++
		if o.Progress != nil {
			o.Progress(read)
		}
		if !o.Window.Contains(a) {
			t.Skip()
			return nil
		}
		if !o.LatestPerUser {
			return compare(pid, a)
		}
		if pending != nil && pid == pendingPID {
			t.Skip() // one of the two is superseded
			if newer(a, pending) {
				pending = a
			}
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		pendingPID, pending = pid, a
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return Report{}, err
	}
	r := t.Report()
	r.LatestPerUser, r.Window = o.LatestPerUser, o.Window
	return r, nil
}

// newer orders a user's assessments: by event time, then creation time, then id.
func newer(a, b *profile.Assessment) bool {
	if !a.EventTime.Equal(b.EventTime) {
		return a.EventTime.After(b.EventTime)
	}
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

// Record is one stored assessment with the id of its profile.
type Record struct {
	ProfileID  string
	Assessment *profile.Assessment
}

// Records is an in-memory Source, in the order given (group each profile's records together
// for the latest-per-user reduction).
type Records []Record

// Each implements Source.
func (rs Records) Each(ctx context.Context, _ Window, _ bool, fn func(string, *profile.Assessment) error) error {
	for _, r := range rs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(r.ProfileID, r.Assessment); err != nil {
			return err
		}
	}
	return nil
}
