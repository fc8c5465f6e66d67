package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/riskwire/didit-risk/internal/failure"
)

// Leased is a message pulled from a subscription and not yet acknowledged: until it is acked
// or released, or its ack deadline passes, Pub/Sub delivers it to no other pull.
type Leased struct {
	AckID   string
	Message Message
	// DeliveryAttempt is Pub/Sub's count on this subscription, set only when the subscription
	// has a dead-letter policy of its own (0 otherwise). The attempts on the subscription that
	// dead-lettered a message are in its CloudPubSubDeadLetterSourceDeliveryCount attribute.
	DeliveryAttempt int
}

// Puller pulls messages synchronously (unary Pull), for operators' tools: no streaming, no
// lease extension; what is pulled is acked or released by the caller.
type Puller struct {
	c       *pubsub.Client
	project string
	wait    time.Duration
}

// NewPuller pulls from project's subscriptions; wait bounds each pull (a pull that finds
// nothing within it returns no messages).
func NewPuller(c *pubsub.Client, project string, wait time.Duration) *Puller {
	return &Puller{c: c, project: project, wait: wait}
}

func (p *Puller) name(sub string) string {
	if strings.HasPrefix(sub, "projects/") {
		return sub
	}
	return "projects/" + p.project + "/subscriptions/" + sub
}

// Pull leases up to max messages of sub.
func (p *Puller) Pull(parent context.Context, sub string, max int) ([]Leased, error) {
	ctx, cancel := context.WithTimeout(parent, p.wait)
	defer cancel()
	res, err := p.c.SubscriptionAdminClient.Pull(ctx, &pubsubpb.PullRequest{Subscription: p.name(sub), MaxMessages: int32(max)})
	if err != nil && parent.Err() == nil && (ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded) {
		return nil, nil // nothing within the wait
	}
	if err != nil {
		return nil, failure.New(failure.Transient, fmt.Errorf("pull %s: %w", sub, err))
	}
	out := make([]Leased, 0, len(res.ReceivedMessages))
	for _, r := range res.ReceivedMessages {
		m := r.GetMessage()
		out = append(out, Leased{AckID: r.GetAckId(), DeliveryAttempt: int(r.GetDeliveryAttempt()), Message: Message{
			Data: m.GetData(), Attributes: m.GetAttributes(), ID: m.GetMessageId(), PublishTime: m.GetPublishTime().AsTime().UTC(),
		}})
	}
	return out, nil
}

// Ack acknowledges messages of sub: Pub/Sub delivers them no more.
func (p *Puller) Ack(ctx context.Context, sub string, ackIDs []string) error {
	if len(ackIDs) == 0 {
		return nil
	}
	if err := p.c.SubscriptionAdminClient.Acknowledge(ctx, &pubsubpb.AcknowledgeRequest{Subscription: p.name(sub), AckIds: ackIDs}); err != nil {
		return failure.New(failure.Transient, fmt.Errorf("ack on %s: %w", sub, err))
	}
	return nil
}

// Release gives messages of sub back at once (modify-ack-deadline 0): they stay on it.
func (p *Puller) Release(ctx context.Context, sub string, ackIDs []string) error {
	if len(ackIDs) == 0 {
		return nil
	}
	err := p.c.SubscriptionAdminClient.ModifyAckDeadline(ctx, &pubsubpb.ModifyAckDeadlineRequest{Subscription: p.name(sub), AckIds: ackIDs, AckDeadlineSeconds: 0})
	if err != nil {
		return failure.New(failure.Transient, fmt.Errorf("release on %s: %w", sub, err))
	}
	return nil
}
