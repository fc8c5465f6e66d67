// Package operator is the logic of riskctl, the operators' command: read a profile with its
// history and audit trail, set and clear an operator's override, list the review queue, and
// inspect and replay dead-lettered messages. The command (functions/cmd/riskctl) only parses
// flags and connects to Firestore and Pub/Sub; everything it does is here, behind small
// interfaces that tests fill with fakes.
//
// Every change goes through the profile store, which appends an audit entry (actor, before,
// after, reason, time) in the same transaction, and is then announced on the decisions topic
// as a message.Decision whose assessment_id is the audit entry's id. A change the store
// reports as no change (the same command run again) is not announced again.
package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/internal/didit"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/message"
	"github.com/riskwire/didit-risk/internal/policy"
	"github.com/riskwire/didit-risk/internal/profile"
	"github.com/riskwire/didit-risk/internal/queue"
)

// Overrides is the profile store's operator API: an override set or cleared in one transaction
// with its audit entry, the audit trail, and the review queue.
type Overrides interface {
	SetOverride(ctx context.Context, profileID string, o profile.Override, eng profile.Evaluator, now time.Time) (profile.Profile, bool, error)
	ClearOverride(ctx context.Context, profileID, actor, reason string, eng profile.Evaluator, now time.Time) (profile.Profile, bool, error)
	AuditTrail(ctx context.Context, profileID string) ([]profile.AuditEntry, error)
	OpenReviews(ctx context.Context, limit int) ([]profile.Profile, error)
}

// Store is what the operator reads and changes; *profile.Store is one.
type Store interface {
	Overrides
	Get(ctx context.Context, profileID string) (profile.Profile, bool, error)
	Document(ctx context.Context, profileID string) (map[string]any, bool, error)
	History(ctx context.Context, profileID string, limit int) ([]profile.Assessment, error)
}

// Operator carries out the operators' commands.
type Operator struct {
	Store     Store
	Decisions queue.Publisher   // the decisions topic
	Engine    profile.Evaluator // the live policy: clearing an override re-applies its verdict
	Now       func() time.Time
}

// Audit entry kinds the operator writes (profile.AuditEntry.Kind).
const (
	KindOverrideSet     = profile.AuditOverrideSet
	KindOverrideCleared = profile.AuditOverrideCleared
)

// ErrNotFound: no profile has the id, and none belongs to a user of that id.
var ErrNotFound = errors.New("no such profile")

// Resolve finds the profile an operator means: id as a profile id, else as a user id (Didit's
// vendor_data, mapped by profile.DocID). A user id that is also another profile's id resolves
// to that profile: give the profile id (u:…) to reach the other.
func (op *Operator) Resolve(ctx context.Context, id string) (string, profile.Profile, error) {
	if id == "" {
		return "", profile.Profile{}, failure.Errorf(failure.Invalid, "a user or profile id is required")
	}
	var tried []string
	for _, c := range []string{id, profile.DocID(id, "")} {
		if !docIDValid(c) || slices.Contains(tried, c) {
			continue
		}
		tried = append(tried, c)
		p, found, err := op.Store.Get(ctx, c)
		if err != nil {
			return "", p, err
		}
		if found {
			return c, p, nil
		}
	}
	return "", profile.Profile{}, failure.New(failure.Invalid, fmt.Errorf("%w: %s (tried %s)", ErrNotFound, id, strings.Join(tried, ", ")))
}

// docIDValid says whether Firestore takes id as a document id.
func docIDValid(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.Contains(id, "/") && len(id) <= 1500 &&
		!(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}

// Shown is `riskctl show`: the profile as stored, its latest assessments and its audit trail.
type Shown struct {
	ProfileID string               `json:"profile_id"`
	Profile   map[string]any       `json:"profile"`
	History   []HistoryRow         `json:"history"`
	Audit     []profile.AuditEntry `json:"audit"`
}

// HistoryRow is one assessment as `show` lists it.
type HistoryRow struct {
	At            time.Time     `json:"at"`
	AssessmentID  string        `json:"assessment_id"`
	Kind          string        `json:"kind,omitempty"` // rescore, or empty for a webhook's
	SessionID     string        `json:"session_id"`
	VerdictOn     string        `json:"verdict_session_id,omitempty"` // when the verdict is about another session
	Score         int           `json:"score"`
	Level         policy.Level  `json:"level"`
	Action        policy.Action `json:"action"`
	Rules         []string      `json:"rules"`
	PolicyVersion string        `json:"policy_version"`
	DecidedBy     string        `json:"decided_by"`
}

// Show reads a profile, its latest n assessments and its whole audit trail.
func (op *Operator) Show(ctx context.Context, id string, n int) (Shown, error) {
	pid, _, err := op.Resolve(ctx, id)
	if err != nil {
		return Shown{}, err
	}
	doc, found, err := op.Store.Document(ctx, pid)
	if err != nil {
		return Shown{}, err
	}
	if !found {
		return Shown{}, failure.New(failure.Invalid, fmt.Errorf("%w: %s", ErrNotFound, pid))
	}
	as, err := op.Store.History(ctx, pid, n)
	if err != nil {
		return Shown{}, err
	}
	trail, err := op.Store.AuditTrail(ctx, pid)
	if err != nil {
		return Shown{}, err
	}
	out := Shown{ProfileID: pid, Profile: doc, History: make([]HistoryRow, len(as)), Audit: sortedTrail(trail)}
	for i, a := range as {
		out.History[i] = historyRow(a)
	}
	return out, nil
}

func historyRow(a profile.Assessment) HistoryRow {
	r := HistoryRow{At: a.CreatedAt, AssessmentID: a.ID, Kind: string(a.Kind), SessionID: a.SessionID, Score: a.Score,
		Level: a.Level, Action: a.Action, Rules: rules(a.Reasons), PolicyVersion: a.PolicyVersion, DecidedBy: decidedBy(a)}
	if a.VerdictSession != a.SessionID {
		r.VerdictOn = a.VerdictSession
	}
	return r
}

func rules(rs []profile.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Rule
	}
	return out
}

// sortedTrail orders an audit trail oldest first (ties by id): the order changes happened in.
func sortedTrail(trail []profile.AuditEntry) []profile.AuditEntry {
	out := slices.Clone(trail)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return out[i].ID < out[j].ID
	})
	if out == nil {
		out = []profile.AuditEntry{}
	}
	return out
}

// OverrideRequest is `riskctl override set`.
type OverrideRequest struct {
	ID      string // user or profile id
	Action  policy.Action
	Reason  string
	Expires Expiry
	Actor   string
	// Republish announces the decision again when the store reports no change: for a run whose
	// change was stored but whose publish failed. Consumers deduplicate on assessment_id.
	Republish bool
}

// Validate checks the request before anything is read.
func (r OverrideRequest) Validate() error {
	if _, err := ParseAction(string(r.Action)); err != nil {
		return err
	}
	if r.Expires == (Expiry{}) {
		return failure.Errorf(failure.Invalid, "-expires is required")
	}
	return errors.Join(ValidateActor(r.Actor), ValidateReason(r.Reason))
}

// ClearRequest is `riskctl override clear`.
type ClearRequest struct {
	ID, Actor, Reason string
	Republish         bool
}

// Validate checks the request before anything is read.
func (r ClearRequest) Validate() error {
	return errors.Join(ValidateActor(r.Actor), ValidateReason(r.Reason))
}

// Change is what an override command did.
type Change struct {
	ProfileID string              `json:"profile_id"`
	Changed   bool                `json:"changed"`   // false: the profile already was so (nothing written)
	Published string              `json:"published"` // the decision message id, when one was published
	Entry     *profile.AuditEntry `json:"audit_entry,omitempty"`
	Override  *profile.Override   `json:"override,omitempty"` // the profile's override after the command
	Level     policy.Level        `json:"level"`
	Action    policy.Action       `json:"action"`
	DecidedBy profile.DecidedBy   `json:"decided_by,omitempty"`
}

// SetOverride sets an operator's override on a profile and announces the decision. Its id is
// derived from the request and the profile's audit trail (overrideID), so the same command run
// again changes nothing and publishes nothing.
func (op *Operator) SetOverride(ctx context.Context, r OverrideRequest) (Change, error) {
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	now := op.Now().UTC()
	until, err := r.Expires.Time(now)
	if err != nil {
		return Change{}, err
	}
	pid, cur, err := op.Resolve(ctx, r.ID)
	if err != nil {
		return Change{}, err
	}
	trail, err := op.Store.AuditTrail(ctx, pid)
	if err != nil {
		return Change{}, err
	}
	trail = sortedTrail(trail)
	o := profile.Override{ID: idFor(pid, r, cur, trail, now), Action: r.Action, Reason: r.Reason, Actor: r.Actor, SetAt: now, ExpiresAt: until}
	if cur.Override != nil && cur.Override.ID == o.ID {
		o = *cur.Override // the same override, as first set: nothing to write
	}
	p, changed, err := op.Store.SetOverride(ctx, pid, o, op.Engine, now)
	if err != nil {
		return Change{}, fmt.Errorf("set override on %s: %w", pid, err)
	}
	return op.announce(ctx, pid, p, changed, r.Republish, KindOverrideSet, o.ID, now)
}

// idFor is the override id of r on a profile whose current override is cur.Override and whose
// audit trail (oldest first) is trail: the id this very command got when it set the current
// override, if it did (the command is being run again), else a new one following the latest
// audit entry.
func idFor(pid string, r OverrideRequest, cur profile.Profile, trail []profile.AuditEntry, now time.Time) string {
	if o := cur.Override; o.Active(now) {
		for _, basis := range append([]string{""}, ids(trail)...) {
			if id := overrideID(pid, r.Action, r.Reason, r.Expires, r.Actor, basis); id == o.ID {
				return id
			}
		}
	}
	basis := ""
	if len(trail) > 0 {
		basis = trail[len(trail)-1].ID
	}
	return overrideID(pid, r.Action, r.Reason, r.Expires, r.Actor, basis)
}

func ids(trail []profile.AuditEntry) []string {
	out := make([]string, len(trail))
	for i, e := range trail {
		out[i] = e.ID
	}
	return out
}

// ClearOverride removes a profile's override (the policy's, or a reviewer's, verdict applies
// again) and announces the decision. Clearing a profile without an override changes nothing.
func (op *Operator) ClearOverride(ctx context.Context, r ClearRequest) (Change, error) {
	if err := r.Validate(); err != nil {
		return Change{}, err
	}
	now := op.Now().UTC()
	pid, _, err := op.Resolve(ctx, r.ID)
	if err != nil {
		return Change{}, err
	}
	p, changed, err := op.Store.ClearOverride(ctx, pid, r.Actor, r.Reason, op.Engine, now)
	if err != nil {
		return Change{}, fmt.Errorf("clear override on %s: %w", pid, err)
	}
	return op.announce(ctx, pid, p, changed, r.Republish, KindOverrideCleared, "", now)
}

// announce publishes the decision of a change: the profile's applied verdict, with the audit
// entry of the change as its assessment id. Nothing is published when nothing changed, unless
// republish asks for the latest entry of the kind to be announced again.
func (op *Operator) announce(ctx context.Context, pid string, p profile.Profile, changed, republish bool, kind, entryID string, now time.Time) (Change, error) {
	c := Change{ProfileID: pid, Changed: changed, Override: p.Override, Level: p.Level, Action: p.Action, DecidedBy: p.DecidedBy}
	if !changed && !republish {
		return c, nil
	}
	trail, err := op.Store.AuditTrail(ctx, pid)
	if err != nil {
		return c, err
	}
	e := entryOf(sortedTrail(trail), kind, entryID)
	if e == nil {
		if !changed {
			return c, failure.Errorf(failure.Invalid, "%s has no %s audit entry to announce again", pid, kind)
		}
		return c, fmt.Errorf("%s changed but its %s audit entry is missing", pid, kind)
	}
	c.Entry = e
	trusted, err := op.trusted(ctx, pid, p)
	if err != nil {
		return c, err
	}
	d := Decision(pid, p, e.ID, trusted, now)
	data, err := d.Encode()
	if err != nil {
		return c, err
	}
	if c.Published, err = op.Decisions.Publish(ctx, data, d.Attributes()); err != nil {
		return c, fmt.Errorf("%s is stored (audit entry %s) but its decision was not published: run the same command again with -republish: %w", pid, e.ID, err)
	}
	return c, nil
}

// entryOf is the audit entry id when there is one of that id, else the latest entry of kind.
func entryOf(trail []profile.AuditEntry, kind, id string) *profile.AuditEntry {
	for i := len(trail) - 1; i >= 0; i-- {
		if id != "" && trail[i].ID == id {
			return &trail[i]
		}
	}
	for i := len(trail) - 1; i >= 0; i-- {
		if trail[i].Kind == kind {
			return &trail[i]
		}
	}
	return nil
}

// trusted is whether the decision behind the profile's verdict was signature-covered (its
// latest assessment's decision_trusted): an override changes who decides, not what Didit's
// data proves, so a step-up function that refuses to act in Didit on unauthenticated data
// still refuses. Unknown is untrusted.
func (op *Operator) trusted(ctx context.Context, pid string, p profile.Profile) (bool, error) {
	if p.LastAssessmentID == "" {
		return false, nil
	}
	as, err := op.Store.History(ctx, pid, 1)
	if err != nil {
		return false, err
	}
	return len(as) == 1 && as[0].ID == p.LastAssessmentID && as[0].Trusted, nil
}

// Decision is the decisions-topic message announcing a person's change to a profile: the
// profile's applied verdict, with the change's audit entry id as its assessment id and who
// decides now (decided_by: operator while an override holds; after a clear, the policy or a
// reviewer). It is the
// same message the scorer publishes (message.Decision), so step-ups, reviews and product
// consumers follow an override as they follow a webhook.
func Decision(pid string, p profile.Profile, entryID string, trusted bool, now time.Time) message.Decision {
	reasons := make([]message.Reason, len(p.Reasons))
	for i, r := range p.Reasons {
		reasons[i] = message.Reason(r)
	}
	return message.Decision{
		ProfileID: pid, UserID: p.UserID, AssessmentID: entryID, SessionID: p.LastSessionID,
		Score: p.Score, Level: p.Level, Action: p.Action, RequiredSteps: p.RequiredSteps,
		PolicyVersion: p.PolicyVersion, Reasons: reasons,
		SessionStatus: didit.Status(p.Sessions[p.LastSessionID].Status),
		DecidedAt:     now, DecisionTrusted: trusted,
		DecidedBy: string(orPolicy(p.DecidedBy)), // operator while an override holds
	}
}

// Review is one profile of the review queue.
type Review struct {
	ProfileID string        `json:"profile_id"`
	Level     policy.Level  `json:"level"`
	Score     int           `json:"score"`
	Action    policy.Action `json:"action"`
	Rules     []string      `json:"rules"`
	Since     time.Time     `json:"since"` // updated_at: the queue's order, newest first
}

// Reviews lists the open reviews, at most limit.
func (op *Operator) Reviews(ctx context.Context, limit int) ([]Review, error) {
	ps, err := op.Store.OpenReviews(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Review, len(ps))
	for i, p := range ps {
		out[i] = Review{ProfileID: profileID(p), Level: p.Level, Score: p.Score, Action: p.Action, Rules: rules(p.Reasons), Since: p.UpdatedAt}
	}
	return out, nil
}

// profileID is the document id of p: its user's (profile.DocID), or, for a session without
// vendor_data, its one session's.
func profileID(p profile.Profile) string {
	sid := p.LastSessionID
	if p.UserID == "" && sid == "" {
		for id := range p.Sessions {
			sid = id
		}
	}
	return profile.DocID(p.UserID, sid)
}
