package profile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Kinds of audit entries.
const (
	AuditOverrideSet     = "override_set"
	AuditOverrideCleared = "override_cleared"
	AuditHumanVerdict    = "human_verdict"
)

// ErrNoProfile: an override was set or cleared on a profile that does not exist.
var ErrNoProfile = errors.New("no such profile")

// SetOverride sets o on the profile (o.ID makes it idempotent: the same ID again changes
// nothing), re-derives the applied decision, appends an AuditEntry{Kind:"override_set"} and
// returns the profile and whether it changed.
func (s *Store) SetOverride(ctx context.Context, profileID string, o Override, eng Evaluator, now time.Time) (Profile, bool, error) {
	switch {
	case o.ID == "":
		return Profile{}, false, failure.Errorf(failure.Invalid, "override needs an id")
	case !o.Action.Valid():
		return Profile{}, false, failure.Errorf(failure.Invalid, "override action %q is not an action", o.Action)
	case o.Actor == "":
		return Profile{}, false, failure.Errorf(failure.Invalid, "override needs an actor")
	case !now.Before(o.ExpiresAt):
		return Profile{}, false, failure.Errorf(failure.Invalid, "override expires at %s, not after now", o.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if o.SetAt.IsZero() {
		o.SetAt = now
	}
	return s.change(ctx, profileID, eng, now, func(p *Profile) *AuditEntry {
		if p.Override != nil && p.Override.ID == o.ID {
			return nil
		}
		set := o
		p.Override = &set
		return &AuditEntry{ID: auditID(AuditOverrideSet, profileID, o.ID, now), Kind: AuditOverrideSet, Actor: o.Actor,
			Reason: o.Reason, At: now}
	})
}

// ClearOverride removes the override (no override: unchanged, no audit entry), re-derives,
// audits "override_cleared".
func (s *Store) ClearOverride(ctx context.Context, profileID, actor, reason string, eng Evaluator, now time.Time) (Profile, bool, error) {
	if actor == "" {
		return Profile{}, false, failure.Errorf(failure.Invalid, "clearing an override needs an actor")
	}
	return s.change(ctx, profileID, eng, now, func(p *Profile) *AuditEntry {
		if p.Override == nil {
			return nil
		}
		id := p.Override.ID
		p.Override = nil
		return &AuditEntry{ID: auditID(AuditOverrideCleared, profileID, id, now), Kind: AuditOverrideCleared, Actor: actor,
			Reason: reason, At: now}
	})
}

// change runs one operator's change on a profile in a transaction: edit changes p and returns
// its audit entry (nil: nothing to change), the decision is re-derived from the stored facts,
// and the profile and the entry (with the decision before and after) are written together.
func (s *Store) change(ctx context.Context, profileID string, eng Evaluator, now time.Time, edit func(*Profile) *AuditEntry) (Profile, bool, error) {
	pref := s.profileRef(profileID)
	var (
		out     Profile
		changed bool
	)
	err := s.fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		out, changed = Profile{}, false
		snap, err := tx.Get(pref)
		if err != nil {
			return err
		}
		var old, p Profile
		if err := snap.DataTo(&old); err != nil {
			return fmt.Errorf("decode profile: %w", err)
		}
		if err := snap.DataTo(&p); err != nil {
			return fmt.Errorf("decode profile: %w", err)
		}
		legacy, err := legacySignals(snap, &p)
		if err != nil {
			return err
		}
		if legacy {
			old.SchemaVersion = 2 // written whole, which drops the signals
		}
		out = p
		before := decisionRecord(p)
		entry := edit(&p)
		if entry == nil {
			return nil
		}
		// The facts are as stored: reuse the stored session verdicts where their inputs hold.
		var reads int
		_, first, err := settle(&p, eng, s.loader(tx, pref, &reads), func(Verdict) bool { return false }, s.opts.decideOptions(), now)
		if err != nil {
			return err
		}
		p.UpdatedAt, p.SchemaVersion = now, SchemaVersion
		entry.Before, entry.After = before, decisionRecord(p)
		if err := auditHuman(tx, pref, first, now); err != nil {
			return err
		}
		if err := tx.Set(pref.Collection(Audit).Doc(entry.ID), entry); err != nil {
			return err
		}
		out, changed = p, true
		return setProfile(tx, pref, &old, p)
	}, firestore.MaxAttempts(25))
	if status.Code(err) == codes.NotFound {
		return Profile{}, false, failure.New(failure.Invalid, fmt.Errorf("%w: %s", ErrNoProfile, profileID))
	}
	if err != nil {
		return Profile{}, false, failure.New(failure.Transient, fmt.Errorf("change profile %s: %w", profileID, err))
	}
	return out, changed, nil
}

// auditHuman writes the audit entry of a reviewer's verdict applied for the first time.
func auditHuman(tx *firestore.Transaction, pref *firestore.DocumentRef, e *AuditEntry, now time.Time) error {
	if e == nil {
		return nil
	}
	return tx.Set(pref.Collection(Audit).Doc(e.ID), e)
}

// auditID is an audit entry's document id: the same change, retried, has the same id.
func auditID(kind string, parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		switch v := p.(type) {
		case time.Time:
			h.Write([]byte(strconv.FormatInt(v.UnixNano(), 10)))
		default:
			fmt.Fprint(h, v)
		}
		h.Write([]byte{0})
	}
	return kind + "-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// humanAuditID names the audit entry of a reviewer's verdict: one per review.
func humanAuditID(hv HumanVerdict) string {
	return auditID(AuditHumanVerdict, hv.SessionID, string(hv.Status), hv.ReviewerHash, hv.DecidedAt)
}

// AuditTrail lists the profile's audit entries, oldest first.
func (s *Store) AuditTrail(ctx context.Context, profileID string) ([]AuditEntry, error) {
	docs, err := s.profileRef(profileID).Collection(Audit).Documents(ctx).GetAll()
	if err != nil {
		return nil, failure.New(failure.Transient, fmt.Errorf("read audit trail of %s: %w", profileID, err))
	}
	out := make([]AuditEntry, 0, len(docs))
	for _, d := range docs {
		var e AuditEntry
		if err := d.DataTo(&e); err != nil {
			return nil, failure.New(failure.Internal, fmt.Errorf("decode audit entry %s: %w", d.Ref.ID, err))
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b AuditEntry) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// OpenReviews lists profiles whose review_state is open, at most limit, most recently updated
// first. The query needs the composite index (review_state, updated_at desc) that
// terraform/firestore.tf declares.
func (s *Store) OpenReviews(ctx context.Context, limit int) ([]Profile, error) {
	if limit <= 0 {
		return nil, failure.Errorf(failure.Invalid, "open reviews: limit %d", limit)
	}
	it := s.fs.Collection(Profiles).Where("review_state", "==", ReviewOpen).
		OrderBy("updated_at", firestore.Desc).Limit(limit).Documents(ctx)
	defer it.Stop()
	var out []Profile
	for {
		d, err := it.Next()
		if err == iterator.Done {
			return out, nil
		}
		if err != nil {
			return nil, failure.New(failure.Transient, fmt.Errorf("list open reviews: %w", err))
		}
		var p Profile
		if err := d.DataTo(&p); err != nil {
			return nil, failure.New(failure.Internal, fmt.Errorf("decode profile %s: %w", d.Ref.ID, err))
		}
		out = append(out, p)
	}
}

// clonePolicyVerdict copies pv, so an assessment does not share the profile's.
func clonePolicyVerdict(pv *PolicyVerdict) *PolicyVerdict {
	if pv == nil {
		return nil
	}
	c := *pv
	return &c
}
