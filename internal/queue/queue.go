// Package queue publishes to Pub/Sub and decodes the Pub/Sub messages that event functions
// receive. Publishing is tuned for latency: the receiver holds Didit's request open until the
// publish is confirmed, so every millisecond of batching delay is a millisecond of ack latency.
package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Publisher publishes one message and returns its server-assigned id once Pub/Sub has it.
type Publisher interface {
	Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error)
}

// Topic publishes to one Pub/Sub topic.
type Topic struct {
	p       *pubsub.Publisher
	timeout time.Duration
}

// NewTopic returns a publisher for topic (an id or a full name) with latency-first settings:
// batches close after 1 ms (default 10 ms); concurrent requests still share batches, which is
// what keeps throughput up under load. timeout bounds each publish, retries included; this is
// the one place a publish is bounded (callers pass their request's context, not a deadline of
// their own): the client gives up retrying after it, and Publish stops waiting after it.
func NewTopic(c *pubsub.Client, topic string, timeout time.Duration) *Topic {
	p := c.Publisher(topic)
	p.PublishSettings.DelayThreshold = time.Millisecond
	p.PublishSettings.CountThreshold = 100
	if timeout > 0 {
		p.PublishSettings.Timeout = timeout
	}
	return &Topic{p: p, timeout: timeout}
}

// Publish waits for the server's confirmation. Any failure is Transient: the caller should
// answer 503 or return an error so that the sender retries.
func (t *Topic) Publish(ctx context.Context, data []byte, attrs map[string]string) (string, error) {
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	id, err := t.p.Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		return "", failure.New(failure.Transient, fmt.Errorf("publish to %s: %w", t.p.ID(), err))
	}
	return id, nil
}

// Stop flushes pending messages and releases the publisher's goroutines.
func (t *Topic) Stop() { t.p.Stop() }

// Message is the Pub/Sub message inside a google.cloud.pubsub.topic.v1.messagePublished
// CloudEvent (declared here because google-cloudevents-go is not available).
type Message struct {
	Data        []byte            `json:"data"`
	Attributes  map[string]string `json:"attributes"`
	ID          string            `json:"messageId"`
	PublishTime time.Time         `json:"publishTime"`
}

// MessagePublished is the CloudEvent data of a Pub/Sub push.
type MessagePublished struct {
	Message      Message `json:"message"`
	Subscription string  `json:"subscription"`
	// DeliveryAttempt is set by Pub/Sub when the subscription has a dead-letter policy.
	DeliveryAttempt int `json:"deliveryAttempt,omitempty"`
}

// ErrNoData marks an event that carries no Pub/Sub message at all.
var ErrNoData = errors.New("event has no Pub/Sub message data")

// Decode extracts the Pub/Sub message from a messagePublished CloudEvent. A malformed event is
// Invalid: retrying it cannot help, so it goes to the dead-letter topic.
func Decode(e event.Event) (MessagePublished, error) {
	var m MessagePublished
	if len(e.Data()) == 0 {
		return m, failure.New(failure.Invalid, ErrNoData)
	}
	if err := json.Unmarshal(e.Data(), &m); err != nil {
		return m, failure.Errorf(failure.Invalid, "decode Pub/Sub event %s: %w", e.ID(), err)
	}
	if len(m.Message.Data) == 0 {
		return m, failure.Errorf(failure.Invalid, "Pub/Sub event %s: %w", e.ID(), ErrNoData)
	}
	return m, nil
}
