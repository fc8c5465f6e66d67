package operator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riskwire/didit-risk/emulator"
	"github.com/riskwire/didit-risk/internal/failure"
	"github.com/riskwire/didit-risk/internal/queue"
)

// Subscriptions pulls, acknowledges and releases messages of pull subscriptions.
type Subscriptions interface {
	// Pull leases up to max messages; none (not an error) when the subscription has nothing
	// to deliver within the wait.
	Pull(ctx context.Context, sub string, max int) ([]queue.Leased, error)
	Ack(ctx context.Context, sub string, ackIDs []string) error
	// Release puts messages back at once (modify-ack-deadline 0).
	Release(ctx context.Context, sub string, ackIDs []string) error
}

// Topics gives a publisher per topic id.
type Topics interface {
	Topic(id string) queue.Publisher
}

// DeadLetters inspects and replays the dead-letter subscriptions of a topology.
type DeadLetters struct {
	Subs   Subscriptions
	Topics Topics
	Queues []emulator.DeadLetter // emulator.DefaultTopology().DeadLetters(): Terraform's too
}

// Queue finds a dead-letter queue by its pull subscription (or its dead-letter topic); "" is
// every queue.
func (d *DeadLetters) Queue(name string) ([]emulator.DeadLetter, error) {
	if name == "" {
		return d.Queues, nil
	}
	for _, q := range d.Queues {
		if name == q.Subscription || name == q.Topic {
			return []emulator.DeadLetter{q}, nil
		}
	}
	var known []string
	for _, q := range d.Queues {
		known = append(known, q.Subscription)
	}
	return nil, failure.Errorf(failure.Invalid, "-sub %q is not a dead-letter subscription (%s)", name, strings.Join(known, ", "))
}

// DeadMessage is a dead-lettered message as `dlq list` shows it: everything but the data,
// which may hold a webhook's personal data, unless asked for.
type DeadMessage struct {
	Subscription    string            `json:"subscription"`
	ID              string            `json:"message_id"`
	PublishTime     time.Time         `json:"publish_time"`
	DeliveryAttempt int               `json:"delivery_attempt,omitempty"`
	Attributes      map[string]string `json:"attributes"`
	Size            int               `json:"data_bytes"`
	Digest          string            `json:"data_sha256"`
	Data            []byte            `json:"data,omitempty"` // only with -data
}

func deadMessage(sub string, l queue.Leased, withData bool) DeadMessage {
	sum := sha256.Sum256(l.Message.Data)
	m := DeadMessage{Subscription: sub, ID: l.Message.ID, PublishTime: l.Message.PublishTime, DeliveryAttempt: l.DeliveryAttempt,
		Attributes: l.Message.Attributes, Size: len(l.Message.Data), Digest: hex.EncodeToString(sum[:])}
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	if withData {
		m.Data = l.Message.Data
	}
	return m
}

// emptyPulls in a row end a lease: a unary pull may return no message although the
// subscription has some, so one empty answer is not proof of an empty queue.
const emptyPulls = 3

// lease pulls from sub until limit distinct messages are held or the subscription has no
// more, and returns them in the order pulled. Every message stays leased: the caller acks or
// releases them all (hold.done).
type hold struct {
	subs   Subscriptions
	sub    string
	msgs   []queue.Leased
	settle map[string]bool // ack ids acked or released already
}

func (d *DeadLetters) lease(ctx context.Context, sub string, limit int) (*hold, error) {
	h := &hold{subs: d.Subs, sub: sub, settle: map[string]bool{}}
	seen := map[string]bool{}
	for empty := 0; len(h.msgs) < limit && empty < emptyPulls; {
		got, err := d.Subs.Pull(ctx, sub, limit-len(h.msgs))
		if err != nil {
			return h, err
		}
		if len(got) == 0 {
			empty++ // Pub/Sub may answer a pull with nothing while it holds messages
			continue
		}
		empty = 0
		fresh := 0
		for _, l := range got {
			if seen[l.Message.ID] {
				// Delivered again while we hold it (a lease ran out): hold one copy only.
				h.release(ctx, l.AckID)
				continue
			}
			seen[l.Message.ID] = true
			h.msgs = append(h.msgs, l)
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	return h, nil
}

func (h *hold) release(ctx context.Context, ackIDs ...string) {
	_ = h.subs.Release(ctx, h.sub, ackIDs) // best effort: an unreleased lease ends by itself
	for _, id := range ackIDs {
		h.settle[id] = true
	}
}

// done releases every message neither acked nor released yet, even when ctx is cancelled.
func (h *hold) done(ctx context.Context) {
	var rest []string
	for _, l := range h.msgs {
		if !h.settle[l.AckID] {
			rest = append(rest, l.AckID)
		}
	}
	if len(rest) > 0 {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		h.release(ctx, rest...)
	}
}

// List shows up to limit messages of each chosen dead-letter queue without consuming them:
// each is released (modify-ack-deadline 0) as soon as all are read.
func (d *DeadLetters) List(ctx context.Context, sub string, limit int, withData bool) ([]DeadMessage, error) {
	qs, err := d.Queue(sub)
	if err != nil {
		return nil, err
	}
	out := []DeadMessage{}
	for _, q := range qs {
		h, err := d.lease(ctx, q.Subscription, limit)
		h.done(ctx)
		if err != nil {
			return out, err
		}
		for _, l := range h.msgs {
			out = append(out, deadMessage(q.Subscription, l, withData))
		}
	}
	return out, nil
}

// Replayed is one message `dlq replay` published again.
type Replayed struct {
	Subscription string `json:"subscription"`
	ID           string `json:"message_id"`     // on the dead-letter topic
	Topic        string `json:"topic"`          // where it was published again
	NewID        string `json:"new_message_id"` // its id there
}

// ReplayReport says what `dlq replay` did.
type ReplayReport struct {
	Replayed []Replayed `json:"replayed"`
	Missing  []string   `json:"missing,omitempty"` // -ids not found within the limit
}

// Replay publishes chosen dead-lettered messages again to the topic they were dead-lettered
// from, data and every attribute unchanged, and acks each on the dead-letter subscription only
// once Pub/Sub has confirmed its publish. ids chooses messages by id; all takes every message
// (up to limit per queue). A message published but not acked (the command stopped between
// the two) stays on the dead-letter queue and is published again by the next replay: the
// consumers are idempotent (the scorer deduplicates webhooks on their event key, the step-up
// function decisions on their assessment id), so a second copy changes nothing.
func (d *DeadLetters) Replay(ctx context.Context, sub string, ids []string, all bool, limit int) (ReplayReport, error) {
	var rep ReplayReport
	if all == (len(ids) > 0) {
		return rep, failure.Errorf(failure.Invalid, "give -ids a,b,… or -all (not both)")
	}
	qs, err := d.Queue(sub)
	if err != nil {
		return rep, err
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for _, q := range qs {
		if !all && len(want) == 0 {
			break
		}
		err := d.replayQueue(ctx, q, want, all, limit, &rep)
		if err != nil {
			return rep, err
		}
	}
	for _, id := range ids {
		if want[id] {
			rep.Missing = append(rep.Missing, id)
		}
	}
	slices.Sort(rep.Missing)
	return rep, nil
}

func (d *DeadLetters) replayQueue(ctx context.Context, q emulator.DeadLetter, want map[string]bool, all bool, limit int, rep *ReplayReport) error {
	h, err := d.lease(ctx, q.Subscription, limit)
	defer h.done(ctx)
	if err != nil {
		return err
	}
	pub := d.Topics.Topic(q.Source)
	for _, l := range h.msgs {
		if !all && !want[l.Message.ID] {
			continue
		}
		if len(l.Message.Data) == 0 && len(l.Message.Attributes) == 0 {
			return failure.Errorf(failure.Invalid, "message %s on %s has neither data nor attributes: Pub/Sub refuses to publish it", l.Message.ID, q.Subscription)
		}
		newID, err := pub.Publish(ctx, l.Message.Data, l.Message.Attributes)
		if err != nil {
			return fmt.Errorf("replay %s to %s (left on %s): %w", l.Message.ID, q.Source, q.Subscription, err)
		}
		if err := d.Subs.Ack(ctx, q.Subscription, []string{l.AckID}); err != nil {
			return fmt.Errorf("replayed %s to %s as %s but could not ack it on %s (a later replay publishes it again; consumers deduplicate): %w",
				l.Message.ID, q.Source, newID, q.Subscription, err)
		}
		h.settle[l.AckID] = true
		delete(want, l.Message.ID)
		rep.Replayed = append(rep.Replayed, Replayed{Subscription: q.Subscription, ID: l.Message.ID, Topic: q.Source, NewID: newID})
	}
	return nil
}
